/**
 * The container lifecycle under the per-container lock: start (the start hooks, the
 * spec, the bundle, the task), stop, kill, restart, pause, unpause, and the starts made
 * by restart policies and at daemon boot. Every status change goes through
 * `ContainerCore.setStatus` (state.ts `transition`).
 *
 * Decisions are made under the lock, so that a restart timer firing, a start and a
 * stop or kill cannot interleave between a check and what follows it: a stop or kill of
 * a container in back-off cancels its restart under the lock, and a policy restart that
 * gets the lock afterwards finds it `exited` (issue #12, races 2 and 3).
 */
import * as fs from 'node:fs';
import { buildSpec, type BuildSpecInput } from './spec';
import type { Spec } from '../../engine/oci/spec';
import type { TaskIO } from '../../engine/containers';
import { conflict, notModified, StevedoreError } from '../../engine/errdefs';
import { parseSignal, RuntimeCreateError } from '../../engine/runtime';
import { nowRfc3339Nano } from '../../engine/clock';
import type { ContainerCore } from './core';
import { parseSize } from './hostconfig';
import type { Prepared, StartHook } from './hooks';
import type { ContainerRecord } from './model';
import type { ExitMonitor } from './monitor';
import { canKill, canPause, canStart, canUnpause, isRunning } from './state';

export class Lifecycle {
  constructor(
    private readonly k: ContainerCore,
    private readonly monitor: ExitMonitor,
    /** removal.ts: the auto-removal of a container whose start failed */
    private readonly removeFailed: (id: string) => Promise<void>,
  ) {}

  // ---------- start ----------

  /** Starts a container. Throws not-modified if running, conflict if paused or being removed. */
  async start(ref: string): Promise<void> {
    const id = this.k.get(ref).id;
    await this.k.lock.run(id, () => this.startLocked(id, false));
  }

