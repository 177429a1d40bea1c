/**
 * Daemon configuration: dockerd's flag names, a daemon.json with Docker's key names,
 * and defaults. Flags win over the file. Parsing never leaks into the daemon: it
 * produces a plain `DaemonConfig`.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import { invalidArgument } from '../engine/errdefs';
import { type LogLevel, isLogLevel } from '../engine/log';

export interface DaemonConfig {
  hosts: string[];
  dataRoot: string;
  execRoot: string;
  pidfile: string | undefined;
  group: string | undefined;
  logLevel: LogLevel;
  debug: boolean;
  /** runtime name → binary; the default runtime's name is `defaultRuntime` */
  runtimes: Record<string, string>;
  defaultRuntime: string;
  /** `--bridge/-b`: the default bridge (undefined → `docker0`; `none` disables it) */
  bridge: string | undefined;
  /** `--bip`: the default bridge's address with prefix */
  bip: string | undefined;
  /** the networking flags (docs/networking/service.md) */
  network: NetworkFlags;
  insecureRegistries: string[];
  registryMirrors: string[];
  maxConcurrentDownloads: number;
  maxConcurrentUploads: number;
  labels: string[];
  liveRestore: boolean;
  configFile: string | undefined;
  /**
   * How exec processes start (docs/shim.md, "Direct exec"): `direct` (default), the shim
   * enters the container; `runtime`, always `runtime exec` (for comparisons and as an
   * escape hatch). Set from `STEVEDORE_EXEC` by the executable (src/cmd/stevedored/main.ts).
   */
  execMode?: 'direct' | 'runtime';
}

/** dockerd's networking flags and daemon.json keys, as given (defaults as Docker 20.10's). */
export interface NetworkFlags {
  /** `--fixed-cidr` */
  fixedCidr: string | undefined;
  /** `--fixed-cidr-v6` */
  fixedCidrV6: string | undefined;
  /** `--ipv6`: IPv6 on the default bridge */
  ipv6: boolean;
  /** `--mtu` of the default bridge (0: 1500) */
  mtu: number;
  /** `--ip-forward` (true): the daemon enables net.ipv4.ip_forward */
  ipForward: boolean;
  /** `--iptables` (true): NAT, forwarding and published ports through iptables */
  iptables: boolean;
  /** `--ip6tables` (false in 20.10) */
  ip6tables: boolean;
  /** `--ip-masq` (true) */
  ipMasq: boolean;
  /** `--icc` (true): traffic between containers of the default bridge */
  icc: boolean;
  /** `--ip`: the default host address of published ports (0.0.0.0) */
  ip: string;
  /** `--default-address-pool base=…,size=…` (empty: Docker's defaults) */
  defaultAddressPools: Array<{ base: string; size: number }>;
  /** `--userland-proxy` (true in Docker): accepted; ports are forwarded in the kernel either way */
  userlandProxy: boolean;
  /** `--dns`, `--dns-search`, `--dns-opt`: containers' resolv.conf defaults */
  dns: string[];
  dnsSearch: string[];
  dnsOptions: string[];
  /** `--host-gateway-ip`: the address `host-gateway` stands for in `--add-host` (default: the default bridge's gateway) */
  hostGatewayIp: string | undefined;
}

export function defaultNetworkFlags(): NetworkFlags {
  return {
    fixedCidr: undefined,
    fixedCidrV6: undefined,
    ipv6: false,
    mtu: 0,
    ipForward: true,
    iptables: true,
    ip6tables: false,
    ipMasq: true,
    icc: true,
    ip: '0.0.0.0',
    defaultAddressPools: [],
    userlandProxy: true,
    dns: [],
    dnsSearch: [],
    dnsOptions: [],
    hostGatewayIp: undefined,
  };
}

export const DEFAULT_SOCKET = 'unix:///var/run/docker.sock';

