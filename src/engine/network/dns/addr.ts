/**
 * IP address helpers for the resolver: text ↔ bytes (IPv4 and IPv6, RFC 5952 output) and
 * the reverse-lookup names (`4.3.2.1.in-addr.arpa.`, nibbles under `ip6.arpa.`).
 */
import { isIPv6 } from 'node:net';

/** The 4 or 16 bytes of an address; undefined when `s` is not an IP address. */
const V4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

export function ipToBytes(s: string): Buffer | undefined {
  const m = V4.exec(s);
  if (m) return Buffer.from([Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4])]);
  if (!isIPv6(s)) return undefined;
  let text = s;
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  let tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.indexOf('.', lastColon) > 0) {
    // an embedded IPv4 address: ::ffff:1.2.3.4
    const v4 = text.slice(lastColon + 1).split('.').map(Number);
    tail = [(v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!];
    text = text.slice(0, lastColon + 1) + '0:0';
  }
  const [head, rest] = text.split('::') as [string, string | undefined];
  const parse = (p: string) => (p === '' ? [] : p.split(':').map((h) => parseInt(h, 16)));
  let groups: number[];
  if (rest === undefined) groups = parse(head);
  else {
    const h = parse(head);
    const r = parse(rest);
    groups = [...h, ...new Array<number>(8 - h.length - r.length).fill(0), ...r];
  }
  if (tail.length) groups.splice(6, 2, ...tail);
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}

/** The canonical text of 4 or 16 address bytes (RFC 5952 for IPv6: lower case, longest zero run as `::`). */
export function bytesToIp(b: Buffer): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push(b.readUInt16BE(i));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i > 1) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** The canonical text of an address (`fd00:0::02` → `fd00::2`); undefined when not an address. */
export function canonicalIp(s: string): string | undefined {
  const b = ipToBytes(s);
  return b ? bytesToIp(b) : undefined;
}

/**
 * The reverse-lookup name of an address, lower case, without the trailing dot:
 * `2.0.17.172.in-addr.arpa`, `2.0.0.0.….0.0.d.f.ip6.arpa`.
 */
export function reverseName(ip: string): string | undefined {
  const b = ipToBytes(ip);
  return b ? reverseNameOf(b) : undefined;
}

/** {@link reverseName} of address bytes. */
export function reverseNameOf(b: Buffer): string {
  if (b.length === 4) return `${b[3]}.${b[2]}.${b[1]}.${b[0]}.in-addr.arpa`;
  const nibbles: string[] = [];
  for (let i = 15; i >= 0; i--) {
    nibbles.push((b[i]! & 0xf).toString(16), (b[i]! >> 4).toString(16));
  }
  return `${nibbles.join('.')}.ip6.arpa`;
}

/** An address's family, canonical text and reverse name in one pass (the table compiles thousands). */
export function addressInfo(ip: string): { v6: boolean; canon: string; reverse: string } | undefined {
  const m = V4.exec(ip);
  if (m) return { v6: false, canon: ip, reverse: `${m[4]}.${m[3]}.${m[2]}.${m[1]}.in-addr.arpa` };
  const b = ipToBytes(ip);
  return b ? { v6: b.length === 16, canon: bytesToIp(b), reverse: reverseNameOf(b) } : undefined;
}

/** Whether `ip` lies in `cidr` (`172.18.0.0/16`, `fd00::/64`); false for mismatched families or malformed input. */
export function inCidr(ip: string, cidr: string): boolean {
  const slash = cidr.indexOf('/');
  const a = ipToBytes(ip);
  const n = ipToBytes(slash < 0 ? cidr : cidr.slice(0, slash));
  if (!a || !n || a.length !== n.length) return false;
  const bits = slash < 0 ? a.length * 8 : Number(cidr.slice(slash + 1));
  if (!Number.isInteger(bits) || bits < 0 || bits > a.length * 8) return false;
  for (let i = 0; i < a.length; i++) {
    const left = bits - i * 8;
    if (left <= 0) return true;
    const mask = left >= 8 ? 0xff : (0xff << (8 - left)) & 0xff;
    if ((a[i]! & mask) !== (n[i]! & mask)) return false;
  }
  return true;
}

/** Loopback: 127.0.0.0/8 and ::1. */
export function isLoopback(ip: string): boolean {
  return inCidr(ip, '127.0.0.0/8') || canonicalIp(ip) === '::1';
}
