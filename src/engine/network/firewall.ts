/**
 * The bridge driver's firewall, in iptables (Debian 12: the nf_tables backend), as
 * libnetwork's bridge driver in Docker 20.10 programs it with `--userland-proxy=false`
 * (hairpin mode: the kernel forwards published ports, also from 127.0.0.1), but in
 * chains of our own (`STEVEDORE…`, never Docker's `DOCKER…`) so that a Docker engine on
 * the same host is left alone. docs/networking/firewall.md has the rule set, the
 * reasons and the measurements.
 *
 *   filter FORWARD     → STEVEDORE-FORWARD   (one jump, inserted first)
 *     STEVEDORE-FORWARD: -j STEVEDORE-USER, -j STEVEDORE-ISOLATION-STAGE-1, then per bridge:
 *       established/related accept, -o br -j STEVEDORE, out accept, icc accept|drop
 *     STEVEDORE-ISOLATION-STAGE-1/-2: traffic between two of our bridges dropped;
 *       Internal networks: nothing in or out of the subnet
 *     STEVEDORE: per published port, accept to the container's port
 *   filter INPUT       → STEVEDORE-INPUT     (IPv4) the route_localnet guard per bridge
 *   nat PREROUTING, OUTPUT (-m addrtype --dst-type LOCAL) → STEVEDORE: DNAT per port
 *   nat POSTROUTING    → STEVEDORE-POSTROUTING: masquerade per subnet, of local sources
 *       into the bridge (hairpin, 127.0.0.1), of a container to its own published port
 *
 * Every rule carries `-m comment --comment "stevedore:<bridge> <what>"` (the jumps:
 * `stevedore`), which is how this module knows its rules: a rule is identified by its
 * table, chain and comment. Each operation is one `iptables-restore --noflush` (per
 * address family) computed against a cached view of our rules, read once with
 * `iptables-save` at `init()` and again by `setupNetwork`/`teardownNetwork`; when a
 * restore fails because the view was stale (another daemon, a test's cleanup, a user),
 * the view is re-read, the chains re-ensured and the change applied once more.
 */
import { spawn } from 'node:child_process';
import * as net from 'node:net';
import { internal, invalidArgument, isNotFound } from '../errdefs';
import type { Logger } from '../log';
import { enableBridgeNetfilter, enableRouteLocalnet, ipForwardEnabled, PROC_SYS } from './sysctl';
import type { Cidr, Firewall, FirewallNetwork, PortMapping } from './types';

// ---- running iptables ----------------------------------------------------------------

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program with `input` on its stdin; resolves with its exit, rejects only when it cannot start. */
export interface CommandRunner {
  run(file: string, args: string[], input?: string): Promise<CommandResult>;
}

/**
 * The default runner: child_process.spawn. (A posix_spawn runner through the addon, which
 * avoids fork's copy of the daemon's page tables, was measured and showed no difference
 * worth its temporary files at 150 MB RSS: firewall.md.)
 */
export const spawnRunner: CommandRunner = {
  run(file, args, input) {
    return new Promise<CommandResult>((resolve, reject) => {
      const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (b: Buffer) => out.push(b));
      child.stderr.on('data', (b: Buffer) => err.push(b));
      child.on('error', reject);
      child.on('close', (code, signal) =>
        resolve({ code: code ?? (signal ? 128 : 1), stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }),
      );
      child.stdin.on('error', () => {}); // EPIPE when it exits early: the exit code tells
      child.stdin.end(input ?? '');
    });
  },
};

// ---- names ---------------------------------------------------------------------------

export type Family = 'ipv4' | 'ipv6';
export type Table = 'filter' | 'nat';

/** Our chains. */
export const CHAINS = {
  forward: 'STEVEDORE-FORWARD',
  user: 'STEVEDORE-USER',
  isolation1: 'STEVEDORE-ISOLATION-STAGE-1',
  isolation2: 'STEVEDORE-ISOLATION-STAGE-2',
  /** filter: per-port accepts */
  ports: 'STEVEDORE',
  input: 'STEVEDORE-INPUT',
  /** nat: DNAT */
  dnat: 'STEVEDORE',
  postrouting: 'STEVEDORE-POSTROUTING',
} as const;

/** The comment every rule of ours carries starts with this. */
export const COMMENT_PREFIX = 'stevedore';

const OUR_CHAIN = /^STEVEDORE(-|$)/;