export function defaultConfig(): DaemonConfig {
  return {
    hosts: [],
    dataRoot: '/var/lib/stevedore',
    execRoot: '/run/stevedore',
    pidfile: undefined,
    group: undefined,
    logLevel: 'info',
    debug: false,
    runtimes: { runc: 'runc' },
    defaultRuntime: 'runc',
    bridge: undefined,
    bip: undefined,
    network: defaultNetworkFlags(),
    insecureRegistries: [],
    registryMirrors: [],
    maxConcurrentDownloads: 3,
    maxConcurrentUploads: 5,
    labels: [],
    liveRestore: true,
    configFile: undefined,
  };
}

export const USAGE = `Usage:	stevedored [OPTIONS]

A Docker-compatible container engine (serves the Docker Engine API).

Options:
      --bip string                        Specify network bridge IP
  -b, --bridge string                     Attach containers to a network bridge
      --config-file string                Daemon configuration file (default "/etc/docker/daemon.json")
      --data-root string                  Root directory of persistent state (default "/var/lib/stevedore")
  -D, --debug                             Enable debug mode
      --default-address-pool pool-options Default address pools for node specific local networks
      --dns list                          DNS server to use
      --dns-opt list                      DNS options to use
      --dns-search list                   DNS search domains to use
      --exec-root string                  Root directory for execution state files (default "/run/stevedore")
  -G, --group string                      Group for the unix socket (default "docker" when it exists, else root)
      --fixed-cidr string                 IPv4 subnet for fixed IPs
      --fixed-cidr-v6 string              IPv6 subnet for fixed IPs
  -h, --help                              Print usage
  -H, --host list                         Daemon socket(s) to connect to (default unix:///var/run/docker.sock)
      --host-gateway-ip ip                IP address that the special 'host-gateway' string in --add-host resolves to.
                                          Defaults to the IP address of the default bridge
      --icc                               Enable inter-container communication (default true)
      --insecure-registry list            Enable insecure registry communication
      --ip ip                             Default IP when binding container ports (default 0.0.0.0)
      --ip-forward                        Enable net.ipv4.ip_forward (default true)
      --ip-masq                           Enable IP masquerading (default true)
      --ip6tables                         Enable addition of ip6tables rules
      --iptables                          Enable addition of iptables rules (default true)
      --ipv6                              Enable IPv6 networking
      --label list                        Set key=value labels to the daemon
  -l, --log-level string                  Set the logging level ("debug"|"info"|"warn"|"error"|"fatal") (default "info")
      --max-concurrent-downloads int      Set the max concurrent downloads for each pull (default 3)
      --max-concurrent-uploads int        Set the max concurrent uploads for each push (default 5)
      --mtu int                           Set the containers network MTU
  -p, --pidfile string                    Path to use for daemon PID file
      --registry-mirror list              Preferred Docker registry mirror
      --runtime string                    OCI runtime binary for containers: runc or crun (default "runc")
      --userland-proxy                    Use userland proxy for loopback traffic (default true; ports are
                                          forwarded in the kernel either way)
  -v, --version                           Print version information and quit
`;

export type ParsedArgs = { kind: 'run'; config: DaemonConfig } | { kind: 'help' } | { kind: 'version' };

interface FlagSpec {
  names: string[];
  key: string;
  type: 'string' | 'bool' | 'list' | 'int';
}

