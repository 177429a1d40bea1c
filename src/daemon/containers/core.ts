/**
 * What the parts of the container service share: the records in memory and on disk, the
 * per-container lock, waiters, attach clients, the exit bookkeeping, and the one way a
 * status changes (`setStatus` → state.ts `transition`). The parts are the lifecycle
 * (lifecycle.ts), the exit monitor (monitor.ts), removal (removal.ts) and restore
 * (restore.ts); service.ts is the facade over them that the API routes use.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BuildSpecInput } from './spec';
import type { Spec } from '../../engine/oci/spec';
import { EngineContainers } from '../../engine/containers';
import type { Logger } from '../../engine/log';
import { MOBY_NAMESPACE, type MetadataDB } from '../../engine/metadata';
import type { TaskService } from '../../engine/runtime';
import type { EventBus } from '../events/bus';
import { AttachBroker } from './attach';
import type { ContainerSnapshots, ImageLookup, Mounter } from './deps';
import { containerPaths, discardContainerDir, discardedContainerDirs, type ContainerPaths } from './files';
import type { NetworkHookDeps, StartContext, StartHook, VolumeMounts } from './hooks';
import type { ContainerRecord } from './model';
import { resolve } from './names';
import { type Clock, RestartPolicyManager } from './restart';
import { transition, type StateEvent } from './state';
import { ContainerStore } from './store';

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
  /** builds the OCI spec (default: ./spec buildSpec, Docker 20.10's createSpec) */
  specBuilder?: (input: BuildSpecInput) => Promise<Spec>;
  /** the start hooks, in order (default: hooks/index.ts defaultStartHooks) */
  hooks?: StartHook[];
  /** timers of restart back-offs (default: the real ones; tests pass a manual clock) */
  clock?: Clock;
  /** volumes: resolved at create, removed with `rm -v` (volumes/service.ts); without it, volume mounts are refused */
  volumes?: ContainerVolumes;
  /**
   * The engine's containers (engine/containers) the starts run on, in namespace `moby`
   * with bundles at `<execRoot>/bundles/<id>` (default: made over db, snapshots, mounter
   * and tasks; the composition root passes its own, which exec reads specs from).
   */
  engine?: EngineContainers;
  /**
   * Networking (docs/networking/containers.md): namespaces, the network service, ports,
   * the daemon's settings. Without it a container gets a new namespace with `lo` only
   * (the spec's), as before networking, and user networks are refused.
   */
  network?: Omit<NetworkHookDeps, 'lookup' | 'log'>;
}

/** What the container service needs of the volume service (mount points at create, anonymous volumes at removal). */
export interface ContainerVolumes extends VolumeMounts {
  /** Gets or creates a volume for a container being created (volumes/mountpoints.ts MountPointDeps.volume). */
  forContainer(name: string | undefined, o: { driver?: string; options?: Record<string, string>; labels?: Record<string, string> }, containerId: string): { name: string; driver: string; mountpoint: string };
  /** Runs `fn` on a volume's data directory (mounted for it if it has driver options), without events. */
  withData?<T>(name: string, fn: (dir: string) => T): T;
  /** The create of the container is over (recorded or failed): its volumes are no longer held as pending. */
  settled(containerId: string): void;
  /** The container is gone: with `removeAnonymous`, its anonymous volumes nobody else uses go too. */
  containerRemoved(c: ContainerRecord, removeAnonymous: boolean): void;
}

export type WaitCondition = 'not-running' | 'next-exit' | 'removed';

interface Waiter {
  condition: WaitCondition;
  resolve: (code: number) => void;
}

/** Serialises async operations per key. */
export class KeyedMutex {
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

  /**
   * Takes the key's turn and keeps it until the returned function is called (for an
   * operation that outlives one call, such as a copy whose stream ends later).
   */
  async hold(key: string): Promise<() => void> {
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let acquired!: () => void;
    const turn = new Promise<void>((r) => (acquired = r));
    void this.run(key, async () => {
      acquired();
      await released;
    });
    await turn;
    let done = false;
    return () => {
      if (!done) {
        done = true;
        release();
      }
    };
  }
}

