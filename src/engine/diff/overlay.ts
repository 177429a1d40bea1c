/**
 * The diff component over overlay snapshots: an active snapshot's overlay upper
 * directory holds exactly its changes (deletions as whiteouts), so comparing reads only
 * that directory, and applying writes only there.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { applyLayer } from '../archive/apply';
import { diffUpperDir } from '../archive/pack';
import { DigestTap } from '../content/digest';
import { invalidArgument } from '../errdefs';
import type { Mount } from '../snapshots/types';
import type { Applier, ApplyResult, CompareOptions, Comparer, LayerDiff } from './types';

/** The media type of an uncompressed layer (Docker's). */
export const LAYER_MEDIA_TYPE = 'application/vnd.docker.image.rootfs.diff.tar';

/** The DiffID of a tar with no entries (1024 zero bytes): Docker's layer.DigestSHA256EmptyTar. */
export const EMPTY_TAR_DIGEST = 'sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef';

/** The directory an active snapshot's changes go to (the overlay upperdir, or a bind source). */
export function writableDirOf(mounts: Mount[]): string {
  const m = mounts[0];
  if (!m) throw invalidArgument('snapshot has no mounts');
  if (m.type === 'bind') return m.source;
  const up = m.options.find((o) => o.startsWith('upperdir='));
  if (!up) throw invalidArgument('snapshot mount has no upperdir: not an active snapshot');
  return up.slice('upperdir='.length);
}

/** Where the comparer writes: the content store's ingest. */
export interface LayerIngester {
  ingest(ref: string, source: Readable, expected: { digest: string; size?: number }, opts?: { signal?: AbortSignal }): Promise<unknown>;
}

/** Comparer and Applier over overlay snapshots. */
export class OverlayDiffer implements Comparer, Applier {
  /**
   * @param content where compared layers are written
   * @param tmpDir a private directory for the tar while its digest is computed
   */
  constructor(
    private readonly content: LayerIngester,
    private readonly tmpDir: string,
  ) {}

  async compare(upper: Mount[], o: CompareOptions): Promise<LayerDiff> {
    const dir = writableDirOf(upper);
    const leaveOut = o.exclude?.(dir) ?? new Set<string>();
    await fsp.mkdir(this.tmpDir, { recursive: true, mode: 0o700 });
    const tmp = path.join(this.tmpDir, `diff-${randomBytes(8).toString('hex')}.tar`);
    try {
      const tee = new DigestTap();
      await pipeline(diffUpperDir(dir, { signal: o.signal, filter: (rel) => !leaveOut.has(rel) }), tee, fs.createWriteStream(tmp, { mode: 0o600 }), { signal: o.signal });
      const digest = tee.digest();
      const diff: LayerDiff = { digest, size: tee.size, mediaType: LAYER_MEDIA_TYPE, empty: digest === EMPTY_TAR_DIGEST };
      if (diff.empty) return diff;
      o.beforeWrite?.(digest, o.ingestRef);
      await this.content.ingest(o.ingestRef, fs.createReadStream(tmp), { digest, size: tee.size }, { ...(o.signal ? { signal: o.signal } : {}) });
      return diff;
    } finally {
      await fsp.rm(tmp, { force: true });
    }
  }

  apply(layer: Readable, mounts: Mount[], opts: { signal?: AbortSignal } = {}): Promise<ApplyResult> {
    return applyLayer(layer, writableDirOf(mounts), { signal: opts.signal });
  }
}
