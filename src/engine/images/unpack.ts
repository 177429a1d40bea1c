/**
 * Unpacking layers into snapshots: each layer becomes a committed snapshot named by
 * its chain ID, prepared over the previous layer's snapshot. A layer whose chain ID
 * already exists is not unpacked again. The applied stream's diffID must equal the
 * one the config declares; otherwise the snapshot is removed and the unpack fails.
 *
 * Layers are unpacked bottom-up, one at a time; a layer may say when its bytes become
 * available (`ready`), so that a pull can unpack layer i as soon as layers 0..i are
 * in the content store while later layers are still downloading.
 */
import { randomBytes } from 'node:crypto';
import { pipeline, Transform, type Readable } from 'node:stream';
import { errnoCode, invalidArgument, isNotFound } from '../errdefs';
import type { Mount, Snapshotter } from '../snapshots/types';
import { chainIDs } from './chainid';

/** Applies a (possibly compressed) layer tar to an active snapshot's mounts (the diff component's Applier.apply, engine/diff). */
export type LayerApplier = (stream: Readable, mounts: Mount[], opts?: { signal?: AbortSignal }) => Promise<{ diffID: string; size: number }>;

/** Called before a snapshot is created, so that a lease can protect it. */
export type SnapshotHook = (key: string) => void;

/** A layer to unpack: its declared diffID and how to open its bytes. */
export interface UnpackLayer {
  diffID: string;
  /**
   * Resolves when the layer's bytes can be opened (e.g. its download is verified);
   * awaited only when the layer must be unpacked. Absent: available now. A rejection
   * fails the unpack.
   */
  ready?(): Promise<void>;
  open(): Promise<Readable>;
}

/** The directory an active snapshot's changes go to (overlay upperdir or bind source). */
export function upperDirOf(mounts: Mount[]): string {
  const m = mounts[0];
  if (!m) throw invalidArgument('snapshot has no mounts');
  if (m.type === 'bind') return m.source;
  const up = m.options.find((o) => o.startsWith('upperdir='));
  if (!up) throw invalidArgument('snapshot mount has no upperdir');
  return up.slice('upperdir='.length);
}

export interface UnpackOptions {
  signal?: AbortSignal;
  /** called with every snapshot key/name before it is created (lease it) */
  onSnapshot?: SnapshotHook;
  /** progress: a layer started / finished */
  onLayer?: (index: number, state: 'extracting' | 'done' | 'exists', sizeOrUndefined?: number) => void;
  /** progress: `bytes` of layer `index`'s stream (as `open` gives it) consumed so far; per chunk */
  onRead?: (index: number, bytes: number) => void;
}

/**
 * Makes sure a committed snapshot exists for each prefix of `layers`; returns the
 * unpacked size of each layer (0 for layers that already existed and whose size is
 * not known here — the caller measures with `snapshotter.usage`).
 */
export async function unpackLayers(snapshotter: Snapshotter, apply: LayerApplier, layers: UnpackLayer[], opts: UnpackOptions = {}): Promise<number[]> {
  const chain = chainIDs(layers.map((l) => l.diffID));
  const sizes: number[] = [];
  for (let i = 0; i < layers.length; i++) {
    opts.signal?.throwIfAborted();
    const name = chain[i]!;
    if (await exists(snapshotter, name)) {
      opts.onSnapshot?.(name);
      sizes.push((await snapshotter.usage(name)).size);
      opts.onLayer?.(i, 'exists');
      continue;
    }
    await untilReady(layers[i]!, opts.signal);
    opts.onLayer?.(i, 'extracting');
    const key = `extract-${randomBytes(6).toString('hex')}-${name}`;
    opts.onSnapshot?.(key);
    opts.onSnapshot?.(name);
    const mounts = await snapshotter.prepare(key, i === 0 ? undefined : chain[i - 1], { labels: { 'stevedore.images/unpack': name } });
    try {
      let src = await layers[i]!.open();
      if (opts.onRead) src = counted(src, (n) => opts.onRead!(i, n));
      const res = await apply(src, mounts, { signal: opts.signal });
      if (res.diffID !== layers[i]!.diffID) {
        throw invalidArgument(`layer ${i} does not match the image config: diffID ${res.diffID}, expected ${layers[i]!.diffID}`);
      }
      try {
        await snapshotter.commit(name, key);
      } catch (err) {
        // another unpack of the same layer won the race: ours is redundant
        if (!(await exists(snapshotter, name))) throw err;
        await snapshotter.remove(key);
      }
      sizes.push(res.size);
      opts.onLayer?.(i, 'done', res.size);
    } catch (err) {
      await snapshotter.remove(key).catch(() => undefined);
      throw err;
    }
  }
  return sizes;
}

/** Waits for `layer.ready()`, or throws the signal's reason as soon as it aborts. */
async function untilReady(layer: UnpackLayer, signal: AbortSignal | undefined): Promise<void> {
  if (!layer.ready) return;
  signal?.throwIfAborted();
  if (!signal) return layer.ready();
  let onAbort!: () => void;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    await Promise.race([layer.ready(), aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/** `src` passed through unchanged, reporting the running byte count (errors propagate). */
function counted(src: Readable, report: (total: number) => void): Readable {
  let total = 0;
  const t = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      total += chunk.length;
      report(total);
      cb(null, chunk);
    },
  });
  pipeline(src, t, () => {});
  return t;
}

async function exists(s: Snapshotter, name: string): Promise<boolean> {
  try {
    const info = await s.stat(name);
    return info.kind === 'committed';
  } catch (err) {
    if (isNotFound(err) || errnoCode(err) === 'ENOENT') return false;
    throw err;
  }
}
