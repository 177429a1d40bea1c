/**
 * ContainerService: Docker's container semantics over the task service — the facade the
 * API routes use. The work is done by its parts, which share a ContainerCore (core.ts):
 * the lifecycle (lifecycle.ts: start with its start hooks, stop, kill, restart, pause),
 * the exit monitor (monitor.ts: exits, restart policies, AutoRemove), removal
 * (removal.ts) and restore after a daemon restart (restore.ts). See docs/containers.md
 * and docs/architecture.md.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Duplex } from 'node:stream';
import { conflict, invalidArgument, kindOf, notFound } from '../../engine/errdefs';
import type { AttachRequest, AttachStream } from './attach';
import { mergeCreateConfig } from './config';
import { ContainerCore, type ContainerServiceOptions, type WaitCondition } from './core';
import { defaultHostname, dnsSettings, writeContainerFiles } from './files';
import { defaultStartHooks, NetworkHook } from './hooks';
import { initialNetworks, isContainerMode, isUserDefined, parseLink, validateNetworkMode, verifyNetworkingConfig, type EndpointConfig, type NetworkingConfig } from './netconfig';
import { Lifecycle, detectCgroupVersion } from './lifecycle';
import type { ContainerRecord } from './model';
import { ExitMonitor } from './monitor';
import { newId, normalizeName, randomName } from './names';
import { Removal } from './removal';
import { restoreContainers } from './restore';
import { HealthService, validateHealthcheck } from './health/health';
import { SqlHealthStore } from './health/store';
import { canRename, initialState, isRunning, type StateData } from './state';
import { addGcRef, containerMigrations, nameConflict } from './store';
import type { ContainerConfig, HostConfig } from './types';
import { normalizeHostConfig, validateHostConfig } from './hostconfig';
import { refuseUnsupported } from './unsupported';
import { checkMemoryUpdate, toSpecResources } from './update';
import { containerPath, resolveMountPoints, type MountPoint } from '../volumes/mountpoints';
import type { ContainerLookup, NetContainer } from '../networks/types';
import { copyImageContent } from '../volumes/copyup';

export { containerMigrations, detectCgroupVersion };
export type { ContainerServiceOptions, WaitCondition } from './core';
export type { AttachRequest, AttachStream } from './attach';

export interface CreateRequest {
  name?: string;
  config: ContainerConfig;
  hostConfig: HostConfig;
  /** the create body's NetworkingConfig (its EndpointsConfig: every network is recorded) */
  networkingConfig?: NetworkingConfig | null;
}

export class ContainerService {
  private readonly k: ContainerCore;
  private readonly lifecycle: Lifecycle;
  private readonly monitor: ExitMonitor;
  private readonly removal: Removal;
  private readonly byId: Map<string, ContainerRecord>;
  private readonly o: ContainerServiceOptions;
  /** the network start hook, when the daemon has networking */
  readonly network: NetworkHook | undefined;
  /** health checks (health/health.ts): run by the health start hook; its prober is set by the composition root */
  readonly health: HealthService;

  constructor(o: ContainerServiceOptions) {
    this.o = o;
    o.db.migrate(containerMigrations);
    this.network = o.network
      ? new NetworkHook({
          ...o.network,
          log: o.log,
          lookup: (ref) => {
            const c = this.k.get(ref);
            return {
              id: c.id, name: c.name, running: isRunning(c.state.status), hostname: c.config.Hostname ?? '', env: c.config.Env ?? [],
              exposedPorts: Object.keys(c.config.ExposedPorts ?? {}), networkMode: c.hostConfig.NetworkMode ?? 'default',
            };
          },
        })
      : undefined;
    this.health = new HealthService({
      store: new SqlHealthStore(o.db),
      publish: (id, action) => {
        const c = this.k.byId.get(id);
        if (c) this.k.publish(c, action);
      },
      isPaused: (id) => this.k.byId.get(id)?.state.status === 'paused',
      log: o.log,
    });
    const hooks = o.hooks ?? defaultStartHooks({ snapshots: o.snapshots, mounter: o.mounter, log: o.log, ...(o.volumes ? { volumes: o.volumes } : {}), ...(this.network ? { network: this.network } : {}), health: this.health });
    this.k = new ContainerCore(o, hooks, (id) => this.lifecycle.restartFromPolicy(id));
    this.byId = this.k.byId;
    this.removal = new Removal(this.k, () => this.lifecycle, () => this.monitor);
    this.monitor = new ExitMonitor(this.k, (c) => this.removal.finishRemoval(c));
    this.lifecycle = new Lifecycle(this.k, this.monitor, (id) => this.removal.removeAfterFailedStart(id));
  }

