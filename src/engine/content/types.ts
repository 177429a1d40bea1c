/**
 * Content store vocabulary (containerd's `core/content`): a store holds immutable,
 * sha256-addressed blobs. Callers depend on the narrowest role they need:
 * `Provider` to read, `Ingester` to write, `Manager` to list and delete.
 */
import type { Readable } from 'node:stream';

/** An OCI content descriptor (image-spec `descriptor.md`). */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  urls?: string[];
  platform?: { architecture: string; os: string; variant?: string; 'os.version'?: string; 'os.features'?: string[] };
}

/** What the store knows about a committed blob. */
export interface Info {
  digest: string;
  size: number;
  createdAt: Date;
}

/** Reads committed blobs. */
export interface Provider {
  /** Throws not-found "content digest sha256:… not found". */
  info(digest: string): Promise<Info>;
  exists(digest: string): Promise<boolean>;
  /** Streams the blob from `start` (default 0). Throws not-found. */
  reader(digest: string, opts?: { start?: number }): Promise<Readable>;
  /** Reads a small blob whole (manifests, configs); throws invalid-argument past maxSize (default 4 MiB). */
  readAll(digest: string, opts?: { maxSize?: number }): Promise<Buffer>;
}

/** Options of `Ingester.ingest`. */
export interface IngestOptions {
  signal?: AbortSignal;
  onProgress?: (bytesSoFar: number) => void;
}

/** Writes blobs, verified before they become visible. */
export interface Ingester {
  /** Bytes already received for ref (0 if none): a resumed download continues from here. */
  ingestOffset(ref: string): Promise<number>;
  /**
   * Appends `source` to ref's partial data, hashing all of it (including bytes already
   * present), fsyncs, verifies digest (and size if given), then renames into place
   * read-only (0444). On mismatch removes the partial data and throws invalid-argument.
   * If the blob is already committed, reads nothing from `source` (a Readable is
   * destroyed) and returns its info.
   */
  ingest(
    ref: string,
    source: Readable | AsyncIterable<Buffer>,
    expected: { digest: string; size?: number },
    opts?: IngestOptions,
  ): Promise<Info>;
  /** Drops ref's partial data (no-op if there is none). */
  abort(ref: string): Promise<void>;
  /** Small blobs: verifies `expectedDigest` if given and stores the data. */
  put(data: Buffer, expectedDigest?: string): Promise<Info>;
}

/** Lists and deletes committed blobs. */
export interface Manager {
  /** Throws not-found if absent. */
  delete(digest: string): Promise<void>;
  list(): AsyncIterable<Info>;
}

export interface ContentStore extends Provider, Ingester, Manager {}

/** A partial download in the ingest area. */
export interface IngestStatus {
  ref: string;
  /** bytes received so far */
  offset: number;
  /** last write */
  updatedAt: Date;
  /** an ingest() or abort() of this ref is running in this process */
  active: boolean;
}
