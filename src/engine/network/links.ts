/**
 * `LinkOps` over rtnetlink, the fast path (docs/networking/dataplane.md): bridges, veth
 * pairs, addresses and routes made with a few netlink messages, each request sent by the
 * addon on a short-lived thread of its own — no process per container, no wait on the JS
 * thread. The messages are built in
 * link-netlink.ts; what must happen inside a container's namespace goes over a netlink
 * socket made in that namespace by the addon's worker thread for the request
 * (sys/native.ts `netlinkRequest` with a path), so Node's threads never change namespace
 * and the JS thread never waits for one.
 *
 * Errors: one `StevedoreError` naming the operation, the kernel's errno text and its
 * extended ack when it gave one. EEXIST → conflict, ENODEV → not-found, EINVAL/ERANGE →
 * invalid-argument, anything else internal. Removals are idempotent.
 */
import * as fs from 'node:fs';
import * as util from 'node:util';
import { conflict, internal, invalidArgument, kindOf, notFound, type StevedoreError } from '../errdefs';
import { type NativeSys, nativeSys } from '../sys/native';
import * as nl from './link-netlink';
import type { BridgeSpec, Cidr, EndpointSpec, LinkOps } from './types';

type Sys = Pick<NativeSys, 'netlinkOpen' | 'netlinkRequest'>;

const ENOENT = 2;
const EEXIST = 17;
const ENODEV = 19;
const EINTR = 4;
const EINVAL = 22;
const ERANGE = 34;
const EAFNOSUPPORT = 97;
const EADDRNOTAVAIL = 99;

/** The kernel's errno as a StevedoreError naming what was being done. */
export function netlinkError(what: string, errno: number, extack = ''): StevedoreError {
  const [code, text] = util.getSystemErrorMap().get(-errno) ?? [`errno ${errno}`, 'unknown error'];
  const msg = `${what}: ${text}${extack ? ` (${extack})` : ''}`;
  const cause = Object.assign(new Error(msg), { code, errno: -errno });
  if (errno === EEXIST) return conflict(msg, cause);
  if (errno === ENODEV || errno === ENOENT) return notFound(msg, cause);
  if (errno === EINVAL || errno === ERANGE) return invalidArgument(msg, cause);
  return internal(msg, cause);
}

function wrapSys(what: string, err: unknown): StevedoreError {
  const e = err as NodeJS.ErrnoException;
  const msg = `${what}: ${e?.message ?? String(err)}`;
  if (e?.code === 'ENOENT') return notFound(msg, err);
  return internal(msg, err);
}

/**
 * Where requests go for the length of an operation: a socket of the daemon's namespace,
 * or a namespace's path (each request then runs on a thread that enters it; the JS
 * thread never does, and never waits for it).
 */
class Socket {
  private constructor(
    private readonly sys: Sys,
    readonly target: number | string,
  ) {}

  static open(sys: Sys, nsPath: string | null, what: string): Socket {
    if (nsPath !== null) return new Socket(sys, nsPath);
    try {
      return new Socket(sys, sys.netlinkOpen(null));
    } catch (err) {
      throw wrapSys(what, err);
    }
  }

  close(): void {
    if (typeof this.target === 'number') fs.closeSync(this.target);
  }

  /**
   * Sends the messages in order; returns each one's answer data. The first failure
   * throws `netlinkError(what[i])` unless `tolerate` lists its errno, in which case the
   * answers so far are returned with `failed` set.
   */
  async send(msgs: Buffer[], what: string[], tolerate: number[] = []): Promise<{ data: Buffer[]; failed?: number }> {
    let res: { error: number; extack: string; data: Buffer }[];
    try {
      res = await this.sys.netlinkRequest(this.target, msgs);
    } catch (err) {
      throw wrapSys(what[0], err);
    }
    const last = res[res.length - 1];
    if (last && last.error) {
      if (tolerate.includes(last.error)) return { data: res.slice(0, -1).map((r) => r.data), failed: last.error };
      throw netlinkError(what[res.length - 1] ?? what[what.length - 1], last.error, last.extack);
    }
    if (res.length !== msgs.length) throw internal(`${what[res.length] ?? what[0]}: no answer from the kernel`);
    return { data: res.map((r) => r.data) };
  }

