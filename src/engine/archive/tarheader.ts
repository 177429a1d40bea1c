/**
 * Tar header encoding (POSIX ustar + PAX extended records) and a binary-safe PAX
 * decoder. We encode headers ourselves instead of using tar-stream's packer because
 * that one writes uid/gid with only 6 octal digits, mtime as a 32-bit value and PAX
 * values as UTF-8 text (xattr values such as `security.capability` are binary).
 * The output mirrors Go's archive/tar in PAX format, which Docker uses: ustar when
 * every field fits, PAX records (sorted by key) for the rest.
 */

export type EntryType = 'file' | 'link' | 'symlink' | 'character-device' | 'block-device' | 'directory' | 'fifo';

/** One archive entry's header, as we write it. */
export interface TarHeader {
  /** Relative name; directories get a trailing `/` when encoded. */
  name: string;
  type: EntryType;
  /** The value of the mode field (Docker includes the file-type bits, e.g. 0o40755). */
  mode: number;
  uid: number;
  gid: number;
  /** Bytes of content that follow (regular files only). */
  size: number;
  /** Seconds since the epoch (whole seconds, as Docker truncates). */
  mtime: number;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  /** Extended attributes, written as `SCHILY.xattr.<name>` PAX records. */
  xattrs?: Map<string, Buffer>;
}

const TYPEFLAG: Record<EntryType, string> = {
  file: '0',
  link: '1',
  symlink: '2',
  'character-device': '3',
  'block-device': '4',
  directory: '5',
  fifo: '6',
};

export const BLOCK = 512;
/** Two zero blocks end an archive. */
export const END_OF_ARCHIVE = Buffer.alloc(2 * BLOCK);

const isAscii = (s: string) => /^[\x01-\x7f]*$/.test(s);

/** Writes `n` as zero-padded octal in a field of `width` bytes (last byte NUL); false if it does not fit. */
function putOctal(buf: Buffer, off: number, width: number, n: number): boolean {
  if (!Number.isSafeInteger(n) || n < 0) return false;
  const s = n.toString(8);
  if (s.length > width - 1) return false;
  buf.write(s.padStart(width - 1, '0'), off, 'ascii');
  buf[off + width - 1] = 0;
  return true;
}

/** `"<len> key=value\n"` with len counting its own digits, in bytes. */
function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len)), body]);
}

function padded(data: Buffer): Buffer {
  const rem = data.length % BLOCK;
  return rem === 0 ? data : Buffer.concat([data, Buffer.alloc(BLOCK - rem)]);
}

/** Splits a long ustar name into prefix (≤155) and name (≤100) at a slash, if possible. */
function splitUstarName(name: string): [string, string] | null {
  if (name.length <= 100) return ['', name];
  for (let i = name.length - 1; i > 0; i--) {
    if (name[i] !== '/') continue;
    const prefix = name.slice(0, i);
    const rest = name.slice(i + 1);
    if (rest.length > 100 || rest.length === 0) return null;
    if (prefix.length <= 155) return [prefix, rest];
  }
  return null;
}

function ustarBlock(h: TarHeader, typeflag: string, name: string, prefix: string, pax: Map<string, Buffer>): Buffer {
  const b = Buffer.alloc(BLOCK);
  b.write(name, 0, 100, 'utf8');
  putOctal(b, 100, 8, h.mode & 0o7777777);
  if (!putOctal(b, 108, 8, h.uid)) { pax.set('uid', Buffer.from(String(h.uid))); putOctal(b, 108, 8, 0); }
  if (!putOctal(b, 116, 8, h.gid)) { pax.set('gid', Buffer.from(String(h.gid))); putOctal(b, 116, 8, 0); }
  if (!putOctal(b, 124, 12, h.size)) { pax.set('size', Buffer.from(String(h.size))); putOctal(b, 124, 12, 0); }
  if (!putOctal(b, 136, 12, h.mtime)) { pax.set('mtime', Buffer.from(String(h.mtime))); putOctal(b, 136, 12, 0); }
  b.write(typeflag, 156, 1, 'ascii');
  const link = h.linkname ?? '';
  if (link.length <= 100 && isAscii(link)) b.write(link, 157, 100, 'utf8');
  else pax.set('linkpath', Buffer.from(link));
  b.write('ustar\0', 257, 'ascii');
  b.write('00', 263, 'ascii');
  putOctal(b, 329, 8, h.devmajor ?? 0);
  putOctal(b, 337, 8, h.devminor ?? 0);
  b.write(prefix, 345, 155, 'utf8');
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += b[i];
  putOctal(b, 148, 7, sum);
  b[155] = 0x20;
  return b;
}

