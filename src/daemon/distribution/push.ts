/**
 * `docker push` in the daemon: for each local tag of the repository (or the one tag
 * asked for), the image's manifest — the one it was pulled with when we still have it
 * whole, otherwise a Docker schema2 manifest built from its config and its layers
 * gzip-compressed as Docker pushes them — is pushed with the engine's
 * `RegistryClient.pushImage`, with Docker's progress lines, final digest line and
 * `aux` message, and an image `push` event.
 */
import * as path from 'node:path';
import type { ContentStore, Descriptor } from '../../engine/content';
import { MediaType, isManifestType, parseManifest, type AuthConfig, type ImageManifest, type RegistryClient } from '../../engine/distribution';
import { isStevedoreError, notFound } from '../../engine/errdefs';
import type { ImageRecord } from '../../engine/images/types';
import { familiarName, familiarString, parseReference, sha256Digest, shortId, trimNamed, withDigest, type NamedReference } from '../../engine/reference';
import type { JsonMessage } from '../jsonmessage';
import type { ImageService } from '../images/service';
import { PushProvider, compressBlob } from './blobs';
import type { DistributionMetadata } from './metadata';
import { MessageQueue, fromEngineEvent } from './progress';

export interface PushDeps {
  client: RegistryClient;
  images: ImageService;
  content: ContentStore;
  meta: DistributionMetadata;
  maxConcurrentUploads: number;
  /** scratch folder for compressed layers */
  tmpDir: string;
}

export interface PushOptions {
  auth?: AuthConfig;
  signal?: AbortSignal;
  onMessage: (m: JsonMessage) => Promise<void>;
}

const GZIP_TYPES = new Set<string>([MediaType.DockerLayerGzip, MediaType.OciLayerGzip]);

/**
 * Pushes `repo` (normalised; with a tag: that tag only, without: every local tag of
 * the repository). The first line is written before anything is looked up, as dockerd
 * does, so a missing image is an in-band error.
 * @throws not-found `An image does not exist locally with the tag: x`, registry errors.
 */
export async function pushRepository(d: PushDeps, repo: NamedReference, opts: PushOptions): Promise<void> {
  const queue = new MessageQueue(opts.onMessage);
  try {
    queue.push({ status: `The push refers to repository [${repo.name}]` });
    const targets: Array<{ ref: NamedReference; id: string }> = [];
    for (const { ref, imageId } of d.images.store.allRefs()) {
      const r = parseReference(ref);
      if (r.name !== repo.name || r.digest || r.tag === undefined) continue;
      if (repo.tag !== undefined && r.tag !== repo.tag) continue;
      targets.push({ ref: r, id: imageId });
    }
    if (targets.length === 0) throw notFound(`An image does not exist locally with the tag: ${familiarName(repo)}`);
    for (const t of targets) await pushOne(d, t.ref, t.id, queue, opts);
  } finally {
    await queue.flush().catch(() => {});
  }
  await queue.flush();
}

