/**
 * The previous release of stevedore, built from git for the in-place upgrade test
 * (test/e2e/upgrade.test.ts), and a starter for its daemon.
 *
 * The previous release is one commit, {@link PREVIOUS_RELEASE}, overridable with
 * `STEVEDORE_PREVIOUS_RELEASE=<rev>`. It is exported with `git archive` into a
 * directory of its own under os.tmpdir() (the checkout's working tree and index are
 * never touched) and built there: TypeScript with tsc, the native addon and the shim
 * with its own `scripts/build-native.sh`. Its node_modules is a symlink to this
 * checkout's when both package-lock.json files are identical, else its own `npm ci`.
 * The build is cached, keyed by the commit and Node's ABI, and reused by later runs;
 * the cache is left in place on purpose (remove `$TMPDIR/stevedore-previous-*` to
 * rebuild).
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { type CliResult, runProcess } from './process';

const run = promisify(execFile);

/** The last landed commit before issue #12's reshape: "docs: output pipes grown where they are made". */
export const PREVIOUS_RELEASE = '98a879d31a91c773a94cb7b2297c8c527c5a76dd';

/** This checkout (dist/test/helpers → the project root). */
export const CHECKOUT = path.resolve(__dirname, '..', '..', '..');

export interface PreviousRelease {
  /** the full commit hash that was built */
  commit: string;
  /** the built project root: bin/stevedored, dist/, native/ */
  root: string;
  /** true when an earlier run's build was reused */
  cached: boolean;
  /** how long finding or building it took */
  ms: number;
  /** how node_modules was provided */
  nodeModules: 'symlink' | 'npm ci';
}

