/**
 * rtnetlink messages, encoded and decoded in TypeScript (the addon only sends them and
 * collects the answers: sys/native.ts `netlinkRequest`). Only what the bridge data plane
 * needs: links (veth, bridge), addresses, routes. Layouts are the kernel's uapi
 * (linux/rtnetlink.h, linux/if_link.h, linux/if_addr.h), host byte order (little endian
 * on every architecture we run on) except addresses, which are network order.
 */
import * as net from 'node:net';
import { invalidArgument } from '../errdefs';
import { bytesToIp } from './dns/addr';

export const RTM_NEWLINK = 16;
export const RTM_DELLINK = 17;
export const RTM_GETLINK = 18;
export const RTM_NEWADDR = 20;
export const RTM_DELADDR = 21;
export const RTM_GETADDR = 22;
export const RTM_NEWROUTE = 24;
export const RTM_GETROUTE = 26;

export const NLM_F_REQUEST = 0x1;
export const NLM_F_ACK = 0x4;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
export const NLM_F_DUMP = 0x300;

export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const AF_INET6 = 10;

export const IFF_UP = 0x1;

const IFLA_ADDRESS = 1;
const IFLA_IFNAME = 3;
const IFLA_LINK = 5;
const IFLA_MTU = 4;
const IFLA_MASTER = 10;
const IFLA_LINKINFO = 18;
const IFLA_NET_NS_FD = 28;
const IFLA_INFO_KIND = 1;
const IFLA_INFO_DATA = 2;
const VETH_INFO_PEER = 1;

const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const IFA_BROADCAST = 4;
const IFA_FLAGS = 8;
export const IFA_F_NODAD = 0x02;
export const RT_SCOPE_UNIVERSE = 0;
export const RT_SCOPE_LINK = 253;

const RTA_DST = 1;
const RTA_OIF = 4;
const RTA_GATEWAY = 5;
const RTA_TABLE = 15;
export const RT_TABLE_MAIN = 254;
const RTPROT_BOOT = 3;
const RTN_UNICAST = 1;

const NLMSG_HDRLEN = 16;
const IFINFOMSG_LEN = 16;
const IFADDRMSG_LEN = 8;
const RTMSG_LEN = 12;

/** Longest interface name the kernel takes (IFNAMSIZ - 1). */
export const IFNAME_MAX = 15;

const align4 = (n: number) => (n + 3) & ~3;

/** One attribute: type and payload (nested attributes are payloads made of attributes). */
export function attr(type: number, payload: Buffer): Buffer {
  const len = 4 + payload.length;
  const b = Buffer.alloc(align4(len));
  b.writeUInt16LE(len, 0);
  b.writeUInt16LE(type, 2);
  payload.copy(b, 4);
  return b;
}

const u32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0, 0);
  return b;
};
const str = (s: string) => Buffer.concat([Buffer.from(s, 'utf8'), Buffer.alloc(1)]);

/** A whole message: header (length and sequence filled in here / by the addon), body, attributes. */
export function message(type: number, flags: number, body: Buffer, attrs: Buffer[] = []): Buffer {
  const payload = Buffer.concat([body, ...attrs]);
  const b = Buffer.alloc(NLMSG_HDRLEN + payload.length);
  b.writeUInt32LE(b.length, 0);
  b.writeUInt16LE(type, 4);
  b.writeUInt16LE(flags | NLM_F_REQUEST, 6);
  payload.copy(b, NLMSG_HDRLEN);
  return b;
}

export function ifinfomsg(o: { family?: number; index?: number; flags?: number; change?: number } = {}): Buffer {
  const b = Buffer.alloc(IFINFOMSG_LEN);
  b.writeUInt8(o.family ?? AF_UNSPEC, 0);
  b.writeInt32LE(o.index ?? 0, 4);
  b.writeUInt32LE(o.flags ?? 0, 8);
  b.writeUInt32LE(o.change ?? 0, 12);
  return b;
}

function ifaddrmsg(family: number, prefixLen: number, flags: number, scope: number, index: number): Buffer {
  const b = Buffer.alloc(IFADDRMSG_LEN);
  b.writeUInt8(family, 0);
  b.writeUInt8(prefixLen, 1);
  b.writeUInt8(flags & 0xff, 2);
  b.writeUInt8(scope, 3);
  b.writeUInt32LE(index, 4);
  return b;
}

function rtmsg(family: number, dstLen: number, table: number, protocol: number, scope: number, type: number): Buffer {
  const b = Buffer.alloc(RTMSG_LEN);
  b.writeUInt8(family, 0);
  b.writeUInt8(dstLen, 1);
  b.writeUInt8(table < 256 ? table : 0, 4);
  b.writeUInt8(protocol, 5);
  b.writeUInt8(scope, 6);
  b.writeUInt8(type, 7);
  return b;
}

