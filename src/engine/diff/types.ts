/**
 * The diff component (containerd's `diff.Comparer` and `diff.Applier`): the one place
 * where a snapshot's changes become a layer and a layer becomes a snapshot's contents.
 * Commit and image unpack go through it; `docker diff`, export, build and `docker cp`
 * are to use it too (docs/architecture.md).
 */
import type { Readable } from 'node:stream';
import type { Mount } from '../snapshots/types';

/** A layer as the comparer wrote it: an uncompressed tar in the content store. */
export interface LayerDiff {
  /** the tar's sha256 (its DiffID and, uncompressed, its blob digest) */
  digest: string;
  size: number;
  mediaType: string;
  /** no change at all: nothing was written (Docker adds no layer for it) */
  empty: boolean;
}

export interface CompareOptions {
  /**
   * Paths (relative to the layer root, no leading slash) to leave out of the layer,
   * chosen by looking at the writable directory (a commit leaves out the runtime's
   * mount points, as Docker's init layer does).
   */
  exclude?: (upperDir: string) => Set<string>;
  /**
   * Called with the layer's digest and the ingest ref before any byte reaches the
   * content store: add both to a lease there, so the collector keeps them.
   */
  beforeWrite?: (digest: string, ingestRef: string) => void;
  /** the ingest ref the blob is written under */
  ingestRef: string;
  signal?: AbortSignal;
}

/**
 * Compares an active snapshot with its parent and writes the difference as a layer.
 * Throws invalid-argument for mounts that are not an active snapshot's.
 */
export interface Comparer {
  /**
   * The changes in `upper` (an active snapshot's mounts) over the layers below it,
   * written to the content store as an uncompressed layer tar (overlay whiteouts and
   * opaque directories become `.wh.` entries).
   */
  compare(upper: Mount[], opts: CompareOptions): Promise<LayerDiff>;
}

/** The result of applying a layer: its DiffID (of the uncompressed tar) and unpacked size. */
export interface ApplyResult {
  diffID: string;
  size: number;
}

/** Applies a layer to an active snapshot. */
export interface Applier {
  /**
   * Writes the layer `layer` (a tar, possibly compressed) into `mounts` (an active
   * snapshot's): its files into the writable directory, its whiteouts as overlay
   * whiteouts. The caller opens the bytes (a pull unpacks while it downloads). Throws
   * invalid-argument for a hostile or broken tar.
   */
  apply(layer: Readable, mounts: Mount[], opts?: { signal?: AbortSignal }): Promise<ApplyResult>;
}
