/**
 * Snapshotter vocabulary (containerd's `core/snapshots`):
 * - a *key* names an active (writable) or view (read-only) snapshot;
 * - a *name* names a committed snapshot, which can be the parent of others;
 * keys and names share one namespace. A snapshotter never mounts anything itself:
 * `prepare`, `view` and `mounts` return the mounts to perform (see engine/mount).
 *
 * Lifecycle: prepare(key, parent) → mount, write → commit(name, key) → usable as a
 * parent; view(key, parent) for read-only access; remove(key or name) when no
 * children remain.
 */
import type { Mount } from '../mount/types';

export type { Mount };

export type SnapshotKind = 'active' | 'view' | 'committed';

export interface SnapshotInfo {
  /** the key (active, view) or name (committed) */
  name: string;
  /** name of the committed parent, if any */
  parent?: string;
  kind: SnapshotKind;
  createdAt: Date;
  updatedAt: Date;
  labels: Record<string, string>;
}

export interface Usage {
  /** bytes in the snapshot's own layer (apparent size; hard links counted once) */
  size: number;
  /** inodes in the snapshot's own layer */
  inodes: number;
}

export interface Snapshotter {
  /** Creates an active snapshot over committed `parent`. Throws conflict if `key` exists, not-found if `parent` does not, invalid-argument if it is not committed. */
  prepare(key: string, parent?: string, opts?: { labels?: Record<string, string> }): Promise<Mount[]>;
  /** Like prepare, but the mounts are read-only. */
  view(key: string, parent?: string, opts?: { labels?: Record<string, string> }): Promise<Mount[]>;
  /** The mounts of an active or view snapshot. Throws not-found, or invalid-argument for a committed one. */
  mounts(key: string): Promise<Mount[]>;
  /** Turns active snapshot `key` into committed snapshot `name` (same directory). Throws conflict if `name` exists. */
  commit(name: string, key: string, opts?: { labels?: Record<string, string> }): Promise<void>;
  /** Removes a snapshot: its row, then its files. Throws conflict if it has children. */
  remove(keyOrName: string): Promise<void>;
  stat(keyOrName: string): Promise<SnapshotInfo>;
  usage(keyOrName: string): Promise<Usage>;
  walk(): AsyncIterable<SnapshotInfo>;
}

/**
 * For snapshotters that keep each snapshot in a directory of its own (the overlay
 * snapshotter): where its files are, so that callers need not parse mount options.
 */
export interface SnapshotDirs {
  /** The directory an active snapshot's writes go to. Throws not-found, or invalid-argument for a view or committed snapshot. */
  upperDir(key: string): string;
  /** The snapshot's directory, its own layer and its work dir; undefined when it does not exist. */
  dirsOf(keyOrName: string): { home: string; fs: string; work: string } | undefined;
}
