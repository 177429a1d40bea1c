/** The diff component: layers from snapshots (Comparer) and snapshots from layers (Applier). */
export type { Applier, ApplyResult, CompareOptions, Comparer, LayerDiff } from './types';
export { EMPTY_TAR_DIGEST, LAYER_MEDIA_TYPE, OverlayDiffer, writableDirOf, type LayerIngester } from './overlay';