function chainsOf(family: Family, table: Table): string[] {
  if (table === 'nat') return [CHAINS.dnat, CHAINS.postrouting];
  const c: string[] = [CHAINS.forward, CHAINS.user, CHAINS.isolation1, CHAINS.isolation2, CHAINS.ports];
  if (family === 'ipv4') c.push(CHAINS.input);
  return c;
}

/** Interface names that are safe in a rule and a comment: what `ip link` accepts minus quoting trouble. */
const IFNAME = /^[A-Za-z0-9_.+-]{1,15}$/;

function checkBridge(name: string): void {
  if (!IFNAME.test(name)) throw invalidArgument(`invalid bridge name ${JSON.stringify(name)}`);
}

// ---- rules ---------------------------------------------------------------------------

/** One rule: table, chain, matches, comment and target; `insert` puts it first in its chain. */
export interface Rule {
  table: Table;
  chain: string;
  matches: string[];
  comment: string;
  target: string[];
  insert?: boolean;
}

/** The text after `-A <chain> ` (quoted for iptables-restore). */
export function ruleBody(r: Rule): string {
  return [...r.matches, '-m', 'comment', '--comment', quote(r.comment), ...r.target].join(' ');
}

function quote(s: string): string {
  if (/["\\\n]/.test(s)) throw internal(`comment ${JSON.stringify(s)} cannot be quoted`);
  return `"${s}"`;
}

function ruleKey(table: string, chain: string, comment: string): string {
  return `${table}\0${chain}\0${comment}`;
}

/** The jumps from the built-in chains and the first rules of STEVEDORE-FORWARD. */
export function baseRules(family: Family): Rule[] {
  const c = COMMENT_PREFIX;
  const rules: Rule[] = [
    // inserted in this order at position 1: the later ones end up first
    { table: 'filter', chain: CHAINS.forward, matches: [], comment: `${c} isolation`, target: ['-j', CHAINS.isolation1], insert: true },
    { table: 'filter', chain: CHAINS.forward, matches: [], comment: `${c} user`, target: ['-j', CHAINS.user], insert: true },
    { table: 'filter', chain: 'FORWARD', matches: [], comment: c, target: ['-j', CHAINS.forward], insert: true },
    { table: 'nat', chain: 'PREROUTING', matches: ['-m', 'addrtype', '--dst-type', 'LOCAL'], comment: c, target: ['-j', CHAINS.dnat] },
    { table: 'nat', chain: 'OUTPUT', matches: ['-m', 'addrtype', '--dst-type', 'LOCAL'], comment: c, target: ['-j', CHAINS.dnat] },
    { table: 'nat', chain: 'POSTROUTING', matches: [], comment: c, target: ['-j', CHAINS.postrouting], insert: true },
  ];
  if (family === 'ipv4') rules.push({ table: 'filter', chain: 'INPUT', matches: [], comment: c, target: ['-j', CHAINS.input], insert: true });
  return rules;
}

function familyOf(addr: string): Family | undefined {
  const ip = addr.split('/')[0] ?? '';
  const f = net.isIP(ip);
  return f === 4 ? 'ipv4' : f === 6 ? 'ipv6' : undefined;
}

/** `172.18.0.1/16` → `172.18.0.0/16` (the subnet of an address with its prefix). */
export function maskedSubnet(cidr: Cidr): string {
  const [ip = '', lenText = ''] = cidr.split('/');
  const len = Number(lenText);
  const fam = net.isIP(ip);
  if (fam === 0 || !/^\d+$/.test(lenText) || len > (fam === 4 ? 32 : 128)) throw invalidArgument(`invalid subnet ${cidr}`);
  if (fam === 4) {
    const n = ip.split('.').reduce((a, o) => (a << 8n) | BigInt(Number(o)), 0n);
    const masked = len === 0 ? 0n : (n >> BigInt(32 - len)) << BigInt(32 - len);
    return `${[24n, 16n, 8n, 0n].map((s) => (masked >> s) & 255n).join('.')}/${len}`;
  }
  const groups = expandV6(ip);
  const n = groups.reduce((a, g) => (a << 16n) | BigInt(g), 0n);
  const masked = len === 0 ? 0n : (n >> BigInt(128 - len)) << BigInt(128 - len);
  const hex = Array.from({ length: 8 }, (_, i) => ((masked >> BigInt(112 - i * 16)) & 0xffffn).toString(16)).join(':');
  return `${new URL(`http://[${hex}]/`).hostname.slice(1, -1)}/${len}`;
}

function expandV6(ip: string): number[] {
  // the URL parser normalises (embedded IPv4 too); then expand `::`
  const canon = new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  const [head = '', tail] = canon.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const zeros = tail === undefined ? [] : Array(8 - h.length - t.length).fill('0');
  return [...h, ...zeros, ...t].map((g) => Number.parseInt(g, 16));
}

/** The rules of one bridge network in one address family (empty when it has no subnet of that family). */
/**
 * `FirewallNetwork` plus what only this implementation needs: the addresses the embedded
 * resolver (stevedore-dns) listens on for the network. A container publishing port 53 on
 * every address would otherwise take the DNS queries its neighbours send to their
 * gateway (Docker's resolver lives at 127.0.0.11 inside each container and is not hit).
 */
export interface FirewallNetworkSpec extends FirewallNetwork {
  resolver?: string[];
}

export function networkRules(n: FirewallNetworkSpec, family: Family): Rule[] {
  checkBridge(n.bridge);
  const subnets = n.subnets.filter((s) => familyOf(s) === family).map(maskedSubnet);
  if (subnets.length === 0) return [];
  const br = n.bridge;
  const c = (what: string) => `${COMMENT_PREFIX}:${br} ${what}`;
  const rules: Rule[] = [];
  if (!n.internal) {
    rules.push(
      { table: 'filter', chain: CHAINS.forward, matches: ['-o', br, '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED'], comment: c('established'), target: ['-j', 'ACCEPT'] },
      { table: 'filter', chain: CHAINS.forward, matches: ['-o', br], comment: c('published'), target: ['-j', CHAINS.ports] },
      { table: 'filter', chain: CHAINS.forward, matches: ['-i', br, '!', '-o', br], comment: c('outgoing'), target: ['-j', 'ACCEPT'] },
    );
  }
  rules.push(
    n.icc
      ? { table: 'filter', chain: CHAINS.forward, matches: ['-i', br, '-o', br], comment: c('icc'), target: ['-j', 'ACCEPT'] }
      : { table: 'filter', chain: CHAINS.forward, matches: ['-i', br, '-o', br], comment: c('no-icc'), target: ['-j', 'DROP'] },
    { table: 'filter', chain: CHAINS.isolation1, matches: ['-i', br, '!', '-o', br], comment: c('isolation'), target: ['-j', CHAINS.isolation2] },
    { table: 'filter', chain: CHAINS.isolation2, matches: ['-o', br], comment: c('isolation'), target: ['-j', 'DROP'] },
  );
  for (const ip of n.resolver ?? []) {
    if (familyOf(ip) !== family || ip.includes('/')) continue;
    const one = family === 'ipv4' ? '/32' : '/128';
    for (const proto of ['udp', 'tcp']) {
      rules.push({
        table: 'nat',
        chain: CHAINS.dnat,
        matches: ['-i', br, '-d', ip + one, '-p', proto, '-m', proto, '--dport', '53'],
        comment: c(`resolver ${proto} ${ip}`),
        target: ['-j', 'RETURN'],
        insert: true, // before any DNAT of a published port 53
      });
    }
  }
  if (n.internal) {
    // libnetwork uses the first subnet of the family only; so do we
    const s = subnets[0] as string;
    rules.push(
      { table: 'filter', chain: CHAINS.isolation1, matches: ['-i', br, '!', '-d', s], comment: c(`internal-in ${s}`), target: ['-j', 'DROP'] },
      { table: 'filter', chain: CHAINS.isolation1, matches: ['-o', br, '!', '-s', s], comment: c(`internal-out ${s}`), target: ['-j', 'DROP'] },
    );
  } else {
    if (n.masquerade) {
      for (const s of subnets) {
        rules.push({ table: 'nat', chain: CHAINS.postrouting, matches: ['-s', s, '!', '-o', br], comment: c(`masquerade ${s}`), target: ['-j', 'MASQUERADE'] });
      }
    }
    // hairpin mode: connections from the host itself (127.0.0.1 included) into the bridge
    rules.push({ table: 'nat', chain: CHAINS.postrouting, matches: ['-o', br, '-m', 'addrtype', '--src-type', 'LOCAL'], comment: c('local-masquerade'), target: ['-j', 'MASQUERADE'] });
    if (family === 'ipv4') {
      // route_localnet is on for the bridge: nothing but replies may reach 127/8 from it
      rules.push({
        table: 'filter',
        chain: CHAINS.input,
        matches: ['-i', br, '-d', '127.0.0.0/8', '-m', 'conntrack', '!', '--ctstate', 'RELATED,ESTABLISHED'],
        comment: c('localnet-guard'),
        target: ['-j', 'DROP'],
      });
    }
  }
  return rules;
}

/** The normalised host address of a mapping (`''` → the family's any-address). */
function mappingHost(p: PortMapping, family: Family): string {
  if (p.hostIp === '') return family === 'ipv4' ? '0.0.0.0' : '::';
  return p.hostIp;
}

function hostPort(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** Validates a mapping; returns its address family (the container address's). */
export function mappingFamily(p: PortMapping): Family {
  checkBridge(p.bridge);
  if (p.proto !== 'tcp' && p.proto !== 'udp' && p.proto !== 'sctp') throw invalidArgument(`unknown protocol ${String(p.proto)}`);
  for (const port of [p.hostPort, p.containerPort]) {
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw invalidArgument(`invalid port ${port}`);
  }
  const family = familyOf(p.containerIp);
  if (!family || p.containerIp.includes('/')) throw invalidArgument(`invalid container IP address ${p.containerIp}`);
  const host = mappingHost(p, family);
  if (familyOf(host) !== family || host.includes('/')) {
    throw invalidArgument(`host IP ${p.hostIp} and container IP ${p.containerIp} are not of the same family`);
  }
  return family;
}

/** The DNAT, accept and hairpin rules of one published port. */
export function portRules(p: PortMapping): Rule[] {
  const family = mappingFamily(p);
  const host = mappingHost(p, family);
  const any = host === '0.0.0.0' || host === '::';
  const comment = `${COMMENT_PREFIX}:${p.bridge} port ${p.proto} ${hostPort(host, p.hostPort)} ${hostPort(p.containerIp, p.containerPort)}`;
  const proto = ['-p', p.proto, '-m', p.proto];
  const one = family === 'ipv4' ? '/32' : '/128';
  return [
    {
      table: 'nat',
      chain: CHAINS.dnat,
      matches: ['-d', any ? (family === 'ipv4' ? '0.0.0.0/0' : '::/0') : host + one, ...proto, '--dport', String(p.hostPort)],
      comment,
      target: ['-j', 'DNAT', '--to-destination', hostPort(p.containerIp, p.containerPort)],
    },
    {
      table: 'filter',
      chain: CHAINS.ports,
      matches: ['-d', p.containerIp + one, '!', '-i', p.bridge, '-o', p.bridge, ...proto, '--dport', String(p.containerPort)],
      comment,
      target: ['-j', 'ACCEPT'],
    },
    {
      table: 'nat',
      chain: CHAINS.postrouting,
      matches: ['-s', p.containerIp + one, '-d', p.containerIp + one, ...proto, '--dport', String(p.containerPort)],
      comment,
      target: ['-j', 'MASQUERADE'],
    },
  ];
}

/** A legacy link (`--link`) between two containers on one bridge, for the ports the child exposes. */
export interface LinkRule {
  bridge: string;
  parentIp: string;
  childIp: string;
  ports: { proto: 'tcp' | 'udp' | 'sctp'; port: number }[];
}

/**
 * The accept rules of a legacy link (libnetwork's ChainInfo.Link): parent → child's port
 * and the replies, in the per-port chain, which the bridge reaches before its ICC drop;
 * they matter only on a network with ICC off.
 */
export function linkRules(l: LinkRule): Rule[] {
  checkBridge(l.bridge);
  const fam = familyOf(l.parentIp);
  if (!fam || fam !== familyOf(l.childIp) || l.parentIp.includes('/') || l.childIp.includes('/')) {
    throw invalidArgument(`invalid link addresses ${l.parentIp} ${l.childIp}`);
  }
  const rules: Rule[] = [];
  for (const { proto, port } of l.ports) {
    if (proto !== 'tcp' && proto !== 'udp' && proto !== 'sctp') throw invalidArgument(`unknown protocol ${String(proto)}`);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw invalidArgument(`invalid port ${port}`);
    const c = `${COMMENT_PREFIX}:${l.bridge} link ${l.parentIp} ${l.childIp} ${proto}/${port}`;
    const io = ['-i', l.bridge, '-o', l.bridge, '-p', proto, '-m', proto];
    rules.push(
      { table: 'filter', chain: CHAINS.ports, matches: [...io, '-s', l.parentIp, '-d', l.childIp, '--dport', String(port)], comment: `${c} to`, target: ['-j', 'ACCEPT'] },
      { table: 'filter', chain: CHAINS.ports, matches: [...io, '-s', l.childIp, '-d', l.parentIp, '--sport', String(port)], comment: `${c} from`, target: ['-j', 'ACCEPT'] },
    );
  }
  return rules;
}

// ---- the view of our rules (from iptables-save) --------------------------------------

/** What iptables-save shows of ours in one family. */
export interface RuleView {
  /** `table\0chain` of our chains that exist */
  chains: Set<string>;
  /** `table\0chain\0comment` → the rule bodies (as saved, for `-D`) */
  rules: Map<string, string[]>;
}

/** Splits an iptables-save rule line into words (double quotes, backslash escapes). */
export function splitWords(line: string): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i] as string;
    if (quoted) {
      if (ch === '\\' && i + 1 < line.length) cur += line[++i];
      else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') {
      quoted = true;
      inWord = true;
    } else if (ch === ' ' || ch === '\t') {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      if (ch === '\\' && i + 1 < line.length) cur += line[++i];
      else cur += ch;
      inWord = true;
    }
  }
  if (inWord) words.push(cur);
  return words;
}

/** Parses `iptables-save` output into the view of our chains and commented rules. */
export function parseSave(text: string): RuleView {
  const view: RuleView = { chains: new Set(), rules: new Map() };
  let table = '';
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (line.startsWith('*')) table = line.slice(1);
    else if (line.startsWith(':')) {
      const chain = line.slice(1).split(' ')[0] ?? '';
      if (OUR_CHAIN.test(chain)) view.chains.add(`${table}\0${chain}`);
    } else if (line.startsWith('-A ')) {
      const words = splitWords(line);
      const chain = words[1] ?? '';
      const ci = words.indexOf('--comment');
      const comment = ci >= 0 ? words[ci + 1] : undefined;
      const ours = comment !== undefined && (comment === COMMENT_PREFIX || comment.startsWith(`${COMMENT_PREFIX} `) || comment.startsWith(`${COMMENT_PREFIX}:`));
      if (!ours && !OUR_CHAIN.test(chain)) continue;
      const body = line.slice(3 + chain.length + 1);
      const key = ruleKey(table, chain, comment ?? '');
      const list = view.rules.get(key);
      if (list) list.push(body);
      else view.rules.set(key, [body]);
    }
  }
  return view;
}

