/**
 * The composition root: the one module that imports every layer. It builds the engine
 * (storage core, task service), the Docker daemon's services over it, and the Engine
 * API's route table over those, by constructor injection, in that order; and closes them
 * in the reverse order. Nothing below imports upwards (see imports.test.ts):
 * api → daemon → engine → native.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Router } from '../../api/router';
import { archiveRoutes } from '../../api/routes/archive';
import { buildRoutes } from '../../api/routes/build';
import { openBuilds } from '../../daemon/build/open';
import { commitRoutes } from '../../api/routes/commit';
import { containerRoutes } from '../../api/routes/containers';
import { distributionRoutes, pullHandler } from '../../api/routes/distribution';
import { execRoutes } from '../../api/routes/exec';
import { diskUsageRoute, imageRoutes, imagesDiskUsage } from '../../api/routes/images';
import { notImplementedRoutes } from '../../api/routes/not-implemented';
import { systemRoutes } from '../../api/routes/system';
import { volumeRoutes, volumesDiskUsage } from '../../api/routes/volumes';
import { networkRoutes } from '../../api/routes/networks';
import { NetworkService } from '../../daemon/networks/service';
import { IptablesFirewall } from '../../engine/network/firewall';
import { NetlinkLinkOps } from '../../engine/network/links';
import { NativeNetnsManager } from '../../engine/network/netns';
import { SocketPortAllocator } from '../../engine/network/ports';
import { enableHairpin, enableIpForward } from '../../engine/network/sysctl';
import { ProcessNameService } from '../../engine/network/dns/service';
import { VolumeService } from '../../daemon/volumes/service';
import type { DaemonConfig } from '../../daemon/config';
import { containersDiskUsage, imageGraphOf } from '../../daemon/containers/list';
import { ContainerCopier } from '../../daemon/containers/archive/copier';
import { ContainerLogs } from '../../daemon/containers/logs';
import { ContainerStats } from '../../daemon/containers/stats';
import { ContainerCommitter } from '../../daemon/images/commit';
import { CgroupMetricsReader } from '../../engine/metrics';
import { openContainers, openEngineContainers } from '../../daemon/containers/open';
import type { ContainerService } from '../../daemon/containers/service';
import { TaskIdAdapter } from '../../daemon/containers/task-ids';
import { openDistribution, type DistributionService } from '../../daemon/distribution/service';
import { EventBus } from '../../daemon/events/bus';
import { ExecService } from '../../daemon/exec/service';
import { ExecProber } from '../../daemon/containers/health/exec-prober';
import type { ImageService } from '../../daemon/images/service';
import { openImageStorage, type ImageStorage } from '../../daemon/images/storage';
import { DataRootLock } from '../../daemon/lock';
import { which } from '../../daemon/system/host';
import { SystemService } from '../../daemon/system/system';
import { GcScheduler, collectAfterFailure } from '../../daemon/system/gc-scheduler';
import type { Logger } from '../../engine/log';
import { mountAll, unmountRecursive } from '../../engine/mount';
import { ShimTaskService } from '../../engine/runtime';

/** The wired daemon: every service, the route table over them, and their shutdown. */
export class Stevedore {
  readonly events = new EventBus();
  readonly system: SystemService;
  private readonly closers: Array<() => Promise<void> | void> = [];
  /** storage core and image service (see daemon/images/storage.ts) */
  imageStorage!: ImageStorage;
  images!: ImageService;
  /** containers on the shim + runc (see daemon/containers/service.ts) */
  containers!: ContainerService;
  /** exec instances, run in the containers' shims (see daemon/exec/service.ts) */
  execs!: ExecService;
  /** volumes and the local driver (see daemon/volumes/service.ts) */
  volumes!: VolumeService;
  /** Docker's networks, IPAM and endpoints over the data plane (see daemon/networks/service.ts) */
  networks!: NetworkService;
  /** the containers' network namespaces (`<execRoot>/netns`) */
  netns!: NativeNetnsManager;
  /** registry pull / push / login (see daemon/distribution/service.ts) */
  distribution!: DistributionService;
  /** runs the collector on a schedule and after deletes (see daemon/system/gc-scheduler.ts) */
  gc!: GcScheduler;

  private constructor(
    readonly config: DaemonConfig,
    readonly log: Logger,
    private readonly lock: DataRootLock,
  ) {
    this.system = new SystemService({
      dataRoot: config.dataRoot,
      execRoot: config.execRoot,
      runtimes: config.runtimes,
      defaultRuntime: config.defaultRuntime,
      debug: config.debug,
      liveRestore: config.liveRestore,
      labels: config.labels,
      insecureRegistries: config.insecureRegistries,
      registryMirrors: config.registryMirrors,
      initBinary: 'docker-init',
      counts: () => this.counts(),
      eventListeners: () => this.events.listenerCount,
    });
  }

