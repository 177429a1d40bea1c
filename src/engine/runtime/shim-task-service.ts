/**
 * TaskService over `stevedore-shim`: one shim per container, found through its state
 * dir `<execRoot>/shims/<id>/`. This object keeps no per-container state in memory, so
 * a fresh instance (after a daemon restart) sees every task a previous one started.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { conflict, internal, invalidArgument, notFound, notImplemented, StevedoreError } from '../errdefs';
import { projectRoot } from '../sys/project';
import { type ReadyPipeProcess, spawnWithReadyPipe } from '../sys/spawn';
import type { Seccomp } from '../oci/spec';
import { compileSeccomp } from '../sys/seccomp';
import { directExecBlocker, encodeEnterSpec } from './enter-spec';
import { RuntimeCreateError, lastRuntimeError } from './errors';
import { type RuntimeConfig, RuntimeCommandError, runRuntime } from './runtime-cli';
import { type ShimProtocol, isShimGone, shimAttach, shimAttachFd, shimHello, shimRequest, shimStreamRequest } from './shim-client';
import { parseSignal } from './signals';
import type { AttachOptions, ExecProcessOptions, ExitStatus, Framing, LinuxResources, LogSink, StartOptions, TaskExec, TaskService, TaskState } from './types';

/** Where and with what the service runs tasks. */
export interface ShimTaskServiceOptions {
  /** The daemon's exec root (e.g. /run/stevedore); state dirs go under `shims/`. */
  execRoot: string;
  /** Runtime binary for new tasks: "runc" (default), "crun" or a path. */
  runtime?: string;
  /** The runtime's --root; default `<execRoot>/runtime/<basename(runtime)>`. */
  runtimeRoot?: string;
  /** Extra global runtime flags (e.g. --systemd-cgroup). */
  runtimeArgs?: string[];
  /** The shim binary; default `<projectRoot>/native/shim/stevedore-shim`. */
  shimPath?: string;
  /**
   * How exec processes start: "direct" (default) — the shim enters the container
   * itself, falling back to the runtime for what it leaves to it; "runtime" — always
   * `runtime exec`.
   */
  execMode?: 'direct' | 'runtime';
  /** Compiles a seccomp profile to its BPF program; default the native compiler. */
  compileSeccomp?: (profile: Seccomp) => Buffer | undefined;
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const EXEC_ID_RE = /^[0-9a-f]{1,64}$/;
/** sockaddr_un.sun_path holds 108 bytes including the NUL. */
const MAX_SOCK_PATH = 107;

/** How long a shim whose create failed gets to undo it and exit before its state dir is removed anyway. */
const SHIM_EXIT_PATIENCE_MS = 10_000;

/** What the shim was started with; kept in the state dir as shim.json. */
interface ShimRecord extends RuntimeConfig {
  bundle: string;
  tty: boolean;
  /**
   * What the shim answered to `hello` (asked once, at the first request that depends
   * on it); absent until then. A shim of an older stevedore, found by live restore,
   * answers protocol 1: its capabilities are found by trying, as before `hello`.
   */
  protocol?: ShimProtocol;
  /** the identity of the shim binary that was started (ShimTaskService.binaryIdentity) */
  binary?: string;
}

export class ShimTaskService implements TaskService, TaskExec {
  private readonly shimsDir: string;
  private readonly runtime: RuntimeConfig;
  private readonly shimPath: string;
  private readonly execMode: 'direct' | 'runtime';
  private readonly compileSeccomp: (profile: Seccomp) => Buffer | undefined;
  /**
   * What our own shim binary answers to `hello`, learned from the first shim this
   * service started (keyed by the binary's identity, so a binary replaced under a
   * running daemon is asked again): every later shim it starts has the answer written
   * into its shim.json at create, and its first attach or exec skips the round trip.
   */
  private ownProtocol: { binary: string; protocol: ShimProtocol } | undefined;
  /**
   * Each task's shim.json as read or written once (it changes only when `hello` is
   * answered, below): every attach, start, wait, kill and delete looked it up, ~7 reads
   * and parses of the file per `docker run`. Dropped at delete.
   */
  private readonly records = new Map<string, ShimRecord>();