/**
 * The header blocks for one entry: a PAX extended header first when a field does not
 * fit ustar (long or non-ASCII names, big ids/sizes, xattrs), then the ustar block.
 * Content (for files) and its padding are the caller's.
 */
export function encodeHeader(h: TarHeader): Buffer {
  const name = h.type === 'directory' && !h.name.endsWith('/') ? `${h.name}/` : h.name;
  const pax = new Map<string, Buffer>();
  let split = isAscii(name) ? splitUstarName(name) : null;
  if (!split) {
    pax.set('path', Buffer.from(name));
    split = ['', name.replace(/[^\x01-\x7f]/g, '_').slice(0, 100)];
  }
  for (const [k, v] of h.xattrs ?? []) pax.set(`SCHILY.xattr.${k}`, v);
  // ustarBlock moves fields that do not fit (ids, size, mtime, link) into `pax`, zeroing them.
  const block = ustarBlock(h, TYPEFLAG[h.type], split[1], split[0], pax);
  if (pax.size === 0) return block;
  const keys = [...pax.keys()].sort();
  const body = Buffer.concat(keys.map((k) => paxRecord(k, pax.get(k) as Buffer)));
  const base = split[1].slice(split[1].lastIndexOf('/', split[1].length - 2) + 1).replace(/\/$/, '');
  const xhdr: TarHeader = { name: `PaxHeaders.0/${base}`.slice(0, 100), type: 'file', mode: 0o644, uid: 0, gid: 0, size: body.length, mtime: 0 };
  return Buffer.concat([ustarBlock(xhdr, 'x', xhdr.name, '', new Map()), padded(body), block]);
}

/** Zero bytes that pad `size` bytes of content to a whole block. */
export function paddingFor(size: number): Buffer {
  const rem = size % BLOCK;
  return rem === 0 ? Buffer.alloc(0) : Buffer.alloc(BLOCK - rem);
}

/**
 * Decodes a PAX extended header body. Keys and text values are UTF-8; the values of
 * `SCHILY.xattr.*` records are kept byte for byte (as latin1 strings, one char per
 * byte) since xattr values are binary. Throws on a malformed record.
 */
export function decodePax(buf: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let off = 0;
  while (off < buf.length) {
    if (buf[off] === 0) break; // trailing NUL padding, as some writers leave
    const sp = buf.indexOf(0x20, off);
    if (sp < 0) throw new Error('invalid PAX record: no length');
    const lenText = buf.toString('ascii', off, sp);
    const len = /^[0-9]{1,9}$/.test(lenText) ? parseInt(lenText, 10) : NaN;
    if (!(len > sp - off + 1) || off + len > buf.length || buf[off + len - 1] !== 0x0a) {
      throw new Error('invalid PAX record: bad length');
    }
    const rec = buf.subarray(sp + 1, off + len - 1);
    const eq = rec.indexOf(0x3d);
    if (eq <= 0) throw new Error('invalid PAX record: no key');
    const key = rec.toString('utf8', 0, eq);
    const raw = rec.subarray(eq + 1);
    out[key] = key.startsWith('SCHILY.xattr.') ? raw.toString('latin1') : raw.toString('utf8');
    off += len;
  }
  return out;
}
