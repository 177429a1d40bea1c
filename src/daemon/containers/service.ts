/**
 * ContainerService: Docker's container semantics over the task service. Owns the
 * container records (ContainerStore), their state machine, their files and writable
 * snapshots, and watches every running task for its exit (restart policies, AutoRemove,
 * waiters). After a daemon restart `restore()` reattaches to live shims (live restore)
 * and records exits that happened while the daemon was down.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Duplex } from 'node:stream';
import { buildSpec, writeBundle, type BuildSpecInput } from '../../engine/bundle';
import type { Spec } from '../../engine/bundle/spec';
import type { ContainerConfig, HostConfig } from '../../engine/bundle/types';
import { conflict, invalidArgument, isNotFound, notModified, StevedoreError } from '../../engine/errdefs';
import type { Logger } from '../../engine/log';
import type { MetadataDB } from '../../engine/metadata';
import { mountVolatile } from '../../engine/mount';
import { RuntimeCreateError, type ExitStatus, type TaskService } from '../../engine/runtime';
import { parseSignal } from '../../engine/runtime/shim-task-service';
import type { EventBus } from '../events/bus';
import { AttachBroker, type AttachRequest, type AttachStream } from './attach';
import { mergeCreateConfig } from './config';
import type { ContainerSnapshots, ImageLookup, Mounter } from './deps';
import { containerPaths, defaultHostname, writeContainerFiles } from './files';
import type { ContainerRecord } from './model';
import { newId, normalizeName, randomName, resolve } from './names';
import { RestartPolicyManager } from './restart';
import { canKill, canPause, canRemove, canRename, canStart, canUnpause, initialState, isRunning, type StateData } from './state';
import { ContainerStore, addGcRef, containerMigrations, nameConflict, removeGcRef } from './store';
import { normalizeHostConfig, parseBind, parseSize, validateHostConfig } from './hostconfig';
import { toSpecResources } from './update';

export { containerMigrations };

export interface ContainerServiceOptions {
  dataRoot: string;
  execRoot: string;
  db: MetadataDB;
  images: ImageLookup;
  snapshots: ContainerSnapshots;
  mounter: Mounter;
  tasks: TaskService;
  events: EventBus;
  log: Logger;
  /** host path of the static init bind-mounted at /sbin/docker-init */
  initPath?: string;
  /** cgroup parent of every container (cgroupfs driver): `/stevedore` */
  cgroupParent?: string;
  cgroupVersion?: 1 | 2;
  /** builds the OCI spec (default: engine/bundle buildSpec) */
  specBuilder?: (input: BuildSpecInput) => Promise<Spec>;
}

export interface CreateRequest {
  name?: string;
  config: ContainerConfig;
  hostConfig: HostConfig;
}

export type { AttachRequest, AttachStream } from './attach';

export type WaitCondition = 'not-running' | 'next-exit' | 'removed';

interface Waiter {
  condition: WaitCondition;
  resolve: (code: number) => void;
}

/** Serialises async operations per key. */
class KeyedMutex {
  private readonly tails = new Map<string, Promise<unknown>>();
  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => {});
    this.tails.set(key, tail);
    try {
      return await next;
    } finally {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}

export class ContainerService {
  private readonly store: ContainerStore;
  private readonly byId = new Map<string, ContainerRecord>();
  private readonly lock = new KeyedMutex();
  private readonly waiters = new Map<string, Waiter[]>();
  private readonly attaches: AttachBroker;
  /** exit-processing promises of containers with a live task */
  private readonly monitors = new Map<string, Promise<void>>();
  /**
   * Runtime teardowns (`runtime delete` through the shim) still running for exited
   * containers. They run beside the daemon's own cleanup instead of before it: the exit
   * is reported and an auto-removed container removed without waiting ~30 ms for the
   * runtime, and only a new start of the same container waits for it.
   */
  private readonly taskDeletes = new Map<string, Promise<void>>();
  /** Containers inside `docker restart`: their exit in between is not an auto-remove (as Docker). */
  private readonly manualRestarts = new Set<string>();
  private readonly restarts: RestartPolicyManager;
  private closed = false;

  constructor(private readonly o: ContainerServiceOptions) {
    o.db.migrate(containerMigrations);
    this.store = new ContainerStore(o.db);
    for (const c of this.store.all()) this.byId.set(c.id, c);
    this.restarts = new RestartPolicyManager((id) => this.restartFromPolicy(id));
    this.attaches = new AttachBroker({ tasks: o.tasks, log: o.log });
  }