// ---- the firewall --------------------------------------------------------------------

export interface IptablesFirewallOptions {
  /** dockerd `--iptables` (default true): program IPv4 rules. */
  ipv4?: boolean;
  /** dockerd `--ip6tables` (default false): program IPv6 rules. */
  ipv6?: boolean;
  /** default spawnRunner */
  runner?: CommandRunner;
  /** where /proc/sys is (tests) */
  procSys?: string;
  log?: Logger;
  /** program paths, default from PATH */
  commands?: Partial<Record<'iptables-save' | 'iptables-restore' | 'ip6tables-save' | 'ip6tables-restore', string>>;
}

type Op = { kind: 'add'; rule: Rule } | { kind: 'del'; table: Table; chain: string; comment: string };

/**
 * `Firewall` over iptables-restore. One instance per daemon; operations are serialised.
 * Extra methods beyond the interface: `stats` (spawn counts, for measurements) and
 * `refresh()` (re-read the view).
 */
export class IptablesFirewall implements Firewall {
  private readonly families: Family[];
  private readonly runner: CommandRunner;
  private readonly procSys: string;
  private readonly log: Logger | undefined;
  private readonly cmds: Record<'iptables-save' | 'iptables-restore' | 'ip6tables-save' | 'ip6tables-restore', string>;
  private readonly views = new Map<Family, RuleView>();
  private queue: Promise<unknown> = Promise.resolve();
  /** How many iptables-save and iptables-restore processes this instance started. */
  readonly stats = { saves: 0, restores: 0 };