// ---- addresses -------------------------------------------------------------------------

/** An address as bytes, with its family. Throws invalidArgument for anything else. */
export function ipBytes(ip: string): { family: number; bytes: Buffer } {
  if (net.isIPv4(ip)) return { family: AF_INET, bytes: Buffer.from(ip.split('.').map(Number)) };
  if (!net.isIPv6(ip)) throw invalidArgument(`invalid IP address: ${ip}`);
  let s = ip.split('%')[0];
  const words: number[] = [];
  const tail = s.match(/:(\d+\.\d+\.\d+\.\d+)$/);
  if (tail) {
    const v4 = tail[1].split('.').map(Number);
    s = `${s.slice(0, -tail[1].length)}${((v4[0] << 8) | v4[1]).toString(16)}:${((v4[2] << 8) | v4[3]).toString(16)}`;
  }
  const [head, rest] = s.split('::');
  const parse = (part: string | undefined) => (part ? part.split(':').map((w) => parseInt(w, 16)) : []);
  const h = parse(head);
  const t = parse(rest);
  words.push(...h);
  if (rest !== undefined) for (let i = h.length + t.length; i < 8; i++) words.push(0);
  words.push(...t);
  const bytes = Buffer.alloc(16);
  words.forEach((w, i) => bytes.writeUInt16BE(w, i * 2));
  return { family: AF_INET6, bytes };
}

/** Bytes → text: dotted quad, or RFC 5952's compressed form for IPv6 (one formatter: dns/addr.ts). */
export function ipString(bytes: Buffer): string {
  return bytesToIp(bytes);
}

/** `172.17.0.2/16` → address, prefix, family. Throws invalidArgument. */
export function parseCidr(cidr: string): { ip: string; prefixLen: number; family: number; bytes: Buffer } {
  const slash = cidr.lastIndexOf('/');
  if (slash < 0) throw invalidArgument(`invalid CIDR address: ${cidr}`);
  const ip = cidr.slice(0, slash);
  const p = cidr.slice(slash + 1);
  const { family, bytes } = ipBytes(ip);
  const prefixLen = /^\d{1,3}$/.test(p) ? Number(p) : NaN;
  if (!(prefixLen <= bytes.length * 8)) throw invalidArgument(`invalid CIDR address: ${cidr}`);
  return { ip, prefixLen, family, bytes };
}

/** `02:42:ac:11:00:02` → 6 bytes. Throws invalidArgument. */
export function macBytes(mac: string): Buffer {
  if (!/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(mac)) throw invalidArgument(`invalid MAC address: ${mac}`);
  return Buffer.from(mac.split(':').map((x) => parseInt(x, 16)));
}

/** An interface name the kernel accepts (1–15 bytes, no '/', ':' or whitespace). Throws invalidArgument. */
export function checkIfName(name: string): void {
  if (!name || Buffer.byteLength(name) > IFNAME_MAX || /[/:\s]/.test(name) || name === '.' || name === '..') {
    throw invalidArgument(`invalid interface name: ${JSON.stringify(name)}`);
  }
}

// ---- requests --------------------------------------------------------------------------

export function getLinkByName(name: string): Buffer {
  return message(RTM_GETLINK, NLM_F_ACK, ifinfomsg(), [attr(IFLA_IFNAME, str(name))]);
}

export function deleteLink(o: { name?: string; index?: number }): Buffer {
  return message(RTM_DELLINK, NLM_F_ACK, ifinfomsg({ index: o.index ?? 0 }), o.name ? [attr(IFLA_IFNAME, str(o.name))] : []);
}

/** Sets flags/MTU on an existing link. */
export function setLink(index: number, o: { up?: boolean; mtu?: number }): Buffer {
  const attrs = o.mtu !== undefined ? [attr(IFLA_MTU, u32(o.mtu))] : [];
  return message(
    RTM_NEWLINK,
    NLM_F_ACK,
    ifinfomsg({ index, flags: o.up ? IFF_UP : 0, change: o.up === undefined ? 0 : IFF_UP }),
    attrs,
  );
}

export function newBridge(name: string, o: { mtu?: number; mac?: Buffer }): Buffer {
  const attrs = [attr(IFLA_IFNAME, str(name))];
  if (o.mtu !== undefined) attrs.push(attr(IFLA_MTU, u32(o.mtu)));
  if (o.mac) attrs.push(attr(IFLA_ADDRESS, o.mac));
  attrs.push(attr(IFLA_LINKINFO, attr(IFLA_INFO_KIND, str('bridge'))));
  return message(RTM_NEWLINK, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, ifinfomsg(), attrs);
}