  // ---------- lookup ----------

  /** Resolves an id, unique id prefix or name. Throws not-found / invalid-argument (ambiguous). */
  get(ref: string): ContainerRecord {
    return structuredClone(resolve(ref, this.byId.values()));
  }

  /** Every container (copies), oldest first. */
  list(): ContainerRecord[] {
    return [...this.byId.values()].map((c) => structuredClone(c));
  }

  /** Running / paused / stopped totals for `docker info`. */
  counts(): { running: number; paused: number; stopped: number } {
    const out = { running: 0, paused: 0, stopped: 0 };
    for (const c of this.byId.values()) {
      if (c.state.status === 'running') out.running++;
      else if (c.state.status === 'paused') out.paused++;
      else out.stopped++;
    }
    return out;
  }

  /** Ids of containers created from image `imageId` (for rmi's 409). */
  usingImage(imageId: string): string[] {
    return [...this.byId.values()].filter((c) => c.image === imageId).map((c) => c.id);
  }

  paths(id: string) {
    return containerPaths(this.o.dataRoot, id);
  }

  /** Where the container's root filesystem is mounted while it runs. */
  rootfsDir(id: string): string {
    return path.join(this.bundleDir(id), 'rootfs');
  }

  /** The cgroup path (relative to a hierarchy root) of a container. */
  cgroupPath(id: string): string {
    return `${this.o.cgroupParent ?? '/stevedore'}/${id}`;
  }

  get cgroupVersion(): 1 | 2 {
    return this.o.cgroupVersion ?? detectCgroupVersion();
  }

  // ---------- create ----------

  /** Creates a container. Throws not-found for a missing image, conflict for a taken name, invalid-argument. */
  async create(req: CreateRequest): Promise<{ id: string; warnings: string[] }> {
    const name = req.name ? normalizeName(req.name) : randomName((n) => this.nameTaken(n));
    const taken = [...this.byId.values()].find((c) => c.name === name);
    if (taken) throw nameConflict(name, taken.id);
    const imageRef = req.config.Image ?? '';
    if (!imageRef) throw invalidArgument('No image specified');
    const image = await this.o.images.get(imageRef);
    const id = newId();
    const hc = normalizeHostConfig(req.hostConfig);
    validateHostConfig(hc);
    const hostname = req.config.Hostname || defaultHostname(id, hc);
    const { config, path: p, args } = mergeCreateConfig(image.config, { ...req.config, Hostname: hostname }, imageRef);
    const paths = this.paths(id);
    writeContainerFiles(paths, hostname, hc);
    try {
      await this.o.snapshots.prepare(id, image.chainId, { labels: { 'stevedore.container': id } });
    } catch (err) {
      fs.rmSync(paths.dir, { recursive: true, force: true });
      throw err;
    }
    const rec: ContainerRecord = {
      id,
      name,
      created: new Date().toISOString().replace(/Z$/, '') + '000000Z',
      image: image.id,
      imageRef,
      parentSnapshot: image.chainId,
      snapshotKey: id,
      path: p,
      args,
      config,
      hostConfig: hc,
      state: initialState(),
      restartCount: 0,
    };
    try {
      this.store.insert(rec, (db) => addGcRef(db, id));
    } catch (err) {
      await this.o.snapshots.remove(id).catch(() => {});
      fs.rmSync(paths.dir, { recursive: true, force: true });
      throw err;
    }
    this.byId.set(id, rec);
    this.publish(rec, 'create');
    return { id, warnings: [] };
  }

  private nameTaken(n: string): boolean {
    return [...this.byId.values()].some((c) => c.name === n);
  }

  // ---------- start ----------

  /** Starts a container. Throws not-modified if running, conflict if paused or being removed. */
  async start(ref: string): Promise<void> {
    const id = this.get(ref).id;
    await this.lock.run(id, () => this.startLocked(id, false));
  }