  constructor(opts: IptablesFirewallOptions = {}) {
    this.families = [];
    if (opts.ipv4 ?? true) this.families.push('ipv4');
    if (opts.ipv6 ?? false) this.families.push('ipv6');
    this.runner = opts.runner ?? spawnRunner;
    this.procSys = opts.procSys ?? PROC_SYS;
    this.log = opts.log;
    this.cmds = {
      'iptables-save': 'iptables-save',
      'iptables-restore': 'iptables-restore',
      'ip6tables-save': 'ip6tables-save',
      'ip6tables-restore': 'ip6tables-restore',
      ...opts.commands,
    };
  }

  init(): Promise<void> {
    return this.serial(async () => {
      for (const f of this.families) {
        await this.reload(f);
        await this.apply(f, []);
      }
    });
  }

  async setupNetwork(n: FirewallNetworkSpec): Promise<void> {
    checkBridge(n.bridge);
    return this.serial(async () => {
      for (const f of this.families) {
        const want = networkRules(n, f);
        await this.reload(f);
        const view = this.viewOf(f);
        const wanted = new Set(want.map((r) => ruleKey(r.table, r.chain, r.comment)));
        const ops: Op[] = [];
        // the bridge's network rules that are no longer wanted (a changed option); port rules stay
        for (const key of view.rules.keys()) {
          const [table, chain, comment] = key.split('\0') as [Table, string, string];
          if (comment.startsWith(`${COMMENT_PREFIX}:${n.bridge} `) && !comment.startsWith(`${COMMENT_PREFIX}:${n.bridge} port `) && !wanted.has(key)) {
            ops.push({ kind: 'del', table, chain, comment });
          }
        }
        for (const rule of want) ops.push({ kind: 'add', rule });
        await this.apply(f, ops);
        if (want.length > 0 && f === 'ipv4' && !n.internal) {
          await enableRouteLocalnet(n.bridge, this.procSys);
        }
        if (want.length > 0 && !n.icc && f === 'ipv4') await this.bridgeNetfilter(n);
      }
    });
  }