/** The previous release's commit, or why it cannot be had (not a git checkout, a shallow clone…). */
export function resolvePreviousRelease(): { commit: string } | { skip: string } {
  const rev = process.env.STEVEDORE_PREVIOUS_RELEASE || PREVIOUS_RELEASE;
  if (!fs.existsSync(path.join(CHECKOUT, '.git'))) return { skip: `${CHECKOUT} is not a git checkout, so the previous release (${rev}) cannot be built` };
  try {
    const commit = execFileSync('git', ['-C', CHECKOUT, 'rev-parse', '--verify', '--quiet', `${rev}^{commit}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return { commit };
  } catch {
    return { skip: `git history lacks the previous release ${rev} (a shallow clone? fetch it, or set STEVEDORE_PREVIOUS_RELEASE)` };
  }
}

interface Stamp {
  commit: string;
  abi: string;
  nodeModules: 'symlink' | 'npm ci';
}

function readStamp(root: string): Stamp | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(root, '.stevedore-previous.json'), 'utf8')) as Stamp;
  } catch {
    return undefined;
  }
}

function sameFile(a: string, b: string): boolean {
  try {
    return fs.readFileSync(a).equals(fs.readFileSync(b));
  } catch {
    return false;
  }
}

async function step(what: string, cmd: string, args: string[], cwd: string): Promise<void> {
  try {
    await run(cmd, args, { cwd, maxBuffer: 64 << 20, env: { ...process.env } });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`building the previous release: ${what} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

/**
 * Builds the previous release (or reuses an earlier run's build of the same commit).
 * Throws if any step fails, with that step's output.
 */
export async function buildPreviousRelease(commit: string): Promise<PreviousRelease> {
  const started = Date.now();
  const root = path.join(os.tmpdir(), `stevedore-previous-${commit.slice(0, 12)}-abi${process.versions.modules}`);
  const stamp = readStamp(root);
  if (stamp && stamp.commit === commit) {
    // A symlinked node_modules is only right while the two lock files still agree.
    const stale = stamp.nodeModules === 'symlink' && !sameFile(path.join(root, 'package-lock.json'), path.join(CHECKOUT, 'package-lock.json'));
    if (!stale) return { commit, root, cached: true, ms: Date.now() - started, nodeModules: stamp.nodeModules };
  }
  // Build beside the cache and rename into place, so a half-done build is never reused.
  const work = fs.mkdtempSync(`${root}.building-`);
  try {
    await step('git archive', 'bash', ['-o', 'pipefail', '-c', 'git -C "$1" archive "$2" | tar -x -C "$3"', 'archive', CHECKOUT, commit, work], work);
    let nodeModules: Stamp['nodeModules'];
    if (sameFile(path.join(work, 'package-lock.json'), path.join(CHECKOUT, 'package-lock.json'))) {
      fs.symlinkSync(path.join(CHECKOUT, 'node_modules'), path.join(work, 'node_modules'));
      nodeModules = 'symlink';
    } else {
      await step('npm ci', 'npm', ['ci', '--ignore-scripts=false', '--no-audit', '--no-fund'], work);
      nodeModules = 'npm ci';
    }
    await step('tsc', process.execPath, [path.join(work, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(work, 'tsconfig.json')], work);
    await step('build-native.sh', 'bash', ['scripts/build-native.sh'], work);
    for (const f of ['bin/stevedored', 'dist/src/cli/stevedored.js', 'native/shim/stevedore-shim', 'native/addon/build/Release/stevedore_native.node']) {
      if (!fs.existsSync(path.join(work, f))) throw new Error(`building the previous release: ${f} is missing after the build`);
    }
    const s: Stamp = { commit, abi: process.versions.modules, nodeModules };
    fs.writeFileSync(path.join(work, '.stevedore-previous.json'), JSON.stringify(s));
    // Another run may have finished the same build meanwhile (and be using it): keep theirs.
    if (!stamp && readStamp(root)?.commit === commit) {
      fs.rmSync(work, { recursive: true, force: true });
    } else {
      fs.rmSync(root, { recursive: true, force: true });
      fs.renameSync(work, root);
    }
    return { commit, root, cached: false, ms: Date.now() - started, nodeModules };
  } catch (err) {
    fs.rmSync(work, { recursive: true, force: true });
    throw err;
  }
}

/** A daemon of the previous release, started by {@link startPreviousDaemon}. */
export interface PreviousDaemon {
  pid: number;
  dir: string;
  /** runs the docker CLI against it */
  docker(args: string[], opts?: { timeoutMs?: number }): Promise<CliResult>;
  /** its stderr so far */
  logs(): string;
  /** SIGTERM, then waits for it to exit (SIGKILL after 20 s); resolves to its exit code */
  stop(): Promise<number | null>;
}

/** Runs the docker CLI with `env`. */
export function dockerCli(env: NodeJS.ProcessEnv, args: string[], timeoutMs = 120_000): Promise<CliResult> {
  return runProcess('docker', args, { env, timeoutMs });
}

/**
 * Starts the previous release's daemon in `dir` with the paths and flags that
 * test/helpers/target.ts gives stevedore (engine.sock, root/, e/, engine.pid, home/), so
 * that `startTarget({ dir })` later starts the current daemon on the same roots. Its
 * stderr goes to `dir/previous.log`.
 */
export async function startPreviousDaemon(prev: PreviousRelease, dir: string): Promise<PreviousDaemon> {
  const socket = path.join(dir, 'engine.sock');
  const home = path.join(dir, 'home');
  fs.mkdirSync(home, { recursive: true });
  const args = [
    path.join(prev.root, 'bin', 'stevedored'),
    '-H', `unix://${socket}`,
    '--data-root', path.join(dir, 'root'),
    '--exec-root', path.join(dir, 'e'),
    '--pidfile', path.join(dir, 'engine.pid'),
    '--log-level', process.env.STEVEDORE_TEST_LOG_LEVEL ?? 'info',
  ];
  const logFile = path.join(dir, 'previous.log');
  const out = fs.openSync(logFile, 'a');
  const child = spawn(process.execPath, args, { stdio: ['ignore', out, out], env: { ...process.env } });
  fs.closeSync(out);
  const logs = () => fs.readFileSync(logFile, 'utf8');
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve((exitCode = code))));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exitCode !== undefined) throw new Error(`the previous release's daemon exited during startup:\n${logs()}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the previous release's daemon did not answer on ${socket}:\n${logs()}`);
    }
    const ok = await new Promise<boolean>((resolve) => {
      const req = http.request({ socketPath: socket, path: '/_ping' }, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      });
      req.on('error', () => resolve(false));
      req.end();
    });
    if (ok) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_HOST: `unix://${socket}`, HOME: home, DOCKER_CONFIG: path.join(home, '.docker'), DOCKER_CLI_HINTS: 'false' };
  delete env.DOCKER_CONTEXT;
  delete env.DOCKER_TLS_VERIFY;
  return {
    pid: child.pid!,
    dir,
    logs,
    docker: (a, o = {}) => dockerCli(env, a, o.timeoutMs),
    async stop() {
      if (exitCode === undefined) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
        await exited;
        clearTimeout(t);
      }
      return exitCode ?? null;
    },
  };
}
