/**
 * A view of the content store for one pull: every blob and partial download is added
 * to the pull's lease before a byte of it is written, so the collector never takes
 * the blobs of a pull in flight — nor, after a crash, those of an interrupted one
 * until its lease expires (so pulling again reuses them).
 */
import type { Readable } from 'node:stream';
import { isNotFound } from '../../engine/errdefs';
import { sha256Digest } from '../../engine/reference';
import type { ContentStore, Info, IngestOptions } from '../../engine/content';
import type { PullStore } from '../../engine/distribution';
import type { Lease, LeaseManager } from '../../engine/gc';

export function leasedStore(content: ContentStore, leases: LeaseManager, lease: Lease): PullStore {
  const hold = (kind: 'content' | 'ingest', id: string) => leases.addResource(lease.id, { kind, id });
  return {
    info: (d) => content.info(d),
    exists: (d) => content.exists(d),
    reader: (d, o) => content.reader(d, o),
    readAll: (d, o) => content.readAll(d, o),
    ingestOffset: (ref) => content.ingestOffset(ref),
    abort: (ref) => content.abort(ref),
    async ingest(ref: string, source: Readable | AsyncIterable<Buffer>, expected: { digest: string; size?: number }, opts?: IngestOptions): Promise<Info> {
      hold('ingest', ref);
      hold('content', expected.digest);
      return content.ingest(ref, source, expected, opts);
    },
    async put(data: Buffer, expectedDigest?: string): Promise<Info> {
      hold('content', expectedDigest ?? sha256Digest(data));
      return content.put(data, expectedDigest);
    },
  };
}

/**
 * Deletes a pull's lease. With `freeHeld` (a failed pull) it also removes, at once,
 * what only the lease held: its partial downloads (waiting for a write still running
 * to end) and the blobs, when no image, container or other pull references them. Docker 20.10
 * likewise drops a failed pull's temporary downloads and unreferenced layers at once.
 */
export async function dropLease(content: ContentStore, leases: LeaseManager, lease: Lease, opts: { freeHeld: boolean }): Promise<void> {
  const held = opts.freeHeld ? leases.resources(lease.id) : [];
  leases.delete(lease.id);
  for (const r of held) {
    if (leases.isReferenced(r)) continue; // another pull of the same blob holds it too
    if (r.kind === 'ingest') {
      await content.abort(r.id);
    } else if (r.kind === 'content') {
      // checked in the same turn as the unlink starts (as the collector does)
      await content.delete(r.id).catch((err: unknown) => {
        if (!isNotFound(err)) throw err;
      });
    }
  }
}