  private async startLocked(id: string, fromPolicy: boolean): Promise<void> {
    const c = this.mustGet(id);
    if (c.state.status === 'paused') throw conflict('cannot start a paused container, try unpause instead');
    if (c.state.status === 'running') throw notModified();
    if (!canStart(c.state.status)) throw conflict(`cannot start container ${id} in state ${c.state.status}`);
    if (!fromPolicy) this.restarts.cancel(id);
    await this.taskDeletes.get(id);
    const bundle = this.bundleDir(id);
    const rootfs = path.join(bundle, 'rootfs');
    let mounted = false;
    let created = false;
    try {
      fs.mkdirSync(rootfs, { recursive: true, mode: 0o711 });
      const mounts = await this.o.snapshots.mounts(c.snapshotKey);
      // an auto-removed container's layer is thrown away: no sync of it, ever (mount/volatile.ts)
      if (c.hostConfig.AutoRemove) mountVolatile(mounts, rootfs, (m, t) => this.o.mounter.mountAll(m, t));
      else this.o.mounter.mountAll(mounts, rootfs);
      mounted = true;
      const spec = await this.buildSpecFor(c, rootfs);
      await writeBundle(bundle, spec);
      const lc = c.hostConfig.LogConfig;
      const logCfg = lc?.Config ?? {};
      const { pid } = await this.o.tasks.create({
        id,
        bundle,
        ...(lc?.Type === 'none' ? {} : { logPath: this.paths(id).log }),
        logMaxSize: parseSize(logCfg['max-size']),
        logMaxFiles: logCfg['max-file'] ? Number(logCfg['max-file']) : 1,
        tty: c.config.Tty === true,
        openStdin: c.config.OpenStdin === true,
        stdinOnce: c.config.StdinOnce === true,
      });
      created = true;
      await this.attaches.deliver(id);
      // taken before "start": the shim reports a finish no earlier than its start
      const startedAt = nowIso();
      await this.o.tasks.startCreated(id);
      c.state = {
        ...c.state,
        status: 'running',
        pid,
        exitCode: 0,
        error: '',
        oomKilled: false,
        startedAt,
        finishedAt: c.state.finishedAt,
        manuallyStopped: false,
        hasBeenStarted: true,
      };
      this.save(c);
    } catch (err) {
      if (created) await this.o.tasks.delete(id).catch(() => {});
      if (mounted) this.unmountRootfs(id);
      this.attaches.fail(id);
      const msg = err instanceof Error ? err.message : String(err);
      c.state.exitCode = err instanceof RuntimeCreateError && err.exitCode ? err.exitCode : 128;
      c.state.error = msg;
      if (c.state.status === 'restarting') c.state.status = 'exited';
      this.save(c);
      if (c.hostConfig.AutoRemove) {
        this.notifyWaiters(id, 'exit', c.state.exitCode);
        void this.removeLocked(id, { force: true }).catch(() => {});
      }
      throw err;
    }
    this.publish(c, 'start');
    this.monitor(id);
  }

  /** The spec from the stored config, which already holds the image's values merged at create. */
  private async buildSpecFor(c: ContainerRecord, rootfs: string): Promise<Spec> {
    const p = this.paths(c.id);
    const hc = c.hostConfig;
    const ro = hc.ReadonlyRootfs === true;
    const mounts = [
      { destination: '/etc/resolv.conf', type: 'bind' as const, source: p.resolvConf, propagation: 'rprivate' as const, readOnly: ro },
      { destination: '/etc/hostname', type: 'bind' as const, source: p.hostname, propagation: 'rprivate' as const, readOnly: ro },
      { destination: '/etc/hosts', type: 'bind' as const, source: p.hosts, propagation: 'rprivate' as const, readOnly: ro },
    ];
    for (const b of hc.Binds ?? []) mounts.push(parseBind(b));
    const config = { ...c.config, Entrypoint: c.path ? [c.path] : [], Cmd: c.args };
    const input: BuildSpecInput = {
      id: c.id,
      rootfs,
      imageConfig: {},
      config,
      hostConfig: hc,
      mounts,
      cgroupsPath: this.cgroupPath(c.id),
      cgroupVersion: this.cgroupVersion,
      ...(this.o.initPath ? { initPath: this.o.initPath } : {}),
    };
    const build = this.o.specBuilder ?? ((i: BuildSpecInput) => buildSpec(i));
    return build(input);
  }

  private bundleDir(id: string): string {
    return path.join(this.o.execRoot, 'bundles', id);
  }