  async teardownNetwork(bridge: string): Promise<void> {
    checkBridge(bridge);
    return this.serial(async () => {
      for (const f of this.families) {
        await this.reload(f);
        const ops: Op[] = [];
        for (const key of this.viewOf(f).rules.keys()) {
          const [table, chain, comment] = key.split('\0') as [Table, string, string];
          if (comment.startsWith(`${COMMENT_PREFIX}:${bridge} `)) ops.push({ kind: 'del', table, chain, comment });
        }
        if (ops.length > 0) await this.apply(f, ops);
      }
    });
  }

  async publish(p: PortMapping): Promise<void> {
    return this.publishAll([p]);
  }

  async unpublish(p: PortMapping): Promise<void> {
    return this.unpublishAll([p]);
  }

  /** Extra: several ports in one iptables-restore per family (a container's ports at start). */
  async publishAll(ps: PortMapping[]): Promise<void> {
    return this.change(ps.map((p) => [mappingFamily(p), portRules(p)]), 'add');
  }

  /** Extra: several ports in one iptables-restore per family (deletions cost ~15 ms per restore in iptables-nft). */
  async unpublishAll(ps: PortMapping[]): Promise<void> {
    return this.change(ps.map((p) => [mappingFamily(p), portRules(p)]), 'del');
  }

