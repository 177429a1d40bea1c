/**
 * Networking for e2e tests: a bridge of the test's own (unique name, unique 10.x.y.0/24
 * that overlaps no host route) given to the engine as its default bridge (`--bridge`),
 * and the cleanup that leaves the host as it was: the iptables rules either engine made
 * for the test's bridges and subnets, the engines' global chains once no test engine
 * uses them any more, the FORWARD policy and `ip_forward`, and the `br-*` bridges of the
 * test's networks. See docs/networking.md ("Tests").
 *
 * Several helpers run tests on this machine at once, each with its own engines: every
 * rule removed here is one that names the test's bridges or lies in the test's subnets;
 * chains shared by all engines of a kind (Docker's `DOCKER…`, ours `STEVEDORE…`) are
 * removed only when no other test engine with a network is alive (a registry of live
 * users under /run) and they hold nothing but generic rules.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { cleanupFirewall, splitWords } from '../../src/engine/network/firewall';

/** A bridge a test made for an engine's default network. */
export interface TestBridge {
  /** `stvt` + 6 hex */
  name: string;
  /** the bridge's (gateway) address, `10.x.y.1` */
  address: string;
  /** `10.x.y.0/24` */
  subnet: string;
  /** with `ipv6`: the bridge's IPv6 address `fdxx:…::1` and its /64 */
  address6?: string;
  subnet6?: string;
}

function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function tryRun(cmd: string, args: string[]): { ok: boolean; out: string; err: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return { ok: r.status === 0, out: r.stdout ?? '', err: r.stderr ?? '' };
}

/** IPv4 address → 32-bit number. */
export function ip4ToInt(a: string): number {
  const p = a.split('.').map(Number);
  return (((p[0]! << 24) >>> 0) + (p[1]! << 16) + (p[2]! << 8) + p[3]!) >>> 0;
}

/** Whether two IPv4 CIDRs overlap. */
export function overlaps4(a: string, b: string): boolean {
  const [aa, al] = a.split('/');
  const [ba, bl] = b.split('/');
  const l = Math.min(Number(al ?? 32), Number(bl ?? 32));
  const mask = l === 0 ? 0 : (0xffffffff << (32 - l)) >>> 0;
  return ((ip4ToInt(aa!) & mask) >>> 0) === ((ip4ToInt(ba!) & mask) >>> 0);
}

/** Every IPv4 prefix the host routes or has on a link now (routes in all tables, link addresses). */
export function hostPrefixes4(): string[] {
  const out: string[] = [];
  const routes = JSON.parse(run('ip', ['-j', '-4', 'route', 'show', 'table', 'all'])) as Array<{ dst: string; type?: string }>;
  for (const r of routes) {
    if (!r.dst || r.dst === 'default') continue;
    out.push(r.dst.includes('/') ? r.dst : `${r.dst}/32`);
  }
  const addrs = JSON.parse(run('ip', ['-j', '-4', 'addr'])) as Array<{ addr_info?: Array<{ local: string; prefixlen: number }> }>;
  for (const l of addrs) for (const a of l.addr_info ?? []) out.push(`${a.local}/${a.prefixlen}`);
  return out;
}

/** A 10.x.y.0/24 that overlaps nothing the host has (randomly chosen, so parallel tests differ). */
export function freeSubnet24(): string {
  return freeSubnets24(1)[0]!;
}

/** `n` distinct free 10.x.y.0/24 subnets, none in `taken` (to which they are added); the host's prefixes read once. */
export function freeSubnets24(n: number, taken: Set<string> = new Set()): string[] {
  const host = hostPrefixes4();
  const out: string[] = [];
  for (let i = 0; out.length < n; i++) {
    if (i >= 200 * n) throw new Error('no free 10.x.y.0/24 found');
    const [x, y] = crypto.randomBytes(2);
    const s = `10.${x! % 250 + 3}.${y}.0/24`;
    if (!taken.has(s) && !host.some((t) => overlaps4(t, s))) taken.add(s), out.push(s);
  }
  return out;
}

