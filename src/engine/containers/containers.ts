/**
 * EngineContainers: the engine's container API and the run sequence on it, the same for
 * every front end (the Docker daemon, a builder's RUN step, a CRI front end), in
 * containerd's shape — NewContainer(snapshot, spec, runtime, labels) → NewTask(io) →
 * Start → (exit) → task Delete:
 *
 *   create(record)             the record (store.ts)
 *   mount(id)                  the snapshot mounted at <bundle>/rootfs (volatile on request)
 *   update(id, {spec})         the spec, once the front end has composed it
 *   createTask(id, io)         <bundle>/config.json from the record's spec (root.path set) + the task
 *   start(id)                  the task runs
 *   cleanup(id)                task delete, unmount, bundle removal — idempotent
 *
 * `prepare` is mount + createTask for a caller whose spec does not depend on the mounted
 * root filesystem. Nothing here knows Docker's API; the front end chooses the
 * namespace, the bundle directory of an id, and the task's io.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeBundle } from '../bundle';
import { invalidArgument, isNotFound } from '../errdefs';
import type { Logger } from '../log';
import type { Database, MetadataDB } from '../metadata';
import { mountVolatile } from '../mount';
import type { Mount } from '../mount/types';
import type { Spec } from '../oci/spec';
import type { StartOptions, TaskService } from '../runtime/types';
import { ContainerRecordStore, type ContainerRecord, type NewContainer } from './store';

/** The task io and sink options of a task (everything of StartOptions but what the record gives). */
export type TaskIO = Omit<StartOptions, 'id' | 'bundle'>;

export interface EngineContainersOptions {
  db: MetadataDB;
  /** default: `default` */
  namespace?: string;
  /** the snapshotter's mounts of a key */
  snapshots: { mounts(key: string): Promise<Mount[]> };
  mounter: { mountAll(mounts: Mount[], target: string): void; unmount(target: string): void };
  tasks: Pick<TaskService, 'create' | 'startCreated' | 'delete'>;
  /** the OCI bundle directory of a container (its rootfs is `<bundle>/rootfs`) */
  bundleDir: (id: string) => string;
  log?: Logger;
}

export class EngineContainers {
  readonly store: ContainerRecordStore;

  /** bundle directories being removed in the background (releaseRootfs `background`); a new mount waits */
  private readonly bundleRemovals = new Map<string, Promise<void>>();

  constructor(private readonly o: EngineContainersOptions) {
    this.store = new ContainerRecordStore(o.db, o.namespace === undefined ? {} : { namespace: o.namespace });
  }

  get namespace(): string {
    return this.store.namespace;
  }

  // ---------- records ----------

  create(n: NewContainer): ContainerRecord {
    return this.store.create(n);
  }

  /** Throws not-found. */
  get(id: string): ContainerRecord {
    return this.store.get(id);
  }

  find(id: string): ContainerRecord | undefined {
    return this.store.find(id);
  }

  /** Creates the record from `n` when there is none (a container made before records existed). */
  ensure(n: NewContainer): void {
    if (!this.store.has(n.id)) this.store.create(n);
  }

  update(id: string, u: { spec?: Spec; labels?: Record<string, string> }): void {
    this.store.update(id, u);
  }

  /** Deletes the record (after cleanup); returns whether there was one. */
  delete(id: string): boolean {
    return this.store.delete(id);
  }

  /** `delete` inside the caller's transaction on the same database. */
  deleteIn(db: Database, id: string): void {
    this.store.deleteIn(db, id);
  }

  list(): ContainerRecord[] {
    return this.store.list();
  }

  // ---------- the run sequence ----------

  bundleDir(id: string): string {
    return this.o.bundleDir(id);
  }

  rootfsDir(id: string): string {
    return path.join(this.o.bundleDir(id), 'rootfs');
  }

  /**
   * Mounts the container's snapshot at `<bundle>/rootfs` and returns that path. With
   * `volatile` the overlay never syncs its upper layer (for a container whose layer is
   * thrown away: engine/mount/volatile.ts). Throws not-found for an unknown id.
   */
  async mount(id: string, opts: { volatile?: boolean } = {}): Promise<string> {
    const r = this.store.get(id);
    const removing = this.bundleRemovals.get(id);
    if (removing) await removing;
    const rootfs = this.rootfsDir(id);
    fs.mkdirSync(rootfs, { recursive: true, mode: 0o711 });
    const mounts = await this.o.snapshots.mounts(r.snapshotKey);
    if (opts.volatile) mountVolatile(mounts, rootfs, (m, t) => this.o.mounter.mountAll(m, t));
    else this.o.mounter.mountAll(mounts, rootfs);
    return rootfs;
  }