  /** Extra (not in the Firewall interface): the accept rules of a legacy link. Idempotent. */
  async allowLink(l: LinkRule): Promise<void> {
    return this.change([[familyOf(l.parentIp) as Family, linkRules(l)]], 'add');
  }

  /** Extra: removes a legacy link's rules. Idempotent. */
  async removeLink(l: LinkRule): Promise<void> {
    return this.change([[familyOf(l.parentIp) as Family, linkRules(l)]], 'del');
  }

  /** Adds or deletes rules, one restore per family; families not enabled are ignored (libnetwork without a chain). */
  private change(sets: [Family, Rule[]][], kind: 'add' | 'del'): Promise<void> {
    const byFamily = new Map<Family, Op[]>();
    for (const [family, rules] of sets) {
      if (!this.families.includes(family)) continue;
      const ops = byFamily.get(family) ?? [];
      for (const rule of rules) ops.push(kind === 'add' ? { kind, rule } : { kind, table: rule.table, chain: rule.chain, comment: rule.comment });
      byFamily.set(family, ops);
    }
    return this.serial(async () => {
      for (const [family, ops] of byFamily) await this.apply(family, ops);
    });
  }

  /**
   * Extra: the filter FORWARD chain's policy. Docker sets it to DROP when it has to switch
   * IPv4 forwarding on itself (`enableIpForward()` says whether it was off) with
   * `--iptables` on; the caller decides (a shared test host must not get it).
   */
  setForwardPolicy(policy: 'ACCEPT' | 'DROP', family: Family = 'ipv4'): Promise<void> {
    return this.serial(async () => {
      // iptables -P, not a restore: `:CHAIN` lines in a --noflush restore flush user chains
      const res = await this.runner.run(family === 'ipv4' ? 'iptables' : 'ip6tables', ['-w', '-t', 'filter', '-P', 'FORWARD', policy]);
      if (res.code !== 0) throw internal(`cannot set the FORWARD policy: ${res.stderr.trim()}`);
    });
  }

