/**
 * Daemon configuration: dockerd's flag names, a daemon.json with Docker's key names,
 * and defaults. Flags win over the file. Parsing never leaks into the daemon: it
 * produces a plain `DaemonConfig`.
 */
import * as fs from 'node:fs';
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
  bridge: string | undefined;
  bip: string | undefined;
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
      --exec-root string                  Root directory for execution state files (default "/run/stevedore")
  -G, --group string                      Group for the unix socket (default "docker" when it exists, else root)
  -h, --help                              Print usage
  -H, --host list                         Daemon socket(s) to connect to (default unix:///var/run/docker.sock)
      --insecure-registry list            Enable insecure registry communication
      --label list                        Set key=value labels to the daemon
  -l, --log-level string                  Set the logging level ("debug"|"info"|"warn"|"error"|"fatal") (default "info")
      --max-concurrent-downloads int      Set the max concurrent downloads for each pull (default 3)
      --max-concurrent-uploads int        Set the max concurrent uploads for each push (default 5)
  -p, --pidfile string                    Path to use for daemon PID file
      --registry-mirror list              Preferred Docker registry mirror
      --runtime string                    OCI runtime binary for containers: runc or crun (default "runc")
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
  cfg.insecureRegistries = list('insecure-registries') ?? cfg.insecureRegistries;
  cfg.registryMirrors = list('registry-mirrors') ?? cfg.registryMirrors;
  cfg.maxConcurrentDownloads = int('max-concurrent-downloads') ?? cfg.maxConcurrentDownloads;
  cfg.maxConcurrentUploads = int('max-concurrent-uploads') ?? cfg.maxConcurrentUploads;
  cfg.labels = list('labels') ?? cfg.labels;
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