  /**
   * Writes the bundle from the record's spec, or from `opts.spec` (its root.path set to
   * the mounted rootfs) and creates the task with `io`. Throws invalid-argument when
   * there is no spec.
   */
  async createTask(id: string, io: TaskIO, opts: { spec?: Spec | Promise<Spec> } = {}): Promise<{ pid: number }> {
    // `opts.spec`: a spec the caller records on the record itself, in the commit that
    // records the start (the Docker daemon: one commit per start instead of two). A
    // promise of one (its rootfs mounted when it resolves) lets the task service start
    // the shim meanwhile; its rejection cancels the create with its reason.
    const r = opts.spec ? undefined : this.store.get(id);
    if (!opts.spec && !r?.spec) throw invalidArgument(`container ${id} has no runtime spec`);
    const bundle = this.o.bundleDir(id);
    const written = Promise.resolve(opts.spec ?? r!.spec!).then((base) => writeBundle(bundle, { ...base, root: { ...base.root, path: this.rootfsDir(id) } }));
    if (!(opts.spec instanceof Promise)) {
      await written;
      return this.o.tasks.create({ ...io, id, bundle });
    }
    try {
      return await this.o.tasks.create({ ...io, id, bundle, bundleReady: written });
    } catch (err) {
      // refused before it waited for the bundle (a conflict, no shim binary): the bundle
      // is written (or not) before this rejects, so the caller's release finds it
      await written.catch(() => {});
      throw err;
    }
  }

  /** mount + createTask: the whole preparation when the spec is already on the record. */
  async prepare(id: string, io: TaskIO, opts: { volatile?: boolean } = {}): Promise<{ pid: number }> {
    await this.mount(id, opts);
    try {
      return await this.createTask(id, io);
    } catch (err) {
      this.releaseRootfs(id);
      throw err;
    }
  }

  /** Starts the created task. */
  start(id: string): Promise<void> {
    return this.o.tasks.startCreated(id);
  }

  /**
   * Unmounts the rootfs and removes the bundle directory (with `background`, removed on
   * libuv's threads after this returns; `mount` and `settled` wait for it). Idempotent:
   * nothing to do when the bundle is gone (never mounted, or released already); an
   * unmount error is logged.
   */
  releaseRootfs(id: string, opts: { background?: boolean } = {}): void {
    const bundle = this.o.bundleDir(id);
    if (this.bundleRemovals.has(id) || !fs.existsSync(bundle)) return;
    try {
      this.o.mounter.unmount(this.rootfsDir(id));
    } catch (err) {
      this.o.log?.warn('cannot unmount container rootfs', { id, err: String(err) });
    }
    if (!opts.background) {
      fs.rmSync(bundle, { recursive: true, force: true });
      return;
    }
    // unmounted now; the directory (config.json, the empty mount point) on libuv's
    // threads, off the exit's critical path: the next mount of the container waits for it
    const p: Promise<void> = fs.promises
      .rm(bundle, { recursive: true, force: true, maxRetries: 2 })
      .catch((err) => this.o.log?.warn('cannot remove the bundle', { id, err: String(err) }))
      .finally(() => {
        if (this.bundleRemovals.get(id) === p) this.bundleRemovals.delete(id);
      });
    this.bundleRemovals.set(id, p);
  }

  /** Resolves when the bundle removals started in the background are done. */
  async settled(): Promise<void> {
    while (this.bundleRemovals.size) await Promise.all([...this.bundleRemovals.values()]);
  }

  /**
   * The end of a run: the task deleted (a task already gone is fine), the rootfs
   * unmounted and the bundle removed. Idempotent; used on exit, removal, a failed start
   * and restore. The record stays (delete it to forget the container).
   */
  async cleanup(id: string): Promise<void> {
    try {
      await this.o.tasks.delete(id);
    } catch (err) {
      if (!isNotFound(err)) this.o.log?.warn('cannot delete task', { id, err: String(err) });
    }
    this.releaseRootfs(id);
  }
}