  constructor(opts: ShimTaskServiceOptions) {
    const runtime = opts.runtime ?? 'runc';
    this.shimsDir = path.join(opts.execRoot, 'shims');
    this.runtime = {
      runtime,
      root: opts.runtimeRoot ?? path.join(opts.execRoot, 'runtime', path.basename(runtime)),
      args: opts.runtimeArgs ?? [],
    };
    this.shimPath = opts.shimPath ?? path.join(projectRoot(), 'native', 'shim', 'stevedore-shim');
    this.execMode = opts.execMode ?? 'direct';
    this.compileSeccomp = opts.compileSeccomp ?? ((p) => compileSeccomp(p));
  }

  async create(opts: StartOptions): Promise<{ pid: number }> {
    opts.signal?.throwIfAborted();
    if (!ID_RE.test(opts.id)) throw invalidArgument(`invalid container id: ${JSON.stringify(opts.id)}`);
    if (!path.isAbsolute(opts.bundle)) throw invalidArgument('bundle path must be absolute');
    const sink = sinkArgs(sinkOf(opts));
    const dir = this.dir(opts.id);
    if (path.join(dir, 'console.sock').length > MAX_SOCK_PATH) {
      throw invalidArgument(`exec root too long for unix sockets: ${dir}`);
    }
    if (fs.existsSync(dir)) {
      if (this.shimAlive(opts.id) || fs.existsSync(path.join(dir, 'exit.json'))) {
        throw conflict(`task ${opts.id} already exists`);
      }
      fs.rmSync(dir, { recursive: true, force: true }); // leftover of a crashed create
    }
    this.records.delete(opts.id); // read from a leftover, or kept by a delete that failed
    fs.mkdirSync(this.runtime.root, { recursive: true, mode: 0o700 });
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const binary = this.binaryIdentity();
    const known = this.ownProtocol && this.ownProtocol.binary === binary ? this.ownProtocol.protocol : undefined;
    const record: ShimRecord = { ...this.runtime, bundle: opts.bundle, tty: opts.tty, ...(known ? { protocol: known } : {}), ...(binary ? { binary } : {}) };
    fs.writeFileSync(path.join(dir, 'shim.json'), JSON.stringify(record));

    const args = ['--id', opts.id, '--bundle', opts.bundle, '--state-dir', dir, '--runtime', this.runtime.runtime,
      '--runtime-root', this.runtime.root, '--ready-fd', '3'];
    for (const a of this.runtime.args) args.push('--runtime-arg', a);
    args.push(...sink);
    if (opts.tty) args.push('--tty');
    if (opts.openStdin) args.push('--stdin');
    if (opts.stdinOnce) args.push('--stdin-once');
    if (opts.bundleReady) args.push('--gate');

    let shim: ReadyPipeProcess;
    try {
      shim = this.spawnShim(args);
    } catch (err) {
      fs.rmSync(dir, { recursive: true, force: true });
      throw err;
    }
    shim.line.catch(() => {}); // awaited below, perhaps only after bundleReady
    if (opts.bundleReady) {
      // the shim starts (exec, daemonize, its pid file) while the caller mounts and
      // writes the bundle; it creates the container on "go" — or leaves at EOF
      try {
        await opts.bundleReady;
      } catch (err) {
        shim.cancel();
        await shim.line.catch(() => ''); // its end of the socket closes as it exits
        this.abandonCreate(opts.id, dir);
        throw err;
      }
      shim.go();
    }
    let line: string;
    try {
      line = await shim.line;
    } catch (err) {
      this.abandonCreate(opts.id, dir);
      throw internal(`shim ready pipe: ${(err as Error).message}`, err);
    }
    const ok = /^ok (\d+)$/.exec(line);
    if (!ok) {
      // A shim whose create failed reports it first, then undoes the runtime's half
      // (`runtime delete`, which still writes runtime.log in the state dir) and exits:
      // its files are complete, and the dir can go, only once it is gone. The shim
      // daemonizes, so the process to wait for is the one in shim.pid.
      const shimPid = this.shimPid(opts.id);
      if (shimPid) await waitGone(shimPid, SHIM_EXIT_PATIENCE_MS);
      const msg = lastRuntimeError(path.join(dir, 'runtime.log'));
      const shimLog = readSmall(path.join(dir, 'shim.log'));
      this.abandonCreate(opts.id, dir);
      if (/^error create/.test(line) && msg) throw new RuntimeCreateError(msg, 'create');
      throw internal(`shim failed to create ${opts.id}: ${line || shimLog.trim() || 'no reply'}`);
    }
    this.records.set(opts.id, record);
    if (opts.signal?.aborted) {
      await this.delete(opts.id).catch(() => {});
      opts.signal.throwIfAborted();
    }
    return { pid: Number(ok[1]) };
  }