  /** Re-reads the rules from the kernel (after something else changed them). */
  refresh(): Promise<void> {
    return this.serial(async () => {
      for (const f of this.families) await this.reload(f);
    });
  }

  // ---- internals ----

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => {});
    return run;
  }

  private viewOf(f: Family): RuleView {
    let v = this.views.get(f);
    if (!v) {
      v = { chains: new Set(), rules: new Map() };
      this.views.set(f, v);
    }
    return v;
  }

  private async reload(f: Family): Promise<void> {
    this.views.set(f, await saveView(this.runner, this.cmds[f === 'ipv4' ? 'iptables-save' : 'ip6tables-save'], this.stats));
  }

  private async bridgeNetfilter(n: FirewallNetwork): Promise<void> {
    // libnetwork's setupBridgeNetFiltering: only with ICC off, only when forwarding is on
    let forwarding = false;
    try {
      forwarding = await ipForwardEnabled(this.procSys);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    if (!forwarding) return;
    const ok = await enableBridgeNetfilter(this.families.includes('ipv6'), this.procSys);
    if (!ok) throw internal(`cannot restrict inter-container communication on ${n.bridge}: please ensure that br_netfilter kernel module is loaded`);
  }

  /**
   * Applies `ops` (plus whatever is missing of the chains and base rules) in one
   * iptables-restore; on failure re-reads the view and tries once more.
   */
  private async apply(f: Family, ops: Op[]): Promise<void> {
    let text = this.plan(f, ops);
    if (text === '') return;
    let res = await this.restore(f, text);
    if (res.code !== 0) {
      this.log?.debug('iptables-restore failed; re-reading the rules', { family: f, stderr: res.stderr.trim() });
      await this.reload(f);
      text = this.plan(f, ops);
      if (text === '') return;
      res = await this.restore(f, text);
      if (res.code !== 0) {
        await this.reload(f).catch(() => {});
        throw internal(`${f === 'ipv4' ? 'iptables' : 'ip6tables'}-restore failed: ${res.stderr.trim() || `exit ${res.code}`}\n${text}`);
      }
    }
    this.commit(f, text);
  }

  /** The restore text for `ops` against the current view ('' when nothing is to be done). */
  private plan(f: Family, ops: Op[]): string {
    const view = this.viewOf(f);
    const lines: Record<Table, string[]> = { filter: [], nat: [] };
    const added = new Set<string>();
    const adds: Rule[] = [];
    const dels: string[] = [];
    let needBase = false;
    for (const op of ops) {
      if (op.kind === 'add') {
        needBase = true;
        const key = ruleKey(op.rule.table, op.rule.chain, op.rule.comment);
        if (view.rules.has(key) || added.has(key)) continue;
        added.add(key);
        adds.push(op.rule);
      } else {
        const key = ruleKey(op.table, op.chain, op.comment);
        for (const body of view.rules.get(key) ?? []) lines[op.table].push(`-D ${op.chain} ${body}`);
        if (view.rules.has(key)) dels.push(key);
      }
    }
    // chains and base rules: ensured by init() (ops = []) and by any addition
    if (needBase || ops.length === 0) {
      for (const table of ['filter', 'nat'] as const) {
        for (const chain of chainsOf(f, table)) {
          if (!view.chains.has(`${table}\0${chain}`)) lines[table].push(`-N ${chain}`);
        }
      }
      for (const r of baseRules(f)) {
        if (!view.rules.has(ruleKey(r.table, r.chain, r.comment))) lines[r.table].push(line(r));
      }
    }
    for (const r of adds) lines[r.table].push(line(r));
    let text = '';
    for (const table of ['filter', 'nat'] as const) {
      if (lines[table].length > 0) text += `*${table}\n${lines[table].join('\n')}\nCOMMIT\n`;
    }
    return text;
  }

  private async restore(f: Family, text: string): Promise<CommandResult> {
    this.stats.restores++;
    return this.runner.run(this.cmds[f === 'ipv4' ? 'iptables-restore' : 'ip6tables-restore'], ['-w', '--noflush'], text);
  }

  /** Updates the view with what a successful restore did. */
  private commit(f: Family, text: string): void {
    const view = this.viewOf(f);
    let table = '';
    for (const l of text.split('\n')) {
      if (l.startsWith('*')) table = l.slice(1);
      else if (l.startsWith('-N ')) view.chains.add(`${table}\0${l.slice(3)}`);
      else if (l.startsWith('-A ') || l.startsWith('-I ') || l.startsWith('-D ')) {
        const words = splitWords(l);
        const chain = words[1] ?? '';
        const ci = words.indexOf('--comment');
        const key = ruleKey(table, chain, words[ci + 1] ?? '');
        if (l.startsWith('-D ')) view.rules.delete(key);
        else {
          const body = l.startsWith('-I ') ? l.slice(3 + chain.length + 3) : l.slice(3 + chain.length + 1);
          view.rules.set(key, [...(view.rules.get(key) ?? []), body]);
        }
      }
    }
  }
}