  private unmountRootfs(id: string): void {
    const bundle = this.bundleDir(id);
    try {
      this.o.mounter.unmount(path.join(bundle, 'rootfs'));
    } catch (err) {
      this.o.log.warn('cannot unmount container rootfs', { id, err: String(err) });
    }
    fs.rmSync(bundle, { recursive: true, force: true });
  }

  // ---------- exit monitoring ----------

  /** Watches a live task for its exit and records it. */
  private monitor(id: string): void {
    const p = (async () => {
      let st: ExitStatus;
      for (;;) {
        try {
          st = await this.o.tasks.wait(id);
          break;
        } catch (err) {
          if (this.closed) return;
          if (isNotFound(err)) {
            st = { exitCode: 255, oomKilled: false, finishedAt: new Date() };
            break;
          }
          this.o.log.warn('waiting for container failed; retrying', { id, err: String(err) });
          await new Promise((r) => setTimeout(r, 500));
        }
      }
      if (this.closed) return;
      await this.lock.run(id, () => this.handleExit(id, st));
    })();
    const tracked = p.catch((err) => this.o.log.error('container exit handling failed', { id, err: String(err) }));
    this.monitors.set(id, tracked);
    void tracked.finally(() => {
      if (this.monitors.get(id) === tracked) this.monitors.delete(id);
    });
  }

  private async handleExit(id: string, st: ExitStatus): Promise<void> {
    const c = this.byId.get(id);
    if (!c) return;
    this.deleteTask(id);
    this.unmountRootfs(id);
    const s = structuredClone(c);
    s.state = { ...s.state, status: 'exited', pid: 0, exitCode: st.exitCode, oomKilled: st.oomKilled, finishedAt: st.finishedAt.toISOString() };
    const restart = !this.closed && this.restarts.shouldRestart(s);
    const autoRemove = !restart && s.hostConfig.AutoRemove === true && !this.manualRestarts.has(id);
    if (restart) {
      s.state.status = 'restarting';
      s.restartCount++;
    } else if (autoRemove) {
      // the exit and the start of the removal in one transaction (as `removeLocked`
      // would record it next): a daemon killed from here on finishes it at restore
      this.restarts.cancel(id);
      s.state.status = 'removing';
    }
    this.save(s);
    if (st.oomKilled) this.publish(s, 'oom');
    this.publish(s, 'die', { exitCode: String(st.exitCode) });
    this.notifyWaiters(id, 'exit', st.exitCode);
    if (restart) {
      await this.taskDeletes.get(id);
      this.restarts.schedule(s);
    } else if (autoRemove) {
      await this.finishRemoval(s).catch((err) => this.o.log.warn('auto-remove failed', { id, err: String(err) }));
    }
  }

  /** Starts the runtime teardown of an exited task in the background (see taskDeletes). */
  private deleteTask(id: string): void {
    if (this.taskDeletes.has(id)) return;
    const p = this.o.tasks
      .delete(id)
      .catch((err) => this.o.log.warn('task delete failed', { id, err: String(err) }))
      .finally(() => this.taskDeletes.delete(id));
    this.taskDeletes.set(id, p);
  }

  private async restartFromPolicy(id: string): Promise<void> {
    if (this.closed) return;
    await this.lock
      .run(id, async () => {
        const c = this.byId.get(id);
        if (!c || c.state.status !== 'restarting') return;
        await this.startLocked(id, true);
      })
      .catch((err) => this.o.log.warn('restart failed', { id, err: String(err) }));
  }

  // ---------- wait ----------

  /**
   * Resolves with the exit code once the condition holds: `not-running` (at once if
   * not running), `next-exit`, `removed`.
   */
  wait(ref: string, condition: WaitCondition, signal?: AbortSignal): Promise<number> {
    const c = this.get(ref);
    if (condition === 'not-running' && !isRunning(c.state.status) && c.state.status !== 'restarting') {
      return Promise.resolve(c.state.exitCode);
    }
    return new Promise((res, rej) => {
      const w: Waiter = { condition, resolve: res };
      const list = this.waiters.get(c.id) ?? [];
      list.push(w);
      this.waiters.set(c.id, list);
      signal?.addEventListener('abort', () => {
        const l = this.waiters.get(c.id);
        if (l) this.waiters.set(c.id, l.filter((x) => x !== w));
        rej(signal.reason);
      });
    });
  }

