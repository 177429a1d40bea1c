/** Snapshots: containerd's snapshotter model over overlayfs. */
export * from './types';
export { OverlaySnapshotter, type RecoverReport } from './overlay';
export { snapshotMigrations } from './migrations';
