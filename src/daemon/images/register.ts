/**
 * Registering new images, shared by load, import, pull and commit: the blobs are in
 * the content store (protected by a lease), the layers are unpacked into snapshots
 * (each snapshot added to the lease before it is created), and then the image rows,
 * their GC roots and their references are written in one transaction. A crash before
 * that transaction leaves only leased, unreferenced resources, which the collector
 * removes once the stale lease is dropped at start-up.
 */
import type { Lease } from '../../engine/gc/leases';
import { chainID } from '../../engine/images/chainid';
import { parseImageConfig } from '../../engine/images/archive-format';
import type { MovedRef } from '../../engine/images/store';
import type { DockerImageConfig, ImageRecord, LayerRecord } from '../../engine/images/types';
import { unpackLayers } from '../../engine/images/unpack';
import { familiarString, type NamedReference } from '../../engine/reference';
import type { ImageService } from './service';

/** Label marking the leases of image operations, dropped at start-up (no operation survives a restart). */
export const IMAGE_LEASE_LABEL = 'stevedore.images/op';

/** Leases expire after a day even if a crash kept them from being deleted. */
const LEASE_TTL_MS = 24 * 60 * 60 * 1000;

/** A layer blob in the content store (or, with `ready`, on its way there). */
export interface LayerBlob {
  digest: string;
  mediaType: string;
  size: number;
  /** resolves once the blob is in the content store, verified; unpacking waits for it */
  ready?(): Promise<void>;
}

/** An image to register whose blobs are in the content store. */
export interface NewImage {
  configBytes: Buffer;
  layers: LayerBlob[];
  manifestDigest?: string;
  parent?: string;
  /** normalised references to point at it */
  refs: NamedReference[];
}

export interface RegisterProgress {
  /**
   * layer `index` (bottom first) of `chainId` started, read `read` bytes of its blob
   * so far (`progress`, per chunk: throttle it), finished, or already existed
   */
  onLayer?(e: { index: number; chainId: string; state: 'extracting' | 'progress' | 'done' | 'exists'; size?: number; read?: number }): void;
}

export interface Registered {
  id: string;
  config: DockerImageConfig;
  /** references that moved here from another image */
  moved: MovedRef[];
  /** the references now pointing at it, familiar form */
  tags: string[];
}

/** Creates a lease for an image operation. */
export function imageLease(svc: ImageService, op: string): Lease {
  return svc.opts.leases.create({ expiresAt: new Date(Date.now() + LEASE_TTL_MS), labels: { [IMAGE_LEASE_LABEL]: op } });
}

/** Unpacks the layers of `img` (under `lease`); returns the record to store. */
export async function prepareImage(svc: ImageService, img: NewImage, lease: Lease, opts: RegisterProgress & { signal?: AbortSignal } = {}): Promise<{ record: ImageRecord; config: DockerImageConfig }> {
  const config = parseImageConfig(img.configBytes);
  const diffIDs = config.rootfs.diff_ids;
  if (diffIDs.length !== img.layers.length) {
    throw new Error(`image config lists ${diffIDs.length} layers, the manifest ${img.layers.length}`);
  }
  const { content, snapshotter, leases, apply } = svc.opts;
  const cfg = await svc.putConfig(img.configBytes, lease);
  const sizes = await unpackLayers(
    snapshotter,
    apply,
    img.layers.map((l, i) => ({ diffID: diffIDs[i]!, ready: l.ready, open: () => content.reader(l.digest) })),
    {
      signal: opts.signal,
      onSnapshot: (key) => leases.addResource(lease.id, { kind: 'snapshot', id: key }),
      onLayer: (index, state, size) => opts.onLayer?.({ index, chainId: chainID(diffIDs.slice(0, index + 1))!, state, size }),
      onRead: opts.onLayer ? (index, read) => opts.onLayer!({ index, chainId: chainID(diffIDs.slice(0, index + 1))!, state: 'progress', read }) : undefined,
    },
  );
  const layers: LayerRecord[] = img.layers.map((l, i) => ({ digest: l.digest, mediaType: l.mediaType, size: l.size, diffID: diffIDs[i]!, unpackedSize: sizes[i] ?? 0 }));
  const record: ImageRecord = { id: cfg, layers, createdAt: Date.now() };
  const top = chainID(diffIDs);
  if (top) record.chainId = top;
  if (img.manifestDigest) record.manifestDigest = img.manifestDigest;
  if (img.parent && svc.store.find(img.parent)) record.parent = img.parent;
  return { record, config };
}

