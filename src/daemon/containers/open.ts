/**
 * Wiring helper for the composition root: builds the ContainerService over the image
 * storage (database, snapshotter, images) and the shim task service, registers the
 * image-in-use checker, and restores running containers (live restore).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ImageRuntimeConfig } from '../../engine/bundle/types';
import type { Logger } from '../../engine/log';
import type { MetadataDB } from '../../engine/metadata';
import { mountAll, unmountRecursive } from '../../engine/mount';
import { ShimTaskService, type TaskService } from '../../engine/runtime';
import type { Snapshotter } from '../../engine/snapshots';
import type { EventBus } from '../events/bus';
import type { ImageLookup } from './deps';
import { ContainerService } from './service';
import { TaskIdAdapter } from './task-ids';

/** The part of the image service used here (daemon/images ImageService). */
export interface ImageSource {
  get(refOrId: string): Promise<{ id: string; config: { config?: unknown }; chainId?: string; repoTags: string[] }>;
  setContainerChecker?(fn: (imageId: string) => Array<{ id: string; running: boolean }>): void;
}

export interface OpenContainersArgs {
  dataRoot: string;
  execRoot: string;
  runtime: string;
  db: MetadataDB;
  snapshotter: Snapshotter;
  images: ImageSource;
  events: EventBus;
  log: Logger;
  tasks?: TaskService;
}

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
    mounter: { mountAll, unmount: (t) => unmountRecursive(t, { detach: true }) },
    tasks: new TaskIdAdapter(a.tasks ?? new ShimTaskService({ execRoot: a.execRoot, runtime: a.runtime }), a.execRoot),
    events: a.events,
    log: a.log,
    ...(fs.existsSync(TINI) ? { initPath: TINI } : {}),
  });
  a.images.setContainerChecker?.((imageId) =>
    svc.list().filter((c) => c.image === imageId).map((c) => ({ id: c.id, running: c.state.status === 'running' || c.state.status === 'paused' })),
  );
  await svc.restore();
  return svc;
}