async function pushOne(d: PushDeps, ref: NamedReference, id: string, queue: MessageQueue, opts: PushOptions): Promise<void> {
  const rec = d.images.store.get(id);
  const provider = new PushProvider(d.content, path.join(d.tmpDir, 'push'), opts.signal);
  try {
    const target = (await pulledManifest(d.content, rec)) ?? (await buildManifest(d, rec, provider, opts.signal));
    provider.addBytes(target.desc.digest, target.bytes);
    const domain = ref.domain;
    const ids = new Map<string, string>();
    target.manifest.layers.forEach((l, i) => {
      const diffID = rec.layers[i]?.diffID;
      if (diffID) ids.set(shortId(l.digest), shortId(diffID));
    });
    const pushed = await d.client.pushImage(ref, {
      target: target.desc,
      provider,
      auth: opts.auth,
      signal: opts.signal,
      maxConcurrent: d.maxConcurrentUploads,
      // dockerd names layers by their diffID in push progress
      onProgress: (e) => queue.push(fromEngineEvent({ ...e, id: ids.get(e.id) ?? e.id })),
      mountSources: (digest) => {
        for (const s of d.meta.sources(digest)) {
          const slash = s.indexOf('/');
          if (slash > 0 && s.slice(0, slash) === domain && s !== ref.name) return s.slice(slash + 1);
        }
        return undefined;
      },
    });
    // the pushed digest becomes one of the image's RepoDigests, as in dockerd
    d.images.store.setRef(withDigest(trimNamed(ref), pushed.digest).toString(), id);
    d.meta.addSources([target.manifest.config.digest, ...target.manifest.layers.map((l) => l.digest)], ref.name);
    const tag = ref.tag ?? 'latest';
    queue.push({ status: `${tag}: digest: ${pushed.digest} size: ${pushed.size}` });
    queue.push({ progressDetail: {}, aux: { Tag: tag, Digest: pushed.digest, Size: pushed.size } });
    const cfg = await d.images.config(id).catch(() => undefined);
    d.images.emit('push', familiarString(ref), familiarName(ref), cfg?.config?.Labels ?? undefined);
  } finally {
    await provider.cleanup();
  }
}

interface Target {
  desc: Descriptor;
  bytes: Buffer;
  manifest: ImageManifest;
}

/** The manifest the image was pulled with, when it and all its blobs are still here. */
async function pulledManifest(content: ContentStore, rec: ImageRecord): Promise<Target | undefined> {
  if (!rec.manifestDigest || !(await content.exists(rec.manifestDigest))) return undefined;
  let bytes: Buffer;
  let m;
  try {
    bytes = await content.readAll(rec.manifestDigest);
    m = parseManifest(bytes, undefined, rec.manifestDigest);
  } catch (err) {
    if (isStevedoreError(err)) return undefined;
    throw err;
  }
  if (!isManifestType(m.mediaType)) return undefined;
  const manifest = m as ImageManifest;
  if (manifest.config.digest !== rec.id || manifest.layers.length !== rec.layers.length) return undefined;
  for (const l of manifest.layers) if (!(await content.exists(l.digest))) return undefined;
  return { desc: { mediaType: manifest.mediaType, digest: rec.manifestDigest, size: bytes.length }, bytes, manifest };
}

/**
 * A Docker schema2 manifest for a local image: gzip layers as they are, other layers
 * compressed (or named by the compressed blob pushed for them before). JSON indented
 * with three spaces, as Docker writes it.
 */
async function buildManifest(d: PushDeps, rec: ImageRecord, provider: PushProvider, signal?: AbortSignal): Promise<Target> {
  const config = await d.content.info(rec.id);
  const layers: Descriptor[] = [];
  for (const l of rec.layers) {
    if (GZIP_TYPES.has(l.mediaType) && (await d.content.exists(l.digest))) {
      layers.push({ mediaType: MediaType.DockerLayerGzip, digest: l.digest, size: l.size });
      continue;
    }
    const known = d.meta.compressedFor(l.diffID);
    if (known) {
      provider.addLazy({ source: l.digest, expected: known, onMismatch: () => d.meta.forgetCompressed(l.diffID) });
      layers.push(known);
      continue;
    }
    const b = await compressBlob(d.content, l.digest, path.join(d.tmpDir, 'push'), signal);
    provider.addFile(b);
    const desc = { mediaType: MediaType.DockerLayerGzip, digest: b.digest, size: b.size };
    d.meta.setCompressed(l.diffID, desc);
    layers.push(desc);
  }
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.DockerManifest,
    config: { mediaType: MediaType.DockerConfig, digest: rec.id, size: config.size },
    layers,
  };
  const bytes = Buffer.from(JSON.stringify(manifest, null, 3));
  return { desc: { mediaType: MediaType.DockerManifest, digest: sha256Digest(bytes), size: bytes.length }, bytes, manifest };
}