  // ---------- lookup ----------

  /** Resolves an id, unique id prefix or name. Throws not-found / invalid-argument (ambiguous). */
  get(ref: string): ContainerRecord {
    return this.withRuntime(this.k.get(ref));
  }

  /** Whether a container with this full id exists (no copy of its record: exec's prune asks for each exec). */
  exists(id: string): boolean {
    return this.k.byId.has(id);
  }

  /** The containers made from `imageId`, and whether each runs (no copies: the image list asks for every image). */
  usersOfImage(imageId: string): Array<{ id: string; running: boolean }> {
    const out: Array<{ id: string; running: boolean }> = [];
    for (const c of this.k.byId.values()) if (c.image === imageId) out.push({ id: c.id, running: isRunning(c.state.status) });
    return out;
  }

  /** `c` with the network its start made (for views), when the daemon has networking. */
  private withRuntime(c: ContainerRecord): ContainerRecord {
    const h = this.health.state(c.id);
    if (h) c.health = h;
    const rt = this.network?.runtimeOf(c.id, () => this.k.paths(c.id).dir);
    if (rt) {
      c.networkRuntime = isRunning(c.state.status)
        ? structuredClone(rt)
        : { sandboxId: rt.sandboxId, sandboxKey: rt.sandboxKey, endpoints: [], ports: [], ...(rt.networkIds ? { networkIds: { ...rt.networkIds } } : {}) };
    }
    return c;
  }

  /** Every container (copies), oldest first. */
  list(): ContainerRecord[] {
    return [...this.byId.values()].map((c) => this.withRuntime(structuredClone(c)));
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
    return this.k.paths(id);
  }

  /**
   * Holds the container's lifecycle lock until the returned function is called: start,
   * stop and remove wait meanwhile (docker cp into a stopped container mounts its
   * snapshot, which a start must not mount a second time; Docker locks the container
   * for the copy in the same way).
   */
  hold(id: string): Promise<() => void> {
    return this.k.lock.hold(id);
  }

  /** Where the container's root filesystem is mounted while it runs. */
  rootfsDir(id: string): string {
    return path.join(this.k.bundleDir(id), 'rootfs');
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
    validateNetworkMode(req.config, hc);
    validateHostConfig(hc);
    // adaptSharedNamespaceContainer: `container:<name>` is stored with the container's ID (when it exists)
    if (isContainerMode(hc.NetworkMode)) {
      try {
        hc.NetworkMode = `container:${this.k.get(hc.NetworkMode!.slice('container:'.length)).id}`;
      } catch {
        /* a missing one fails the start, as in Docker */
      }
    }
    // without networking, only the predefined modes exist (with it, a missing network fails the start, as in Docker 20.10)
    if (!this.network) {
      if (isUserDefined(hc.NetworkMode)) throw notFound(`network ${hc.NetworkMode} not found`);
      const ports = Object.values(hc.PortBindings ?? {}).some((b) => (b ?? []).length > 0) || hc.PublishAllPorts;
      if (ports || (hc.Links ?? []).length || req.config.MacAddress) throw invalidArgument('published ports, links and MAC addresses need networking, which this daemon runs without');
    }
    verifyNetworkingConfig(req.networkingConfig);
    const links = this.resolveLinks(hc, name);
    if (links) hc.Links = links;
    const hostname = req.config.Hostname || defaultHostname(id, hc);
    const { config, path: p, args } = mergeCreateConfig(image.config, { ...req.config, Hostname: hostname }, imageRef);
    refuseUnsupported(req.config, hc, config);
    const badHealth = validateHealthcheck(req.config.Healthcheck);
    if (badHealth) throw invalidArgument(badHealth);
    const mountPoints = this.resolveMounts(id, config, hc);
    const dropVolumes = () => {
      this.o.volumes?.containerRemoved({ id, mountPoints } as ContainerRecord, true);
      this.o.volumes?.settled(id);
    };
    const paths = this.paths(id);
    try {
      writeContainerFiles(paths, hostname, hc);
      await this.o.snapshots.prepare(id, image.chainId, { labels: { 'stevedore.container': id } });
      await this.populateVolumes(id, mountPoints).catch(async (err: unknown) => {
        await this.o.snapshots.remove(id).catch(() => {});
        throw err;
      });
    } catch (err) {
      fs.rmSync(paths.dir, { recursive: true, force: true });
      dropVolumes();
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
      mountPoints,
      networks: this.initialNetworks(config, hc, req.networkingConfig),
    };
    try {
      // the engine's record in the same commit (a start then only reads it)
      this.k.store.insert(rec, (db) => {
        addGcRef(db, id);
        this.k.engine.create({ id, snapshotKey: rec.snapshotKey, runtime: { name: hc.Runtime || 'runc' } });
      });
    } catch (err) {
      await this.o.snapshots.remove(id).catch(() => {});
      fs.rmSync(paths.dir, { recursive: true, force: true });
      dropVolumes();
      throw err;
    }
    this.byId.set(id, rec);
    this.o.volumes?.settled(id);
    this.k.publish(rec, 'create');
    return { id, warnings: [] };
  }