  async startCreated(id: string): Promise<void> {
    const reply = await this.request(id, 'start');
    if (reply !== 'ok') {
      const msg = lastRuntimeError(path.join(this.dir(id), 'runtime.log'));
      if (msg) throw new RuntimeCreateError(msg, 'start');
      throw internal(`cannot start ${id}: ${reply.replace(/^error /, '')}`);
    }
  }

  async start(opts: StartOptions): Promise<{ pid: number }> {
    const r = await this.create(opts);
    try {
      await this.startCreated(opts.id);
    } catch (err) {
      await this.delete(opts.id).catch(() => {});
      throw err;
    }
    return r;
  }

  async attach(id: string, opts: AttachOptions): Promise<Duplex> {
    const framing = await this.framingFor(id, opts.framing);
    try {
      return await shimAttach(this.sock(id), opts.stdin, opts.stdout, opts.stderr, framing);
    } catch (err) {
      if (isShimGone(err)) throw conflict(`container ${id} is not running`);
      throw err;
    }
  }

  async attachOutput(id: string, opts: { stdout: boolean; stderr: boolean; framing?: Framing }, client: Socket): Promise<void> {
    const framing = await this.framingFor(id, opts.framing);
    const proto = await this.protocol(id);
    if (proto.version >= 2 && !proto.capabilities.includes('attach-fd')) throw notImplemented('the shim cannot take over a connection');
    try {
      await shimAttachFd(this.sock(id), client, opts.stdout, opts.stderr, framing);
    } catch (err) {
      if (isShimGone(err)) throw conflict(`container ${id} is not running`);
      throw err;
    }
    // the shim holds its own copy now: closing ours does not end the connection
    client.destroy();
  }

  async kill(id: string, signal: number | string, opts: { all?: boolean } = {}): Promise<void> {
    const rec = this.record(id);
    const sig = parseSignal(signal);
    try {
      await runRuntime(rec, ['kill', ...(opts.all ? ['--all'] : []), id, String(sig)]);
    } catch (err) {
      if (err instanceof RuntimeCommandError && (err.notRunning || err.notExist || fs.existsSync(this.exitFile(id)))) {
        throw conflict(`Container ${id} is not running`, err);
      }
      throw asInternal(err);
    }
  }

  async wait(id: string, opts: { signal?: AbortSignal } = {}): Promise<ExitStatus> {
    this.record(id);
    const done = this.readExit(id);
    if (done) return done;
    try {
      const reply = await shimRequest(this.sock(id), 'wait', opts.signal);
      const m = /^exit (\{.*\})$/.exec(reply);
      if (!m) throw internal(`unexpected reply from shim: ${reply}`);
      return parseExit(m[1]);
    } catch (err) {
      opts.signal?.throwIfAborted();
      const again = this.readExit(id);
      if (again) return again;
      if (isShimGone(err) || (err instanceof StevedoreError && err.kind === 'unavailable')) {
        // The shim died without recording a status: Docker reports 255 in that case.
        return { exitCode: 255, oomKilled: false, finishedAt: new Date() };
      }
      throw err;
    }
  }

  async resize(id: string, height: number, width: number): Promise<void> {
    if (!Number.isInteger(height) || !Number.isInteger(width) || height < 0 || width < 0 || height > 65535 || width > 65535) {
      throw invalidArgument('invalid terminal size');
    }
    const reply = await this.request(id, `resize ${height} ${width}`);
    if (reply !== 'ok') throw conflict(reply.replace(/^error /, ''));
  }

  async closeStdin(id: string): Promise<void> {
    const reply = await this.request(id, 'close-stdin');
    if (reply !== 'ok') throw internal(reply.replace(/^error /, ''));
  }