  /**
   * Prepares the data and exec roots, takes the data-root lock, and opens every
   * service. Throws conflict when another daemon holds the data root.
   */
  static async open(config: DaemonConfig, log: Logger): Promise<Stevedore> {
    fs.mkdirSync(config.dataRoot, { recursive: true, mode: 0o710 });
    fs.chmodSync(config.dataRoot, 0o710);
    fs.mkdirSync(config.execRoot, { recursive: true, mode: 0o700 });
    const lock = DataRootLock.acquire(config.dataRoot);
    const name = config.runtimes[config.defaultRuntime] ?? config.defaultRuntime;
    // found once: the shim execs it by its path (a PATH search is an execve per directory, three runs per container)
    const found = which(name);
    if (!found) log.warn('OCI runtime not found; containers cannot start', { runtime: name });
    const rt = found && path.isAbsolute(found) ? found : name;
    const d = new Stevedore(config, log, lock);
    try {
      // engine: the storage core (metadata, content, snapshots, leases, GC) and the image service over it
      d.imageStorage = await openImageStorage({ dataRoot: config.dataRoot, execRoot: config.execRoot, events: d.events, log });
      d.images = d.imageStorage.images;
      d.closers.push(() => d.imageStorage.close());
      d.gc = new GcScheduler(d.imageStorage.gc, { log }).start();
      const unwatch = d.gc.watch(d.events);
      d.closers.push(async () => {
        unwatch();
        await d.gc.stop();
      });
      d.distribution = openDistribution({
        dataRoot: config.dataRoot,
        db: d.imageStorage.db,
        content: d.imageStorage.content,
        leases: d.imageStorage.leases,
        images: d.images,
        insecureRegistries: config.insecureRegistries,
        registryMirrors: config.registryMirrors,
        maxConcurrentDownloads: config.maxConcurrentDownloads,
        maxConcurrentUploads: config.maxConcurrentUploads,
        env: process.env,
      });
      d.closers.push(() => d.distribution.close());
      // one task service for containers and execs, taking container ids (the one task-id mapping)
      const tasks = new TaskIdAdapter(new ShimTaskService({ execRoot: config.execRoot, runtime: rt, execMode: config.execMode ?? 'direct' }), config.execRoot);
      d.volumes = new VolumeService({ db: d.imageStorage.db, dataRoot: config.dataRoot, events: d.events, log });
      // the volumes' references are the containers' mount points (read through the service once it exists)
      d.volumes.setUsers({ list: () => (d.containers ? d.containers.list() : []), get: (ref) => d.containers.get(ref) });
      // networks: the data plane (links, firewall, host ports, resolver) and Docker's network objects over it
      const net = config.network;
      d.netns = new NativeNetnsManager(config.execRoot);
      d.networks = new NetworkService({
        db: d.imageStorage.db,
        events: d.events,
        log: log.child({ component: 'networks' }),
        links: new NetlinkLinkOps(),
        ...(net.iptables ? { firewall: new IptablesFirewall({ ipv4: true, ipv6: net.ip6tables, log }) } : {}),
        ports: new SocketPortAllocator({ userlandProxyWording: net.userlandProxy }),
        dns: new ProcessNameService({ execRoot: config.execRoot, log: log.child({ component: 'dns' }), logLevel: config.logLevel }),
        ...(net.ipForward ? { enableIpForward: async () => void (await enableIpForward()) } : {}),
        hairpin: (port) => enableHairpin(port),
        config: {
          ...(config.bridge !== undefined && config.bridge !== '' ? { bridge: config.bridge } : {}),
          ...(config.bip ? { bip: config.bip } : {}),
          ...(net.fixedCidr ? { fixedCidr: net.fixedCidr } : {}),
          ...(net.fixedCidrV6 ? { fixedCidrV6: net.fixedCidrV6 } : {}),
          ipv6: net.ipv6,
          ...(net.mtu ? { mtu: net.mtu } : {}),
          icc: net.icc,
          ipMasq: net.ipMasq,
          hostBindingIpv4: net.ip,
          iptables: net.iptables,
          ip6tables: net.ip6tables,
          ...(net.defaultAddressPools.length ? { defaultAddressPools: net.defaultAddressPools } : {}),
        },
      });
      await d.networks.open();
      d.closers.push(() => d.networks.close({ stopResolver: !config.liveRestore }));
      // the engine's containers (record + run sequence) under the Docker front end's namespace
      const engineContainers = openEngineContainers({ db: d.imageStorage.db, execRoot: config.execRoot, snapshotter: d.imageStorage.snapshotter, tasks, log });
      d.containers = await openContainers({
        engine: engineContainers,
        dataRoot: config.dataRoot,
        execRoot: config.execRoot,
        db: d.imageStorage.db,
        snapshotter: d.imageStorage.snapshotter,
        images: d.images,
        events: d.events,
        log,
        tasks,
        volumes: d.volumes,
        network: {
          netns: d.netns,
          networks: d.networks,
          ...(d.networks.portsFirewall ? { firewall: d.networks.portsFirewall } : {}),
          ...(d.networks.allocator ? { ports: d.networks.allocator } : {}),
          settings: () => {
            const gateway = net.hostGatewayIp || d.networks.defaultGateway();
            return {
              bridgeDisabled: config.bridge === 'none',
              ...(gateway ? { hostGatewayIp: gateway } : {}),
              dns: { dns: net.dns, search: net.dnsSearch, options: net.dnsOptions },
            };
          },
        },
      });
      d.closers.push(() => d.containers.close());
      // the network service sees the containers through the container side's lookup; endpoints
      // of containers that are no longer running are released; renames reach the names
      d.networks.setContainers(d.containers.networkLookup());
      await d.networks.reconcile();
      const unwatchRenames = d.events.subscribe((ev) => {
        if (ev.Type === 'container' && ev.Action === 'rename' && ev.Actor.Attributes.name) {
          d.networks.containerRenamed(ev.Actor.ID, ev.Actor.Attributes.name).catch((err) => log.warn('cannot rename in the resolver', { err: String(err) }));
        }
      });
      d.closers.push(unwatchRenames);
      d.execs = new ExecService({
        containers: d.containers,
        tasks,
        taskId: (id) => id, // the adapter maps container ids to task ids
        specs: engineContainers,
        events: d.events,
        log,
      });
      // health probes run through the exec path (ExecService), made after the containers
      d.containers.health.useProber(new ExecProber(d.execs));
    } catch (err) {
      await d.close();
      throw err;
    }
    return d;
  }

