/** The content store: sha256-addressed, verified, immutable blobs. */
export * from './types';
export { validateDigest, splitDigest, sha256Digest } from './digest';
export { LocalContentStore } from './local';
