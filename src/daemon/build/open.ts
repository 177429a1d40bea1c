/**
 * Opening the build service over the daemon's services (called by the composition
 * root): the containers service runs RUN steps, the image service and the snapshotter
 * hold the steps, the distribution service pulls missing bases.
 */
import * as path from 'node:path';
import type { Comparer } from '../../engine/diff';
import type { AuthConfig } from '../../engine/distribution';
import type { NamedReference } from '../../engine/reference';
import type { Snapshotter } from '../../engine/snapshots/types';
import type { ContainerService } from '../containers/service';
import type { EventBus } from '../events/bus';
import type { ImageService } from '../images/service';
import type { JsonMessage } from '../jsonmessage';
import type { BuildContainers } from './backend';
import { BuildService } from './service';

export interface OpenBuildArgs {
  dataRoot: string;
  execRoot: string;
  images: ImageService;
  containers: ContainerService;
  snapshotter: Snapshotter;
  comparer: Comparer;
  pull(ref: NamedReference, o: { auth: AuthConfig; signal?: AbortSignal; onMessage: (m: JsonMessage) => Promise<void> }): Promise<{ id: string }>;
  /** the daemon's event bus (`builder prune`) */
  events?: EventBus;
}

/** The containers service as the builder uses it. */
export function buildContainersOf(c: ContainerService, snapshotter: Snapshotter): BuildContainers {
  return {
    create: (req) => c.create(req),
    start: (ref) => c.start(ref),
    wait: (ref, cond, signal) => c.wait(ref, cond, signal),
    kill: (ref, sig) => c.kill(ref, sig),
    remove: (ref, o) => c.remove(ref, o),
    attachStreams: (ref, o, signal) => c.attachStreams(ref, o, signal),
    upperMounts: (id) => snapshotter.mounts(c.get(id).snapshotKey),
  };
}

/**
 * Opens the build service. Its scratch directory (unpacked contexts) lives under the
 * image service's, which `ImageService.recover()` empties at start-up: no build
 * survives a restart, and opening the service twice never touches a running build.
 */
export function openBuilds(a: OpenBuildArgs): BuildService {
  const tmpDir = path.join(a.dataRoot, 'tmp', 'images', 'build');
  return new BuildService({
    images: a.images,
    snapshotter: a.snapshotter,
    comparer: a.comparer,
    containers: buildContainersOf(a.containers, a.snapshotter),
    pull: async (ref, o) => (await a.pull(ref, { auth: o.auth as AuthConfig, ...(o.signal ? { signal: o.signal } : {}), onMessage: o.onMessage })).id,
    mountDir: path.join(a.execRoot, 'tmpmounts'),
    tmpDir,
    tag: (id, repo, tag) => a.images.tag(id, repo, tag),
    ...(a.events ? { events: a.events } : {}),
  });
}