/**
 * A veth pair in one message: the host side `hostName` (up, enslaved to `master`), its
 * peer created directly in the namespace open as `nsFd`, named `peerName`, with `mac`
 * (still down). Both with `mtu` when given.
 */
export function newVeth(o: { hostName: string; master: number; peerName: string; nsFd: number; mac: Buffer; mtu?: number }): Buffer {
  const mtu = o.mtu !== undefined ? [attr(IFLA_MTU, u32(o.mtu))] : [];
  // the peer is brought up inside its namespace afterwards: asking for IFF_UP here fails
  // with ENOTCONN on recent kernels (6.18) when the peer goes to another namespace
  const peer = Buffer.concat([
    ifinfomsg(),
    attr(IFLA_IFNAME, str(o.peerName)),
    attr(IFLA_ADDRESS, o.mac),
    ...mtu,
    attr(IFLA_NET_NS_FD, u32(o.nsFd)),
  ]);
  const info = Buffer.concat([attr(IFLA_INFO_KIND, str('veth')), attr(IFLA_INFO_DATA, attr(VETH_INFO_PEER, peer))]);
  return message(RTM_NEWLINK, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, ifinfomsg({ flags: IFF_UP, change: IFF_UP }), [
    attr(IFLA_IFNAME, str(o.hostName)),
    ...mtu,
    attr(IFLA_MASTER, u32(o.master)),
    attr(IFLA_LINKINFO, info),
  ]);
}

/** An address on link `index`: IPv4 with its broadcast (as Docker's netlink library sets it), IPv6 without DAD. */
export function newAddr(index: number, cidr: string): Buffer {
  const a = parseCidr(cidr);
  const v6 = a.family === AF_INET6;
  const flags = v6 ? IFA_F_NODAD : 0;
  const attrs = [attr(IFA_LOCAL, a.bytes), attr(IFA_ADDRESS, a.bytes)];
  if (!v6 && a.prefixLen < 31) {
    const brd = Buffer.from(a.bytes);
    const host = 32 - a.prefixLen;
    const mask = host === 32 ? 0xffffffff : ((1 << host) >>> 0) - 1;
    brd.writeUInt32BE((brd.readUInt32BE(0) | mask) >>> 0, 0);
    attrs.push(attr(IFA_BROADCAST, brd));
  }
  if (flags) attrs.push(attr(IFA_FLAGS, u32(flags)));
  return message(RTM_NEWADDR, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, ifaddrmsg(a.family, a.prefixLen, flags, RT_SCOPE_UNIVERSE, index), attrs);
}

export function deleteAddr(index: number, cidr: string): Buffer {
  const a = parseCidr(cidr);
  return message(RTM_DELADDR, NLM_F_ACK, ifaddrmsg(a.family, a.prefixLen, 0, 0, index), [attr(IFA_LOCAL, a.bytes), attr(IFA_ADDRESS, a.bytes)]);
}

/** The default route via `gateway` out of link `index`, in the main table. */
export function newDefaultRoute(index: number, gateway: string): Buffer {
  const g = ipBytes(gateway);
  return message(RTM_NEWROUTE, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, rtmsg(g.family, 0, RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE, RTN_UNICAST), [
    attr(RTA_GATEWAY, g.bytes),
    attr(RTA_OIF, u32(index)),
  ]);
}

export function dumpAddrs(family = AF_UNSPEC): Buffer {
  return message(RTM_GETADDR, NLM_F_DUMP, ifaddrmsg(family, 0, 0, 0, 0));
}

export function dumpRoutes(family: number): Buffer {
  return message(RTM_GETROUTE, NLM_F_DUMP, rtmsg(family, 0, 0, 0, 0, 0));
}

// ---- answers ---------------------------------------------------------------------------

interface Attrs {
  get(type: number): Buffer | undefined;
}

function parseAttrs(b: Buffer, start: number, end: number): Attrs {
  const m = new Map<number, Buffer>();
  for (let off = start; off + 4 <= end; ) {
    const len = b.readUInt16LE(off);
    const type = b.readUInt16LE(off + 2) & 0x3fff;
    if (len < 4 || off + len > end) break;
    if (!m.has(type)) m.set(type, b.subarray(off + 4, off + len));
    off += align4(len);
  }
  return m;
}

