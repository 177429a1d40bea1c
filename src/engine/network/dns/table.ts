/**
 * The resolver's table: what the daemon writes (`<execRoot>/dns/table.json`) and how the
 * resolver answers from it. Pure logic, no sockets: `DnsTable.answer` says, for one
 * question arriving on one of the table's addresses from one source address, whether
 * the resolver answers it itself (and with what) or forwards it, and to whom.
 *
 * The rules are Docker's embedded DNS server's (moby libnetwork resolver.go,
 * Sandbox.ResolveName/ResolveIP, Network.ResolveName/ResolveIP):
 * - the names a container can resolve are those of the networks it is connected to; a
 *   query is attributed to a container by its source address (the container's address
 *   on the network the query arrived on); a source not in the table (the host) sees the
 *   names of the network the query arrived on;
 * - `name` and `name.<network name>` resolve (for `a.b.c`: `a.b.c` on every network of
 *   the container, then `a.b` on network `c`, then `a` on network `b.c`); names match
 *   case-insensitively, network names exactly; a legacy link alias (`--link db:alias`)
 *   is seen only by the container that has it, and is looked up first;
 * - A/AAAA of a known name answer all its addresses of that family (TTL 600), or none
 *   (NODATA: NOERROR with no answer) when it has only the other family; MX of a known
 *   name answers NOERROR with no answer; PTR of a known address under in-addr.arpa /
 *   ip6.arpa answers `<first name>.<network name>.`;
 * - an unknown single-label A/AAAA name from a container whose resolv.conf sets `ndots`
 *   gets an empty NOERROR (the client goes on with its search domains); everything else
 *   is forwarded to the container's own nameservers (`--dns`) or the host's;
 * - a container whose networks are all `Internal` gets no forwarding (SERVFAIL).
 */
import { addressInfo, canonicalIp, inCidr, isLoopback } from './addr';
import { TYPE, type Answer } from './wire';
import type { DnsNetwork, DnsRecord } from '../types';

/** Docker's TTL for the names it answers (libnetwork resolver.go `respTTL`). */
export const RESP_TTL = 600;

/**
 * One record as the resolver reads it: {@link DnsRecord} plus optional fields the daemon
 * may give (each is used when present; without them the resolver falls back as noted).
 */
export interface ResolverRecord extends DnsRecord {
  /**
   * The container's ID: groups its records on several networks, so that a container on
   * networks A and B resolves the names of both whichever gateway it asks. Without it a
   * record stands alone (the container sees only the network it asked on).
   */
  container?: string;
  /** Legacy link aliases on this network (`--link db:mydb` → `{ mydb: 'db' }`), seen only by this container. */
  links?: Record<string, string>;
  /** The container's own upstream nameservers (`--dns`), used instead of the host's for its forwarded queries. */
  nameservers?: string[];
  /** The container's resolv.conf sets `ndots` (from the host's or `--dns-option`): see the module comment. */
  ndotsSet?: boolean;
}

/** One network as the resolver reads it: {@link DnsNetwork} plus optional fields. */
export interface ResolverNetwork extends DnsNetwork {
  /** The network's name: `web.<name>` resolves, and PTR answers are `<container name>.<name>.` (without it: `<container name>.`). */
  name?: string;
  /** `Internal` networks: their containers' queries are not forwarded (unless they are also on another network). */
  internal?: boolean;
  /**
   * The network's subnets. When given, a query arriving on this network's address is
   * answered only if it comes from one of them, from a container address in the table,
   * or from loopback; any other source (a remote host routing to the gateway address) is
   * REFUSED, so the resolver is never an open forwarder.
   */
  subnets?: string[];
  records: ResolverRecord[];
}

/** The file's shape. `generation` increases with every write; the resolver reports the one it loaded. */
export interface TableFile {
  version: 1;
  generation: number;
  networks: ResolverNetwork[];
}

interface Compiled {
  net: ResolverNetwork;
  /** lower-cased name → addresses */
  v4: Map<string, string[]>;
  v6: Map<string, string[]>;
  /** reverse name (lower case, no trailing dot) → PTR target */
  ptr: Map<string, string>;
  /** canonical address → record */
  bySource: Map<string, ResolverRecord>;
}

/** Who asked: the networks whose names they see, and their record on each (for links). */
interface Scope {
  nets: Array<{ c: Compiled; rec?: ResolverRecord }>;
  querier?: ResolverRecord;
}

/** What to do with one question. */
export type Decision =
  | { kind: 'answer'; answers: Answer[] }
  | { kind: 'forward'; nameservers: string[] }
  | { kind: 'servfail' };

function lowerName(n: string): string {
  const s = n.endsWith('.') ? n.slice(0, -1) : n;
  return s.toLowerCase();
}

function linkTarget(rec: ResolverRecord | undefined, alias: string): string | undefined {
  const links = rec?.links;
  if (!links || !Object.prototype.hasOwnProperty.call(links, alias)) return undefined;
  const t = links[alias];
  return typeof t === 'string' ? t : undefined;
}

