/**
 * The end-to-end harness: starts the engine under test — stevedore, or Docker's own
 * engine when STEVEDORE_TEST_TARGET=docker — on a temporary socket, data root and exec
 * root, runs the real docker CLI against it, and removes everything afterwards.
 * Nothing here touches /var/run/docker.sock.
 */
import { type SpawnOptions, spawn, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { type CliResult, runProcess } from './process';
import { type EngineNetwork, type HostNetState, type TestBridge, bridgeNetworksOf, cleanupNetwork, createTestBridge, readHostNetState, register } from './network';

export type TargetKind = 'stevedore' | 'docker';

export type { CliResult };

export interface Target {
  kind: TargetKind;
  dir: string;
  socket: string;
  dockerHost: string;
  dataRoot: string;
  execRoot: string;
  pid: number;
  /** environment for clients: DOCKER_HOST and an isolated HOME/DOCKER_CONFIG */
  env: NodeJS.ProcessEnv;
  /** runs the docker CLI against this target */
  docker(args: string[], opts?: { input?: string | Buffer; timeoutMs?: number; env?: NodeJS.ProcessEnv }): Promise<CliResult>;
  /** a raw Engine API request over the socket */
  request(method: string, urlPath: string, opts?: { body?: string | Buffer; headers?: Record<string, string> }): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>;
  stop(): Promise<void>;
  /** the daemon's stderr so far (for diagnosing a failure) */
  logs(): string;
  /** with `startTarget({ network })`: the default bridge the engine was given */
  network?: TargetNetwork;
}

/** The test's default bridge of a target started with `network`. */
export interface TargetNetwork {
  bridge: TestBridge;
  /** whether the harness made the bridge (and deletes it at `stop()`) */
  owned: boolean;
}

export function targetKind(): TargetKind {
  return process.env.STEVEDORE_TEST_TARGET === 'docker' ? 'docker' : 'stevedore';
}

const ROOT = path.resolve(__dirname, '..', '..', '..');

function waitForPing(socket: string, deadlineMs: number, proc: { exited: boolean; logs: () => string }): Promise<void> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (proc.exited) return reject(new Error(`daemon exited during startup:\n${proc.logs()}`));
      if (Date.now() - start > deadlineMs) return reject(new Error(`daemon did not answer on ${socket}:\n${proc.logs()}`));
      const req = http.request({ socketPath: socket, path: '/_ping', method: 'GET' }, (res) => {
        res.resume();
        if (res.statusCode === 200) resolve();
        else setTimeout(tick, 50);
      });
      req.on('error', () => setTimeout(tick, 50));
      req.end();
    };
    tick();
  });
}

/** Unmounts whatever is still mounted below `dir` (deepest first). Returns what it found. */
export function unmountBelow(dir: string): string[] {
  const found: string[] = [];
  const mounts = fs.readFileSync('/proc/self/mounts', 'utf8').split('\n');
  for (const line of mounts) {
    const mp = line.split(' ')[1];
    if (mp && (mp === dir || mp.startsWith(dir + '/'))) found.push(mp.replace(/\\040/g, ' '));
  }
  found.sort((a, b) => b.length - a.length);
  for (const mp of found) {
    try {
      execFileSync('umount', ['-l', mp], { stdio: 'ignore' });
    } catch {
      /* already gone */
    }
  }
  return found;
}

export interface StartOptions {
  kind?: TargetKind;
  extraArgs?: string[];
  /** keep this data root (restart tests) */
  dir?: string;
  /**
   * Give the engine a default bridge of the test's own (see test/helpers/network.ts):
   * `true`, `{ ipv6 }` (the bridge also gets a ULA /64, passed as `--ipv6
   * --fixed-cidr-v6`), or `{ bridge }` to reuse one the test made (restart tests: the
   * test deletes it). Without it both engines run with `--bridge none`.
   */
  network?: boolean | { ipv6?: boolean; bridge?: TestBridge };
}