  /**
   * The start, under the lock, on the engine's run sequence (engine/containers): the
   * task's shim started (it waits at its gate), and meanwhile the rootfs mounted, the
   * start hooks in order (a failure releases the ones prepared, in reverse, then the
   * rootfs, and the shim leaves), the spec from what they returned; the bundle written
   * from it and the task created; then attach clients get their streams, the task runs,
   * and the start and the spec (on the engine's record) are recorded in one commit.
   */
  async startLocked(id: string, fromPolicy: boolean): Promise<void> {
    const k = this.k;
    const c = k.mustGet(id);
    if (c.state.status === 'paused') throw conflict('cannot start a paused container, try unpause instead');
    if (c.state.status === 'running') throw notModified();
    if (k.removals.has(id)) throw conflict('container is marked for removal and cannot be started');
    if (!canStart(c.state.status)) throw conflict(`cannot start container ${id} in state ${c.state.status}`);
    if (!fromPolicy) k.restarts.cancel(id);
    await k.flushUnsaved(c);
    await k.taskDeletes.get(id);
    const ctx = k.startContext(c);
    const prepared: StartHook[] = [];
    let created = false;
    let specMade: Promise<Spec> | undefined;
    try {
      // the engine's run sequence (engine/containers): its record (made here for a
      // container created before engine records existed), then the task: its shim starts
      // first and waits at its gate until the bundle is written from the spec that the
      // steps below make (a failure there cancels it, with its reason), so that the shim's
      // start overlaps them. The spec goes on the engine's record in the commit that records
      // the start (below): exec reads it only from a running container, and a task whose
      // start was never recorded is deleted at restore
      k.engine.ensure({ id, snapshotKey: c.snapshotKey, runtime: { name: c.hostConfig.Runtime || 'runc' } });
      const lc = c.hostConfig.LogConfig;
      const logCfg = lc?.Config ?? {};
      const io: TaskIO = {
        // the shim's sink: Docker's json-file driver, or none
        log: lc?.Type === 'none' ? { kind: 'none' } : { kind: 'json-file', path: k.paths(id).log, maxSize: parseSize(logCfg['max-size']), maxFiles: logCfg['max-file'] ? Number(logCfg['max-file']) : 1 },
        tty: c.config.Tty === true,
        openStdin: c.config.OpenStdin === true,
        stdinOnce: c.config.StdinOnce === true,
      };
      // the snapshot mounted at the bundle's rootfs — volatile for an auto-removed
      // container, whose layer is thrown away — and meanwhile the leading hooks that never
      // look into the rootfs (the network hook); the others after, in order; then the spec
      // from what they returned. It begins once createTask below has started the shim.
      const parts: Prepared[] = [];
      const first = k.hooks.findIndex((h) => !h.withoutRootfs);
      const early = first < 0 ? k.hooks : k.hooks.slice(0, first);
      const prepare = async (hooks: readonly StartHook[]) => {
        for (const h of hooks) {
          const p = await h.prepare(ctx);
          prepared.push(h);
          if (p) parts.push(p);
        }
      };
      specMade = Promise.resolve().then(async () => {
        const [hooked, mounted] = await Promise.allSettled([prepare(early), k.engine.mount(id, { volatile: c.hostConfig.AutoRemove === true })]);
        if (hooked.status === 'rejected') throw hooked.reason;
        if (mounted.status === 'rejected') throw mounted.reason;
        await prepare(k.hooks.slice(early.length));
        return this.buildSpecFor(c, ctx.rootfs, parts);
      });
      const { pid } = await k.engine.createTask(id, io, { spec: specMade });
      created = true;
      const spec = await specMade;
      await k.attaches.deliver(id);
      // taken before "start": the shim reports a finish no earlier than its start
      const startedAt = nowRfc3339Nano();
      await k.engine.start(id);
      const next = structuredClone(c);
      next.state = { ...next.state, pid, exitCode: 0, error: '', oomKilled: false, startedAt, manuallyStopped: false, hasBeenStarted: true };
      k.setStatus(next, 'start');
      k.o.db.tx(() => {
        k.engine.update(id, { spec });
        k.save(next);
      });
    } catch (err) {
      if (created) await k.tasks.delete(id).catch(() => {});
      // a create refused before the bundle was ready leaves the preparation running: it
      // ends before the release
      await specMade?.catch(() => {});
      // the prepared hooks in reverse, then the rootfs (ContainerCore.releaseHooks)
      await k.releaseHooks(c, 'failed-start', { hooks: prepared });
      k.attaches.fail(id);
      const msg = err instanceof Error ? err.message : String(err);
      c.state.exitCode = err instanceof RuntimeCreateError && err.exitCode ? err.exitCode : 128;
      c.state.error = msg;
      k.setStatus(c, 'start-failed');
      k.save(c);
      if (c.hostConfig.AutoRemove) {
        k.notifyWaiters(id, 'exit', c.state.exitCode);
        void this.removeFailed(id).catch(() => {});
      }
      throw err;
    }
    const started = k.mustGet(id);
    k.publish(started, 'start');
    this.monitor.watch(id);
  }

  /**
   * The one spec-building call of the start path: the stored config (image values merged
   * at create) and what the start hooks returned (mounts in hook order, a netns path, env).
   */
  private async buildSpecFor(c: ContainerRecord, rootfs: string, parts: readonly Prepared[]): Promise<Spec> {
    const k = this.k;
    const mounts = parts.flatMap((p) => p.mounts ?? []);
    const netnsPath = parts.reduce<string | undefined>((acc, p) => p.netnsPath ?? acc, undefined);
    const env = parts.flatMap((p) => p.env ?? []);
    const config = { ...c.config, Entrypoint: c.path ? [c.path] : [], Cmd: c.args, ...(env.length ? { Env: [...(c.config.Env ?? []), ...env] } : {}) };
    const input: BuildSpecInput = {
      id: c.id,
      rootfs,
      imageConfig: {},
      config,
      hostConfig: c.hostConfig,
      mounts,
      ...(netnsPath ? { netnsPath } : {}),
      cgroupsPath: `${k.o.cgroupParent ?? '/stevedore'}/${c.id}`,
      cgroupVersion: k.o.cgroupVersion ?? detectCgroupVersion(),
      ...(k.o.initPath ? { initPath: k.o.initPath } : {}),
    };
    const build = k.o.specBuilder ?? ((i: BuildSpecInput) => buildSpec(i));
    return build(input);
  }