/**
 * A random unique-local IPv6 /64 (`fdxx:xxxx:xxxx:xxxx::/64`), written canonically: no
 * group with a leading zero or all zeros, so that the text compares equal to what an
 * engine prints back.
 */
export function randomUla64(): string {
  const g = () => (0x1000 + crypto.randomInt(0xf000)).toString(16);
  return `fd${(0x10 + crypto.randomInt(0xf0)).toString(16)}:${g()}:${g()}:${g()}::/64`;
}

/** Creates a bridge of a unique name with a unique 10.x.y.1/24 (and, with `ipv6`, a ULA ::1/64), up. */
export function createTestBridge(opts: { ipv6?: boolean } = {}): TestBridge {
  const name = `stvt${crypto.randomBytes(3).toString('hex')}`;
  const subnet = freeSubnet24();
  const address = subnet.replace(/\.0\/24$/, '.1');
  const b: TestBridge = { name, address, subnet };
  run('ip', ['link', 'add', name, 'type', 'bridge']);
  try {
    run('ip', ['addr', 'add', `${address}/24`, 'dev', name]);
    if (opts.ipv6) {
      b.subnet6 = randomUla64();
      b.address6 = b.subnet6.replace('::/64', '::1');
      // a bridge without ports would keep its IPv6 address tentative (DAD) for a while
      run('ip', ['addr', 'add', `${b.address6}/64`, 'dev', name, 'nodad']);
    }
    run('ip', ['link', 'set', name, 'up']);
  } catch (err) {
    tryRun('ip', ['link', 'del', name]);
    throw err;
  }
  return b;
}

/** Deletes a link if it exists. */
export function deleteLink(name: string): void {
  tryRun('ip', ['link', 'del', name]);
}

interface Link {
  ifname: string;
  master?: string;
  link_type?: string;
  linkinfo?: { info_kind?: string };
}

export function links(): Link[] {
  return JSON.parse(run('ip', ['-j', '-d', 'link', 'show'])) as Link[];
}

export function linkExists(name: string): boolean {
  return links().some((l) => l.ifname === name);
}

/** Interfaces enslaved to any of the bridges (the host ends of containers' veths). */
export function portsOf(bridges: string[]): string[] {
  return links()
    .filter((l) => l.master && bridges.includes(l.master))
    .map((l) => l.ifname);
}

// ---------------------------------------------------------------------------------------
// iptables

export type Family = 4 | 6;

/** Splits an iptables-save rule line into arguments: the firewall's own reader. */
export const splitRule = splitWords;

export interface Rule {
  family: Family;
  table: string;
  chain: string;
  /** the arguments after `-A <chain>` */
  args: string[];
  line: string;
}

export interface Tables {
  rules: Rule[];
  /** `family table chain` → policy ('-' for user chains) */
  chains: Map<string, string>;
}

/** The current rules and chains of both families (empty when a family has no tables loaded). */
export function readTables(): Tables {
  const rules: Rule[] = [];
  const chains = new Map<string, string>();
  for (const family of [4, 6] as Family[]) {
    const r = tryRun(family === 4 ? 'iptables-save' : 'ip6tables-save', []);
    if (!r.ok) continue;
    let table = '';
    for (const line of r.out.split('\n')) {
      if (line.startsWith('*')) table = line.slice(1).trim();
      else if (line.startsWith(':')) {
        const [chain, policy] = line.slice(1).split(' ');
        chains.set(`${family} ${table} ${chain}`, policy ?? '-');
      } else if (line.startsWith('-A ')) {
        const toks = splitRule(line);
        rules.push({ family, table, chain: toks[1]!, args: toks.slice(2), line });
      }
    }
  }
  return { rules, chains };
}