/**
 * Writes prepared images and their references in one transaction. Returns, per
 * image, the references that moved to it.
 */
export function commitImages(svc: ImageService, items: Array<{ record: ImageRecord; refs: NamedReference[] }>): MovedRef[][] {
  return svc.opts.db.tx(() =>
    items.map(({ record, refs }) => {
      svc.store.put(record);
      const moved: MovedRef[] = [];
      for (const r of refs) {
        const m = svc.store.setRef(r.toString(), record.id);
        if (m) moved.push(m);
      }
      return moved;
    }),
  );
}

/** prepare + commit of one image under a fresh lease. */
export async function registerImage(svc: ImageService, img: NewImage, opts: RegisterProgress & { signal?: AbortSignal; lease?: Lease } = {}): Promise<Registered> {
  const own = opts.lease ? undefined : imageLease(svc, 'register');
  const lease = opts.lease ?? own!;
  try {
    const { record, config } = await prepareImage(svc, img, lease, opts);
    const [moved] = commitImages(svc, [{ record, refs: img.refs }]);
    return { id: record.id, config, moved: moved!, tags: img.refs.map((r) => familiarString(r)) };
  } finally {
    if (own) svc.opts.leases.delete(own.id);
  }
}

/**
 * An image being unpacked under its own lease while its blobs may still be arriving
 * (a pull): see {@link beginImage}. Exactly one of `commit` / `discard` must be called.
 */
export interface PendingImage {
  /** settles when every layer is unpacked; rejects with the unpack's error (already handled) */
  readonly unpacked: Promise<void>;
  /**
   * Waits for the unpack, then writes the image row, its GC roots and `refs` in one
   * transaction and drops the lease. Throws the unpack's error (nothing registered).
   */
  commit(a: { manifestDigest?: string; refs: NamedReference[] }): Promise<Registered>;
  /** Stops the unpack, waits for it to settle and drops the lease; nothing is registered. */
  discard(reason?: unknown): Promise<void>;
}

/**
 * Starts unpacking `img`'s layers at once, bottom-up, each when its `ready()`
 * resolves, under a fresh image lease (so a crash leaves only leased snapshots that
 * the collector removes after the start-up repair). The image is recorded only by
 * `commit`, in one transaction, like {@link registerImage}.
 */
export function beginImage(svc: ImageService, img: Omit<NewImage, 'refs' | 'manifestDigest'>, opts: RegisterProgress & { signal?: AbortSignal } = {}): PendingImage {
  const lease = imageLease(svc, 'register');
  const ac = new AbortController();
  const outer = opts.signal;
  const onOuter = () => ac.abort(outer!.reason);
  if (outer?.aborted) onOuter();
  else outer?.addEventListener('abort', onOuter, { once: true });
  const work = prepareImage(svc, { ...img, refs: [] }, lease, { ...opts, signal: ac.signal });
  const unpacked = work.then(() => undefined);
  unpacked.catch(() => undefined);
  let open = true;
  const close = () => {
    if (!open) return;
    open = false;
    outer?.removeEventListener('abort', onOuter);
    svc.opts.leases.delete(lease.id);
  };
  return {
    unpacked,
    async commit(a) {
      try {
        if (!open) throw new Error('image registration already closed');
        const { record, config } = await work;
        if (a.manifestDigest) record.manifestDigest = a.manifestDigest;
        const [moved] = commitImages(svc, [{ record, refs: a.refs }]);
        return { id: record.id, config, moved: moved!, tags: a.refs.map((r) => familiarString(r)) };
      } finally {
        close();
      }
    },
    async discard(reason) {
      ac.abort(reason);
      await work.catch(() => undefined);
      close();
    },
  };
}