  private notifyWaiters(id: string, what: 'exit' | 'removed', code: number): void {
    const list = this.waiters.get(id);
    if (!list) return;
    const keep: Waiter[] = [];
    for (const w of list) {
      if (what === 'removed' || w.condition !== 'removed') w.resolve(code);
      else keep.push(w);
    }
    if (keep.length) this.waiters.set(id, keep);
    else this.waiters.delete(id);
  }

  // ---------- stop / kill / restart ----------

  /** Docker's stop: StopSignal, wait `timeout` s (-1 forever), then SIGKILL. Throws not-modified when not running. */
  async stop(ref: string, timeout?: number, signalOverride?: string): Promise<void> {
    const c = this.get(ref);
    if (!isRunning(c.state.status)) {
      if (c.state.status === 'restarting') {
        this.restarts.cancel(c.id);
        await this.lock.run(c.id, async () => {
          const cur = this.mustGet(c.id);
          if (cur.state.status === 'restarting') {
            cur.state.status = 'exited';
            cur.state.manuallyStopped = true;
            this.save(cur);
          }
        });
        this.publish(c, 'stop');
        return;
      }
      throw notModified();
    }
    this.markManuallyStopped(c.id);
    const t = timeout ?? c.config.StopTimeout ?? 10;
    const sig = signalOverride || c.config.StopSignal || 'SIGTERM';
    const exited = this.exitPromise(c.id);
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
    this.publish(c, 'stop');
  }

  /** Sends a signal. Throws conflict `Container <id> is not running`. */
  async kill(ref: string, signal = 'SIGKILL'): Promise<void> {
    const c = this.get(ref);
    const sig = parseSignal(signal);
    if (!canKill(c.state.status)) throw conflict(`Container ${c.id} is not running`);
    this.markManuallyStopped(c.id);
    const exited = this.exitPromise(c.id);
    await this.signal(c.id, sig);
    if (sig === 9) await exited;
  }

  private async signal(id: string, sig: number | string): Promise<void> {
    const n = parseSignal(sig);
    const c = this.mustGet(id);
    if (!canKill(c.state.status)) throw conflict(`Container ${id} is not running`);
    this.publish(c, 'kill', { signal: String(n) });
    await this.o.tasks.kill(id, n, { all: false });
    if (c.state.status === 'paused' && n === 9) await this.o.tasks.resume(id).catch(() => {});
  }

  private markManuallyStopped(id: string): void {
    this.restarts.cancel(id);
    const c = this.mustGet(id);
    if (!c.state.manuallyStopped) {
      c.state.manuallyStopped = true;
      this.save(c);
    }
  }

  /** Resolves when the container's current task has exited and its exit was recorded. */
  private exitPromise(id: string): Promise<void> {
    const m = this.monitors.get(id);
    return m ? m.then(() => {}) : Promise.resolve();
  }

  async restart(ref: string, timeout?: number): Promise<void> {
    const c = this.get(ref);
    if (isRunning(c.state.status)) {
      // Docker keeps an AutoRemove container through its restart (daemon/restart.go)
      this.manualRestarts.add(c.id);
      try {
        await this.stop(c.id, timeout);
      } catch (err) {
        if (!(err instanceof StevedoreError && err.kind === 'not-modified')) throw err;
      } finally {
        this.manualRestarts.delete(c.id);
      }
    }
    await this.lock.run(c.id, async () => {
      const cur = this.mustGet(c.id);
      if (cur.state.status === 'running') return;
      await this.startLocked(c.id, false);
    });
    this.publish(this.mustGet(c.id), 'restart');
  }

  // ---------- pause / unpause ----------

  async pause(ref: string): Promise<void> {
    const c = this.get(ref);
    await this.lock.run(c.id, async () => {
      const cur = this.mustGet(c.id);
      if (cur.state.status === 'paused') throw conflict(`Container ${c.id} is already paused`);
      if (!canPause(cur.state.status)) throw conflict(`Container ${c.id} is not running`);
      await this.o.tasks.pause(c.id);
      cur.state.status = 'paused';
      this.save(cur);
      this.publish(cur, 'pause');
    });
  }

  async unpause(ref: string): Promise<void> {
    const c = this.get(ref);
    await this.lock.run(c.id, async () => {
      const cur = this.mustGet(c.id);
      if (!canUnpause(cur.state.status)) throw conflict(`Container ${c.id} is not paused`);
      await this.o.tasks.resume(c.id);
      cur.state.status = 'running';
      this.save(cur);
      this.publish(cur, 'unpause');
    });
  }