const FLAGS: FlagSpec[] = [
  { names: ['-H', '--host'], key: 'hosts', type: 'list' },
  { names: ['--data-root', '-g', '--graph'], key: 'data-root', type: 'string' },
  { names: ['--exec-root'], key: 'exec-root', type: 'string' },
  { names: ['-p', '--pidfile'], key: 'pidfile', type: 'string' },
  { names: ['-G', '--group'], key: 'group', type: 'string' },
  { names: ['-l', '--log-level'], key: 'log-level', type: 'string' },
  { names: ['-D', '--debug'], key: 'debug', type: 'bool' },
  { names: ['--runtime'], key: 'runtime', type: 'string' },
  { names: ['-b', '--bridge'], key: 'bridge', type: 'string' },
  { names: ['--bip'], key: 'bip', type: 'string' },
  { names: ['--fixed-cidr'], key: 'fixed-cidr', type: 'string' },
  { names: ['--fixed-cidr-v6'], key: 'fixed-cidr-v6', type: 'string' },
  { names: ['--ipv6'], key: 'ipv6', type: 'bool' },
  { names: ['--mtu'], key: 'mtu', type: 'int' },
  { names: ['--ip-forward'], key: 'ip-forward', type: 'bool' },
  { names: ['--iptables'], key: 'iptables', type: 'bool' },
  { names: ['--ip6tables'], key: 'ip6tables', type: 'bool' },
  { names: ['--ip-masq'], key: 'ip-masq', type: 'bool' },
  { names: ['--icc'], key: 'icc', type: 'bool' },
  { names: ['--ip'], key: 'ip', type: 'string' },
  { names: ['--default-address-pool'], key: 'default-address-pools', type: 'list' },
  { names: ['--userland-proxy'], key: 'userland-proxy', type: 'bool' },
  { names: ['--dns'], key: 'dns', type: 'list' },
  { names: ['--dns-search'], key: 'dns-search', type: 'list' },
  { names: ['--dns-opt'], key: 'dns-opts', type: 'list' },
  { names: ['--host-gateway-ip'], key: 'host-gateway-ip', type: 'string' },
  { names: ['--insecure-registry'], key: 'insecure-registries', type: 'list' },
  { names: ['--registry-mirror'], key: 'registry-mirrors', type: 'list' },
  { names: ['--max-concurrent-downloads'], key: 'max-concurrent-downloads', type: 'int' },
  { names: ['--max-concurrent-uploads'], key: 'max-concurrent-uploads', type: 'int' },
  { names: ['--label'], key: 'labels', type: 'list' },
  { names: ['--config-file'], key: 'config-file', type: 'string' },
];

/** Parses dockerd-style arguments; unknown flags and bad values → invalid-argument. */
export function parseArgs(argv: string[], readFile: (p: string) => string | undefined = tryRead): ParsedArgs {
  const flags = new Map<string, unknown>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-h' || arg === '--help') return { kind: 'help' };
    if (arg === '-v' || arg === '--version') return { kind: 'version' };
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    const spec = FLAGS.find((f) => f.names.includes(name));
    if (!spec) throw invalidArgument(`unknown flag: ${arg}`);
    let value: string | undefined = eq > 0 ? arg.slice(eq + 1) : undefined;
    if (spec.type === 'bool') {
      flags.set(spec.key, value === undefined ? true : !/^(false|0)$/i.test(value));
      continue;
    }
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) throw invalidArgument(`flag needs an argument: ${name}`);
    }
    if (spec.type === 'list') flags.set(spec.key, [...((flags.get(spec.key) as string[]) ?? []), value]);
    else if (spec.type === 'int') {
      if (!/^\d+$/.test(value)) throw invalidArgument(`invalid argument "${value}" for "${name}" flag`);
      flags.set(spec.key, Number(value));
    } else flags.set(spec.key, value);
  }
  const cfg = defaultConfig();
  const explicitFile = flags.get('config-file') as string | undefined;
  const file = explicitFile ?? '/etc/docker/daemon.json';
  const text = readFile(file);
  if (text === undefined && explicitFile) throw invalidArgument(`unable to read configuration file ${file}`);
  if (text !== undefined) {
    applyFile(cfg, text, file);
    cfg.configFile = file;
  }
  applyFlags(cfg, flags);
  if (cfg.bridge !== undefined && cfg.bridge !== '' && cfg.bip !== undefined) throw invalidArgument('You specified -b & --bip, mutually incompatible options');
  if (cfg.bip !== undefined && !isCidr(cfg.bip)) throw invalidArgument(`invalid bip: ${cfg.bip}`);
  if (!cfg.network.iptables && !cfg.network.icc) throw invalidArgument('You specified --iptables=false with --icc=false. ICC=false uses iptables to function. Please set --icc or --iptables to true.');
  if (cfg.hosts.length === 0) cfg.hosts = [DEFAULT_SOCKET];
  if (cfg.debug && !flags.has('log-level')) cfg.logLevel = 'debug';
  for (const h of cfg.hosts) parseHost(h);
  return { kind: 'run', config: cfg };
}

function tryRead(p: string): string | undefined {
  try {
    return fs.readFileSync(p, 'utf8');
  } catch {
    return undefined;
  }
}

