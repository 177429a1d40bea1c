/**
 * Opening the storage core the image service stands on — metadata database (with the
 * snapshot, gc and image migrations), content store, overlay snapshotter, leases and
 * collector — plus start-up repair: storage recovery, stale image leases dropped,
 * then one collection. (A thin adapter until the composition root opens these itself.)
 */
import * as path from 'node:path';
import { OverlayDiffer } from '../../engine/diff';
import { LocalContentStore } from '../../engine/content/local';
import { GarbageCollector, LeaseManager, gcMigrations, recoverStorage } from '../../engine/gc';
import { imageMigrations } from '../../engine/images/migrations';
import type { Logger } from '../../engine/log';
import { MetadataDB } from '../../engine/metadata/db';
import { MOBY_NAMESPACE } from '../../engine/metadata/namespaces';
import { OverlaySnapshotter, snapshotMigrations } from '../../engine/snapshots';
import type { EventBus } from '../events/bus';
import { ImageService } from './service';

export interface ImageStorage {
  db: MetadataDB;
  content: LocalContentStore;
  snapshotter: OverlaySnapshotter;
  leases: LeaseManager;
  gc: GarbageCollector;
  /** the diff component: layers from snapshots and back (unpack and commit use it) */
  differ: OverlayDiffer;
  images: ImageService;
  close(): void;
}

/** Opens and repairs the storage core under `dataRoot`, and the image service over it. */
export async function openImageStorage(a: { dataRoot: string; execRoot: string; events: EventBus; log: Logger }): Promise<ImageStorage> {
  const db = MetadataDB.open(path.join(a.dataRoot, 'metadata.db'), [...snapshotMigrations, ...gcMigrations, ...imageMigrations], { log: a.log });
  try {
    const content = new LocalContentStore(a.dataRoot);
    // the Docker front end's namespace; the collector covers every namespace
    const snapshotter = new OverlaySnapshotter(a.dataRoot, db, { namespace: MOBY_NAMESPACE });
    const leases = new LeaseManager(db, { namespace: MOBY_NAMESPACE });
    const gc = new GarbageCollector(db, content, snapshotter);
    // its scratch lives under the image service's, which recover() wipes at start-up
    const differ = new OverlayDiffer(content, path.join(a.dataRoot, 'tmp', 'images', 'diff'));
    await recoverStorage({ content, snapshots: snapshotter, tempMountDir: path.join(a.execRoot, 'tmpmounts') });
    const images = new ImageService({
      db,
      content,
      snapshotter,
      leases,
      apply: (stream, mounts, o) => differ.apply(stream, mounts, o),
      events: a.events,
      tmpDir: path.join(a.dataRoot, 'tmp', 'images'),
      snapshotDirs: snapshotter,
      namespace: MOBY_NAMESPACE,
      log: a.log,
    });
    const dropped = images.recover();
    const report = await gc.collect();
    if (dropped || report.removedContent.length || report.removedSnapshots.length) {
      a.log.info('image storage recovered', { staleLeases: dropped, removedContent: report.removedContent.length, removedSnapshots: report.removedSnapshots.length });
    }
    return { db, content, snapshotter, leases, gc, differ, images, close: () => db.close() };
  } catch (err) {
    db.close();
    throw err;
  }
}