  async exec(id: string, opts: ExecProcessOptions): Promise<{ pid: number; stream?: Duplex }> {
    if (!EXEC_ID_RE.test(opts.execId)) throw invalidArgument(`invalid exec id: ${JSON.stringify(opts.execId)}`);
    this.record(id);
    const dir = this.dir(id);
    const logPath = path.join(dir, 'runtime.log');
    const logSize = fileSize(logPath);
    const a = opts.attach;
    const detached = !a.stdin && !a.stdout && !a.stderr;
    // a shim that says it cannot enter gets `runtime exec` at once; one of protocol 1
    // (an older stevedore's, kept by live restore) is tried, as before `hello`
    const proto = await this.protocol(id);
    const mode = proto.version >= 2 && !proto.capabilities.includes('enter') ? 'runtime' : this.execMode;
    let { reply, stream } = await this.requestExec(id, this.writeExecSpec(id, opts, mode), opts);
    if (reply === 'error unknown request' && mode === 'direct') {
      // a shim started by an older stevedore (kept by live restore) knows only `exec`
      stream.destroy();
      ({ reply, stream } = await this.requestExec(id, this.writeExecSpec(id, opts, 'runtime'), opts));
    }
    const ok = /^ok (\d+)$/.exec(reply);
    if (!ok) {
      stream.destroy();
      const why = reply.replace(/^error /, '');
      if (why === 'exec failed') {
        const msg = fileSize(logPath) > logSize ? lastRuntimeError(logPath) : undefined;
        throw new RuntimeCreateError(msg ?? 'exec failed', 'exec');
      }
      if (why === 'container is not running') throw conflict(`Container ${id} is not running`);
      throw conflict(why);
    }
    if (detached) {
      stream.destroy();
      return { pid: Number(ok[1]) };
    }
    return { pid: Number(ok[1]), stream };
  }

  /** Sends the exec request for a spec written by writeExecSpec (removed once answered). */
  private async requestExec(id: string, spec: { verb: 'enter' | 'exec'; file: string }, opts: ExecProcessOptions): Promise<{ reply: string; stream: Duplex }> {
    const a = opts.attach;
    const line = `${spec.verb} ${opts.execId} ${opts.tty ? 1 : 0} ${opts.openStdin ? 1 : 0} ${a.stdin ? 1 : 0} ${a.stdout ? 1 : 0} ${a.stderr ? 1 : 0}`;
    try {
      return await shimStreamRequest(this.sock(id), line);
    } catch (err) {
      if (isShimGone(err)) throw conflict(`Container ${id} is not running`, err);
      throw err;
    } finally {
      fs.rmSync(spec.file, { force: true });
    }
  }

  /**
   * Writes what the shim needs to start the exec: `exec-<eid>.enter` for the shim to
   * enter the container itself (request `enter`), or the OCI process as
   * `exec-<eid>.json` for `runtime exec` (request `exec`) when the container uses
   * something the direct path leaves to the runtime (see directExecBlocker).
   */
  private writeExecSpec(id: string, opts: ExecProcessOptions, mode: 'direct' | 'runtime'): { verb: 'enter' | 'exec'; file: string } {
    const dir = this.dir(id);
    const proc = opts.process;
    if (mode === 'direct' && directExecBlocker(opts.linux, proc) === undefined) {
      const seccomp = opts.linux.seccomp ? this.seccompProgram(dir, opts.linux.seccomp) : undefined;
      const file = path.join(dir, `exec-${opts.execId}.enter`);
      fs.writeFileSync(file, encodeEnterSpec(proc, { keyring: `_ses.${id}`, ...(seccomp ? { seccomp } : {}) }), { mode: 0o600 });
      return { verb: 'enter', file };
    }
    const file = path.join(dir, `exec-${opts.execId}.json`);
    fs.writeFileSync(file, JSON.stringify(proc), { mode: 0o600 });
    return { verb: 'exec', file };
  }