  // ---------- commit support ----------

  /** The directory holding the container's writable layer (its overlay upper dir). */
  async writableDir(ref: string): Promise<string> {
    const c = this.get(ref);
    const mounts = await this.o.snapshots.mounts(c.snapshotKey);
    for (const m of mounts) {
      if (m.type === 'bind') return m.source;
      const upper = m.options.find((o) => o.startsWith('upperdir='));
      if (upper) return upper.slice('upperdir='.length);
    }
    throw conflict(`container ${c.id} has no writable layer`);
  }

  /** Publishes a container event for an action done outside this service (commit). */
  emit(ref: string, action: string, extra: Record<string, string> = {}): void {
    this.publish(this.get(ref), action, extra);
  }

  // ---------- rename / update ----------

  async rename(ref: string, newName: string): Promise<void> {
    const c = this.get(ref);
    if (!newName) throw invalidArgument('Neither old nor new names may be empty');
    const name = normalizeName(newName);
    await this.lock.run(c.id, async () => {
      const cur = this.mustGet(c.id);
      if (!canRename(cur.state.status)) throw conflict(`Cannot rename container ${c.id} in state ${cur.state.status}`);
      if (cur.name === name) throw invalidArgument('Renaming a container with the same name as its current name');
      const other = [...this.byId.values()].find((x) => x.name === name);
      if (other) throw nameConflict(name, other.id);
      const old = cur.name;
      cur.name = name;
      this.save(cur);
      this.publish(cur, 'rename', { oldName: old });
    });
  }

  /** Updates resources and the restart policy. Returns warnings. */
  async update(ref: string, body: HostConfig): Promise<string[]> {
    const c = this.get(ref);
    return this.lock.run(c.id, async () => {
      const cur = this.mustGet(c.id);
      const next = { ...cur.hostConfig };
      const keys = [
        'CpuShares', 'Memory', 'CpuPeriod', 'CpuQuota', 'CpuRealtimePeriod', 'CpuRealtimeRuntime', 'CpusetCpus', 'CpusetMems',
        'MemoryReservation', 'MemorySwap', 'KernelMemory', 'NanoCpus', 'PidsLimit', 'BlkioWeight',
      ] as const;
      for (const k of keys) if (body[k] !== undefined && body[k] !== null && body[k] !== 0) (next as Record<string, unknown>)[k] = body[k];
      if (body.PidsLimit !== undefined && body.PidsLimit !== null) next.PidsLimit = body.PidsLimit;
      if ((body.NanoCpus ?? 0) > 0 && ((next.CpuQuota ?? 0) > 0 || (next.CpuPeriod ?? 0) > 0) && !body.CpuQuota) {
        throw invalidArgument('Conflicting options: Nano CPUs cannot be updated as CPU Period/Quota has already been set');
      }
      if (body.Memory && body.Memory > 0 && body.Memory < 6 * 1024 * 1024) throw invalidArgument('Minimum memory limit allowed is 6MB');
      if (body.Memory && next.MemorySwap && next.MemorySwap > 0 && body.MemorySwap === undefined && next.MemorySwap < body.Memory) {
        throw invalidArgument('Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time');
      }
      if (body.RestartPolicy && body.RestartPolicy.Name !== undefined) {
        if (cur.hostConfig.AutoRemove && body.RestartPolicy.Name && body.RestartPolicy.Name !== 'no') {
          throw invalidArgument('Restart policy cannot be updated because AutoRemove is enabled for the container');
        }
        next.RestartPolicy = body.RestartPolicy;
      }
      if (isRunning(cur.state.status)) {
        await this.o.tasks.update(c.id, toSpecResources(next, body));
      }
      cur.hostConfig = next;
      this.save(cur);
      this.publish(cur, 'update');
      return [];
    });
  }

  // ---------- remove / prune ----------

