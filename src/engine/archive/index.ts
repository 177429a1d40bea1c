/**
 * Layers and archives: applying layer tars to snapshot directories (with overlay
 * whiteouts and DiffIDs), diffing upper directories back into layer tars, plain
 * archives for `docker cp` / save, and compression. See docs/layers.md.
 */
export { applyLayer, extractTar, DEFAULT_LIMITS } from './apply';
export type { ApplyLimits, ApplyOptions, ApplyResult, ExtractOptions } from './apply';
export { diffUpperDir, tarDirectory } from './pack';
export type { PackOptions, TarDirectoryOptions } from './pack';
export { compress, detectCompression } from './compression';
export type { Compression } from './compression';