  /**
   * Docker's populateVolumes, at create: a volume mount point with CopyData gets the
   * image's content at its destination when the volume is empty (volumes/copyup.ts). The
   * container's snapshot is mounted for that under the exec root and unmounted after; a
   * start copies nothing (as Docker: content added to the image path later is not copied).
   */
  private async populateVolumes(id: string, mountPoints: MountPoint[]): Promise<void> {
    const volumes = this.o.volumes;
    // an image VOLUME of `/` is created, and its start fails (hooks/volumes.ts), as Docker's
    const todo = mountPoints.filter((m) => m.Type === 'volume' && m.Name && m.CopyData && containerPath(m.Destination) !== '/');
    if (!volumes?.withData || todo.length === 0) return;
    const target = path.join(this.o.execRoot, 'populate', id);
    fs.mkdirSync(target, { recursive: true, mode: 0o700 });
    try {
      this.o.mounter.mountAll(await this.o.snapshots.mounts(id), target);
      try {
        for (const m of todo) volumes.withData(m.Name!, (dir) => copyImageContent(target, containerPath(m.Destination), dir));
      } finally {
        this.o.mounter.unmount(target);
      }
    } finally {
      fs.rmdirSync(target); // never recursive: the snapshot may still be mounted there if the unmount failed
    }
  }

  /**
   * `HostConfig.Links` as Docker records them (`/child:/parent/alias`), each child looked
   * up now (Docker's registerLinks: a missing one is `could not get container for x`).
   */
  private resolveLinks(hc: HostConfig, name: string): string[] | undefined {
    if (!(hc.Links ?? []).length) return undefined;
    return hc.Links!.map((l) => {
      const { name: child, alias } = parseLink(l);
      let c: ContainerRecord;
      try {
        c = this.k.get(child);
      } catch (err) {
        // Docker answers 400 here (the CLI would take a 404 for a missing image)
        throw invalidArgument(`could not get container for ${child}: ${(err as Error).message}`);
      }
      if ((c.hostConfig.NetworkMode ?? '').startsWith('container:')) throw invalidArgument('conflicting options: container type network can\'t be used with links. This would result in undefined behavior');
      return `${c.name}:${name}/${alias}`;
    });
  }

  /** The networks recorded on a new container (netconfig.ts initialNetworks), the user network's ID resolved when it exists. */
  private initialNetworks(config: ContainerConfig, hc: HostConfig, nc: NetworkingConfig | null | undefined): Record<string, EndpointConfig> {
    return initialNetworks(config, hc, nc);
  }

  /**
   * The mount points of a container being created (volumes/mountpoints.ts): volumes are
   * created here; if a later one fails, the anonymous ones made so far are removed.
   */
  private resolveMounts(id: string, config: ContainerConfig, hc: HostConfig): MountPoint[] {
    const volumes = this.o.volumes;
    const made: MountPoint[] = [];
    try {
      return resolveMountPoints(config, hc, {
        volume: (name, o) => {
          if (!volumes) throw invalidArgument('volumes are not available in this daemon');
          const v = volumes.forContainer(name, o, id);
          if (!name) made.push({ Type: 'volume', Name: v.name, Source: v.mountpoint, Destination: '', Mode: '', RW: true, Propagation: '', Named: false });
          return v;
        },
        container: (ref) => {
          let c: ContainerRecord;
          try {
            c = this.get(ref);
          } catch (err) {
            // Docker answers a missing VolumesFrom container with 400, not 404 (which the CLI takes for a missing image)
            if (kindOf(err) === 'not-found') throw invalidArgument((err as Error).message);
            throw err;
          }
          return { id: c.id, mountPoints: c.mountPoints ?? [] };
        },
      });
    } catch (err) {
      volumes?.containerRemoved({ id, mountPoints: made } as ContainerRecord, true);
      volumes?.settled(id);
      throw err;
    }
  }

