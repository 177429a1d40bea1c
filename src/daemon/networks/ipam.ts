/**
 * IP address management for local networks (libnetwork's default IPAM driver, on our
 * own tables): address arithmetic on bigints for IPv4 and IPv6, pool selection from the
 * default address pools, and sequential allocation in a pool (bitseq's serial mode: the
 * next free address after the last one handed out, wrapping). The leases themselves are
 * the endpoint rows (store.ts); this module only computes.
 */
import * as net from 'node:net';
import { forbidden, internal, notFound } from '../../engine/errdefs';
import { bytesToIp } from '../../engine/network/dns/addr';

export type Family = 4 | 6;

/** A parsed prefix: the network address and its length. */
export interface Prefix {
  family: Family;
  /** the network address (host bits cleared) */
  base: bigint;
  bits: number;
}

const width = (f: Family): number => (f === 4 ? 32 : 128);

/** Parses an address (no prefix); undefined when it is not one. `::ffff:a.b.c.d` stays IPv6. */
export function parseIp(s: string): { family: Family; value: bigint } | undefined {
  const f = net.isIP(s);
  if (f === 4) {
    const p = s.split('.').map(Number);
    return { family: 4, value: BigInt(((p[0]! << 24) >>> 0) + (p[1]! << 16) + (p[2]! << 8) + p[3]!) };
  }
  if (f === 6) {
    let text = s;
    const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
    if (v4) {
      const n = parseIp(v4[1]!)!.value;
      text = text.slice(0, v4.index) + `${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
    }
    const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
    const hs = head ? head.split(':') : [];
    const ts = tail !== undefined && tail !== '' ? tail.split(':') : [];
    const groups = tail === undefined ? hs : [...hs, ...new Array<string>(8 - hs.length - ts.length).fill('0'), ...ts];
    let v = 0n;
    for (const g of groups) v = (v << 16n) | BigInt(parseInt(g, 16));
    return { family: 6, value: v };
  }
  return undefined;
}

/** Formats an address as Go's net.IP.String() does (IPv6: RFC 5952, the longest zero run compressed). */
export function formatIp(family: Family, v: bigint): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => String((v >> s) & 0xffn)).join('.');
  const b = Buffer.alloc(16);
  for (let i = 0; i < 8; i++) b.writeUInt16BE(Number((v >> BigInt((7 - i) * 16)) & 0xffffn), i * 2);
  return bytesToIp(b);
}

/** Parses `a.b.c.d/n` or `x::/n` (host bits allowed, as Go's ParseCIDR). Undefined when invalid. */
export function parseCidr(s: string): (Prefix & { addr: bigint }) | undefined {
  const i = s.indexOf('/');
  if (i < 0) return undefined;
  const ip = parseIp(s.slice(0, i));
  const bitsText = s.slice(i + 1);
  if (!ip || !/^\d{1,3}$/.test(bitsText)) return undefined;
  const bits = Number(bitsText);
  if (bits > width(ip.family)) return undefined;
  return { family: ip.family, base: ip.value & mask(ip.family, bits), bits, addr: ip.value };
}

function mask(f: Family, bits: number): bigint {
  const w = BigInt(width(f));
  return ((1n << w) - 1n) ^ ((1n << (w - BigInt(bits))) - 1n);
}

export const prefixString = (p: Prefix): string => `${formatIp(p.family, p.base)}/${p.bits}`;
export const lastOf = (p: Prefix): bigint => p.base + (1n << BigInt(width(p.family) - p.bits)) - 1n;
export const contains = (p: Prefix, family: Family, v: bigint): boolean => family === p.family && v >= p.base && v <= lastOf(p);
export const overlaps = (a: Prefix, b: Prefix): boolean => a.family === b.family && a.base <= lastOf(b) && b.base <= lastOf(a);

/** Docker's default address pools (20.10: 172.17–31 by /16, then 192.168.0.0/16 by /20). */
export const DEFAULT_ADDRESS_POOLS: Array<{ base: string; size: number }> = [
  { base: '172.17.0.0/16', size: 16 },
  { base: '172.18.0.0/16', size: 16 },
  { base: '172.19.0.0/16', size: 16 },
  { base: '172.20.0.0/14', size: 16 },
  { base: '172.24.0.0/14', size: 16 },
  { base: '172.28.0.0/14', size: 16 },
  { base: '192.168.0.0/16', size: 20 },
];

/**
 * The first subnet of the pools that overlaps none of `taken` (other networks' subnets,
 * the host's routes). Throws not-found in libnetwork's words when none is left.
 */
export function pickSubnet(pools: Array<{ base: string; size: number }>, taken: Prefix[], family: Family = 4): Prefix {
  for (const pool of pools) {
    const p = parseCidr(pool.base);
    if (!p || p.family !== family || pool.size < p.bits) continue;
    const step = 1n << BigInt(width(family) - pool.size);
    for (let b = p.base; b <= lastOf(p); b += step) {
      const cand: Prefix = { family, base: b, bits: pool.size };
      if (!taken.some((t) => overlaps(t, cand))) return cand;
    }
  }
  throw notFound(`could not find an available, non-overlapping IPv${family} address pool among the defaults to assign to the network`);
}

/** One address pool of a network, as the IPAM uses it. */
export interface Pool {
  /** canonical `10.1.0.0/24` */
  subnet: string;
  /** the gateway address, without prefix */
  gateway: string;
  /** allocations only from this sub-range (`IPRange`, `--fixed-cidr`) */
  ipRange?: string;
  /** reserved addresses (`AuxiliaryAddresses`) */
  aux?: Record<string, string>;
}

/** The addresses a pool may hand out: the range (or subnet) minus, for IPv4, network and broadcast addresses. */
function bounds(pool: Pool): { family: Family; lo: bigint; hi: bigint; subnet: Prefix } {
  const subnet = parseCidr(pool.subnet)!;
  const range = pool.ipRange ? parseCidr(pool.ipRange)! : subnet;
  let lo = range.base;
  let hi = lastOf(range);
  if (subnet.family === 4 && subnet.bits < 31) {
    if (lo === subnet.base) lo++;
    if (hi === lastOf(subnet)) hi--;
  }
  if (subnet.family === 6 && lo === subnet.base) lo++; // the subnet-router anycast address is never handed out
  return { family: subnet.family, lo, hi, subnet };
}

/**
 * Allocates one address of `pool`: `preferred` when given (it must lie in the range: else
 * internal `Requested address is out of range`; it must be free: else forbidden
 * `Address already in use`), otherwise the next free one after `last` (wrapping). `used`
 * are the leased addresses (gateway and auxiliary addresses are added here). Returns the
 * address and the new cursor. Throws internal `No available addresses on this pool` (500, as moby answers libnetwork's BadRequest/NoService kinds).
 */
export function allocate(pool: Pool, used: Set<string>, last: bigint | undefined, preferred?: string): { address: string; cursor: bigint } {
  const { family, lo, hi, subnet } = bounds(pool);
  const taken = new Set<bigint>();
  const add = (s: string) => {
    const ip = parseIp(s);
    if (ip && ip.family === family) taken.add(ip.value);
  };
  for (const u of used) add(u);
  add(pool.gateway);
  for (const a of Object.values(pool.aux ?? {})) add(a);
  if (preferred) {
    const ip = parseIp(preferred);
    if (!ip || ip.family !== family || !contains(subnet, family, ip.value) || ip.value < lo || ip.value > hi) throw internal('Requested address is out of range'); // libnetwork's BadRequest kind has no HTTP mapping in moby: 500
    if (taken.has(ip.value)) throw forbidden('Address already in use');
    return { address: formatIp(family, ip.value), cursor: ip.value };
  }
  let start = last === undefined || last < lo || last >= hi ? lo : last + 1n;
  const size = hi - lo + 1n;
  // walk at most the whole range once (bounded: a /16 is 65534 steps; IPv6 ranges stop at the first free address)
  for (let n = 0n; n < size; n++) {
    const v = start;
    start = start >= hi ? lo : start + 1n;
    if (!taken.has(v)) return { address: formatIp(family, v), cursor: v };
    if (n > BigInt(taken.size) + 1n) break;
  }
  throw internal('No available addresses on this pool'); // NoService: 500 in moby, as above
}

/** `02:42:` + the IPv4 address's bytes (Docker's generated MAC), or random bytes without one. */
export function macFor(ipv4: string | undefined, random: () => Buffer): string {
  const bytes = ipv4 ? ipv4.split('.').map(Number) : [...random().subarray(0, 4)];
  return ['02', '42', ...bytes.map((b) => b.toString(16).padStart(2, '0'))].join(':');
}