function applyFile(cfg: DaemonConfig, text: string, file: string): void {
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw invalidArgument(`unable to configure the daemon with file ${file}: ${(err as Error).message}`);
  }
  if (typeof j !== 'object' || j === null || Array.isArray(j)) throw invalidArgument(`unable to configure the daemon with file ${file}: not a JSON object`);
  const m = new Map<string, unknown>();
  for (const [k, v] of Object.entries(j)) {
    if (k === 'runtimes') {
      if (typeof v !== 'object' || v === null) throw invalidArgument(`invalid runtimes in ${file}`);
      for (const [name, r] of Object.entries(v as Record<string, { path?: unknown }>)) {
        if (typeof r?.path !== 'string') throw invalidArgument(`runtime ${name} in ${file} needs a "path"`);
        cfg.runtimes[name] = r.path;
      }
      continue;
    }
    if (k === 'default-runtime') {
      if (typeof v !== 'string') throw invalidArgument(`default-runtime in ${file} must be a string`);
      cfg.defaultRuntime = v;
      continue;
    }
    if (k === 'live-restore') {
      cfg.liveRestore = v === true;
      continue;
    }
    m.set(k, v);
  }
  applyFlags(cfg, m, file);
}

function applyFlags(cfg: DaemonConfig, m: Map<string, unknown>, file?: string): void {
  const where = file ? ` in ${file}` : '';
  const str = (k: string): string | undefined => {
    const v = m.get(k);
    if (v === undefined) return undefined;
    if (typeof v !== 'string') throw invalidArgument(`${k}${where} must be a string`);
    return v;
  };
  const list = (k: string): string[] | undefined => {
    const v = m.get(k);
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw invalidArgument(`${k}${where} must be a list of strings`);
    return v as string[];
  };
  const int = (k: string): number | undefined => {
    const v = m.get(k);
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw invalidArgument(`${k}${where} must be a positive integer`);
    return v;
  };
  cfg.hosts = list('hosts') ?? cfg.hosts;
  cfg.dataRoot = str('data-root') ?? str('graph') ?? cfg.dataRoot;
  cfg.execRoot = str('exec-root') ?? cfg.execRoot;
  cfg.pidfile = str('pidfile') ?? cfg.pidfile;
  cfg.group = str('group') ?? cfg.group;
  const lvl = str('log-level');
  if (lvl !== undefined) {
    if (!isLogLevel(lvl)) throw invalidArgument(`unable to parse logging level: ${lvl}`);
    cfg.logLevel = lvl;
  }
  if (m.has('debug')) cfg.debug = m.get('debug') === true;
  const rt = str('runtime');
  if (rt !== undefined) {
    const name = rt.split('/').pop()!;
    cfg.runtimes[name] = rt;
    cfg.defaultRuntime = name;
  }
  cfg.bridge = str('bridge') ?? cfg.bridge;
  cfg.bip = str('bip') ?? cfg.bip;
  applyNetworkFlags(cfg.network, m, where, { str, list });
  cfg.insecureRegistries = list('insecure-registries') ?? cfg.insecureRegistries;
  cfg.registryMirrors = list('registry-mirrors') ?? cfg.registryMirrors;
  cfg.maxConcurrentDownloads = int('max-concurrent-downloads') ?? cfg.maxConcurrentDownloads;
  cfg.maxConcurrentUploads = int('max-concurrent-uploads') ?? cfg.maxConcurrentUploads;
  cfg.labels = list('labels') ?? cfg.labels;
}

/** `base=172.30.0.0/16,size=24` (the flag) or `{ "base": …, "size": … }` (daemon.json). */
function parsePool(v: unknown, where: string): { base: string; size: number } {
  let base: unknown;
  let size: unknown;
  if (typeof v === 'string') {
    for (const kv of v.split(',')) {
      const [k, val] = [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)];
      if (k === 'base') base = val;
      else if (k === 'size') size = /^\d+$/.test(val) ? Number(val) : NaN;
      else throw invalidArgument(`invalid field '${k}' must be a key=value pair${where}`);
    }
  } else if (typeof v === 'object' && v !== null) {
    ({ base, size } = v as { base?: unknown; size?: unknown });
  }
  if (typeof base !== 'string' || !isCidr(base)) throw invalidArgument(`invalid default address pool base: ${String(base)}${where}`);
  const bits = Number(base.split('/')[1]);
  const max = base.includes(':') ? 128 : 32;
  if (typeof size !== 'number' || !Number.isInteger(size) || size < bits || size > max) throw invalidArgument(`invalid default address pool size: ${String(size)}${where}`);
  return { base, size };
}

