/**
 * Wiring helper for the composition root: builds the ContainerService over the image
 * storage (database, snapshotter, images) and the shim task service, registers the
 * image-in-use checker, and restores running containers (live restore).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EngineContainers } from '../../engine/containers';
import type { Logger } from '../../engine/log';
import { MOBY_NAMESPACE, type MetadataDB } from '../../engine/metadata';
import { detachAll, mountAll } from '../../engine/mount';
import type { TaskService } from '../../engine/runtime';
import type { Snapshotter } from '../../engine/snapshots';
import type { EventBus } from '../events/bus';
import type { ContainerServiceOptions, ContainerVolumes } from './core';
import type { ImageLookup } from './deps';
import { ContainerService } from './service';
import type { ImageRuntimeConfig } from './types';

/** The part of the image service used here (daemon/images ImageService). */
export interface ImageSource {
  get(refOrId: string): Promise<{ id: string; config: { config?: unknown }; chainId?: string; repoTags: string[] }>;
  setContainerChecker?(fn: (imageId: string) => Array<{ id: string; running: boolean }>): void;
}

export interface OpenContainersArgs {
  dataRoot: string;
  execRoot: string;
  db: MetadataDB;
  snapshotter: Snapshotter;
  images: ImageSource;
  events: EventBus;
  log: Logger;
  /** the task service, taking container ids (the composition root wraps it in a TaskIdAdapter) */
  tasks: TaskService;
  /** the volume service (volumes, mount points, rm -v) */
  volumes?: ContainerVolumes;
  /** the engine's containers the starts run on (openEngineContainers); default: made over the same parts */
  engine?: EngineContainers;
  /** networking: namespaces, the network service, ports (docs/networking/containers.md) */
  network?: ContainerServiceOptions['network'];
}

/**
 * The Docker front end's engine containers: namespace `moby`, bundles at
 * `<execRoot>/bundles/<id>`, the real mounter. Shared by the container service (the run
 * sequence) and the exec service (the specs).
 */
export function openEngineContainers(a: Pick<OpenContainersArgs, 'db' | 'execRoot' | 'snapshotter' | 'tasks' | 'log'>): EngineContainers {
  return new EngineContainers({
    db: a.db,
    namespace: MOBY_NAMESPACE,
    snapshots: a.snapshotter,
    mounter: containerMounter,
    tasks: a.tasks,
    bundleDir: (id) => path.join(a.execRoot, 'bundles', id),
    log: a.log,
  });
}

const containerMounter = { mountAll, unmount: detachAll };

const TINI = '/usr/bin/tini-static';

/** Opens the container service and restores containers that outlived the last daemon. */
export async function openContainers(a: OpenContainersArgs): Promise<ContainerService> {
  const lookup: ImageLookup = {
    async get(ref) {
      const img = await a.images.get(ref);
      return { id: img.id, config: (img.config.config ?? {}) as ImageRuntimeConfig, chainId: img.chainId, repoTags: img.repoTags };
    },
  };
  fs.mkdirSync(path.join(a.execRoot, 'bundles'), { recursive: true, mode: 0o711 });
  const svc = new ContainerService({
    dataRoot: a.dataRoot,
    execRoot: a.execRoot,
    db: a.db,
    images: lookup,
    snapshots: a.snapshotter,
    mounter: containerMounter,
    tasks: a.tasks,
    engine: a.engine ?? openEngineContainers(a),
    events: a.events,
    log: a.log,
    ...(a.volumes ? { volumes: a.volumes } : {}),
    ...(a.network ? { network: a.network } : {}),
    ...(fs.existsSync(TINI) ? { initPath: TINI } : {}),
  });
  a.images.setContainerChecker?.((imageId) => svc.usersOfImage(imageId));
  await svc.restore();
  return svc;
}