  /**
   * The container's seccomp filter, compiled once per task (`seccomp.bpf` in its state
   * dir); undefined when the profile turns seccomp off.
   */
  private seccompProgram(dir: string, profile: Seccomp): string | undefined {
    const name = 'seccomp.bpf';
    const file = path.join(dir, name);
    if (!fs.existsSync(file)) {
      const program = this.compileSeccomp(profile);
      if (!program) return undefined;
      const tmp = `${file}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, program, { mode: 0o600 });
      fs.renameSync(tmp, file);
    }
    return name;
  }

  async waitExec(id: string, execId: string, opts: { signal?: AbortSignal } = {}): Promise<ExitStatus> {
    if (!EXEC_ID_RE.test(execId)) throw notFound(`No such exec instance: ${execId}`);
    this.record(id);
    const file = path.join(this.dir(id), `exec-${execId}.exit`);
    const read = () => {
      try {
        return parseExit(fs.readFileSync(file, 'utf8'));
      } catch {
        return undefined;
      }
    };
    const done = read();
    if (done) return done;
    let reply: string;
    try {
      reply = await shimRequest(this.sock(id), `wait-exec ${execId}`, opts.signal);
    } catch (err) {
      opts.signal?.throwIfAborted();
      const again = read();
      if (again) return again;
      if (isShimGone(err) || (err instanceof StevedoreError && err.kind === 'unavailable')) {
        return { exitCode: 255, oomKilled: false, finishedAt: new Date() };
      }
      throw err;
    }
    const m = /^exit (\{.*\})$/.exec(reply);
    if (!m) throw notFound(`No such exec instance: ${execId}`);
    return parseExit(m[1]!);
  }

  async resizeExec(id: string, execId: string, height: number, width: number): Promise<void> {
    if (!Number.isInteger(height) || !Number.isInteger(width) || height < 0 || width < 0 || height > 65535 || width > 65535) {
      throw invalidArgument('invalid terminal size');
    }
    if (!EXEC_ID_RE.test(execId)) throw notFound(`No such exec instance: ${execId}`);
    const reply = await this.request(id, `resize-exec ${execId} ${height} ${width}`);
    if (reply !== 'ok') throw conflict(reply.replace(/^error /, ''));
  }

  async pause(id: string): Promise<void> {
    await this.runtimeOp(id, ['pause', id]);
  }

  async resume(id: string): Promise<void> {
    await this.runtimeOp(id, ['resume', id]);
  }

  async update(id: string, resources: LinuxResources): Promise<void> {
    const file = path.join(this.dir(id), 'update.json');
    fs.writeFileSync(file, JSON.stringify(resources));
    try {
      await this.runtimeOp(id, ['update', '--resources', file, id]);
    } finally {
      fs.rmSync(file, { force: true });
    }
  }

  async ps(id: string): Promise<number[]> {
    const out = await this.runtimeOp(id, ['ps', '--format', 'json', id]);
    const pids: unknown = JSON.parse(out.trim() || '[]');
    if (!Array.isArray(pids) || !pids.every((p) => Number.isInteger(p))) throw internal('unexpected ps output from runtime');
    return pids as number[];
  }

  async state(id: string): Promise<TaskState> {
    const rec = this.record(id);
    try {
      const st = JSON.parse(await runRuntime(rec, ['state', id])) as { status?: string };
      if (st.status === 'created' || st.status === 'running' || st.status === 'paused' || st.status === 'stopped') {
        return st.status;
      }
      throw internal(`unexpected runtime status: ${String(st.status)}`);
    } catch (err) {
      if (fs.existsSync(this.exitFile(id))) return 'stopped';
      if (err instanceof RuntimeCommandError && err.notExist) return 'stopped';
      throw asInternal(err);
    }
  }

  async delete(id: string): Promise<void> {
    const rec = this.record(id);
    try {
      await this.tearDown(id, rec);
    } finally {
      // (a lookup meanwhile, a kill or wait racing the delete, read it again)
      this.records.delete(id);
    }
  }

  /** A create that failed: its state directory goes, and the record a lookup meanwhile may have read. */
  private abandonCreate(id: string, dir: string): void {
    fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3, retryDelay: 10 });
    this.records.delete(id);
  }

  private async tearDown(id: string, rec: ShimRecord): Promise<void> {
    const shimPid = this.shimPid(id);
    let deleted = false;
    if (shimPid && this.shimAlive(id)) {
      try {
        deleted = (await shimRequest(this.sock(id), 'delete')) === 'ok';
      } catch (err) {
        if (!isShimGone(err) && !(err instanceof StevedoreError && err.kind === 'unavailable')) throw err;
      }
      await waitGone(shimPid, 5000);
    }
    if (!deleted) {
      try {
        await runRuntime(rec, ['delete', '--force', id]);
      } catch (err) {
        if (!(err instanceof RuntimeCommandError && err.notExist)) throw asInternal(err);
      }
    }
    // on libuv's threads: a sync removal held the daemon's thread ~1 ms per task
    await fs.promises.rm(this.dir(id), { recursive: true, force: true, maxRetries: 2 });
  }

  async list(): Promise<string[]> {
    let names: string[];
    try {
      names = fs.readdirSync(this.shimsDir);
    } catch {
      return [];
    }
    // Every task with a record: live, exited, or with a dead shim (wait() then reports
    // 255 and delete() cleans up), so a restarted daemon can reconcile all of them.
    return names.filter((id) => ID_RE.test(id) && fs.existsSync(path.join(this.shimsDir, id, 'shim.json'))).sort();
  }

  // ---- helpers ----

  private dir(id: string): string {
    if (!ID_RE.test(id)) throw notFound(`No such container: ${id}`);
    return path.join(this.shimsDir, id);
  }

  private sock(id: string): string {
    return path.join(this.dir(id), 'shim.sock');
  }

  /** The shim binary's identity (device, inode, size, mtime), or '' when it cannot be read. */
  private binaryIdentity(): string {
    try {
      const st = fs.statSync(this.shimPath, { bigint: true });
      return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}`;
    } catch {
      return '';
    }
  }

