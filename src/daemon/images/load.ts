/**
 * `docker load` (POST /images/load): the archive is staged from the request stream,
 * its blobs are ingested into the content store and its layers unpacked, all under one
 * lease; then every image of the archive and its tags are registered in one transaction.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { detectCompression } from '../../engine/archive/compression';
import { invalidArgument } from '../../engine/errdefs';
import { planLoad } from '../../engine/images/archive-format';
import { StagedArchive } from '../../engine/images/staging';
import type { ImageRecord } from '../../engine/images/types';
import { MediaTypes } from '../../engine/images/types';
import { familiarString, NamedReference, parseDockerRef, shortId } from '../../engine/reference';
import { commitImages, imageLease, type LayerBlob, prepareImage } from './register';
import type { ImageService } from './service';

/** A progress or result message of a load, in the JSON-message shape. */
export interface LoadMessage {
  stream?: string;
  status?: string;
  id?: string;
  progressDetail?: { current?: number; total?: number };
}

export interface LoadOptions {
  quiet?: boolean;
  signal?: AbortSignal;
  onMessage?(m: LoadMessage): void | Promise<void>;
}

function mediaTypeOf(head: Buffer): string {
  const kind = detectCompression(head);
  return kind === 'gzip' ? MediaTypes.DockerLayerGzip : kind === 'zstd' ? MediaTypes.OciLayerZstd : MediaTypes.DockerLayer;
}

/** Loads every image of a docker-archive or OCI layout tar. Returns the image IDs. */
export async function loadImages(svc: ImageService, input: Readable, opts: LoadOptions = {}): Promise<string[]> {
  const { content, leases, tmpDir } = svc.opts;
  const say = async (m: LoadMessage) => opts.onMessage?.(m);
  const lease = imageLease(svc, 'load');
  let staged: StagedArchive | undefined;
  try {
    staged = await StagedArchive.read(input, path.join(tmpDir, 'load'), { signal: opts.signal });
    const plans = planLoad(staged);
    const prepared: Array<{ record: ImageRecord; refs: NamedReference[]; tags: string[]; labels?: Record<string, string> | null }> = [];
    for (const plan of plans) {
      const blobs: LayerBlob[] = [];
      for (const l of plan.layers) {
        const f = staged.get(l.member);
        leases.addResource(lease.id, { kind: 'content', id: f.digest });
        let head: Buffer;
        if (f.data) {
          head = f.data.subarray(0, 8);
          await content.put(f.data, f.digest);
        } else {
          const fd = fs.openSync(f.file!, 'r');
          head = Buffer.alloc(8);
          fs.readSync(fd, head, 0, 8, 0);
          fs.closeSync(fd);
          const ref = `load-${lease.id}-${f.digest.slice(7, 19)}`;
          leases.addResource(lease.id, { kind: 'ingest', id: ref });
          await content.ingest(ref, fs.createReadStream(f.file!), { digest: f.digest, size: f.size }, { signal: opts.signal });
        }
        blobs.push({ digest: f.digest, mediaType: mediaTypeOf(head), size: f.size });
      }
      const refs: NamedReference[] = [];
      const tags: string[] = [];
      for (const t of plan.repoTags) {
        let r: NamedReference;
        try {
          r = parseDockerRef(t);
        } catch (err) {
          throw invalidArgument(`invalid reference ${JSON.stringify(t)} in archive: ${(err as Error).message}`);
        }
        if (r.digest) continue;
        refs.push(r);
        tags.push(familiarString(r));
      }
      if (plan.manifest) {
        leases.addResource(lease.id, { kind: 'content', id: plan.manifest.digest });
        await content.put(plan.manifest.bytes, plan.manifest.digest);
      }
      const { record } = await prepareImage(
        svc,
        { configBytes: plan.configBytes, layers: blobs, refs, manifestDigest: plan.manifest?.digest },
        lease,
        {
          signal: opts.signal,
          onLayer: (e) => {
            if (opts.quiet) return;
            const total = blobs[e.index]!.size;
            void say({ status: 'Loading layer', progressDetail: { current: e.state === 'extracting' ? 0 : total, total }, id: shortId(e.chainId) });
          },
        },
      );
      prepared.push({ record, refs, tags, labels: plan.config.config?.Labels });
    }
    const moved = commitImages(svc, prepared);
    for (let i = 0; i < prepared.length; i++) {
      const p = prepared[i]!;
      for (const m of moved[i]!) {
        await say({ stream: `The image ${familiarString(parseDockerRef(m.ref))} already exists, renaming the old one with ID ${m.from} to empty string\n` });
      }
      svc.emit('load', p.record.id, p.record.id, p.labels);
      if (p.tags.length === 0) await say({ stream: `Loaded image ID: ${p.record.id}\n` });
      for (const t of p.tags) await say({ stream: `Loaded image: ${t}\n` });
    }
    return prepared.map((p) => p.record.id);
  } finally {
    leases.delete(lease.id);
    await staged?.cleanup();
  }
}