function shuffled<T>(a: readonly T[]): T[] {
  const out = [...a];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Checks the parsed JSON's shape; throws an Error naming the first problem. */
export function validateTable(x: unknown): TableFile {
  const fail = (m: string): never => {
    throw new Error(`invalid DNS table: ${m}`);
  };
  if (typeof x !== 'object' || x === null) fail('not an object');
  const t = x as Record<string, unknown>;
  if (t.version !== 1) fail(`unsupported version ${JSON.stringify(t.version)}`);
  if (typeof t.generation !== 'number') fail('generation is not a number');
  if (!Array.isArray(t.networks)) fail('networks is not a list');
  const strings = (v: unknown, what: string): void => {
    if (v !== undefined && (!Array.isArray(v) || v.some((s) => typeof s !== 'string'))) fail(`${what} is not a list of strings`);
  };
  for (const n of t.networks as unknown[]) {
    if (typeof n !== 'object' || n === null) fail('a network is not an object');
    const net = n as Record<string, unknown>;
    if (typeof net.id !== 'string') fail('a network has no id');
    strings(net.listen, `network ${String(net.id)}: listen`);
    strings(net.subnets, `network ${String(net.id)}: subnets`);
    if (net.name !== undefined && typeof net.name !== 'string') fail(`network ${String(net.id)}: name is not a string`);
    if (!Array.isArray(net.records)) fail(`network ${String(net.id)}: records is not a list`);
    for (const r of net.records as unknown[]) {
      if (typeof r !== 'object' || r === null) fail(`network ${String(net.id)}: a record is not an object`);
      const rec = r as Record<string, unknown>;
      strings(rec.names, `network ${String(net.id)}: names`);
      strings(rec.ipv4, `network ${String(net.id)}: ipv4`);
      strings(rec.ipv6, `network ${String(net.id)}: ipv6`);
      strings(rec.nameservers, `network ${String(net.id)}: nameservers`);
      if (!Array.isArray(rec.names) || !Array.isArray(rec.ipv4) || !Array.isArray(rec.ipv6)) fail(`network ${String(net.id)}: a record lacks names, ipv4 or ipv6`);
    }
  }
  return t as unknown as TableFile;
}

export class DnsTable {
  readonly generation: number;
  private readonly nets: Compiled[] = [];
  /** canonical listen address → network */
  private readonly byListen = new Map<string, Compiled>();
  /** container id → its records, network by network */
  private readonly byContainer = new Map<string, Array<{ c: Compiled; rec: ResolverRecord }>>();
  /** canonical address → (network, record), over all networks */
  private readonly bySource = new Map<string, { c: Compiled; rec: ResolverRecord }>();
  /** every address the resolver itself listens on (never an upstream) */
  readonly listenAddresses: string[] = [];

  constructor(file: TableFile) {
    this.generation = file.generation;
    for (const net of file.networks) {
      const c: Compiled = { net, v4: new Map(), v6: new Map(), ptr: new Map(), bySource: new Map() };
      for (const rec of net.records) {
        const v4: string[] = [];
        const v6: string[] = [];
        const revs: string[] = [];
        for (const ip of [...rec.ipv4, ...rec.ipv6]) {
          const info = addressInfo(ip);
          if (!info) continue;
          const canon = info.canon;
          (info.v6 ? v6 : v4).push(canon);
          revs.push(info.reverse);
          if (!c.bySource.has(canon)) c.bySource.set(canon, rec);
          if (!this.bySource.has(canon)) this.bySource.set(canon, { c, rec });
        }
        for (const name of rec.names) {
          const key = lowerName(name);
          for (const [fam, list] of [
            [c.v4, v4],
            [c.v6, v6],
          ] as const) {
            if (list.length === 0) continue;
            const have = fam.get(key);
            if (!have) fam.set(key, [...list]);
            else for (const ip of list) if (!have.includes(ip)) have.push(ip);
          }
        }
        const first = rec.names[0];
        if (first !== undefined) {
          const base = first.endsWith('.') ? first.slice(0, -1) : first;
          const target = net.name ? `${base}.${net.name}.` : `${base}.`;
          for (const rev of revs) if (!c.ptr.has(rev)) c.ptr.set(rev, target);
        }
        if (rec.container) {
          const list = this.byContainer.get(rec.container) ?? [];
          list.push({ c, rec });
          this.byContainer.set(rec.container, list);
        }
      }
      for (const a of net.listen) {
        const canon = canonicalIp(a);
        if (canon && !this.byListen.has(canon)) {
          this.byListen.set(canon, c);
          this.listenAddresses.push(canon);
        }
      }
      this.nets.push(c);
    }
  }

  /** An empty table (generation 0). */
  static empty(): DnsTable {
    return new DnsTable({ version: 1, generation: 0, networks: [] });
  }

  /** The network whose address this is (undefined: not one of ours). */
  networkAt(localAddress: string): ResolverNetwork | undefined {
    const canon = canonicalIp(localAddress);
    return canon ? this.byListen.get(canon)?.net : undefined;
  }

  private scope(localAddress: string, source: string): Scope | undefined {
    const arrival = this.byListen.get(canonicalIp(localAddress) ?? '');
    if (!arrival) return undefined;
    const src = canonicalIp(source) ?? source;
    const local = arrival.bySource.get(src);
    const hit = local ? { c: arrival, rec: local } : this.bySource.get(src);
    if (!hit) {
      const subnets = arrival.net.subnets;
      if (subnets?.length && !isLoopback(src) && !subnets.some((n) => inCidr(src, n))) return undefined;
      return { nets: [{ c: arrival }] };
    }
    const id = hit.rec.container;
    if (!id) return { nets: [hit], querier: hit.rec };
    const all = this.byContainer.get(id) ?? [hit];
    // the network asked on first, then the container's others in table order
    const nets = [...all.filter((e) => e.c === arrival), ...all.filter((e) => e.c !== arrival)];
    return { nets, querier: hit.rec };
  }

  /** Addresses of `name` (lower case, no trailing dot) on one network; undefined when the name is not there at all. */
  private lookup(c: Compiled, name: string, family: 4 | 6): string[] | undefined {
    const v4 = c.v4.get(name);
    const v6 = c.v6.get(name);
    if (!v4?.length && !v6?.length) return undefined;
    return (family === 4 ? v4 : v6) ?? [];
  }

  /** Sandbox.ResolveName: see the module comment. */
  private resolveName(s: Scope, qname: string, family: 4 | 6): string[] | undefined {
    const name = qname.endsWith('.') ? qname.slice(0, -1) : qname;
    const req: Array<[string, string]> = [[name, '']];
    for (let i = name.lastIndexOf('.'); i > 0; i = name.lastIndexOf('.', i - 1)) req.push([name.slice(0, i), name.slice(i + 1)]);
    for (const [n, netName] of req) {
      const inScope = s.nets.filter((e) => netName === '' || e.c.net.name === netName);
      // a link alias of the querier first
      for (const e of inScope) {
        const target = linkTarget(e.rec, n);
        if (target === undefined) continue;
        const ips = this.lookup(e.c, target.toLowerCase(), family);
        if (ips) return ips;
      }
      for (const e of inScope) {
        if (linkTarget(e.rec, n) !== undefined) continue;
        const ips = this.lookup(e.c, n.toLowerCase(), family);
        if (ips) return ips;
      }
    }
    return undefined;
  }

  private resolvePtr(s: Scope, qname: string): string | undefined {
    const name = lowerName(qname);
    if (!name.endsWith('.in-addr.arpa') && !name.endsWith('.ip6.arpa')) return undefined;
    for (const e of s.nets) {
      const t = e.c.ptr.get(name);
      if (t) return t;
    }
    return undefined;
  }

  /**
   * What to do with a question of `type` for `qname` that arrived on `localAddress` from
   * `source`. `hostNameservers` are the host's (the fallback upstreams). Returns
   * undefined when `localAddress` is none of the table's, or `source` may not ask
   * (see {@link ResolverNetwork.subnets}): the caller refuses it.
   */
  answer(localAddress: string, source: string, qname: string, type: number, hostNameservers: readonly string[]): Decision | undefined {
    const s = this.scope(localAddress, source);
    if (!s) return undefined;
    if (type === TYPE.A || type === TYPE.AAAA) {
      const fam = type === TYPE.A ? 4 : 6;
      const ips = this.resolveName(s, qname, fam);
      if (ips) {
        return {
          kind: 'answer',
          answers: shuffled(ips).map((address) => ({ type: fam === 4 ? TYPE.A : TYPE.AAAA, ttl: RESP_TTL, address }) as Answer),
        };
      }
    } else if (type === TYPE.MX) {
      if (this.resolveName(s, qname, 4) || this.resolveName(s, qname, 6)) return { kind: 'answer', answers: [] };
    } else if (type === TYPE.PTR) {
      const target = this.resolvePtr(s, qname);
      if (target) return { kind: 'answer', answers: [{ type: TYPE.PTR, ttl: RESP_TTL, target }] };
    }
    const bare = qname.endsWith('.') ? qname.slice(0, -1) : qname;
    if ((type === TYPE.A || type === TYPE.AAAA) && s.querier?.ndotsSet && !bare.includes('.')) return { kind: 'answer', answers: [] };
    if (s.nets.every((e) => e.c.net.internal)) return { kind: 'servfail' };
    const own = s.querier?.nameservers?.length ? s.querier.nameservers : hostNameservers;
    const mine = new Set(this.listenAddresses);
    const nameservers = own.filter((ns) => !mine.has(canonicalIp(ns) ?? ns));
    return nameservers.length ? { kind: 'forward', nameservers: nameservers.slice(0, 3) } : { kind: 'servfail' };
  }
}
