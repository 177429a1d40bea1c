/** Performing mounts: mountAll / unmount / unmountRecursive / detachAll / withTempMount. */
export type { Mount } from './types';
export { mountAll, mountOne, unmount, unmountRecursive, mountsUnder, detachAll } from './mount';
export { withTempMount, recoverTempMounts, defaultTempMountDir } from './temp';
export { overlayData, MAX_MOUNT_DATA } from './overlay-options';
export { mountVolatile, volatileMounts } from './volatile';