  private exitFile(id: string): string {
    return path.join(this.dir(id), 'exit.json');
  }

  /** The runtime config the task was created with; not-found when there is no task. */
  private record(id: string): ShimRecord {
    const kept = this.records.get(id);
    if (kept) return kept;
    try {
      const r = JSON.parse(fs.readFileSync(path.join(this.dir(id), 'shim.json'), 'utf8')) as ShimRecord;
      if (typeof r.runtime !== 'string' || typeof r.root !== 'string' || !Array.isArray(r.args)) throw new Error('bad record');
      this.records.set(id, r);
      return r;
    } catch (err) {
      throw notFound(`No such container: ${id}`, err);
    }
  }

  /**
   * The shim's protocol: recorded in shim.json, asked with `hello` the first time (a
   * shim of an older stevedore answers "error unknown request": protocol 1). Throws
   * conflict when the shim is gone.
   */
  private async protocol(id: string): Promise<ShimProtocol> {
    const rec = this.record(id);
    if (rec.protocol) return rec.protocol;
    let proto: ShimProtocol;
    try {
      proto = await shimHello(this.sock(id));
    } catch (err) {
      if (isShimGone(err)) throw conflict(`container ${id} is not running`, err);
      throw err;
    }
    // a shim this daemon's binary made (same identity as now): later creates know the answer
    if (rec.binary && rec.binary === this.binaryIdentity()) this.ownProtocol = { binary: rec.binary, protocol: proto };
    const file = path.join(this.dir(id), 'shim.json');
    const tmp = `${file}.${process.pid}.tmp`;
    try {
      fs.writeFileSync(tmp, JSON.stringify({ ...rec, protocol: proto }));
      fs.renameSync(tmp, file);
      if (this.records.get(id) === rec) this.records.set(id, { ...rec, protocol: proto });
    } catch {
      fs.rmSync(tmp, { force: true }); // deleted meanwhile: nothing to record
    }
    return proto;
  }

  /**
   * The framing to ask the shim for: undefined (the shim's default, by the task's tty)
   * when that is what the caller wants or it did not say; the word otherwise, which
   * only a shim with the "framing" capability understands (not-implemented for older).
   */
  private async framingFor(id: string, want: Framing | undefined): Promise<Framing | undefined> {
    const rec = this.record(id);
    const byTty: Framing = rec.tty ? 'raw' : 'stdcopy';
    const proto = await this.protocol(id);
    if (proto.capabilities.includes('framing')) return want ?? byTty;
    if (want === undefined || want === byTty) return undefined;
    throw notImplemented(`the shim of ${id} frames its output by the container's tty only`);
  }

  private async request(id: string, line: string): Promise<string> {
    this.record(id);
    try {
      return await shimRequest(this.sock(id), line);
    } catch (err) {
      if (isShimGone(err)) throw conflict(`Container ${id} is not running`, err);
      throw err;
    }
  }

  private async runtimeOp(id: string, cmd: string[]): Promise<string> {
    const rec = this.record(id);
    try {
      return await runRuntime(rec, cmd);
    } catch (err) {
      if (err instanceof RuntimeCommandError && (err.notExist || err.notRunning)) {
        throw conflict(`Container ${id} is not running`, err);
      }
      throw asInternal(err);
    }
  }

  private readExit(id: string): ExitStatus | undefined {
    let text: string;
    try {
      text = fs.readFileSync(this.exitFile(id), 'utf8');
    } catch {
      return undefined;
    }
    return parseExit(text);
  }