export class ContainerCore {
  readonly store: ContainerStore;
  readonly byId = new Map<string, ContainerRecord>();
  readonly lock = new KeyedMutex();
  readonly attaches: AttachBroker;
  readonly restarts: RestartPolicyManager;
  readonly hooks: StartHook[];
  /** the engine's record and run sequence of each container (rootfs, spec, bundle, task) */
  readonly engine: EngineContainers;
  /** exit-processing promises of containers with a live task */
  readonly monitors = new Map<string, Promise<void>>();
  /**
   * Runtime teardowns (`runtime delete` through the shim) still running for exited
   * containers. They run beside the daemon's own cleanup instead of before it: the exit
   * is reported and an auto-removed container removed without waiting ~30 ms for the
   * runtime, and only a new start of the same container waits for it.
   */
  readonly taskDeletes = new Map<string, Promise<void>>();
  /** Containers inside `docker restart`: their exit in between is not an auto-remove (as Docker). */
  readonly manualRestarts = new Set<string>();
  /**
   * Containers a forced removal has claimed (Docker's RemovalInProgress): no start, user's
   * or policy's, runs for them any more, so `rm -f` cannot lose to a start.
   */
  readonly removals = new Set<string>();
  /** background work (`later`): removed containers' files */
  private readonly background = new Set<Promise<void>>();
  closed = false;
  private readonly waiters = new Map<string, Waiter[]>();
  /**
   * Records whose last change could not be written (a full data root: the write failed
   * with `database or disk is full`): kept in memory, written again with back-off, and
   * `then` (what an exit does once it is recorded) runs after. See saveOrRetry.
   */
  private readonly unsaved = new Map<string, { delay: number; timer?: NodeJS.Timeout; then: Array<() => Promise<void>> }>();

  constructor(
    readonly o: ContainerServiceOptions,
    hooks: StartHook[],
    restartFromPolicy: (id: string) => Promise<void>,
  ) {
    this.store = new ContainerStore(o.db);
    for (const c of this.store.all()) this.byId.set(c.id, c);
    this.hooks = hooks;
    this.engine =
      o.engine ??
      new EngineContainers({ db: o.db, namespace: MOBY_NAMESPACE, snapshots: o.snapshots, mounter: o.mounter, tasks: o.tasks, bundleDir: (id) => path.join(o.execRoot, 'bundles', id), log: o.log });
    this.restarts = new RestartPolicyManager(restartFromPolicy, o.clock);
    this.attaches = new AttachBroker({ tasks: o.tasks, log: o.log });
  }

  get log(): Logger {
    return this.o.log;
  }

  get tasks(): TaskService {
    return this.o.tasks;
  }

  /** Resolves an id, unique id prefix or name (a copy). Throws not-found / invalid-argument. */
  get(ref: string): ContainerRecord {
    return structuredClone(resolve(ref, this.byId.values()));
  }

  mustGet(id: string): ContainerRecord {
    const c = this.byId.get(id);
    if (!c) throw resolve(id, []);
    return c;
  }

  paths(id: string): ContainerPaths {
    return containerPaths(this.o.dataRoot, id);
  }

  /**
   * A removed container's own directory (log, hostname, hosts, resolv.conf, network.json):
   * renamed away now, deleted on libuv's threads after the removal is reported (`drain`
   * waits for it). A crash in between leaves it under its discarded name, which restore
   * deletes (`sweepDiscarded`).
   */
  discardFiles(id: string): void {
    let gone: string | undefined;
    try {
      gone = discardContainerDir(this.paths(id), id);
    } catch (err) {
      // the removal is committed: it is reported all the same
      this.o.log.warn('cannot remove the container\'s directory', { id, err: String(err) });
    }
    if (gone) this.removeLater(gone);
  }

  /** At restore: deletes what removals a crash cut off left of their containers' directories. */
  sweepDiscarded(): void {
    for (const dir of discardedContainerDirs(this.o.dataRoot)) this.removeLater(dir);
  }

  private removeLater(dir: string): void {
    this.later(() => fs.promises.rm(dir, { recursive: true, force: true, maxRetries: 2 }));
  }

  /** the OCI bundle directory (the engine's: `<execRoot>/bundles/<id>`) */
  bundleDir(id: string): string {
    return this.engine.bundleDir(id);
  }

  /** What the start hooks see of `c`. */
  startContext(c: ContainerRecord): StartContext {
    const bundle = this.bundleDir(c.id);
    return { container: structuredClone(c), bundle, rootfs: path.join(bundle, 'rootfs'), paths: this.paths(c.id) };
  }

  /**
   * Releases `hooks` (default: all of them) in reverse order, then the engine's rootfs
   * mount and bundle (mounted before the first hook). Each release is idempotent; a
   * failing one is logged and the others still run.
   */
  async releaseHooks(c: ContainerRecord, reason: 'exit' | 'remove' | 'failed-start', opts: { hooks?: readonly StartHook[]; removalFollows?: boolean } = {}): Promise<void> {
    const hooks = opts.hooks ?? this.hooks;
    const ctx: StartContext = { ...this.startContext(c), ...(opts.removalFollows ? { removalFollows: true } : {}) };
    // Docker's Cleanup order: the network first (the leading hooks that prepared without
    // the rootfs), then the others in reverse — the volumes are unmounted after the network
    // is released, and their `disconnect`/`unmount` events come in that order
    const early = hooks.filter((h) => h.withoutRootfs);
    for (const h of [...early.reverse(), ...hooks.filter((h) => !h.withoutRootfs).reverse()]) {
      try {
        await h.release(ctx, reason);
      } catch (err) {
        this.o.log.warn('start hook release failed', { id: c.id, hook: h.name, reason, err: String(err) });
      }
    }
    try {
      this.engine.releaseRootfs(c.id, { background: true });
    } catch (err) {
      this.o.log.warn('rootfs release failed', { id: c.id, reason, err: String(err) });
    }
  }