/** Starts a target on fresh temp paths (or `opts.dir` for restarts). */
export async function startTarget(opts: StartOptions = {}): Promise<Target> {
  const kind = opts.kind ?? targetKind();
  // Short paths: unix socket paths under the exec root (shims/<64-hex id>/console.sock)
  // must fit in 108 bytes.
  const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'stv-'));
  const socket = path.join(dir, 'engine.sock');
  const dataRoot = path.join(dir, 'root');
  const execRoot = path.join(dir, 'e');
  const home = path.join(dir, 'home');
  fs.mkdirSync(home, { recursive: true });
  const pidfile = path.join(dir, 'engine.pid');
  // the default bridge: none (fast, and no two test engines fight over docker0), or the test's own
  let tnet: TargetNetwork | undefined;
  let hostBefore: HostNetState | undefined;
  let registryEntry: string | undefined;
  if (opts.network) {
    const o = opts.network === true ? {} : opts.network;
    tnet = o.bridge ? { bridge: o.bridge, owned: false } : { bridge: createTestBridge({ ipv6: o.ipv6 }), owned: true };
    if (tnet.owned) {
      hostBefore = readHostNetState();
      registryEntry = register(kind, tnet.bridge.name);
    }
  }
  const owned = tnet?.owned ? tnet : undefined;
  const b = tnet?.bridge;
  const bridgeArgs = b ? ['--bridge', b.name, ...(b.subnet6 ? ['--ipv6', '--fixed-cidr-v6', b.subnet6] : [])] : ['--bridge', 'none'];
  let cmd: string;
  let args: string[];
  if (kind === 'stevedore') {
    cmd = process.execPath;
    args = [path.join(ROOT, 'bin', 'stevedored'), '-H', `unix://${socket}`, '--data-root', dataRoot, '--exec-root', execRoot, '--pidfile', pidfile, '--log-level', process.env.STEVEDORE_TEST_LOG_LEVEL ?? 'info', ...bridgeArgs, ...(opts.extraArgs ?? [])];
  } else {
    cmd = 'dockerd';
    // With a network Docker manages iptables (as it does by default) but must never turn
    // on forwarding for the whole host: --ip-forward=false also keeps FORWARD's policy.
    const fwArgs = b ? ['--iptables=true', '--ip-forward=false'] : ['--iptables=false', '--ip-masq=false', '--ip-forward=false'];
    args = ['-H', `unix://${socket}`, '--data-root', dataRoot, '--exec-root', execRoot, '--pidfile', pidfile, ...bridgeArgs, ...fwArgs, '--config-file', path.join(dir, 'daemon.json'), ...(opts.extraArgs ?? [])];
    if (!fs.existsSync(path.join(dir, 'daemon.json'))) fs.writeFileSync(path.join(dir, 'daemon.json'), '{}');
  }
  const logFile = path.join(dir, `${kind}.log`);
  const out = fs.openSync(logFile, 'a');
  const spawnOpts: SpawnOptions = { stdio: ['ignore', out, out], detached: false, env: { ...process.env } };
  const child = spawn(cmd, args, spawnOpts);
  fs.closeSync(out);
  const state = { exited: false, logs: () => fs.readFileSync(logFile, 'utf8') };
  const exited = new Promise<void>((resolve) => child.on('exit', () => ((state.exited = true), resolve())));
  // A test whose `after` fails before `stop()` must still end (and report the failure),
  // not hang on the daemon it started: the child does not hold the test process open,
  // and is killed when the test process exits.
  child.unref();
  const killOnExit = () => {
    if (!state.exited) child.kill('SIGKILL');
  };
  process.on('exit', killOnExit);
  void exited.then(() => process.off('exit', killOnExit));
  try {
    await waitForPing(socket, 30_000, state);
  } catch (err) {
    // a daemon that never answered leaves nothing behind either: its process, mounts, temp dir
    if (!state.exited) {
      child.kill('SIGKILL');
      await exited;
    }
    if (!opts.dir) {
      unmountBelow(dir);
      fs.rmSync(dir, { recursive: true, force: true });
    }
    if (owned) await cleanupNetwork(kind, owned.bridge, [], hostBefore!, registryEntry!);
    throw err;
  }
  const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_HOST: `unix://${socket}`, HOME: home, DOCKER_CONFIG: path.join(home, '.docker'), DOCKER_CLI_HINTS: 'false' };
  delete env.DOCKER_CONTEXT;
  delete env.DOCKER_TLS_VERIFY;

  const target: Target = {
    kind,
    dir,
    socket,
    dockerHost: `unix://${socket}`,
    dataRoot,
    execRoot,
    pid: child.pid!,
    env,
    logs: state.logs,
    docker(dargs, o = {}) {
      return runProcess('docker', dargs, { env: { ...env, ...o.env }, input: o.input ?? '', timeoutMs: o.timeoutMs });
    },
    request(method, urlPath, o = {}) {
      return new Promise((resolve, reject) => {
        const req = http.request({ socketPath: socket, path: urlPath, method, headers: o.headers }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
          res.on('error', reject);
        });
        req.on('error', reject);
        req.end(o.body);
      });
    },
    async stop() {
      // With a network: the test's containers and networks go through the engine first
      // (what it leaves of them is a leftover), and their bridges and subnets are noted.
      // (A bridge the test passed in is the test's to clean: restart tests stop one
      // daemon while its containers keep their network for the next.)
      let nets: EngineNetwork[] = [];
      if (owned && !state.exited) nets = await removeEngineNetworking(target);
      if (!state.exited) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
        await exited;
        clearTimeout(t);
      }
      const problems: string[] = [];
      if (owned && kind === 'stevedore') {
        const nsDir = path.join(execRoot, 'netns');
        const ns = fs.existsSync(nsDir) ? fs.readdirSync(nsDir) : [];
        if (ns.length && !opts.dir) problems.push(`network namespaces left in ${nsDir}: ${ns.join(', ')}`);
      }
      if (!opts.dir) {
        // dockerd with a bridge bind-mounts the host's namespace at <exec-root>/netns/default and leaves it
        const left = unmountBelow(dir).filter((m) => !(kind === 'docker' && tnet && m === path.join(execRoot, 'netns', 'default')));
        fs.rmSync(dir, { recursive: true, force: true });
        if (left.length) problems.push(`mounts left behind by the engine: ${left.join(', ')}`);
      }
      if (owned) problems.push(...(await cleanupNetwork(kind, owned.bridge, nets, hostBefore!, registryEntry!)));
      if (problems.length) throw new Error(problems.join('\n'));
    },
  };
  target.network = tnet;
  return target;
}