/** Each message of a concatenated answer: type, whole message. */
function* messages(data: Buffer): Generator<{ type: number; msg: Buffer }> {
  for (let off = 0; off + NLMSG_HDRLEN <= data.length; ) {
    const len = data.readUInt32LE(off);
    if (len < NLMSG_HDRLEN || off + len > data.length) return;
    yield { type: data.readUInt16LE(off + 4), msg: data.subarray(off, off + len) };
    off += align4(len);
  }
}

const cString = (b: Buffer | undefined) => (b ? b.subarray(0, b.indexOf(0) < 0 ? b.length : b.indexOf(0)).toString('utf8') : '');

export interface LinkInfo {
  index: number;
  name: string;
  flags: number;
  mtu?: number;
  master?: number;
  /** IFLA_LINK: for a veth, its peer's index (in the peer's namespace) */
  link?: number;
  /** `bridge`, `veth`, … ('' for a physical device or lo) */
  kind: string;
  mac?: string;
}

export function parseLinks(data: Buffer): LinkInfo[] {
  const out: LinkInfo[] = [];
  for (const { type, msg } of messages(data)) {
    if (type !== RTM_NEWLINK || msg.length < NLMSG_HDRLEN + IFINFOMSG_LEN) continue;
    const a = parseAttrs(msg, NLMSG_HDRLEN + IFINFOMSG_LEN, msg.length);
    const linkinfo = a.get(IFLA_LINKINFO);
    const kind = linkinfo ? cString(parseAttrs(linkinfo, 0, linkinfo.length).get(IFLA_INFO_KIND)) : '';
    const mac = a.get(IFLA_ADDRESS);
    out.push({
      index: msg.readInt32LE(NLMSG_HDRLEN + 4),
      flags: msg.readUInt32LE(NLMSG_HDRLEN + 8),
      name: cString(a.get(IFLA_IFNAME)),
      mtu: a.get(IFLA_MTU)?.readUInt32LE(0),
      master: a.get(IFLA_MASTER)?.readUInt32LE(0),
      link: a.get(IFLA_LINK)?.readUInt32LE(0),
      kind,
      mac: mac ? [...mac].map((x) => x.toString(16).padStart(2, '0')).join(':') : undefined,
    });
  }
  return out;
}

export interface AddrInfo {
  index: number;
  family: number;
  scope: number;
  /** `172.17.0.1/16` */
  cidr: string;
}

export function parseAddrs(data: Buffer): AddrInfo[] {
  const out: AddrInfo[] = [];
  for (const { type, msg } of messages(data)) {
    if (type !== RTM_NEWADDR || msg.length < NLMSG_HDRLEN + IFADDRMSG_LEN) continue;
    const a = parseAttrs(msg, NLMSG_HDRLEN + IFADDRMSG_LEN, msg.length);
    const ip = a.get(IFA_LOCAL) ?? a.get(IFA_ADDRESS);
    if (!ip) continue;
    out.push({
      family: msg.readUInt8(NLMSG_HDRLEN),
      scope: msg.readUInt8(NLMSG_HDRLEN + 3),
      index: msg.readUInt32LE(NLMSG_HDRLEN + 4),
      cidr: `${ipString(ip)}/${msg.readUInt8(NLMSG_HDRLEN + 1)}`,
    });
  }
  return out;
}

export interface RouteInfo {
  family: number;
  table: number;
  type: number;
  /** `10.0.0.0/8`; `0.0.0.0/0` or `::/0` for a default route */
  dst: string;
  gateway?: string;
  oif?: number;
}

export function parseRoutes(data: Buffer): RouteInfo[] {
  const out: RouteInfo[] = [];
  for (const { type, msg } of messages(data)) {
    if (type !== RTM_NEWROUTE || msg.length < NLMSG_HDRLEN + RTMSG_LEN) continue;
    const family = msg.readUInt8(NLMSG_HDRLEN);
    const dstLen = msg.readUInt8(NLMSG_HDRLEN + 1);
    const a = parseAttrs(msg, NLMSG_HDRLEN + RTMSG_LEN, msg.length);
    const dst = a.get(RTA_DST) ?? Buffer.alloc(family === AF_INET6 ? 16 : 4);
    const gw = a.get(RTA_GATEWAY);
    out.push({
      family,
      table: a.get(RTA_TABLE)?.readUInt32LE(0) ?? msg.readUInt8(NLMSG_HDRLEN + 4),
      type: msg.readUInt8(NLMSG_HDRLEN + 7),
      dst: `${ipString(dst)}/${dstLen}`,
      gateway: gw ? ipString(gw) : undefined,
      oif: a.get(RTA_OIF)?.readUInt32LE(0),
    });
  }
  return out;
}
