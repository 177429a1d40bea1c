/**
 * `docker pull` in the daemon: resolve and fetch into the content store under a lease
 * (the engine's `RegistryClient.pull`), register the image with the image service
 * (layers unpacked into snapshots, tag and digest references recorded in one
 * transaction), and report progress as Docker's JSON lines. The first line is written
 * only once the manifest and config are fetched, so that resolution errors (no such
 * manifest, access denied) can still become an HTTP status, as in dockerd.
 */
import type { ContentStore } from '../../engine/content';
import type { RegistryClient, AuthConfig, Platform } from '../../engine/distribution';
import { isStevedoreError, notFound } from '../../engine/errdefs';
import type { LeaseManager } from '../../engine/gc';
import { familiarName, familiarString, shortId, trimNamed, withDigest, type NamedReference } from '../../engine/reference';
import type { JsonMessage } from '../../api/streams';
import type { ImageService } from '../images/service';
import { leasedStore } from './leased';
import type { DistributionMetadata } from './metadata';
import { MessageQueue, fromEngineEvent, progressMessage } from './progress';

/** Label of pull leases; they expire (a crashed pull's blobs are kept until then, then collected). */
export const PULL_LEASE_LABEL = 'stevedore.distribution/pull';
const PULL_LEASE_TTL_MS = 24 * 60 * 60 * 1000;

export interface PullDeps {
  client: RegistryClient;
  images: ImageService;
  content: ContentStore;
  leases: LeaseManager;
  meta: DistributionMetadata;
  maxConcurrentDownloads: number;
}

export interface PullImageOptions {
  auth?: AuthConfig;
  platform?: Platform;
  signal?: AbortSignal;
  /** receives each JSON progress line; resolves when it is written (backpressure) */
  onMessage: (m: JsonMessage) => Promise<void>;
}

/** What a pull produced. */
export interface PulledImage {
  id: string;
  /** digest of what the reference named (the index for a multi-platform image) */
  digest: string;
}

/**
 * Pulls `ref` (a normalised reference with a tag or a digest).
 * @throws not-found (`manifest for x:y not found: …`, and `pull access denied for x, …`
 *   which dockerd answers with 404 too), invalid-argument (unverifiable content),
 *   unavailable — before or after the first message was written.
 */
export async function pullImage(d: PullDeps, ref: NamedReference, opts: PullImageOptions): Promise<PulledImage> {
  const queue = new MessageQueue(opts.onMessage);
  let started = false;
  const start = () => {
    if (started) return;
    started = true;
    queue.push({ status: `Pulling from ${ref.path}`, id: ref.digest ?? ref.tag ?? 'latest' });
  };
  const previous = d.images.store.resolve(ref.toString());
  const already = new Set<string>();
  // "Already exists" lines are held back until something is downloaded: when nothing
  // is and the image is already here, dockerd shows none (it checks the image first)
  let held: JsonMessage[] | undefined = [];
  const lease = d.leases.create({ expiresAt: new Date(Date.now() + PULL_LEASE_TTL_MS), labels: { [PULL_LEASE_LABEL]: ref.name } });
  try {
    let result;
    try {
      result = await d.client.pull(ref, {
        store: leasedStore(d.content, d.leases, lease),
        platform: opts.platform,
        auth: opts.auth,
        signal: opts.signal,
        maxConcurrent: d.maxConcurrentDownloads,
        onProgress: (e) => {
          start();
          if (e.status === 'Already exists') already.add(e.id);
          if (held && e.status === 'Already exists') return void held.push(fromEngineEvent(e));
          if (held) held.splice(0).forEach((m) => queue.push(m));
          held = undefined;
          queue.push(fromEngineEvent(e));
        },
      });
    } catch (err) {
      throw translatePullError(err);
    }
    start();
    if (held?.length && !d.images.store.find(result.config.digest)) held.forEach((m) => queue.push(m));
    held = undefined;
    const reused = new Set<number>();
    const layers = result.layers;
    const topDigest = result.indexDigest ?? result.manifestDigest;
    const refs = [withDigest(trimNamed(ref), topDigest)];
    if (!ref.digest) refs.unshift(ref);
    // layers whose blob was already here were announced as "Already exists"; repeats once
    for (let i = 0; i < layers.length; i++) {
      if (already.has(shortId(layers[i]!.digest)) || layers.findIndex((l) => l.digest === layers[i]!.digest) !== i) reused.add(i);
    }
    const reg = await d.images.createFromContent({
      manifestDesc: result.manifestDescriptor,
      configDigest: result.config.digest,
      layerDescs: layers,
      refs,
      signal: opts.signal,
      onProgress: (e) => {
        const l = layers[e.index];
        if (!l || reused.has(e.index)) return;
        const id = shortId(l.digest);
        if (e.state === 'extracting') queue.push(progressMessage(id, 'Extracting', { current: 0, total: l.size }));
        else if (e.state === 'done') {
          queue.push(progressMessage(id, 'Extracting', { current: l.size, total: l.size }));
          queue.push(progressMessage(id, 'Pull complete'));
        } else queue.push(progressMessage(id, 'Pull complete'));
      },
    });
    d.meta.addSources([result.config.digest, ...layers.map((l) => l.digest)], ref.name);
    queue.push({ status: `Digest: ${topDigest}` });
    const shown = familiarString(ref);
    queue.push({ status: previous === reg.id ? `Status: Image is up to date for ${shown}` : `Status: Downloaded newer image for ${shown}` });
    d.images.emit('pull', shown, familiarName(ref), reg.config.config?.Labels ?? undefined);
    await queue.flush();
    return { id: reg.id, digest: topDigest };
  } finally {
    await queue.flush().catch(() => {});
    d.leases.delete(lease.id);
  }
}

/**
 * dockerd answers "pull access denied" (the registry's 401/403 on the manifest) with
 * 404: the repository may simply not exist.
 */
export function translatePullError(err: unknown): unknown {
  if (isStevedoreError(err) && err.kind === 'unauthorized' && err.message.startsWith('pull access denied')) return notFound(err.message, err);
  return err;
}