function inSubnet(token: string, subnets: string[]): boolean {
  const addr = token.replace(/^!/, '').split('/')[0]!.split(':')[0]!;
  if (!net.isIPv4(addr)) {
    const a6 = token.replace(/^!/, '').split('/')[0]!;
    if (!net.isIPv6(a6)) return false;
    return subnets.some((s) => s.includes(':') && sameV6Prefix(a6, s));
  }
  return subnets.some((s) => !s.includes(':') && overlaps4(`${addr}/32`, s));
}

function expand6(a: string): string[] {
  const [head, tail] = a.includes('::') ? a.split('::') : [a, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const fill = tail === undefined ? [] : new Array(8 - h.length - t.length).fill('0');
  return [...h, ...fill, ...t].map((x) => x.padStart(4, '0'));
}

function sameV6Prefix(a: string, cidr: string): boolean {
  const [base, len] = cidr.split('/');
  const groups = Math.floor(Number(len ?? 128) / 16);
  const ea = expand6(a);
  const eb = expand6(base!);
  for (let i = 0; i < groups; i++) if (ea[i] !== eb[i]) return false;
  return true;
}

/** Whether a rule names one of the bridges (as a whole word) or an address in one of the subnets. */
export function ruleMentions(rule: Rule, bridges: string[], subnets: string[]): boolean {
  for (const tok of rule.args) {
    for (const b of bridges) {
      if (tok === b || new RegExp(`(^|[^A-Za-z0-9_-])${b.replace(/[-]/g, '\\-')}($|[^A-Za-z0-9_-])`).test(tok)) return true;
    }
    for (const part of tok.split(/[,=]/)) if (part && inSubnet(part, subnets)) return true;
  }
  return false;
}

function iptables(family: Family): string {
  return family === 4 ? 'iptables' : 'ip6tables';
}

/** Deletes rules (by specification). Returns the ones that could not be deleted. */
export function deleteRules(rules: Rule[]): string[] {
  const failed: string[] = [];
  for (const r of rules) {
    const res = tryRun(iptables(r.family), ['-w', '-t', r.table, '-D', r.chain, ...r.args]);
    if (!res.ok && !/does a matching rule exist|No chain|Bad rule/.test(res.err)) failed.push(`${r.line}: ${res.err.trim()}`);
  }
  return failed;
}

/** The rules naming the bridges or the subnets, in both families. */
export function rulesMentioning(bridges: string[], subnets: string[]): Rule[] {
  if (!bridges.length && !subnets.length) return [];
  return readTables().rules.filter((r) => ruleMentions(r, bridges, subnets));
}

/** Whether a chain name belongs to an engine's own family of chains. */
function isFamilyChain(chain: string, prefix: string): boolean {
  return chain === prefix || chain.startsWith(`${prefix}-`) || chain.startsWith(`${prefix}_`) || (chain.startsWith(prefix) && prefix === 'STEVEDORE');
}

/**
 * Removes the chains of an engine family (`DOCKER`, `STEVEDORE`) and the jumps to them,
 * only if every rule in them is generic (a bare `-j RETURN`, or a jump to another chain of
 * the family with no match): a chain still holding a rule about some interface or address
 * serves another engine, and then nothing of the family is touched. Returns what it
 * removed (for the log) or why it left it.
 */
export function removeIdleChains(prefix: 'DOCKER' | 'STEVEDORE'): string[] {
  const t = readTables();
  const done: string[] = [];
  const famChains = [...t.chains.keys()].filter((k) => isFamilyChain(k.split(' ')[2]!, prefix));
  if (!famChains.length) return done;
  for (const r of t.rules) {
    if (!isFamilyChain(r.chain, prefix)) continue;
    const jumpOnly = r.args.length === 2 && r.args[0] === '-j' && (r.args[1] === 'RETURN' || isFamilyChain(r.args[1]!, prefix));
    if (!jumpOnly) return [`${prefix} chains in use (${r.line}); left`];
  }
  // jumps from built-in chains (and any other chain) into the family
  const jumps = t.rules.filter((r) => !isFamilyChain(r.chain, prefix) && r.args.some((a, i) => (r.args[i - 1] === '-j' || r.args[i - 1] === '-g') && isFamilyChain(a, prefix)));
  for (const f of deleteRules(jumps)) done.push(`could not delete ${f}`);
  const famRules = t.rules.filter((r) => isFamilyChain(r.chain, prefix));
  deleteRules(famRules);
  for (const k of famChains) {
    const [family, table, chain] = k.split(' ');
    const r = tryRun(iptables(Number(family) as Family), ['-w', '-t', table!, '-X', chain!]);
    done.push(r.ok ? `removed ${k}` : `could not remove ${k}: ${r.err.trim()}`);
  }
  return done;
}

// ---------------------------------------------------------------------------------------
// the registry of live test engines with a network (so shared chains go with the last one)

const REGISTRY = '/run/stevedore-test-networks';

/** Registers a test engine with a network; returns its entry's path. */
export function register(kind: string, bridge: string): string {
  fs.mkdirSync(REGISTRY, { recursive: true });
  const p = path.join(REGISTRY, `${kind}.${process.pid}.${bridge}`);
  fs.writeFileSync(p, String(process.pid));
  return p;
}

/** Removes the entry; true when no other live test engine with a network remains (of any kind). */
export function unregister(entry: string): boolean {
  fs.rmSync(entry, { force: true });
  let others = 0;
  for (const f of fs.existsSync(REGISTRY) ? fs.readdirSync(REGISTRY) : []) {
    const pid = Number(f.split('.')[1]);
    let alive = false;
    try {
      process.kill(pid, 0);
      alive = true;
    } catch {
      /* dead */
    }
    if (alive) others++;
    else fs.rmSync(path.join(REGISTRY, f), { force: true });
  }
  return others === 0;
}

// ---------------------------------------------------------------------------------------
// host state that Docker may change

export interface HostNetState {
  forwardPolicy: string | undefined;
  forwardPolicy6: string | undefined;
  ipForward: string;
}

export function readHostNetState(): HostNetState {
  const t = readTables();
  return {
    forwardPolicy: t.chains.get('4 filter FORWARD'),
    forwardPolicy6: t.chains.get('6 filter FORWARD'),
    ipForward: fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim(),
  };
}

/** Puts back the FORWARD policies and ip_forward as they were; returns what it had to change. */
export function restoreHostNetState(before: HostNetState): string[] {
  const now = readHostNetState();
  const changed: string[] = [];
  if (before.forwardPolicy && now.forwardPolicy && now.forwardPolicy !== before.forwardPolicy) {
    tryRun('iptables', ['-w', '-P', 'FORWARD', before.forwardPolicy]);
    changed.push(`FORWARD policy ${now.forwardPolicy} → ${before.forwardPolicy}`);
  }
  if (before.forwardPolicy6 && now.forwardPolicy6 && now.forwardPolicy6 !== before.forwardPolicy6) {
    tryRun('ip6tables', ['-w', '-P', 'FORWARD', before.forwardPolicy6]);
    changed.push(`IPv6 FORWARD policy ${now.forwardPolicy6} → ${before.forwardPolicy6}`);
  }
  if (now.ipForward !== before.ipForward) {
    fs.writeFileSync('/proc/sys/net/ipv4/ip_forward', before.ipForward);
    changed.push(`ip_forward ${now.ipForward} → ${before.ipForward}`);
  }
  return changed;
}

// ---------------------------------------------------------------------------------------
// the networks of an engine

export interface EngineNetwork {
  id: string;
  name: string;
  bridge: string;
  subnets: string[];
}

/** The bridge networks of an engine, from `GET /networks` (its bridge names and subnets). */
export function bridgeNetworksOf(list: Array<{ Id: string; Name: string; Driver: string; Options?: Record<string, string> | null; IPAM?: { Config?: Array<{ Subnet?: string }> | null } }>): EngineNetwork[] {
  return list
    .filter((n) => n.Driver === 'bridge')
    .map((n) => ({
      id: n.Id,
      name: n.Name,
      bridge: n.Options?.['com.docker.network.bridge.name'] ?? `br-${n.Id.slice(0, 12)}`,
      subnets: (n.IPAM?.Config ?? []).map((c) => c.Subnet ?? '').filter(Boolean),
    }));
}

// ---------------------------------------------------------------------------------------
// the cleanup

/**
 * After a networked engine stopped: reports (returns) what its teardown left — ports still
 * on its bridges, user-defined bridges (stevedore only: Docker keeps nothing it should not
 * either, but a SIGKILLed dockerd may) — then removes every rule naming the test's bridges
 * or subnets, the bridges, the engines' idle global chains when no other test engine with
 * a network is alive, and puts back FORWARD's policy and ip_forward; finally checks that
 * no rule or link of the test is left.
 */
export async function cleanupNetwork(kind: string, bridge: TestBridge, nets: EngineNetwork[], before: HostNetState, entry: string, opts: { deleteBridge?: boolean } = {}): Promise<string[]> {
  const problems: string[] = [];
  const userBridges = nets.map((n) => n.bridge).filter((b) => b !== bridge.name);
  const bridges = [bridge.name, ...userBridges];
  const subnets = [bridge.subnet, ...(bridge.subnet6 ? [bridge.subnet6] : []), ...nets.flatMap((n) => n.subnets)];
  const ports = portsOf(bridges);
  if (ports.length) problems.push(`interfaces left on the test's bridges: ${ports.join(', ')}`);
  for (const ub of userBridges) {
    if (linkExists(ub)) {
      if (kind === 'stevedore') problems.push(`bridge of a removed network left: ${ub}`);
      deleteLink(ub);
    }
  }
  for (const p of ports) deleteLink(p);
  // the rules: stevedore keeps its networks' rules while it is down (restart); the test's
  // cleanup removes them, as it removes Docker's
  const failed = deleteRules(rulesMentioning(bridges, subnets));
  for (const f of failed) problems.push(`could not delete rule ${f}`);
  if (opts.deleteBridge ?? true) deleteLink(bridge.name);
  const last = unregister(entry);
  if (last) {
    removeIdleChains('DOCKER');
    // ours: NET-FW's cleanup removes the STEVEDORE chains when only their base rules are left
    try {
      for (const b of bridges) await cleanupFirewall(b);
      await cleanupFirewall('', { removeChains: true });
    } catch (err) {
      problems.push(`cleanupFirewall: ${String(err)}`);
    }
  }
  restoreHostNetState(before);
  const leftRules = rulesMentioning(bridges, subnets);
  if (leftRules.length) problems.push(`iptables rules left: ${leftRules.map((r) => r.line).join('; ')}`);
  if ((opts.deleteBridge ?? true) && linkExists(bridge.name)) problems.push(`test bridge left: ${bridge.name}`);
  return problems;
}


/**
 * A test bridge owned by a test that runs several engines on it in turn (restart tests):
 * {@link startTarget} with `{ network: { bridge: shared.bridge } }` leaves it alone at
 * `stop()`; {@link finish} does the cleanup (after the last engine stopped).
 */
export class SharedTestBridge {
  readonly bridge: TestBridge;
  readonly #before: HostNetState;
  readonly #entry: string;
  constructor(kind: string, opts: { ipv6?: boolean } = {}) {
    this.#before = readHostNetState();
    this.bridge = createTestBridge(opts);
    this.#entry = register(kind, this.bridge.name);
  }
  /** Cleans up as a target's `stop()` does; throws what was left over. */
  async finish(kind: string, nets: EngineNetwork[]): Promise<void> {
    const problems = await cleanupNetwork(kind, this.bridge, nets, this.#before, this.#entry);
    if (problems.length) throw new Error(problems.join('\n'));
  }
}

// ---------------------------------------------------------------------------------------
// for the tests themselves

/** A busybox command serving `text` with httpd on `port` (from /www). */
export function httpd(text: string, port = 8080): string[] {
  return ['sh', '-c', `mkdir -p /www && echo ${text} > /www/index.html && exec httpd -f -p ${port} -h /www`];
}

/**
 * A shell loop for a throwaway container: runs `cmd` until it succeeds (a server may still
 * be starting, a name may not be registered yet), at most ~10 s; its last output is kept.
 */
export function retrying(cmd: string): string[] {
  return ['sh', '-c', `for i in $(seq 100); do if out=$(${cmd} 2>&1); then echo "$out"; exit 0; fi; sleep 0.1; done; echo "$out"; exit 1`];
}

/** GETs `url` from the test process, retrying while the connection is refused/reset (at most ~10 s). */
export async function httpGet(url: string): Promise<string> {
  const http = await import('node:http');
  let last: unknown;
  for (let i = 0; i < 100; i++) {
    try {
      return await new Promise<string>((resolve, reject) => {
        const req = http.get(url, { timeout: 3000 }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks).toString()) : reject(new Error(`HTTP ${res.statusCode}`))));
          res.on('error', reject);
        });
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.on('error', reject);
      });
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`GET ${url}: ${String(last)}`);
}