function isCidr(s: string): boolean {
  const m = /^(.+)\/(\d{1,3})$/.exec(s);
  if (!m) return false;
  const ip = net.isIP(m[1]!);
  return ip !== 0 && Number(m[2]) <= (ip === 4 ? 32 : 128);
}

function applyNetworkFlags(
  n: NetworkFlags,
  m: Map<string, unknown>,
  where: string,
  get: { str: (k: string) => string | undefined; list: (k: string) => string[] | undefined },
): void {
  const bool = (k: string): boolean | undefined => {
    const v = m.get(k);
    if (v === undefined) return undefined;
    if (typeof v !== 'boolean') throw invalidArgument(`${k}${where} must be a boolean`);
    return v;
  };
  const cidr = (k: string): string | undefined => {
    const v = get.str(k);
    if (v !== undefined && !isCidr(v)) throw invalidArgument(`invalid ${k}${where}: ${v} is not an address with a prefix length`);
    return v;
  };
  const ip = (k: string): string | undefined => {
    const v = get.str(k);
    if (v !== undefined && net.isIP(v) === 0) throw invalidArgument(`invalid ${k}${where}: ${v} is not an IP address`);
    return v;
  };
  n.fixedCidr = cidr('fixed-cidr') ?? n.fixedCidr;
  n.fixedCidrV6 = cidr('fixed-cidr-v6') ?? n.fixedCidrV6;
  n.ipv6 = bool('ipv6') ?? n.ipv6;
  const mtu = m.get('mtu');
  if (mtu !== undefined) {
    if (typeof mtu !== 'number' || !Number.isInteger(mtu) || mtu < 0) throw invalidArgument(`mtu${where} must be a non-negative integer`);
    n.mtu = mtu;
  }
  n.ipForward = bool('ip-forward') ?? n.ipForward;
  n.iptables = bool('iptables') ?? n.iptables;
  n.ip6tables = bool('ip6tables') ?? n.ip6tables;
  n.ipMasq = bool('ip-masq') ?? n.ipMasq;
  n.icc = bool('icc') ?? n.icc;
  n.ip = ip('ip') ?? n.ip;
  const pools = m.get('default-address-pools');
  if (pools !== undefined) {
    if (!Array.isArray(pools)) throw invalidArgument(`default-address-pools${where} must be a list`);
    n.defaultAddressPools = pools.map((p) => parsePool(p, where));
  }
  n.userlandProxy = bool('userland-proxy') ?? n.userlandProxy;
  n.dns = get.list('dns') ?? n.dns;
  for (const d of n.dns) if (net.isIP(d) === 0) throw invalidArgument(`${d} is not an ip address`);
  n.dnsSearch = get.list('dns-search') ?? n.dnsSearch;
  n.dnsOptions = get.list('dns-opts') ?? n.dnsOptions;
  n.hostGatewayIp = ip('host-gateway-ip') ?? n.hostGatewayIp;
}

export type Listen = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };

/** `unix:///path`, `/path`, `tcp://127.0.0.1:2375` (`fd://` is not supported). */
export function parseHost(h: string): Listen {
  if (h.startsWith('unix://')) return { kind: 'unix', path: h.slice(7) || '/var/run/docker.sock' };
  if (h.startsWith('/')) return { kind: 'unix', path: h };
  const m = /^tcp:\/\/(\[[^\]]+\]|[^:/]*):(\d+)\/?$/.exec(h);
  if (m) return { kind: 'tcp', host: m[1]!.replace(/^\[|\]$/g, '') || '127.0.0.1', port: Number(m[2]) };
  throw invalidArgument(`invalid host: ${h} (use unix:///path or tcp://host:port)`);
}
