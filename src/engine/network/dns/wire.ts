/**
 * The DNS wire format (RFC 1035), the small part the resolver needs: the header, the
 * question, resource records read with name compression (RFC 1035 §4.1.4), the EDNS(0)
 * OPT record's UDP payload size (RFC 6891), and replies with A, AAAA and PTR answers,
 * truncated (TC) to the size the client can take.
 *
 * Names are kept as text in presentation form, always fully qualified: `web.app.`, the
 * root `.`; a `.` or `\` inside a label is escaped with `\`, any other byte outside
 * 0x21–0x7e as `\DDD` (as miekg/dns, which Docker's resolver uses, writes them).
 *
 * Parsing throws {@link DnsFormatError} and nothing else: a malformed packet never
 * escapes as another kind of error.
 */
import { bytesToIp, ipToBytes } from './addr';

export const TYPE = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28, SRV: 33, OPT: 41, ANY: 255 } as const;
export const CLASS_IN = 1;
export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
export const OPCODE_QUERY = 0;
/** The largest UDP message without EDNS(0) (RFC 1035 §2.3.4). */
export const MIN_UDP_SIZE = 512;
/** The largest message (TCP; 16-bit length prefix). */
export const MAX_MSG_SIZE = 65535;

/** A packet that is not a well-formed DNS message. */
export class DnsFormatError extends Error {
  override readonly name = 'DnsFormatError';
}

export interface Header {
  id: number;
  qr: boolean;
  opcode: number;
  aa: boolean;
  tc: boolean;
  rd: boolean;
  ra: boolean;
  ad: boolean;
  cd: boolean;
  rcode: number;
  qdcount: number;
  ancount: number;
  nscount: number;
  arcount: number;
}

export interface Question {
  name: string;
  type: number;
  class: number;
}

export interface ResourceRecord {
  name: string;
  type: number;
  class: number;
  ttl: number;
  /** the raw RDATA (names inside it may be compression pointers into the message) */
  rdata: Buffer;
  /** where RDATA starts in the message (to read compressed names inside it) */
  rdataOffset: number;
}

export interface Message {
  header: Header;
  questions: Question[];
  answers: ResourceRecord[];
  authorities: ResourceRecord[];
  additionals: ResourceRecord[];
}

/** Reads the 12-byte header. Throws DnsFormatError when the packet is shorter. */
export function parseHeader(buf: Buffer): Header {
  if (buf.length < 12) throw new DnsFormatError(`message too short (${buf.length} bytes)`);
  const flags = buf.readUInt16BE(2);
  return {
    id: buf.readUInt16BE(0),
    qr: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0xf,
    aa: (flags & 0x0400) !== 0,
    tc: (flags & 0x0200) !== 0,
    rd: (flags & 0x0100) !== 0,
    ra: (flags & 0x0080) !== 0,
    ad: (flags & 0x0020) !== 0,
    cd: (flags & 0x0010) !== 0,
    rcode: flags & 0xf,
    qdcount: buf.readUInt16BE(4),
    ancount: buf.readUInt16BE(6),
    nscount: buf.readUInt16BE(8),
    arcount: buf.readUInt16BE(10),
  };
}

function escapeLabel(buf: Buffer, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end; i++) {
    const c = buf[i]!;
    if (c === 0x2e || c === 0x5c) s += '\\' + String.fromCharCode(c);
    else if (c < 0x21 || c > 0x7e) s += '\\' + String(c).padStart(3, '0');
    else s += String.fromCharCode(c);
  }
  return s;
}

/**
 * Reads a possibly compressed name at `offset`; returns it in presentation form (fully
 * qualified) and the offset after it in the original stream. Pointers must point
 * backwards (which also rules out loops); a name is at most 255 bytes.
 */
export function readName(buf: Buffer, offset: number): { name: string; next: number } {
  const labels: string[] = [];
  let pos = offset;
  let next = -1;
  let wireLen = 1;
  let lowest = offset;
  for (;;) {
    if (pos >= buf.length) throw new DnsFormatError('name runs past the end of the message');
    const len = buf[pos]!;
    if (len === 0) {
      if (next < 0) next = pos + 1;
      break;
    }
    const kind = len & 0xc0;
    if (kind === 0xc0) {
      if (pos + 1 >= buf.length) throw new DnsFormatError('truncated compression pointer');
      const target = ((len & 0x3f) << 8) | buf[pos + 1]!;
      if (target >= lowest) throw new DnsFormatError('compression pointer does not point backwards');
      if (next < 0) next = pos + 2;
      lowest = target;
      pos = target;
      continue;
    }
    if (kind !== 0) throw new DnsFormatError(`unsupported label type 0x${kind.toString(16)}`);
    if (pos + 1 + len > buf.length) throw new DnsFormatError('label runs past the end of the message');
    wireLen += len + 1;
    if (wireLen > 255) throw new DnsFormatError('name longer than 255 bytes');
    labels.push(escapeLabel(buf, pos + 1, pos + 1 + len));
    pos += 1 + len;
  }
  return { name: labels.length ? labels.join('.') + '.' : '.', next };
}