  /** A restart policy's start, when its back-off ends: only of a container still `restarting`. */
  async restartFromPolicy(id: string): Promise<void> {
    const k = this.k;
    if (k.closed) return;
    await k.lock
      .run(id, async () => {
        const c = k.byId.get(id);
        if (!c || c.state.status !== 'restarting' || c.state.manuallyStopped || k.removals.has(id)) return;
        await this.startLocked(id, true);
      })
      .catch((err) => k.log.warn('restart failed', { id, err: String(err) }));
  }

  /**
   * A start at daemon boot (restore): `always` containers, and `unless-stopped` ones not
   * stopped by the user, that are not running (Docker's restore).
   */
  async startOnBoot(id: string): Promise<void> {
    const k = this.k;
    if (k.closed) return;
    await k.lock
      .run(id, async () => {
        const c = k.byId.get(id);
        if (!c || c.state.status !== 'exited' || k.removals.has(id) || !k.restarts.shouldRestartOnBoot(c)) return;
        await this.startLocked(id, true);
      })
      .catch((err) => k.log.warn('restart at daemon start failed', { id, err: String(err) }));
  }

  // ---------- stop / kill / restart ----------

  /**
   * Docker's stop: `signalOverride` (API 1.42's `signal` query, which wins) or the
   * container's StopSignal, wait `timeout` s (-1 forever), then SIGKILL. A container in
   * restart back-off is stopped where it is (its restart cancelled). Throws not-modified
   * when not running, internal (Docker's 500) for a bad `signalOverride`.
   */
  async stop(ref: string, timeout?: number, signalOverride?: string): Promise<void> {
    const k = this.k;
    const c = k.get(ref);
    const what = await k.lock.run(c.id, async () => {
      const cur = k.mustGet(c.id);
      if (cur.state.status !== 'restarting' && !isRunning(cur.state.status)) throw notModified();
      // API 1.42's `signal`, checked once the container is known to run
      checkStopSignal(signalOverride, `cannot stop container: ${ref}`);
      if (cur.state.status === 'restarting') return this.cancelRestart(cur);
      this.markManuallyStopped(cur.id);
      return 'running' as const;
    });
    if (what === 'cancelled') {
      k.publish(c, 'stop');
      return;
    }
    const t = timeout ?? c.config.StopTimeout ?? 10;
    const sig = signalOverride || c.config.StopSignal || 'SIGTERM';
    const exited = this.monitor.exited(c.id);
    try {
      await this.signal(c.id, sig);
    } catch (err) {
      if (!(err instanceof StevedoreError && err.kind === 'conflict')) throw err;
    }
    let done = false;
    if (t < 0) {
      await exited;
      done = true;
    } else {
      done = await Promise.race([exited.then(() => true), sleep(t * 1000).then(() => false)]);
    }
    if (!done) {
      await this.signal(c.id, 'SIGKILL').catch(() => {});
      await exited;
    }
    k.publish(c, 'stop');
  }

  /**
   * Sends a signal. A container in restart back-off is stopped where it is (its restart
   * cancelled), as Docker's kill does. Throws conflict `Container <id> is not running`.
   */
  async kill(ref: string, signal = 'SIGKILL'): Promise<void> {
    const k = this.k;
    const c = k.get(ref);
    const sig = parseSignal(signal);
    const what = await k.lock.run(c.id, async () => {
      const cur = k.mustGet(c.id);
      if (cur.state.status === 'restarting') return this.cancelRestart(cur);
      if (!canKill(cur.state.status)) throw conflict(`Container ${c.id} is not running`);
      this.markManuallyStopped(cur.id);
      return 'running' as const;
    });
    if (what === 'cancelled') return;
    const exited = this.monitor.exited(c.id);
    await this.signal(c.id, sig);
    if (sig === 9) await exited;
    else this.persistManualStop(c.id);
  }

  /** Under the lock: a container in back-off is stopped by the user (no restart, `exited`, manually stopped). */
  private cancelRestart(c: ContainerRecord): 'cancelled' {
    this.k.restarts.cancel(c.id);
    c.state.manuallyStopped = true;
    this.k.setStatus(c, 'cancel-restart');
    this.k.saveOrRetry(c);
    return 'cancelled';
  }