  /** Runs `fn` in the background (work a caller need not wait for); `drain` waits for it. */
  later(fn: () => Promise<void>): void {
    const p: Promise<void> = fn()
      .catch((err) => this.o.log.warn('background work failed', { err: String(err) }))
      .finally(() => this.background.delete(p));
    this.background.add(p);
  }

  /** Waits for the background work: `later`'s, and what the hooks' releases left running (the daemon closes). */
  async drain(): Promise<void> {
    // work queued by later() while it drains is waited for too
    do {
      await Promise.all([...this.background, this.engine.settled(), ...this.hooks.map((h) => h.drain?.().catch((err) => this.o.log.warn('start hook drain failed', { hook: h.name, err: String(err) })))]);
    } while (this.background.size > 0);
  }

  /** The one way a status changes: throws conflict (and changes nothing) when `event` is impossible now. */
  setStatus(c: ContainerRecord, event: StateEvent): void {
    c.state.status = transition(c.state.status, event);
  }

  save(c: ContainerRecord): void {
    this.store.save(c);
    this.byId.set(c.id, c);
    this.savedNow(c.id);
  }

  /**
   * Saves `c`; when the write fails (a full data root) keeps `c` in memory as the
   * container's state, logs once, and writes it again with back-off (100 ms doubling to
   * 10 s) until it goes through; `then` runs once it has. Returns whether it was written now.
   */
  saveOrRetry(c: ContainerRecord, then?: () => Promise<void>): boolean {
    this.byId.set(c.id, c);
    try {
      this.store.save(c);
    } catch (err) {
      let u = this.unsaved.get(c.id);
      if (!u) {
        u = { delay: 100, then: [] };
        this.unsaved.set(c.id, u);
        this.o.log.error('cannot record container state; retrying until it can be written', { id: c.id, status: c.state.status, err: String(err) });
        this.retrySave(c.id);
      }
      if (then) u.then.push(then);
      return false;
    }
    this.savedNow(c.id);
    return true;
  }

  private retrySave(id: string): void {
    const u = this.unsaved.get(id);
    if (!u || this.closed) return;
    u.timer = setTimeout(() => {
      void this.lock.run(id, async () => {
        const c = this.byId.get(id);
        if (!c || this.unsaved.get(id) !== u) return; // removed, or written since
        try {
          this.store.save(c);
        } catch {
          u.delay = Math.min(u.delay * 2, 10_000);
          this.retrySave(id);
          return;
        }
        this.o.log.info('container state recorded after an earlier failure', { id, status: c.state.status });
        this.savedNow(id);
      });
    }, u.delay);
    u.timer.unref();
  }

  /** The record is on disk: a pending retry is dropped and its continuations run (under the container's lock). */
  private savedNow(id: string): void {
    const u = this.unsaved.get(id);
    if (!u) return;
    clearTimeout(u.timer);
    this.unsaved.delete(id);
    if (u.then.length) {
      void this.lock
        .run(id, async () => {
          for (const f of u.then) await f();
        })
        .catch((err) => this.o.log.error('container exit handling failed', { id, err: String(err) }));
    }
  }

  /**
   * Before a new start (under the lock): an exit not yet written is written now (throws
   * when it still cannot be) and its continuations run, so the old task is torn down.
   */
  async flushUnsaved(c: ContainerRecord): Promise<void> {
    const u = this.unsaved.get(c.id);
    if (!u) return;
    this.store.save(c);
    clearTimeout(u.timer);
    this.unsaved.delete(c.id);
    for (const f of u.then) await f();
  }

  /** Drops the retry timers (close: unwritten exits stay in the shims' exit records). */
  dropRetries(): void {
    for (const u of this.unsaved.values()) clearTimeout(u.timer);
  }

  publish(c: ContainerRecord, action: string, extra: Record<string, string> = {}): void {
    const attrs: Record<string, string> = { ...(c.config.Labels ?? {}), image: c.imageRef, name: c.name.slice(1), ...extra };
    this.o.events.publish('container', action, c.id, attrs);
  }

  addWaiter(id: string, condition: WaitCondition, signal?: AbortSignal): Promise<number> {
    return new Promise((res, rej) => {
      const w: Waiter = { condition, resolve: res };
      const list = this.waiters.get(id) ?? [];
      list.push(w);
      this.waiters.set(id, list);
      signal?.addEventListener('abort', () => {
        const l = this.waiters.get(id);
        if (l) this.waiters.set(id, l.filter((x) => x !== w));
        rej(signal.reason);
      });
    });
  }

  notifyWaiters(id: string, what: 'exit' | 'removed', code: number): void {
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
}