/** Splits a presentation-form name into its labels' bytes, undoing the escapes. */
function nameLabels(name: string): Buffer[] {
  if (name === '.' || name === '') return [];
  const labels: Buffer[] = [];
  let cur: number[] = [];
  let i = 0;
  while (i < name.length) {
    const ch = name[i]!;
    if (ch === '\\') {
      const d = name.slice(i + 1, i + 4);
      if (/^[0-9]{3}$/.test(d)) {
        cur.push(Number(d) & 0xff);
        i += 4;
      } else {
        cur.push(name.charCodeAt(i + 1) & 0xff);
        i += 2;
      }
      continue;
    }
    if (ch === '.') {
      labels.push(Buffer.from(cur));
      cur = [];
      i++;
      continue;
    }
    for (const x of Buffer.from(ch, 'utf8')) cur.push(x);
    i++;
  }
  // a trailing unescaped dot ends the name (fully qualified); no dot: the last label
  if (cur.length > 0 || !name.endsWith('.')) labels.push(Buffer.from(cur));
  return labels;
}

/** Encodes a name without compression. Throws DnsFormatError for an empty or over-long label or name. */
export function encodeName(name: string): Buffer {
  const parts: Buffer[] = [];
  let total = 1;
  for (const l of nameLabels(name)) {
    if (l.length === 0 || l.length > 63) throw new DnsFormatError(`bad label length ${l.length} in ${JSON.stringify(name)}`);
    parts.push(Buffer.from([l.length]), l);
    total += l.length + 1;
  }
  if (total > 255) throw new DnsFormatError(`name longer than 255 bytes: ${JSON.stringify(name)}`);
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

function readQuestion(buf: Buffer, offset: number): { q: Question; next: number } {
  const { name, next } = readName(buf, offset);
  if (next + 4 > buf.length) throw new DnsFormatError('question runs past the end of the message');
  return { q: { name, type: buf.readUInt16BE(next), class: buf.readUInt16BE(next + 2) }, next: next + 4 };
}

function readRecord(buf: Buffer, offset: number): { rr: ResourceRecord; next: number } {
  const { name, next } = readName(buf, offset);
  if (next + 10 > buf.length) throw new DnsFormatError('record runs past the end of the message');
  const rdlength = buf.readUInt16BE(next + 8);
  const start = next + 10;
  if (start + rdlength > buf.length) throw new DnsFormatError('record data runs past the end of the message');
  return {
    rr: {
      name,
      type: buf.readUInt16BE(next),
      class: buf.readUInt16BE(next + 2),
      ttl: buf.readUInt32BE(next + 4),
      rdata: buf.subarray(start, start + rdlength),
      rdataOffset: start,
    },
    next: start + rdlength,
  };
}

/** Parses a whole message. Throws DnsFormatError for anything malformed (trailing bytes are ignored). */
export function parseMessage(buf: Buffer): Message {
  const header = parseHeader(buf);
  let pos = 12;
  const questions: Question[] = [];
  for (let i = 0; i < header.qdcount; i++) {
    const r = readQuestion(buf, pos);
    questions.push(r.q);
    pos = r.next;
  }
  const section = (n: number): ResourceRecord[] => {
    const out: ResourceRecord[] = [];
    for (let i = 0; i < n; i++) {
      const r = readRecord(buf, pos);
      out.push(r.rr);
      pos = r.next;
    }
    return out;
  };
  const answers = section(header.ancount);
  const authorities = section(header.nscount);
  const additionals = section(header.arcount);
  return { header, questions, answers, authorities, additionals };
}

/** The UDP payload size a query allows its answer: its EDNS(0) OPT record's, at least 512. */
export function udpPayloadSize(m: Message): number {
  const opt = m.additionals.find((r) => r.type === TYPE.OPT);
  return opt && opt.class > MIN_UDP_SIZE ? opt.class : MIN_UDP_SIZE;
}

function flagsOf(h: Partial<Header>): number {
  return (
    (h.qr ? 0x8000 : 0) |
    (((h.opcode ?? 0) & 0xf) << 11) |
    (h.aa ? 0x0400 : 0) |
    (h.tc ? 0x0200 : 0) |
    (h.rd ? 0x0100 : 0) |
    (h.ra ? 0x0080 : 0) |
    (h.ad ? 0x0020 : 0) |
    (h.cd ? 0x0010 : 0) |
    ((h.rcode ?? 0) & 0xf)
  );
}

function headerBytes(h: Partial<Header>, counts: [number, number, number, number]): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt16BE((h.id ?? 0) & 0xffff, 0);
  b.writeUInt16BE(flagsOf(h), 2);
  counts.forEach((c, i) => b.writeUInt16BE(c, 4 + i * 2));
  return b;
}

function questionBytes(q: Question): Buffer {
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(q.type, 0);
  tail.writeUInt16BE(q.class, 2);
  return Buffer.concat([encodeName(q.name), tail]);
}

