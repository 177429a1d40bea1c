/**
 * The composition root: builds every service from the configuration, wires them
 * together by constructor injection, and hands the API its route table.
 */
import * as fs from 'node:fs';
import { systemRoutes } from '../api/routes/system';
import { containerRoutes } from '../api/routes/containers';
import { execRoutes } from '../api/routes/exec';
import { diskUsageRoute, imageRoutes, imagesDiskUsage } from '../api/routes/images';
import { distributionRoutes, pullHandler } from '../api/routes/distribution';
import { openDistribution, type DistributionService } from './distribution/service';
import { Router } from '../api/router';
import { notImplementedRoutes } from '../api/routes/not-implemented';
import { commitRoutes } from '../api/routes/commit';
import type { Logger } from '../engine/log';
import type { DaemonConfig } from './config';
import { EventBus } from './events/bus';
import type { ImageService } from './images/service';
import { openImageStorage, type ImageStorage } from './images/storage';
import { DataRootLock } from './lock';
import { openContainers } from './containers/open';
import type { ContainerService } from './containers/service';
import { ExecService } from './exec/service';
import { taskIdFor } from './containers/task-ids';
import { ShimTaskService } from '../engine/runtime';
import { SystemService } from './system/system';
import { which } from './system/host';

export class Daemon {
  readonly events = new EventBus();
  readonly system: SystemService;
  private readonly closers: Array<() => Promise<void> | void> = [];
  /** storage core and image service (see images/storage.ts) */
  imageStorage!: ImageStorage;
  images!: ImageService;
  /** containers on the shim + runc (see containers/service.ts) */
  containers!: ContainerService;
  /** exec instances, run in the containers' shims (see exec/service.ts) */
  execs!: ExecService;
  /** registry pull / push / login (see distribution/service.ts) */
  distribution!: DistributionService;

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
  static async open(config: DaemonConfig, log: Logger): Promise<Daemon> {
    fs.mkdirSync(config.dataRoot, { recursive: true, mode: 0o710 });
    fs.chmodSync(config.dataRoot, 0o710);
    fs.mkdirSync(config.execRoot, { recursive: true, mode: 0o700 });
    const lock = DataRootLock.acquire(config.dataRoot);
    const rt = config.runtimes[config.defaultRuntime] ?? config.defaultRuntime;
    if (!which(rt)) log.warn('OCI runtime not found; containers cannot start', { runtime: rt });
    const d = new Daemon(config, log, lock);
    try {
      d.imageStorage = await openImageStorage({ dataRoot: config.dataRoot, execRoot: config.execRoot, events: d.events, log });
      d.images = d.imageStorage.images;
      d.closers.push(() => d.imageStorage.close());
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
      d.containers = await openContainers({
        dataRoot: config.dataRoot,
        execRoot: config.execRoot,
        runtime: rt,
        db: d.imageStorage.db,
        snapshotter: d.imageStorage.snapshotter,
        images: d.images,
        events: d.events,
        log,
      });
      d.closers.push(() => d.containers.close());
      d.execs = new ExecService({
        containers: d.containers,
        // STEVEDORE_EXEC=runtime: execs through `runtime exec` instead of the shim entering
        // the container (docs/shim.md, "Direct exec"): for comparisons and as an escape hatch.
        tasks: new ShimTaskService({ execRoot: config.execRoot, runtime: rt, execMode: process.env.STEVEDORE_EXEC === 'runtime' ? 'runtime' : 'direct' }),
        taskId: (id) => taskIdFor(id, config.execRoot),
        events: d.events,
        log,
      });
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
    return new Router()
      .add(...systemRoutes({ system: this.system, events: this.events }))
      .add(...imageRoutes({ images: this.images, pull: pullHandler({ distribution: this.distribution }) }), diskUsageRoute([imagesDiskUsage(this.images)]))
      .add(...distributionRoutes({ distribution: this.distribution }))
      .add(...containerRoutes({ containers: this.containers, execIds: (id) => this.execs.idsOf(id) }))
      .add(...execRoutes({ execs: this.execs, containers: this.containers }))
      .add(...commitRoutes({ containers: this.containers, images: this.images }))
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