  private nameTaken(n: string): boolean {
    return [...this.byId.values()].some((c) => c.name === n);
  }

  // ---------- lifecycle (lifecycle.ts) ----------

  /** Starts a container. Throws not-modified if running, conflict if paused or being removed. */
  start(ref: string): Promise<void> {
    return this.lifecycle.start(ref);
  }

  /** Docker's stop: StopSignal, wait `timeout` s (-1 forever), then SIGKILL. Throws not-modified when not running. */
  stop(ref: string, timeout?: number, signalOverride?: string): Promise<void> {
    return this.lifecycle.stop(ref, timeout, signalOverride);
  }

  /** Sends a signal. Throws conflict `Container <id> is not running`. */
  kill(ref: string, signal = 'SIGKILL'): Promise<void> {
    return this.lifecycle.kill(ref, signal);
  }

  restart(ref: string, timeout?: number, signalOverride?: string): Promise<void> {
    return this.lifecycle.restart(ref, timeout, signalOverride);
  }

  pause(ref: string): Promise<void> {
    return this.lifecycle.pause(ref);
  }

  unpause(ref: string): Promise<void> {
    return this.lifecycle.unpause(ref);
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
    return this.k.addWaiter(c.id, condition, signal);
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
    this.k.publish(this.get(ref), action, extra);
  }

  // ---------- rename / update ----------

  async rename(ref: string, newName: string): Promise<void> {
    const c = this.get(ref);
    if (!newName) throw invalidArgument('Neither old nor new names may be empty');
    const name = normalizeName(newName);
    await this.k.lock.run(c.id, async () => {
      const cur = this.k.mustGet(c.id);
      if (!canRename(cur.state.status)) throw conflict(`Cannot rename container ${c.id} in state ${cur.state.status}`);
      if (cur.name === name) throw invalidArgument('Renaming a container with the same name as its current name');
      const other = [...this.byId.values()].find((x) => x.name === name);
      if (other) throw nameConflict(name, other.id);
      const old = cur.name;
      cur.name = name;
      this.k.save(cur);
      this.k.publish(cur, 'rename', { oldName: old });
    });
  }