/** `-A chain body` or `-I chain 1 body`. */
function line(r: Rule): string {
  return r.insert ? `-I ${r.chain} 1 ${ruleBody(r)}` : `-A ${r.chain} ${ruleBody(r)}`;
}

async function saveView(runner: CommandRunner, cmd: string, stats?: { saves: number }): Promise<RuleView> {
  if (stats) stats.saves++;
  const res = await runner.run(cmd, []);
  if (res.code !== 0) throw internal(`${cmd} failed: ${res.stderr.trim() || `exit ${res.code}`}`);
  return parseSave(res.stdout);
}

// ---- cleanup for tests and the harness ------------------------------------------------

export interface CleanupOptions {
  /** also remove our chains and the jumps to them when no rule of a network is left in them */
  removeChains?: boolean;
  families?: Family[];
  runner?: CommandRunner;
}

/**
 * Removes every rule in our chains (and every jump of ours) whose text mentions `match`
 * (a bridge name, usually), in both families; with `removeChains`, then removes our
 * chains and the jumps to them if nothing but those is left (another daemon's rules keep
 * them). Returns how many rules it removed.
 */
export async function cleanupFirewall(match: string, opts: CleanupOptions = {}): Promise<number> {
  const runner = opts.runner ?? spawnRunner;
  let removed = 0;
  for (const f of opts.families ?? (['ipv4', 'ipv6'] as Family[])) {
    const prefix = f === 'ipv4' ? 'iptables' : 'ip6tables';
    let save: CommandResult;
    try {
      save = await runner.run(`${prefix}-save`, []);
    } catch {
      continue; // not installed
    }
    if (save.code !== 0) continue;
    const view = parseSave(save.stdout);
    const lines: Record<Table, string[]> = { filter: [], nat: [] };
    const left = new Map<string, string[]>();
    for (const [key, bodies] of view.rules) {
      const [table, chain] = key.split('\0') as [Table, string];
      if (table !== 'filter' && table !== 'nat') continue;
      const keep: string[] = [];
      for (const body of bodies) {
        if (match !== '' && (body.includes(match) || chain.includes(match))) {
          lines[table].push(`-D ${chain} ${body}`);
          removed++;
        } else keep.push(body);
      }
      if (keep.length > 0) left.set(key, keep);
    }
    if (opts.removeChains) {
      const base = new Set(baseRules(f).map((r) => ruleKey(r.table, r.chain, r.comment)));
      const onlyBase = [...left.keys()].every((k) => base.has(k));
      if (onlyBase) {
        for (const [key, bodies] of left) {
          const [table, chain] = key.split('\0') as [Table, string];
          for (const body of bodies) lines[table].push(`-D ${chain} ${body}`);
        }
        for (const tc of view.chains) {
          const [table, chain] = tc.split('\0') as [Table, string];
          if (table === 'filter' || table === 'nat') lines[table].push(`-X ${chain}`);
        }
      }
    }
    let text = '';
    for (const table of ['filter', 'nat'] as const) {
      if (lines[table].length > 0) text += `*${table}\n${lines[table].join('\n')}\nCOMMIT\n`;
    }
    if (text === '') continue;
    const res = await runner.run(`${prefix}-restore`, ['-w', '--noflush'], text);
    if (res.code !== 0) throw internal(`${prefix}-restore failed: ${res.stderr.trim()}\n${text}`);
  }
  return removed;
}