  /** Dumps: asked again (up to 5 times) when the kernel says a change interrupted one. */
  async dump(msgs: Buffer[], what: string[], tolerate: number[] = []): Promise<{ data: Buffer[]; failed?: number }> {
    for (let attempt = 1; ; attempt++) {
      const r = await this.send(msgs, what, attempt < 5 ? [...tolerate, EINTR] : tolerate);
      if (r.failed !== EINTR) return r;
    }
  }

  /** The link of that name, or undefined when there is none. */
  async link(name: string): Promise<nl.LinkInfo | undefined> {
    const r = await this.send([nl.getLinkByName(name)], [`looking up link ${name}`], [ENODEV]);
    return r.failed ? undefined : nl.parseLinks(r.data[0])[0];
  }

  async addrsOf(index: number): Promise<nl.AddrInfo[]> {
    const r = await this.dump([nl.dumpAddrs()], ['listing addresses']);
    return nl.parseAddrs(r.data[0]).filter((a) => a.index === index);
  }
}

async function withSocket<T>(sys: Sys, nsPath: string | null, what: string, fn: (s: Socket) => Promise<T>): Promise<T> {
  const s = Socket.open(sys, nsPath, what);
  try {
    return await fn(s);
  } finally {
    s.close();
  }
}

/** Docker's random bridge MAC: 02:42 and four random bytes (libnetwork GenerateRandomMAC). */
function randomBridgeMac(): Buffer {
  const b = Buffer.alloc(6);
  b[0] = 0x02;
  b[1] = 0x42;
  for (let i = 2; i < 6; i++) b[i] = Math.floor(Math.random() * 256);
  return b;
}

const sameAddr = (a: string, b: string) => {
  const x = nl.parseCidr(a);
  const y = nl.parseCidr(b);
  return x.prefixLen === y.prefixLen && x.bytes.equals(y.bytes);
};

/** LinkOps over rtnetlink through the addon. */
export class NetlinkLinkOps implements LinkOps {
  constructor(private readonly sys: Sys = nativeSys()) {}

  /**
   * Creates the bridge (random 02:42 MAC, as Docker) or adopts an existing one of that
   * name (refused when that link is not a bridge), sets its MTU when given, then its
   * addresses as libnetwork does: the IPv4 addresses become exactly `b.addresses`' IPv4
   * ones (others removed), IPv6 ones are added (without DAD) and none removed; up.
   */
  async ensureBridge(b: BridgeSpec): Promise<void> {
    nl.checkIfName(b.name);
    const wanted = b.addresses.map((c) => ({ c, p: nl.parseCidr(c) }));
    await withSocket(this.sys, null, `creating bridge ${b.name}`, async (s) => {
      let link = await s.link(b.name);
      if (link && link.kind !== 'bridge') throw conflict(`cannot use ${b.name} as a bridge: it is a ${link.kind || 'device'} link`);
      if (!link) {
        const r = await s.send([nl.newBridge(b.name, { mtu: b.mtu, mac: randomBridgeMac() })], [`creating bridge ${b.name}`], [EEXIST]);
        link = await s.link(b.name);
        if (!link) throw notFound(`creating bridge ${b.name}: it vanished right after being created`);
        if (r.failed && link.kind !== 'bridge') throw conflict(`cannot use ${b.name} as a bridge: it is a ${link.kind || 'device'} link`);
      }
      const index = link.index;
      const msgs: Buffer[] = [];
      const what: string[] = [];
      if (b.mtu !== undefined && link.mtu !== b.mtu) {
        msgs.push(nl.setLink(index, { mtu: b.mtu }));
        what.push(`setting the MTU of ${b.name} to ${b.mtu}`);
      }
      const have = await s.addrsOf(index);
      const wants4 = wanted.some((w) => w.p.family === nl.AF_INET);
      for (const a of have) {
        if (wants4 && a.family === nl.AF_INET && !wanted.some((w) => sameAddr(w.c, a.cidr))) {
          msgs.push(nl.deleteAddr(index, a.cidr));
          what.push(`removing address ${a.cidr} from ${b.name}`);
        }
      }
      for (const w of wanted) {
        if (!have.some((a) => sameAddr(a.cidr, w.c))) {
          msgs.push(nl.newAddr(index, w.c));
          what.push(`adding address ${w.c} to ${b.name}`);
        }
      }
      if (!(link.flags & nl.IFF_UP)) {
        msgs.push(nl.setLink(index, { up: true }));
        what.push(`bringing ${b.name} up`);
      }
      if (msgs.length) await s.send(msgs, what);
    });
  }