/**
 * Before a networked engine stops: removes its containers and user-defined networks
 * through the API (so the engine's own teardown runs) and returns its bridge networks
 * as they were (default bridge included), for the cleanup after the engine is gone.
 */
export async function removeEngineNetworking(t: Pick<Target, 'request' | 'docker'>): Promise<EngineNetwork[]> {
  let nets: EngineNetwork[] = [];
  try {
    const ls = await t.request('GET', '/networks');
    if (ls.status === 200) nets = bridgeNetworksOf(JSON.parse(ls.body));
    const ids = (await t.docker(['ps', '-aq'])).stdout.trim().split('\n').filter(Boolean);
    if (ids.length) await t.docker(['rm', '-f', ...ids]);
    for (const n of nets) if (!['bridge', 'host', 'none'].includes(n.name)) await t.request('DELETE', `/networks/${n.id}`);
  } catch {
    /* the engine is half-dead: the host-side cleanup below still runs */
  }
  return nets;
}

/**
 * Malformed input must be a 400. Docker 20.10 answers some of it (bad JSON bodies, bad
 * filter JSON) with 500, a bug later Docker versions fixed (moby maps JSON syntax errors
 * to invalid-parameter since 23.0); stevedore follows the fixed behaviour, so against
 * the reference engine a 500 is accepted too.
 */
export function assertClientError(t: { kind: TargetKind }, status: number): void {
  const ok = t.kind === 'docker' ? [400, 500] : [400];
  if (!ok.includes(status)) throw new Error(`expected status ${ok.join(' or ')}, got ${status}`);
}

/** Resolves once process `pid` is gone (after a SIGKILL sent by a crash test). */
export async function waitForExit(pid: number): Promise<void> {
  for (;;) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}
