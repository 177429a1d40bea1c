/**
 * VolumeService: Docker's volumes (moby's volume/service) over the volume store and the
 * local driver. A volume is in use while some container records a mount point of it
 * (running or not); that is read from the containers each time, so it survives a daemon
 * restart without bookkeeping of its own. Volumes with driver options are mounted on
 * their `_data` while a running container uses them (`acquire`/`release`, called by the
 * start hook).
 */
import * as crypto from 'node:crypto';
import * as path from 'node:path';
import { rfc3339NanoLocal } from '../../engine/clock';
import { conflict, invalidArgument, notFound } from '../../engine/errdefs';
import type { Logger } from '../../engine/log';
import type { MetadataDB } from '../../engine/metadata';
import type { EventBus } from '../events/bus';
import { goParseBool } from '../../engine/gostr';
import { rfc3339ToNanos } from '../../engine/timeparse';
import { matchKVList, matchPruneLabels, validatePruneFilters } from '../system/prune-filters';
import { LocalDriver } from './local';
import { containerPath, type MountPoint } from './mountpoints';
import { VolumeStore, type VolumeRecord } from './store';

/** What the volume service sees of a container. */
export interface VolumeUser {
  id: string;
  state: { status: string };
  mountPoints?: MountPoint[];
}

/** The containers, for references and mount tables (set once the container service exists). */
export interface VolumeUsers {
  list(): VolumeUser[];
  /** Resolves an id, unique prefix or name. Throws not-found. */
  get(ref: string): VolumeUser;
}

/** One entry of a container's mount table (for `docker cp`). */
export interface MountTableEntry {
  /** absolute, cleaned path inside the container */
  destination: string;
  /** host path: a bind's source, a volume's `<data-root>/volumes/<name>/_data`; '' for tmpfs */
  source: string;
  type: 'bind' | 'volume' | 'tmpfs';
  readOnly: boolean;
}

/** `POST /volumes/create`'s body. */
export interface VolumeCreateRequest {
  Name?: string;
  Driver?: string;
  DriverOpts?: Record<string, string> | null;
  Labels?: Record<string, string> | null;
}

export interface VolumeServiceOptions {
  db: MetadataDB;
  dataRoot: string;
  events: EventBus;
  log: Logger;
}

const LIST_FILTERS = new Set(['name', 'driver', 'label', 'dangling']);
const PRUNE_FILTERS = ['label', 'label!', 'all'];