  /** Removes a container. Throws conflict when running without force. */
  async remove(ref: string, opts: { force?: boolean } = {}): Promise<void> {
    const c = this.get(ref);
    if (isRunning(c.state.status)) {
      if (!opts.force) {
        throw conflict(`You cannot remove a running container ${c.id}. Stop the container before attempting removal or force remove`);
      }
      this.markManuallyStopped(c.id);
      const exited = this.exitPromise(c.id);
      if (c.state.status === 'paused') await this.o.tasks.resume(c.id).catch(() => {});
      await this.signal(c.id, 'SIGKILL').catch(() => {});
      await exited;
    }
    this.restarts.cancel(c.id);
    await this.lock.run(c.id, () => this.removeLocked(c.id, opts));
  }

  private async removeLocked(id: string, opts: { force?: boolean }): Promise<void> {
    const c = this.byId.get(id);
    if (!c) return;
    if (c.state.status === 'removing') throw conflict(`removal of container ${id} is already in progress`);
    if (!canRemove(c.state.status) && !(opts.force && c.state.status === 'restarting')) {
      throw conflict(`You cannot remove a running container ${id}. Stop the container before attempting removal or force remove`);
    }
    this.restarts.cancel(id);
    c.state.status = 'removing';
    this.save(c);
    await this.finishRemoval(c);
  }

  /**
   * The removal of a container recorded as 'removing': task, rootfs, then its row and
   * its snapshot's row in one transaction (one commit), then the files.
   */
  private async finishRemoval(c: ContainerRecord): Promise<void> {
    const id = c.id;
    const removeWith = this.o.snapshots.removeWith?.bind(this.o.snapshots);
    let snapshotGone = false;
    try {
      // An exited task is already being torn down in the background (deleteTask).
      if (!this.taskDeletes.has(id)) await this.o.tasks.delete(id).catch(() => {});
      // handleExit unmounted it already when the bundle dir is gone
      if (fs.existsSync(this.bundleDir(id))) this.unmountRootfs(id);
      const dropRow = () => this.store.delete(id, (db) => removeGcRef(db, id));
      if (removeWith) {
        try {
          await removeWith(c.snapshotKey, dropRow);
          snapshotGone = true;
        } catch (err) {
          this.o.log.warn('snapshot remove failed (gc will collect it)', { id, err: String(err) });
        }
      }
      if (!snapshotGone) dropRow();
    } catch (err) {
      c.state.status = 'dead';
      c.state.error = String(err);
      this.save(c);
      throw err;
    }
    this.byId.delete(id);
    if (!snapshotGone && !removeWith) {
      await this.o.snapshots.remove(c.snapshotKey).catch((err) => this.o.log.warn('snapshot remove failed (gc will collect it)', { id, err: String(err) }));
    }
    fs.rmSync(this.paths(id).dir, { recursive: true, force: true });
    this.publish(c, 'destroy');
    this.notifyWaiters(id, 'removed', c.state.exitCode);
  }

  /** Removes every stopped container matching `match`. */
  async prune(match: (c: ContainerRecord) => boolean): Promise<{ deleted: string[]; reclaimed: number }> {
    const deleted: string[] = [];
    let reclaimed = 0;
    for (const c of this.list()) {
      if (isRunning(c.state.status) || c.state.status === 'restarting' || c.state.status === 'removing' || !match(c)) continue;
      const size = await this.sizeRw(c.id).catch(() => 0);
      try {
        await this.remove(c.id);
        deleted.push(c.id);
        reclaimed += size;
      } catch (err) {
        this.o.log.warn('prune: cannot remove container', { id: c.id, err: String(err) });
      }
    }
    this.o.events.publish('container', 'prune', '', { reclaimed: String(reclaimed) });
    return { deleted, reclaimed };
  }

  /** Bytes in the container's writable layer. */
  async sizeRw(id: string): Promise<number> {
    const c = this.mustGet(id);
    return (await this.o.snapshots.usage(c.snapshotKey)).size;
  }

  // ---------- attach ----------

  /**
   * The container's stdio for an attach client: at once when it runs, otherwise when
   * it next starts (undefined when it is removed first or its start fails).
   */
  async attachStreams(ref: string, opts: { stdin: boolean; stdout: boolean; stderr: boolean }, signal?: AbortSignal): Promise<Duplex | undefined> {
    const r = await this.attachClient(ref, { stdin: opts.stdin, stdout: opts.stdout, stderr: opts.stderr }, signal);
    return r === 'handed' ? undefined : r; // never 'handed' without a connection to hand over
  }