  private counts() {
    return { containers: this.containers ? this.containers.counts() : { running: 0, paused: 0, stopped: 0 }, images: this.images ? this.images.count() : 0 };
  }

  /** The complete route table of the Engine API. */
  router(): Router {
    const logs = new ContainerLogs(this.containers);
    const stats = new ContainerStats(this.containers, new CgroupMetricsReader(this.containers.cgroupVersion));
    const commits = new ContainerCommitter(this.containers, this.imageStorage.snapshotter, this.images, this.imageStorage.differ);
    return new Router()
      .add(...systemRoutes({ system: this.system, events: this.events }))
      .add(...imageRoutes({ images: this.images, pull: pullHandler({ distribution: { pull: collectAfterFailure((ref, o) => this.distribution.pull(ref, o), this.gc) } }) }), diskUsageRoute([imagesDiskUsage(this.images), containersDiskUsage({ containers: this.containers, images: imageGraphOf(this.images) }), volumesDiskUsage(this.volumes)]))
      .add(...distributionRoutes({ distribution: this.distribution }))
      .add(...containerRoutes({ containers: this.containers, logs, stats, graphDriver: this.imageStorage.snapshotter, images: imageGraphOf(this.images), execIds: (id) => this.execs.idsOf(id) }))
      .add(...execRoutes({ execs: this.execs, containers: this.containers, logs }))
      .add(...commitRoutes(commits))
      .add(...buildRoutes(openBuilds({ dataRoot: this.config.dataRoot, execRoot: this.config.execRoot, images: this.images, containers: this.containers, snapshotter: this.imageStorage.snapshotter, comparer: this.imageStorage.differ, pull: collectAfterFailure((ref, o) => this.distribution.pull(ref, o), this.gc), events: this.events })))
      .add(...volumeRoutes(this.volumes))
      .add(...networkRoutes(this.networks))
      .add(...archiveRoutes(new ContainerCopier({ containers: this.containers, storage: { mounts: (k) => this.imageStorage.snapshotter.mounts(k), mountAll, unmount: (t) => unmountRecursive(t, { detach: true }) }, tmpDir: `${this.config.execRoot}/archive`, log: this.log, mountTable: (id) => this.volumes.mountTable(id) })))
      .add(...notImplementedRoutes());
  }

  /** Stops services in reverse order of opening and releases the data-root lock. */
  async close(): Promise<void> {
    for (const c of this.closers.reverse()) {
      try {
        await c();
      } catch (err) {
        this.log.error('error while closing', { err });
      }
    }
    this.lock.release();
  }
}