  /** Signals the task. Throws conflict when the container is not running. */
  async signal(id: string, sig: number | string): Promise<void> {
    const k = this.k;
    const n = parseSignal(sig);
    const c = k.mustGet(id);
    if (!canKill(c.state.status)) throw conflict(`Container ${id} is not running`);
    k.publish(c, 'kill', { signal: String(n) });
    await k.tasks.kill(id, n, { all: false });
    if (c.state.status === 'paused' && n === 9) await k.tasks.resume(id).catch(() => {});
  }

  /**
   * Marks the container stopped by the user, in memory: no metadata write stands before
   * the signal (on a full data root it would fail and the container would go on filling
   * it). The flag is written with the exit record, or by persistManualStop when the
   * signal leaves the container running.
   */
  markManuallyStopped(id: string): void {
    this.k.restarts.cancel(id);
    this.k.mustGet(id).state.manuallyStopped = true;
  }

  /** Writes the manual-stop flag of a container still running after its signal (as Docker's kill). */
  private persistManualStop(id: string): void {
    const c = this.k.byId.get(id);
    if (c && isRunning(c.state.status) && c.state.manuallyStopped) this.k.saveOrRetry(c);
  }

  /**
   * Docker's restart: the stop (with `signalOverride`, API 1.42's `signal`, in place of the
   * StopSignal) of a running container, then its start. A bad signal of a running
   * container is Docker's 500 `Cannot restart container <ref>: invalid signal: <v>`.
   */
  async restart(ref: string, timeout?: number, signalOverride?: string): Promise<void> {
    const k = this.k;
    const c = k.get(ref);
    // moby counts a container in restart back-off as running (State.SetRestarting): its
    // restart stops it first (a `stop` event, the back-off cancelled), `signal` checked
    if (isRunning(c.state.status) || c.state.status === 'restarting') {
      checkStopSignal(signalOverride, `Cannot restart container ${ref}`);
      // Docker keeps an AutoRemove container through its restart (daemon/restart.go)
      k.manualRestarts.add(c.id);
      try {
        await this.stop(c.id, timeout, signalOverride);
      } catch (err) {
        if (!(err instanceof StevedoreError && err.kind === 'not-modified')) throw err;
      } finally {
        k.manualRestarts.delete(c.id);
      }
    }
    await k.lock.run(c.id, async () => {
      const cur = k.mustGet(c.id);
      if (cur.state.status === 'running') return;
      await this.startLocked(c.id, false);
    });
    k.publish(k.mustGet(c.id), 'restart');
  }

  // ---------- pause / unpause ----------

  async pause(ref: string): Promise<void> {
    const k = this.k;
    const c = k.get(ref);
    await k.lock.run(c.id, async () => {
      const cur = k.mustGet(c.id);
      if (cur.state.status === 'paused') throw conflict(`Container ${c.id} is already paused`);
      if (!canPause(cur.state.status)) throw conflict(`Container ${c.id} is not running`);
      await k.tasks.pause(c.id);
      k.setStatus(cur, 'pause');
      k.save(cur);
      k.publish(cur, 'pause');
    });
  }

  async unpause(ref: string): Promise<void> {
    const k = this.k;
    const c = k.get(ref);
    await k.lock.run(c.id, async () => {
      const cur = k.mustGet(c.id);
      if (!canUnpause(cur.state.status)) throw conflict(`Container ${c.id} is not paused`);
      await k.tasks.resume(c.id);
      k.setStatus(cur, 'unpause');
      k.save(cur);
      k.publish(cur, 'unpause');
    });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}

/** 2 when /sys/fs/cgroup is the unified hierarchy, else 1. */
/**
 * API 1.42's `signal` of a stop or restart: moby's containerStop refuses a bad one with an
 * InvalidParameter that ContainerStop / ContainerRestart wrap into a system error, a 500
 * (`<what>: invalid signal: <v>`).
 */
function checkStopSignal(signal: string | undefined, what: string): void {
  if (!signal) return;
  try {
    parseSignal(signal);
  } catch {
    throw new StevedoreError('internal', `${what}: invalid signal: ${signal}`);
  }
}

export function detectCgroupVersion(): 1 | 2 {
  return fs.existsSync('/sys/fs/cgroup/cgroup.controllers') ? 2 : 1;
}
