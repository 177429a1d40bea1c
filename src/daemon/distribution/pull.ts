/**
 * `docker pull` in the daemon: resolve and fetch into the content store under a lease
 * (the engine's `RegistryClient.pull`), register the image with the image service
 * (layers unpacked into snapshots, tag and digest references recorded in one
 * transaction), and report progress as Docker's JSON lines. The first line is written
 * only once the manifest and config are fetched, so that resolution errors (no such
 * manifest, access denied) can still become an HTTP status, as in dockerd.
 */
import type { ContentStore, Descriptor } from '../../engine/content';
import type { RegistryClient, AuthConfig, Platform } from '../../engine/distribution';
import { isStevedoreError, notFound } from '../../engine/errdefs';
import type { LeaseManager } from '../../engine/gc';
import { familiarName, familiarString, shortId, trimNamed, withDigest, type NamedReference } from '../../engine/reference';
import type { JsonMessage } from '../jsonmessage';
import type { PendingImage, RegisterProgress } from '../images/register';
import type { ImageService } from '../images/service';
import { dropLease, leasedStore } from './leased';
import type { DistributionMetadata } from './metadata';
import { MessageQueue, ProgressThrottle, fromEngineEvent, progressMessage } from './progress';

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
 *
 * Unpacking overlaps downloading, as in dockerd: once the manifest is known the image
 * service starts unpacking (`beginFromContent`), and layer i is extracted as soon as
 * its blob is verified in the content store and layers 0..i-1 are unpacked, while
 * later layers still download. The image is recorded only after every blob and the
 * manifest are stored and every layer is unpacked, in one transaction. The first
 * failure — a download, an unpack, or the caller's signal — aborts the rest; then
 * nothing is registered, both leases are dropped, and the partial downloads and the
 * blobs only this pull held are removed at once.
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
  const ac = new AbortController();
  const onOuter = () => ac.abort(opts.signal!.reason);
  if (opts.signal?.aborted) onOuter();
  else opts.signal?.addEventListener('abort', onOuter, { once: true });
  // the unpack's own failure, which aborts the downloads (their abort error is not the story)
  let unpackError: { err: unknown } | undefined;
  const failUnpack = (err: unknown) => {
    if (ac.signal.aborted) return;
    unpackError = { err };
    ac.abort(err);
  };
  const ready = new Map<string, { promise: Promise<void>; resolve: () => void }>();
  const readyOf = (digest: string) => {
    let r = ready.get(digest);
    if (!r) {
      let resolve!: () => void;
      const promise = new Promise<void>((res) => (resolve = res));
      r = { promise, resolve };
      ready.set(digest, r);
    }
    return r;
  };
  let pending: Promise<PendingImage> | undefined;
  let committed = false;
  let succeeded = false;
  const lease = d.leases.create({ expiresAt: new Date(Date.now() + PULL_LEASE_TTL_MS), labels: { [PULL_LEASE_LABEL]: ref.name } });
  try {
    let result;
    try {
      result = await d.client.pull(ref, {
        store: leasedStore(d.content, d.leases, lease),
        platform: opts.platform,
        auth: opts.auth,
        signal: ac.signal,
        maxConcurrent: d.maxConcurrentDownloads,
        onProgress: (e) => {
          start();
          if (e.status === 'Already exists') already.add(e.id);
          if (held && e.status === 'Already exists') return void held.push(fromEngineEvent(e));
          if (held) held.splice(0).forEach((m) => queue.push(m));
          held = undefined;
          queue.push(fromEngineEvent(e));
        },
        onManifest: (m) => {
          pending = d.images.beginFromContent({
            configDigest: m.config.digest,
            layers: m.layers.map((l) => ({ digest: l.digest, mediaType: l.mediaType, size: l.size, ready: () => readyOf(l.digest).promise })),
            onProgress: extractionProgress(m.layers, already, (msg) => queue.push(msg)),
            signal: ac.signal,
          });
          pending.then((p) => p.unpacked.catch(failUnpack), failUnpack);
        },
        onLayerComplete: (desc) => readyOf(desc.digest).resolve(),
      });
    } catch (err) {
      throw translatePullError(unpackError ? unpackError.err : err);
    }
    start();
    if (held?.length && !d.images.store.find(result.config.digest)) held.forEach((m) => queue.push(m));
    held = undefined;
    const layers = result.layers;
    const topDigest = result.indexDigest ?? result.manifestDigest;
    const refs = [withDigest(trimNamed(ref), topDigest)];
    if (!ref.digest) refs.unshift(ref);
    if (!pending) throw new Error('pull: the registry client reported no manifest');
    const unpack = await pending;
    committed = true;
    const reg = await unpack.commit({ manifestDigest: result.manifestDescriptor.digest, refs });
    d.meta.addSources([result.config.digest, ...layers.map((l) => l.digest)], ref.name);
    queue.push({ status: `Digest: ${topDigest}` });
    const shown = familiarString(ref);
    queue.push({ status: previous === reg.id ? `Status: Image is up to date for ${shown}` : `Status: Downloaded newer image for ${shown}` });
    d.images.emit('pull', shown, familiarName(ref), reg.config.config?.Labels ?? undefined);
    await queue.flush();
    succeeded = true;
    return { id: reg.id, digest: topDigest };
  } catch (err) {
    ac.abort(err);
    throw err;
  } finally {
    opts.signal?.removeEventListener('abort', onOuter);
    if (pending && !committed) await (await pending.catch(() => undefined))?.discard(ac.signal.reason);
    await queue.flush().catch(() => {});
    // a failed pull frees its partial downloads and unreferenced blobs at once (a full
    // disk is the common cause), instead of holding them until the lease expires
    await dropLease(d.content, d.leases, lease, { freeHeld: !succeeded });
  }
}

/**
 * The unpack's events as dockerd's lines: `Extracting` with the compressed bytes read
 * (throttled, see {@link ProgressThrottle}), then `Pull complete`. Layers announced as
 * `Already exists` (and repeats of a layer) get no lines.
 */
function extractionProgress(layers: Descriptor[], already: Set<string>, push: (m: JsonMessage) => void): NonNullable<RegisterProgress['onLayer']> {
  const throttles = new Map<number, ProgressThrottle>();
  const throttle = (i: number, l: Descriptor, id: string) => {
    let t = throttles.get(i);
    if (!t) {
      t = new ProgressThrottle(l.size, (current) => push(progressMessage(id, 'Extracting', { current, total: l.size })));
      throttles.set(i, t);
    }
    return t;
  };
  return (e) => {
    const l = layers[e.index];
    if (!l) return;
    const id = shortId(l.digest);
    if (already.has(id) || layers.findIndex((x) => x.digest === l.digest) !== e.index) return;
    if (e.state === 'progress') throttle(e.index, l, id).update(e.read ?? 0);
    else if (e.state === 'done') {
      throttle(e.index, l, id).finish();
      push(progressMessage(id, 'Pull complete'));
    } else if (e.state === 'exists') push(progressMessage(id, 'Pull complete'));
  };
}

/**
 * dockerd answers "pull access denied" (the registry's 401/403 on the manifest) with
 * 404: the repository may simply not exist.
 */
export function translatePullError(err: unknown): unknown {
  if (isStevedoreError(err) && err.kind === 'unauthorized' && err.message.startsWith('pull access denied')) return notFound(err.message, err);
  return err;
}
