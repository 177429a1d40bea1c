/**
 * Startup repair of the storage core after a crash (SIGKILL, power loss), in the order
 * that makes each step safe: unmount leftover temp mounts first (so no snapshot dir is
 * busy), then snapshot rows vs directories, then the content ingest area.
 */
import type { LocalContentStore } from '../content/local';
import { recoverTempMounts } from '../mount/temp';
import type { OverlaySnapshotter, RecoverReport } from '../snapshots/overlay';

export interface StorageRecoverReport {
  tempMounts: number;
  snapshots: RecoverReport;
  ingests: number;
}

/** Call once at daemon start, before serving requests. */
export async function recoverStorage(parts: {
  content: LocalContentStore;
  snapshots: OverlaySnapshotter;
  /** the folder given to withTempMount */
  tempMountDir: string;
}): Promise<StorageRecoverReport> {
  const tempMounts = recoverTempMounts(parts.tempMountDir);
  const snapshots = parts.snapshots.recover();
  const ingests = await parts.content.recover();
  return { tempMounts, snapshots, ingests };
}
