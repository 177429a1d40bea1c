/**
 * What the container service needs from the rest of the daemon and the engine, as
 * narrow interfaces (the real implementations are wired in daemon.ts).
 */
import type { Database } from '../../engine/metadata';
import type { Mount } from '../../engine/mount/types';
import type { ImageRuntimeConfig } from './types';

/** An image as the container service sees it. */
export interface ImageInfo {
  /** sha256:… */
  id: string;
  /** the runtime config (`config` of the OCI image config) */
  config: ImageRuntimeConfig;
  /** committed snapshot of the top layer; undefined for an image without layers */
  chainId: string | undefined;
  repoTags: string[];
}

/** Finds images. Throws not-found `No such image: ref` (the CLI pulls on that 404). */
export interface ImageLookup {
  get(refOrId: string): Promise<ImageInfo>;
}

/** The part of the snapshotter the container service uses. */
export interface ContainerSnapshots {
  prepare(key: string, parent?: string, opts?: { labels?: Record<string, string> }): Promise<Mount[]>;
  mounts(key: string): Promise<Mount[]>;
  remove(key: string): Promise<void>;
  /** `remove` with `also` in the same transaction as the row's delete (OverlaySnapshotter). */
  removeWith?(key: string, also: (db: Database) => void, opts?: { files?: (remove: () => Promise<void>) => void }): Promise<void>;
  usage(key: string): Promise<{ size: number; inodes: number }>;
}

/** Mounts and unmounts root filesystems (engine/mount). */
export interface Mounter {
  mountAll(mounts: Mount[], target: string): void;
  unmount(target: string): void;
}