/** A free TCP port on `host` (bound and released: the caller uses it right away). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, host, () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** The interface names in a `ip -o link` listing (`2: eth0@if5: <…>` → `eth0`). */
export function ifNames(ipOLink: string): string[] {
  return ipOLink
    .split('\n')
    .map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1])
    .filter((n): n is string => !!n);
}

/**
 * A tiny authoritative DNS server (UDP) for upstream tests: answers A queries for the
 * names in `records` and NXDOMAIN for the rest; counts the queries it saw by name.
 */
export async function startDnsServer(host: string, records: Record<string, string>, port = 53): Promise<{ close(): void; seen: Map<string, number> }> {
  const dgram = await import('node:dgram');
  const seen = new Map<string, number>();
  const s = dgram.createSocket('udp4');
  s.on('message', (msg, rinfo) => {
    if (msg.length < 12) return;
    let off = 12;
    const labels: string[] = [];
    while (off < msg.length && msg[off]! > 0) {
      labels.push(msg.subarray(off + 1, off + 1 + msg[off]!).toString());
      off += 1 + msg[off]!;
    }
    const qEnd = off + 5;
    const name = labels.join('.').toLowerCase();
    const qtype = msg.readUInt16BE(off + 1);
    seen.set(name, (seen.get(name) ?? 0) + 1);
    const addr = records[name];
    const header = Buffer.alloc(12);
    header.writeUInt16BE(msg.readUInt16BE(0), 0);
    const answer = addr && qtype === 1;
    // QR, opcode 0, AA, RD copied, RA; rcode 0 or 3 (NXDOMAIN)
    header.writeUInt16BE(0x8400 | (msg[2]! & 0x01) << 8 | 0x80 | (addr ? 0 : 3), 2);
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answer ? 1 : 0, 6);
    const parts = [header, msg.subarray(12, qEnd)];
    if (answer) {
      const rr = Buffer.alloc(16);
      rr.writeUInt16BE(0xc00c, 0);
      rr.writeUInt16BE(1, 2);
      rr.writeUInt16BE(1, 4);
      rr.writeUInt32BE(60, 6);
      rr.writeUInt16BE(4, 10);
      addr.split('.').forEach((b, i) => rr.writeUInt8(Number(b), 12 + i));
      parts.push(rr);
    }
    s.send(Buffer.concat(parts), rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind(port, host, () => resolve());
  });
  return { close: () => s.close(), seen };
}