/** A record to write: its RDATA given as bytes (uncompressed). */
export interface RecordToWrite {
  name: string;
  type: number;
  class?: number;
  ttl: number;
  rdata: Buffer;
}

function recordBytes(r: RecordToWrite, owner?: Buffer): Buffer {
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(r.type, 0);
  fixed.writeUInt16BE(r.class ?? CLASS_IN, 2);
  fixed.writeUInt32BE(r.ttl >>> 0, 4);
  fixed.writeUInt16BE(r.rdata.length, 8);
  return Buffer.concat([owner ?? encodeName(r.name), fixed, r.rdata]);
}

/** Builds a message without compression (queries, and the test's fake servers' answers). */
export function buildMessage(m: {
  header: Partial<Header>;
  questions?: Question[];
  answers?: RecordToWrite[];
  authorities?: RecordToWrite[];
  additionals?: RecordToWrite[];
}): Buffer {
  const q = m.questions ?? [];
  const an = m.answers ?? [];
  const ns = m.authorities ?? [];
  const ar = m.additionals ?? [];
  return Buffer.concat([
    headerBytes(m.header, [q.length, an.length, ns.length, ar.length]),
    ...q.map(questionBytes),
    ...an.map((r) => recordBytes(r)),
    ...ns.map((r) => recordBytes(r)),
    ...ar.map((r) => recordBytes(r)),
  ]);
}

/** A query for `name`: recursion desired, and an EDNS(0) OPT record when `udpSize` is given. */
export function buildQuery(id: number, name: string, type: number, opts: { udpSize?: number } = {}): Buffer {
  const additionals: RecordToWrite[] = [];
  if (opts.udpSize) additionals.push({ name: '.', type: TYPE.OPT, class: opts.udpSize, ttl: 0, rdata: Buffer.alloc(0) });
  return buildMessage({ header: { id, rd: true }, questions: [{ name, type, class: CLASS_IN }], additionals });
}

/** One answer of a reply from the resolver's own records. */
export type Answer =
  | { type: typeof TYPE.A; ttl: number; address: string }
  | { type: typeof TYPE.AAAA; ttl: number; address: string }
  | { type: typeof TYPE.PTR; ttl: number; target: string };

function answerRdata(a: Answer): Buffer {
  if (a.type === TYPE.PTR) return encodeName(a.target);
  const b = ipToBytes(a.address);
  const want = a.type === TYPE.A ? 4 : 16;
  if (!b || b.length !== want) throw new DnsFormatError(`not an ${a.type === TYPE.A ? 'IPv4' : 'IPv6'} address: ${a.address}`);
  return b;
}

/**
 * The reply to `query` (which must have one question): Docker's `SetReply` — same ID,
 * opcode, RD and CD, QR and RA set, the question echoed — with `rcode` and `answers`,
 * whose owner name is the question's (a compression pointer to it). Answers that do not
 * fit in `maxSize` bytes are left out and TC is set, as miekg/dns's `Truncate` does.
 */
export function buildReply(query: Message, opts: { rcode?: number; answers?: Answer[]; maxSize?: number } = {}): Buffer {
  const q = query.questions[0];
  const maxSize = opts.maxSize ?? MAX_MSG_SIZE;
  const h = query.header;
  const head: Partial<Header> = { id: h.id, qr: true, opcode: h.opcode, rd: h.rd, cd: h.cd, ra: true, rcode: opts.rcode ?? RCODE.NOERROR };
  if (!q) return headerBytes(head, [0, 0, 0, 0]);
  const question = questionBytes(q);
  const pointer = Buffer.from([0xc0, 12]);
  const answers: Buffer[] = [];
  let size = 12 + question.length;
  let truncated = false;
  for (const a of opts.answers ?? []) {
    const rr = recordBytes({ name: q.name, type: a.type, ttl: a.ttl, rdata: answerRdata(a) }, pointer);
    if (size + rr.length > maxSize) {
      truncated = true;
      break;
    }
    answers.push(rr);
    size += rr.length;
  }
  return Buffer.concat([headerBytes({ ...head, tc: truncated }, [1, answers.length, 0, 0]), question, ...answers]);
}

/**
 * A header-only error reply to a packet whose header could be read but not the rest
 * (or that asks for what is not supported): same ID, opcode and RD, QR set, `rcode`.
 */
export function buildErrorHeader(h: Header, rcode: number): Buffer {
  return headerBytes({ id: h.id, qr: true, opcode: h.opcode, rd: h.rd, cd: h.cd, ra: true, rcode }, [0, 0, 0, 0]);
}

/** Decodes an A, AAAA or PTR record's data (tests, logs); undefined for other types. */
export function decodeRecord(msg: Buffer, rr: ResourceRecord): string | undefined {
  if (rr.type === TYPE.A && rr.rdata.length === 4) return bytesToIp(rr.rdata);
  if (rr.type === TYPE.AAAA && rr.rdata.length === 16) return bytesToIp(rr.rdata);
  if (rr.type === TYPE.PTR || rr.type === TYPE.CNAME) return readName(msg, rr.rdataOffset).name;
  return undefined;
}