  private shimPid(id: string): number | undefined {
    const n = Number(readSmall(path.join(this.dir(id), 'shim.pid')).trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  }

  /** The shim recorded in shim.pid is running (and is a shim, not a reused pid). */
  private shimAlive(id: string): boolean {
    const pid = this.shimPid(id);
    return pid !== undefined && isShimProcess(pid);
  }

  /**
   * Starts the shim and returns the first line it writes on fd 3 ("" on EOF). It is
   * started with posix_spawn (sys/spawn.ts), not child_process: a fork of the daemon
   * stops its event loop for 5–15 ms per container start. Its first process exits once
   * the shim has daemonized and is reaped in the background.
   */
  private spawnShim(args: string[]): ReadyPipeProcess {
    try {
      return spawnWithReadyPipe(this.shimPath, args);
    } catch (err) {
      throw internal(`cannot start shim ${this.shimPath}: ${(err as Error).message}`, err);
    }
  }
}

/** The sink a create asked for: `log`, else the json-file of `logPath`, else none. */
function sinkOf(opts: StartOptions): LogSink {
  if (opts.log) return opts.log;
  if (!opts.logPath) return { kind: 'none' };
  return { kind: 'json-file', path: opts.logPath, maxSize: opts.logMaxSize, maxFiles: opts.logMaxFiles };
}

/** The shim's arguments for a sink (docs/shim.md, "Sinks"). Throws invalid-argument. */
export function sinkArgs(sink: LogSink): string[] {
  const count = (n: number | undefined) => (n !== undefined && n > 0 ? Math.floor(n) : undefined);
  switch (sink.kind) {
    case 'none':
      return [];
    case 'json-file': {
      // the driver is the shim's default for --log: the arguments of earlier releases
      const args = ['--log', path.resolve(sink.path)];
      const size = count(sink.maxSize);
      const files = count(sink.maxFiles);
      if (size) args.push('--log-max-size', String(size));
      if (files) args.push('--log-max-files', String(files));
      return args;
    }
    case 'cri': {
      const args = ['--log-driver', 'cri', '--log', path.resolve(sink.path)];
      if (sink.maxLineSize !== undefined) {
        if (!Number.isInteger(sink.maxLineSize) || sink.maxLineSize < 1 || sink.maxLineSize > 1 << 20) {
          throw invalidArgument(`invalid CRI max line size: ${sink.maxLineSize}`);
        }
        args.push('--log-max-line', String(sink.maxLineSize));
      }
      return args;
    }
    case 'binary': {
      if (!path.isAbsolute(sink.path)) throw invalidArgument(`logging binary must be an absolute path: ${sink.path}`);
      const args = ['--log-driver', 'binary', '--log', sink.path];
      const extra = sink.args ?? [];
      const env = Object.entries(sink.env ?? {});
      if (extra.length > 32 || env.length > 32) throw invalidArgument('too many logging binary arguments');
      for (const a of extra) args.push('--log-arg', a);
      for (const [k, v] of env) {
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw invalidArgument(`invalid environment variable name: ${k}`);
        args.push('--log-env', `${k}=${v}`);
      }
      if (sink.namespace) args.push('--namespace', sink.namespace);
      return args;
    }
  }
}

function parseExit(json: string): ExitStatus {
  const e = JSON.parse(json) as { exitCode?: unknown; signal?: unknown; oomKilled?: unknown; finishedAt?: unknown };
  if (typeof e.exitCode !== 'number' || typeof e.finishedAt !== 'string') throw internal('corrupt exit status');
  const st: ExitStatus = { exitCode: e.exitCode, oomKilled: e.oomKilled === true, finishedAt: new Date(e.finishedAt), finishedAtText: e.finishedAt };
  if (typeof e.signal === 'number' && e.signal > 0) st.signal = e.signal;
  return st;
}

function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

function readSmall(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').slice(0, 65536);
  } catch {
    return '';
  }
}

function isShimProcess(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return false;
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0].endsWith('stevedore-shim');
  } catch {
    return false;
  }
}

async function waitGone(pid: number, ms: number): Promise<void> {
  for (let waited = 0; waited < ms && isShimProcess(pid); waited += 10) await sleep(10);
}

function asInternal(err: unknown): unknown {
  if (err instanceof RuntimeCommandError) return internal(err.message, err);
  return err;
}