  /** Deletes the bridge. Idempotent; refuses a link of that name that is not a bridge. */
  async deleteBridge(name: string): Promise<void> {
    nl.checkIfName(name);
    await withSocket(this.sys, null, `deleting bridge ${name}`, async (s) => {
      const link = await s.link(name);
      if (!link) return;
      if (link.kind !== 'bridge') throw conflict(`refusing to delete ${name}: it is not a bridge`);
      await s.send([nl.deleteLink({ index: link.index })], [`deleting bridge ${name}`], [ENODEV]);
    });
  }

  /**
   * The link's addresses (`172.17.0.1/16`, `fd00::1/64`), or undefined when no link has
   * that name. IPv6 link-local addresses (scope link, fe80::/64) are left out.
   */
  async linkAddresses(name: string): Promise<Cidr[] | undefined> {
    nl.checkIfName(name);
    return withSocket(this.sys, null, `reading the addresses of ${name}`, async (s) => {
      const link = await s.link(name);
      if (!link) return undefined;
      return (await s.addrsOf(link.index)).filter((a) => !(a.family === nl.AF_INET6 && a.scope === nl.RT_SCOPE_LINK)).map((a) => a.cidr);
    });
  }

  /**
   * The veth pair in one message (host side up on the bridge; the peer created in the
   * namespace as `ifName`, with its MAC and MTU), then inside the namespace in one more
   * request: the peer up, its addresses (IPv6 without DAD), the default routes. On failure the host side is
   * deleted again (which deletes the peer). Throws conflict when `hostIfName` exists,
   * not-found when the bridge or the namespace does not.
   */
  async addEndpoint(e: EndpointSpec): Promise<void> {
    nl.checkIfName(e.hostIfName);
    nl.checkIfName(e.ifName);
    checkEndpoint(e);
    const mac = nl.macBytes(e.mac);
    const host = Socket.open(this.sys, null, `creating interface ${e.hostIfName}`);
    let created = false;
    try {
      const bridge = await host.link(e.bridge);
      if (!bridge) throw notFound(`creating interface ${e.hostIfName}: bridge ${e.bridge} not found`);
      let nsFd: number;
      try {
        nsFd = fs.openSync(e.netnsPath, 'r');
      } catch (err) {
        throw wrapSys(`creating interface ${e.hostIfName}: opening network namespace ${e.netnsPath}`, err);
      }
      let peerIndex: number | undefined;
      try {
        // the veth, then the host side read back: its IFLA_LINK is the peer's index in the namespace
        const r = await host.send(
          [nl.newVeth({ hostName: e.hostIfName, master: bridge.index, peerName: e.ifName, nsFd, mac, mtu: e.mtu }), nl.getLinkByName(e.hostIfName)],
          [`creating veth pair ${e.hostIfName}/${e.ifName} on ${e.bridge}`, `looking up ${e.hostIfName}`],
        );
        created = true;
        peerIndex = nl.parseLinks(r.data[1])[0]?.link;
      } catch (err) {
        created = !(kindOf(err) === 'conflict'); // EEXIST: the name was someone else's
        throw err;
      } finally {
        fs.closeSync(nsFd);
      }
      await withSocket(this.sys, e.netnsPath, `configuring ${e.ifName} in ${e.netnsPath}`, async (ns) => {
        const index = peerIndex || (await ns.link(e.ifName))?.index;
        if (!index) throw notFound(`configuring ${e.ifName} in ${e.netnsPath}: the interface is missing`);
        const msgs: Buffer[] = [nl.setLink(index, { up: true })];
        const what: string[] = [`bringing ${e.ifName} up`];
        for (const a of e.addresses) {
          msgs.push(nl.newAddr(index, a));
          what.push(`adding address ${a} to ${e.ifName}`);
        }
        for (const g of [e.gateway4, e.gateway6]) {
          if (g === undefined) continue;
          msgs.push(nl.newDefaultRoute(index, g));
          what.push(`adding the default route via ${g} on ${e.ifName}`);
        }
        await ns.send(msgs, what);
      });
    } catch (err) {
      if (created) await host.send([nl.deleteLink({ name: e.hostIfName })], [`deleting ${e.hostIfName}`], [ENODEV]).catch(() => undefined);
      throw err;
    } finally {
      host.close();
    }
  }