function rfc3339Now(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

export class VolumeService {
  readonly driver: LocalDriver;
  private readonly store: VolumeStore;
  /** volumes of containers being created (not yet recorded): in use already, as moby's create references */
  private readonly pending = new Map<string, Set<string>>();
  private users: VolumeUsers = { list: () => [], get: (ref) => { throw notFound(`No such container: ${ref}`); } };

  constructor(private readonly o: VolumeServiceOptions) {
    this.store = new VolumeStore(o.db);
    this.driver = new LocalDriver(path.join(o.dataRoot, 'volumes'));
  }

  /** Tells the service where the containers are (the composition root, once both exist). */
  setUsers(users: VolumeUsers): void {
    this.users = users;
  }

  /** Docker's volume document (inspect, list, create). */
  view(v: VolumeRecord): Record<string, unknown> {
    // in the daemon's local zone, as moby formats the volume directory's time (RFC 3339, whole seconds)
    return { CreatedAt: rfc3339NanoLocal(rfc3339ToNanos(v.createdAt)), Driver: v.driver, Labels: v.labels, Mountpoint: this.driver.mountpoint(v.name), Name: v.name, Options: v.options, Scope: 'local' };
  }

  /**
   * Creates a volume, or returns the existing one of that name (Docker ignores the new
   * labels and options then). A missing name makes a 64-hex one. Throws not-found for a
   * driver other than `local` (moby: the plugin lookup), invalid-argument for a bad name
   * or option.
   */
  create(req: VolumeCreateRequest): VolumeRecord {
    const name = req.Name || crypto.randomBytes(32).toString('hex');
    const driver = req.Driver || 'local';
    const prefix = (e: unknown) => {
      if (e instanceof Error) e.message = `create ${name}: ${e.message}`;
      return e;
    };
    const existing = this.store.get(name);
    if (existing) {
      if (driver !== existing.driver) throw conflict(`create ${name}: volume name must be unique`);
      // moby publishes `create` for every create call, an existing volume's too
      this.o.events.publish('volume', 'create', name, { driver: existing.driver });
      return existing;
    }
    if (driver !== 'local') throw notFound(`create ${name}: error looking up volume plugin ${driver}: plugin ${JSON.stringify(driver)} not found`);
    const options = req.DriverOpts && Object.keys(req.DriverOpts).length > 0 ? { ...req.DriverOpts } : null;
    try {
      this.driver.validate(name, options ?? {});
    } catch (e) {
      throw prefix(e);
    }
    const rec: VolumeRecord = { name, driver, createdAt: rfc3339Now(), labels: req.Labels && Object.keys(req.Labels).length > 0 ? { ...req.Labels } : null, options, ...(!req.Name ? { anonymous: true } : {}) };
    this.driver.create(name);
    this.store.insert(rec);
    this.o.events.publish('volume', 'create', name, { driver });
    return rec;
  }

  /** Throws not-found `get <name>: no such volume`. */
  get(name: string): VolumeRecord {
    const v = this.store.get(name);
    if (!v) throw notFound(`get ${name}: no such volume`);
    return v;
  }

  /** Ids of the containers that record a mount point of volume `name`. */
  usersOf(name: string): string[] {
    const ids = this.users.list().filter((c) => (c.mountPoints ?? []).some((m) => m.Type === 'volume' && m.Name === name)).map((c) => c.id);
    for (const [id, names] of this.pending) if (names.has(name) && !ids.includes(id)) ids.push(id);
    return ids;
  }

  /** `GET /volumes`: the volumes matching `filters`. Throws invalid-argument for an unknown filter. */
  list(filters: Map<string, string[]>): { Volumes: Record<string, unknown>[]; Warnings: null } {
    for (const k of filters.keys()) if (!LIST_FILTERS.has(k)) throw invalidArgument(`Invalid filter '${k}'`);
    let dangling: boolean | undefined;
    for (const d of filters.get('dangling') ?? []) {
      if (d === 'true' || d === '1') dangling = true;
      else if (d === 'false' || d === '0') dangling = false;
      else throw invalidArgument(`Invalid filter 'dangling=[${d}]'`);
    }
    const names = (filters.get('name') ?? []).map((n) => new RegExp(n));
    const drivers = filters.get('driver') ?? [];
    const labels = filters.get('label') ?? [];
    const vols = this.store.all().filter((v) => {
      if (names.length && !names.some((r) => r.test(v.name))) return false;
      if (drivers.length && !drivers.includes(v.driver)) return false;
      if (!matchKVList(labels, v.labels)) return false;
      if (dangling !== undefined && (this.usersOf(v.name).length === 0) !== dangling) return false;
      return true;
    });
    return { Volumes: vols.map((v) => this.view(v)), Warnings: null };
  }

  /**
   * `DELETE /volumes/{name}`. Throws conflict `remove <name>: volume is in use - [ids]`
   * (with or without force), not-found unless `force`.
   */
  remove(name: string, opts: { force?: boolean } = {}): void {
    const v = this.store.get(name);
    if (!v) {
      if (opts.force) return;
      throw notFound(`get ${name}: no such volume`);
    }
    const users = this.usersOf(name);
    if (users.length > 0) throw conflict(`remove ${name}: volume is in use - [${users.join(' ')}]`);
    this.driver.remove(name);
    this.store.delete(name);
    this.o.events.publish('volume', 'destroy', name, { driver: v.driver });
  }

  /**
   * `POST /volumes/prune` (moby's VolumesService.Prune): unused local volumes without
   * driver options (Docker keeps those), by `label`/`label!`. Unless the `all` filter is
   * true (moby's withPrune; the API layer adds it below API 1.42) only the volumes
   * created without a name (for a container or by `volume create`: moby labels them
   * com.docker.volume.anonymous; here the record's `anonymous` flag).
   * Throws invalid-argument for an unknown filter or a bad `all`.
   */
  prune(filters: Map<string, string[]>): { VolumesDeleted: string[]; SpaceReclaimed: number } {
    validatePruneFilters(filters, PRUNE_FILTERS);
    const all = filters.get('all') ?? [];
    if (all.length > 1) throw invalidArgument(`invalid filter 'all=[${all.join(' ')}]': only one value is expected`);
    let everything = false;
    if (all.length === 1) {
      const b = goParseBool(all[0]!);
      if (b === undefined) throw invalidArgument(`invalid filter 'all': strconv.ParseBool: parsing ${JSON.stringify(all[0])}: invalid syntax`);
      everything = b;
    }
    const deleted: string[] = [];
    let reclaimed = 0;
    for (const v of this.store.all()) {
      if (v.driver !== 'local' || v.options !== null) continue;
      if (!everything && !v.anonymous) continue;
      if (!matchPruneLabels(filters, v.labels)) continue;
      if (this.usersOf(v.name).length > 0) continue;
      const size = this.driver.size(v.name);
      try {
        this.remove(v.name);
        deleted.push(v.name);
        reclaimed += size;
      } catch (err) {
        this.o.log.warn('volume prune: cannot remove volume', { name: v.name, err: String(err) });
      }
    }
    this.o.events.publish('volume', 'prune', '', { reclaimed: String(reclaimed) });
    return { VolumesDeleted: deleted, SpaceReclaimed: reclaimed };
  }

  /** The `Volumes` section of `GET /system/df`: each volume with `UsageData` (Size, RefCount). */
  diskUsage(): { Volumes: Record<string, unknown>[] } {
    return {
      Volumes: this.store.all().map((v) => ({ ...this.view(v), UsageData: { RefCount: this.usersOf(v.name).length, Size: this.driver.size(v.name) } })),
    };
  }

  /**
   * For container `containerId` being created (mountpoints.ts): volume `name`, created
   * when missing (`name` undefined: a new anonymous one). The volume counts as in use by
   * the container until `settled` (then its record says so, or the create failed).
   */
  forContainer(name: string | undefined, o: { driver?: string; options?: Record<string, string>; labels?: Record<string, string> }, containerId: string): { name: string; driver: string; mountpoint: string } {
    const v = this.create({ ...(name ? { Name: name } : {}), ...(o.driver ? { Driver: o.driver } : {}), DriverOpts: o.options ?? null, Labels: o.labels ?? null });
    const names = this.pending.get(containerId) ?? new Set<string>();
    names.add(v.name);
    this.pending.set(containerId, names);
    return { name: v.name, driver: v.driver, mountpoint: this.driver.mountpoint(v.name) };
  }

  /** The create of container `containerId` is over (recorded or failed): its volumes are no longer pending. */
  settled(containerId: string): void {
    this.pending.delete(containerId);
  }

  /**
   * A container starts with volume `name` mounted: a volume with driver options is
   * mounted on its `_data` unless it is already. Publishes `volume mount`. Throws not-found
   * when the volume is gone, internal when the mount fails.
   */
  acquire(name: string, containerId: string, m: { destination: string; rw: boolean; propagation: string }): string {
    const v = this.get(name);
    this.driver.mount(name, v.options);
    this.o.events.publish('volume', 'mount', name, { container: containerId, destination: m.destination, driver: v.driver, propagation: m.propagation, 'read/write': String(m.rw) });
    return this.driver.mountpoint(name);
  }

  /**
   * Runs `fn` on the volume's data directory, mounted for it when the volume has driver
   * options (and unmounted after unless a running container uses it). No events: this is
   * Docker's copy of the image's content into a volume at create (CopyImagePathContent
   * mounts the volume without the `mount` event of a start).
   */
  withData<T>(name: string, fn: (dir: string) => T): T {
    const v = this.get(name);
    if (v.options === null) return fn(this.driver.mountpoint(name));
    const wasMounted = this.users.list().some((c) => ['running', 'paused', 'restarting'].includes(c.state.status) && (c.mountPoints ?? []).some((m) => m.Type === 'volume' && m.Name === name));
    this.driver.mount(name, v.options);
    try {
      return fn(this.driver.mountpoint(name));
    } finally {
      if (!wasMounted) this.driver.unmount(name);
    }
  }

  /**
   * The container stopped using volume `name`: a volume with driver options is unmounted
   * when no other running container uses it. Idempotent (restore may call it for a
   * container that never acquired). Publishes `volume unmount` when the container stopped
   * (not again when it is then removed).
   */
  release(name: string, containerId: string, reason: 'exit' | 'remove' | 'failed-start' = 'exit'): void {
    const v = this.store.get(name);
    if (!v) return;
    if (v.options !== null) {
      const others = this.users.list().filter((c) => c.id !== containerId && ['running', 'paused', 'restarting'].includes(c.state.status) && (c.mountPoints ?? []).some((m) => m.Type === 'volume' && m.Name === name));
      if (others.length === 0) this.driver.unmount(name);
    }
    if (reason !== 'remove') this.o.events.publish('volume', 'unmount', name, { container: containerId, driver: v.driver });
  }

  /**
   * A container is gone (removal, or a create that failed): with `removeAnonymous`
   * (`rm -v`, AutoRemove) its anonymous volumes are removed unless another container
   * uses them (moby's removeMountPoints).
   */
  containerRemoved(c: { id: string; mountPoints?: MountPoint[] }, removeAnonymous: boolean): void {
    if (!removeAnonymous) return;
    for (const m of c.mountPoints ?? []) {
      if (m.Type !== 'volume' || !m.Name || m.Named !== false) continue;
      const others = this.usersOf(m.Name).filter((id) => id !== c.id);
      if (others.length > 0) continue;
      try {
        if (this.store.get(m.Name)) this.remove(m.Name);
      } catch (err) {
        this.o.log.warn('cannot remove anonymous volume', { name: m.Name, container: c.id, err: String(err) });
      }
    }
  }

  /** A container's mounts (for `docker cp`). Throws not-found for an unknown container. */
  mountTable(containerRef: string): MountTableEntry[] {
    const c = this.users.get(containerRef);
    return (c.mountPoints ?? []).map((m) => ({ destination: containerPath(m.Destination), source: m.Source, type: m.Type, readOnly: !m.RW }));
  }
}