  /**
   * attachStreams for a client whose connection may be handed to the task: with
   * `handOver` and no stdin the task takes the connection over when it can ('handed');
   * otherwise, or when it cannot, the client gets a stream to splice.
   */
  async attachClient(ref: string, opts: AttachRequest, signal?: AbortSignal): Promise<AttachStream> {
    const c = this.get(ref);
    if (!isRunning(c.state.status)) return this.attaches.whenStarted(c.id, opts, signal);
    try {
      return await this.attaches.connect(c.id, opts);
    } catch (err) {
      if (!this.byId.has(c.id) || !isRunning(this.mustGet(c.id).state.status)) return undefined;
      throw err;
    }
  }

  /** Publishes `attach` (the route calls it once the stream is set up). */
  attached(id: string): void {
    const c = this.byId.get(id);
    if (c) this.publish(c, 'attach');
  }

  async resize(ref: string, h: number, w: number): Promise<void> {
    const c = this.get(ref);
    if (!isRunning(c.state.status)) throw conflict(`Container ${c.id} is not running`);
    if (c.config.Tty) await this.o.tasks.resize(c.id, h, w).catch(() => {});
    this.publish(c, 'resize', { height: String(h), width: String(w) });
  }

  /** Host pids of a running container. Throws conflict when not running. */
  async pids(ref: string): Promise<number[]> {
    const c = this.get(ref);
    if (!isRunning(c.state.status)) throw conflict(`Container ${c.id} is not running`);
    return this.o.tasks.ps(c.id);
  }

  // ---------- live restore ----------

  /**
   * After a daemon (re)start: reattaches to every live task, records the exits of
   * tasks that ended while the daemon was away, and applies restart policies.
   */
  async restore(): Promise<void> {
    const tasks = new Set(await this.o.tasks.list().catch(() => [] as string[]));
    const live = { has: (id: string) => tasks.has(id) || tasks.has(id.slice(0, 32)) };
    for (const c of [...this.byId.values()]) {
      if (c.state.status === 'removing') {
        await this.lock.run(c.id, async () => {
          c.state.status = 'dead';
          this.save(c);
          await this.removeLocked(c.id, { force: true }).catch(() => {});
        });
        continue;
      }
      if (!isRunning(c.state.status)) {
        if (live.has(c.id)) await this.o.tasks.delete(c.id).catch(() => {});
        if (c.state.status === 'restarting') {
          c.state.status = 'exited';
          this.save(c);
        }
        continue;
      }
      if (live.has(c.id)) {
        const st = await this.o.tasks.state(c.id).catch(() => 'stopped' as const);
        if (st === 'running' || st === 'paused') {
          if (st !== c.state.status) {
            c.state.status = st;
            this.save(c);
          }
          this.monitor(c.id);
          continue;
        }
        this.monitor(c.id); // stopped: wait() returns the recorded status at once
        continue;
      }
      await this.lock.run(c.id, () => this.handleExit(c.id, { exitCode: 255, oomKilled: false, finishedAt: new Date() }));
    }
    for (const c of [...this.byId.values()]) {
      if (c.state.status === 'exited' && this.restarts.shouldRestartOnBoot(c)) this.restarts.schedule(c, 0);
    }
  }

  /** Stops watching (live restore keeps the containers running). */
  async close(): Promise<void> {
    this.closed = true;
    this.restarts.close();
    await Promise.all(this.taskDeletes.values());
    this.attaches.close();
  }

  // ---------- helpers ----------

  private mustGet(id: string): ContainerRecord {
    const c = this.byId.get(id);
    if (!c) throw resolve(id, []);
    return c;
  }

  private save(c: ContainerRecord): void {
    this.store.save(c);
    this.byId.set(c.id, c);
  }

  private publish(c: ContainerRecord, action: string, extra: Record<string, string> = {}): void {
    const attrs: Record<string, string> = { ...(c.config.Labels ?? {}), image: c.imageRef, name: c.name.slice(1), ...extra };
    this.o.events.publish('container', action, c.id, attrs);
  }

  /** The state as last recorded (for views). */
  stateOf(id: string): StateData {
    return structuredClone(this.mustGet(id).state);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}

function nowIso(): string {
  return new Date().toISOString();
}

/** 2 when /sys/fs/cgroup is the unified hierarchy, else 1. */
export function detectCgroupVersion(): 1 | 2 {
  return fs.existsSync('/sys/fs/cgroup/cgroup.controllers') ? 2 : 1;
}