  /** Deletes the host side of a veth pair (the kernel deletes the peer). Idempotent; refuses a link that is not a veth. */
  async removeEndpoint(hostIfName: string): Promise<void> {
    nl.checkIfName(hostIfName);
    await withSocket(this.sys, null, `deleting interface ${hostIfName}`, async (s) => {
      const link = await s.link(hostIfName);
      if (!link) return;
      if (link.kind !== 'veth') throw conflict(`refusing to delete ${hostIfName}: it is not a veth interface`);
      await s.send([nl.deleteLink({ index: link.index })], [`deleting interface ${hostIfName}`], [ENODEV]);
    });
  }

  /** Deletes `ifName` inside the namespace. Idempotent: a missing namespace or interface is not an error. */
  async removeInNamespace(netnsPath: string, ifName: string): Promise<void> {
    nl.checkIfName(ifName);
    try {
      await Socket.open(this.sys, netnsPath, '').send([nl.deleteLink({ name: ifName })], [`deleting ${ifName} in ${netnsPath}`], [ENODEV]);
    } catch (err) {
      // gone (open: ENOENT), or an empty file left by an unmount (setns: EINVAL): nothing to delete
      const cause = (err as StevedoreError).cause as NodeJS.ErrnoException | undefined;
      if ((cause?.syscall === 'open' && cause.code === 'ENOENT') || (cause?.syscall === 'setns' && cause.code === 'EINVAL')) return;
      throw err;
    }
  }

  /**
   * The destinations of the main table's routes, IPv4 and IPv6, without default routes
   * and IPv6 multicast (as Docker's overlap check, which skips routes without a
   * destination): `10.0.0.0/8`, `fd00::/64`, … Each once.
   */
  async hostRoutes(): Promise<Cidr[]> {
    return withSocket(this.sys, null, 'listing routes', async (s) => {
      const r = await s.dump([nl.dumpRoutes(nl.AF_INET), nl.dumpRoutes(nl.AF_INET6)], ['listing IPv4 routes', 'listing IPv6 routes'], [
        EADDRNOTAVAIL, // IPv6 disabled by sysctl
        EAFNOSUPPORT, // IPv6 disabled at boot
      ]);
      const routes = r.data.flatMap((d) => nl.parseRoutes(d));
      const out = new Set<string>();
      for (const rt of routes) {
        if (rt.table !== nl.RT_TABLE_MAIN || rt.dst.endsWith('/0') || rt.dst.startsWith('ff')) continue;
        out.add(rt.dst);
      }
      return [...out];
    });
  }
}

/** Checks an endpoint's addresses and gateways before anything is made. Throws invalidArgument. */
export function checkEndpoint(e: EndpointSpec): void {
  if (!e.netnsPath) throw invalidArgument('an endpoint needs a network namespace');
  for (const a of e.addresses) nl.parseCidr(a);
  if (e.gateway4 !== undefined && nl.ipBytes(e.gateway4).family !== nl.AF_INET) throw invalidArgument(`invalid IPv4 gateway: ${e.gateway4}`);
  if (e.gateway6 !== undefined && nl.ipBytes(e.gateway6).family !== nl.AF_INET6) throw invalidArgument(`invalid IPv6 gateway: ${e.gateway6}`);
  nl.macBytes(e.mac);
  if (e.mtu !== undefined && !(Number.isInteger(e.mtu) && e.mtu >= 68 && e.mtu <= 65535)) throw invalidArgument(`invalid MTU: ${e.mtu}`);
}