  /**
   * The containers as the network service sees them (daemon/networks ContainerLookup; the
   * composition root passes it to NetworkService.setContainers): their recorded networks,
   * which connect/disconnect change, and a running container's namespace.
   */
  networkLookup(): ContainerLookup {
    const view = (c: ContainerRecord): NetContainer => {
      const running = isRunning(c.state.status);
      const mode = c.hostConfig.NetworkMode || 'default';
      const rt = running && mode !== 'host' ? this.network?.runtimeOf(c.id, () => this.k.paths(c.id).dir) : undefined;
      const out: NetContainer = {
        id: c.id,
        name: c.name.replace(/^\//, ''),
        ...(c.config.Hostname ? { hostname: c.config.Hostname } : {}),
        running,
        removing: c.state.status === 'removing' || c.state.status === 'dead' || this.k.removals.has(c.id),
        ...(rt ? { netnsPath: rt.sandboxKey } : {}),
        networkMode: mode,
        networks: c.networks ?? initialNetworks(c.config, c.hostConfig, null),
      };
      // beyond NetContainer: the container's upstream nameservers (`--dns`, else the daemon's) for the resolver's table
      const dns = dnsSettings(c.hostConfig, this.o.network?.settings().dns).dns;
      return Object.assign(out, dns.length ? { dns } : {});
    };
    return {
      get: (ref) => view(this.k.get(ref)),
      list: () => [...this.byId.values()].map(view),
      setNetworks: (id, networks) =>
        this.k.lock.run(id, async () => {
          const c = this.k.mustGet(id);
          c.networks = networks;
          this.k.save(c);
        }),
      endpointsChanged: async (id) => {
        const c = this.byId.get(id);
        if (c && this.network) await this.network.endpointsChanged(this.k.startContext(c));
      },
    };
  }

  /** Updates resources and the restart policy. Returns warnings. */
  async update(ref: string, body: HostConfig): Promise<string[]> {
    const c = this.get(ref);
    return this.k.lock.run(c.id, async () => {
      const cur = this.k.mustGet(c.id);
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
      checkMemoryUpdate(cur.id, cur.hostConfig, body);
      if (body.RestartPolicy && body.RestartPolicy.Name !== undefined) {
        if (cur.hostConfig.AutoRemove && body.RestartPolicy.Name && body.RestartPolicy.Name !== 'no') {
          throw invalidArgument('Restart policy cannot be updated because AutoRemove is enabled for the container');
        }
        next.RestartPolicy = body.RestartPolicy;
      }
      if (isRunning(cur.state.status)) {
        await this.k.tasks.update(c.id, toSpecResources(next, body));
      }
      cur.hostConfig = next;
      this.k.save(cur);
      this.k.publish(cur, 'update');
      return [];
    });
  }

  // ---------- remove / prune (removal.ts) ----------

  /**
   * Removes a container. Throws conflict when running without force; with force it is
   * killed first and always ends removed. `removeVolumes` (`rm -v`) removes its anonymous volumes.
   */
  remove(ref: string, opts: { force?: boolean; removeVolumes?: boolean } = {}): Promise<void> {
    return this.removal.remove(ref, opts);
  }

  /** Removes every stopped container matching `match`. */
  prune(match: (c: ContainerRecord) => boolean): Promise<{ deleted: string[]; reclaimed: number }> {
    return this.removal.prune(match, (id) => this.sizeRw(id));
  }

  /** Bytes in the container's writable layer. */
  async sizeRw(id: string): Promise<number> {
    const c = this.k.mustGet(id);
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
  async attachClient(ref: string, req: AttachRequest, signal?: AbortSignal): Promise<AttachStream> {
    const c = this.get(ref);
    const opts: AttachRequest = { ...req, framing: c.config.Tty === true ? 'raw' : 'stdcopy' }; // Docker's attach framing
    if (!isRunning(c.state.status)) return this.k.attaches.whenStarted(c.id, opts, signal);
    try {
      return await this.k.attaches.connect(c.id, opts);
    } catch (err) {
      if (!this.byId.has(c.id) || !isRunning(this.k.mustGet(c.id).state.status)) return undefined;
      throw err;
    }
  }

  /** Publishes `attach` (the route calls it once the stream is set up). */
  attached(id: string): void {
    const c = this.byId.get(id);
    if (c) this.k.publish(c, 'attach');
  }

  async resize(ref: string, h: number, w: number): Promise<void> {
    const c = this.get(ref);
    if (!isRunning(c.state.status)) throw conflict(`Container ${c.id} is not running`);
    if (c.config.Tty) await this.k.tasks.resize(c.id, h, w).catch(() => {});
    this.k.publish(c, 'resize', { height: String(h), width: String(w) });
  }

  /** Host pids of a running container. Throws conflict when not running. */
  async pids(ref: string): Promise<number[]> {
    const c = this.get(ref);
    if (!isRunning(c.state.status)) throw conflict(`Container ${c.id} is not running`);
    return this.k.tasks.ps(c.id);
  }

  // ---------- live restore (restore.ts) ----------

  /**
   * After a daemon (re)start: reattaches to every live task, records the exits of tasks
   * that ended while the daemon was away, removes AutoRemove leftovers, and applies
   * restart policies.
   */
  async restore(): Promise<void> {
    await restoreContainers(this.k, { lifecycle: this.lifecycle, monitor: this.monitor, removal: this.removal });
    // the health monitors of containers kept running (their state as it was recorded)
    for (const c of this.byId.values()) {
      if (c.state.status === 'running' || c.state.status === 'paused') this.health.resume({ id: c.id, healthcheck: c.config.Healthcheck, shell: c.config.Shell ?? null, startedAt: new Date(c.state.startedAt) });
    }
  }

  /** Stops watching (live restore keeps the containers running). */
  async close(): Promise<void> {
    this.k.closed = true;
    await this.health.close();
    this.k.restarts.close();
    // unwritten exits stay in the shims' exit records; restore() reads them at next start
    this.k.dropRetries();
    await Promise.all(this.k.taskDeletes.values());
    await this.k.drain();
    this.k.attaches.close();
  }

  /** The state as last recorded (for views). */
  stateOf(id: string): StateData {
    return structuredClone(this.k.mustGet(id).state);
  }
}
