import type { Readable } from 'node:stream';
import { invalidArgument, isStevedoreError } from '../errdefs';
import type { Descriptor, Ingester, Provider } from '../content';
import { shortId } from '../reference';
import { responseError } from './errors';
import type { ImageManifest } from './mediatypes';
import { resolve, type ResolveOptions } from './resolver';
import type { RepositorySession } from './session';
import { readBody } from './transport';
import type { NamedReference } from '../reference';

/** Image configs larger than this are refused (bytes). */
export const MAX_CONFIG_SIZE = 8 * 1024 * 1024;

/** A line of `docker pull` / `docker push` progress, keyed by a layer's short id. */
export interface ProgressEvent {
  /** first 12 hex digits of the layer digest */
  id: string;
  /** `Pulling fs layer`, `Waiting`, `Downloading`, `Verifying Checksum`, `Download complete`, `Already exists`, … */
  status: string;
  /** bytes so far and in total, with `Downloading` / `Pushing` */
  progress?: { current: number; total: number };
}

/** Where pulled content goes: the content store's reading and writing roles. */
export type PullStore = Provider & Ingester;

export interface PullOptions extends ResolveOptions {
  store: PullStore;
  /** layers downloaded at once (default 3, as dockerd's max-concurrent-downloads) */
  maxConcurrent?: number;
  onProgress?: (e: ProgressEvent) => void;
  /** download attempts per layer when the connection fails (default 3) */
  attempts?: number;
  /** the platform's manifest, once its config is stored and before any layer is fetched */
  onManifest?: (manifest: ImageManifest) => void;
  /** a layer blob is in the store, verified (downloaded now, or already there); once per digest */
  onLayerComplete?: (desc: Descriptor) => void;
}

export interface PullResult {
  ref: NamedReference;
  manifestDigest: string;
  /** set when the reference named an index / manifest list */
  indexDigest?: string;
  manifestDescriptor: Descriptor;
  indexDescriptor?: Descriptor;
  manifest: ImageManifest;
  config: Descriptor;
  layers: Descriptor[];
}

/**
 * Pulls an image into the content store: resolves the reference, fetches the config
 * and the layers (concurrently, at most `maxConcurrent`; blobs already stored are
 * skipped; a partial download resumes with a Range request), then stores the manifest
 * and the index last, so a failed pull leaves no manifest behind. Every blob is
 * verified by the store's ingest before it becomes visible.
 */
export async function pull(deps: Parameters<typeof resolve>[0], reference: string | NamedReference, opts: PullOptions): Promise<PullResult> {
  const { store } = opts;
  const resolved = await resolve(deps, reference, opts);
  const { session } = resolved;
  const manifest = resolved.manifest.parsed;
  const progress = opts.onProgress ?? (() => {});

  const config = manifest.config;
  if (!(await store.exists(config.digest))) {
    if (config.size > MAX_CONFIG_SIZE) throw invalidArgument(`image config ${config.digest} is larger than ${MAX_CONFIG_SIZE} bytes`);
    const res = await session.request({ method: 'GET', url: `blobs/${config.digest}`, signal: opts.signal });
    if (res.status !== 200) throw await responseError(res, `config blob ${config.digest} not found`);
    let bytes: Buffer;
    try {
      bytes = await readBody(res, config.size);
    } catch {
      throw invalidArgument(`image config ${config.digest}: size mismatch`);
    }
    if (bytes.length !== config.size) throw invalidArgument(`image config ${config.digest}: size mismatch`);
    await store.put(bytes, config.digest);
  }

  // layers: once per digest
  opts.onManifest?.(manifest);
  const complete = opts.onLayerComplete ?? (() => {});
  const unique: Descriptor[] = [];
  for (const l of manifest.layers) if (!unique.some((u) => u.digest === l.digest)) unique.push(l);
  const todo: Descriptor[] = [];
  for (const l of unique) {
    if (await store.exists(l.digest)) {
      progress({ id: shortId(l.digest), status: 'Already exists' });
      complete(l);
    } else {
      todo.push(l);
      progress({ id: shortId(l.digest), status: 'Pulling fs layer' });
    }
  }
  const limit = Math.max(1, opts.maxConcurrent ?? 3);
  todo.slice(limit).forEach((l) => progress({ id: shortId(l.digest), status: 'Waiting' }));
  await runLimited(todo, limit, opts.signal, async (l, signal) => {
    await downloadBlob(session, store, l, { signal, onProgress: progress, attempts: opts.attempts ?? 3 });
    complete(l);
  });

  await store.put(resolved.manifest.bytes, resolved.manifest.descriptor.digest);
  if (resolved.index) await store.put(resolved.index.bytes, resolved.index.descriptor.digest);
  const out: PullResult = {
    ref: resolved.ref,
    manifestDigest: resolved.manifest.descriptor.digest,
    manifestDescriptor: resolved.manifest.descriptor,
    manifest,
    config,
    layers: manifest.layers,
  };
  if (resolved.index) {
    out.indexDigest = resolved.index.descriptor.digest;
    out.indexDescriptor = resolved.index.descriptor;
  }
  return out;
}

/**
 * Runs `fn` over `items` with at most `limit` at once. The first failure aborts the
 * others (through the signal given to `fn`) and is thrown once all have settled.
 */
export async function runLimited<T>(
  items: T[],
  limit: number,
  outer: AbortSignal | undefined,
  fn: (item: T, signal: AbortSignal) => Promise<void>,
): Promise<void> {
  const ac = new AbortController();
  const onOuter = () => ac.abort(outer?.reason);
  if (outer?.aborted) onOuter();
  outer?.addEventListener('abort', onOuter, { once: true });
  let next = 0;
  let firstErr: unknown;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const item = items[next++]!;
      try {
        ac.signal.throwIfAborted();
        await fn(item, ac.signal);
      } catch (err) {
        if (!failed) {
          failed = true;
          firstErr = err;
          ac.abort(err);
        }
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  } finally {
    outer?.removeEventListener('abort', onOuter);
  }
  if (failed) throw firstErr;
}

/**
 * Downloads one blob into the store under ingest ref `pull-<digest>`, resuming a
 * partial download with `Range: bytes=<offset>-`. A registry that ignores the range
 * (200 instead of 206) gets the partial data dropped and the download restarted from 0.
 * Connection failures are retried (bounded); verification failures drop the partial
 * data and are thrown.
 */
export async function downloadBlob(
  session: RepositorySession,
  store: PullStore,
  desc: Descriptor,
  opts: { signal?: AbortSignal; onProgress?: (e: ProgressEvent) => void; attempts?: number },
): Promise<void> {
  const id = shortId(desc.digest);
  const ref = `pull-${desc.digest}`;
  const emit = opts.onProgress ?? (() => {});
  const attempts = Math.max(1, opts.attempts ?? 3);
  for (let attempt = 1; ; attempt++) {
    let offset = await store.ingestOffset(ref);
    if (offset > desc.size) {
      await store.abort(ref);
      offset = 0;
    }
    const headers: Record<string, string> = {};
    if (offset > 0 && offset < desc.size) headers.Range = `bytes=${offset}-`;
    let body: Readable | AsyncIterable<Buffer>;
    if (offset === desc.size) body = emptySource();
    else {
      const res = await session.request({ method: 'GET', url: `blobs/${desc.digest}`, headers, signal: opts.signal });
      if (headers.Range && res.status === 206 && contentRangeStart(res.headers['content-range']) === offset) {
        body = res.body;
      } else if (res.status === 200 || (headers.Range && (res.status === 206 || res.status === 416))) {
        if (offset > 0) {
          // range ignored or not honoured as asked: start again from 0
          await store.abort(ref);
          if (res.status !== 200) {
            res.body.resume();
            continue;
          }
        }
        const len = Number(res.headers['content-length']);
        if (res.headers['content-length'] !== undefined && len !== desc.size) {
          res.body.destroy();
          throw invalidArgument(`blob ${desc.digest}: registry announced ${len} bytes, expected ${desc.size}`);
        }
        body = res.body;
      } else {
        throw await responseError(res, `blob ${desc.digest} not found`);
      }
    }
    let last = -1;
    const step = Math.max(64 * 1024, Math.floor(desc.size / 100));
    try {
      await store.ingest(ref, body, { digest: desc.digest, size: desc.size }, {
        signal: opts.signal,
        onProgress: (n) => {
          if (n === desc.size || n - last >= step) {
            last = n;
            emit({ id, status: 'Downloading', progress: { current: n, total: desc.size } });
          }
        },
      });
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      if (isStevedoreError(err) && err.kind === 'invalid-argument') {
        await store.abort(ref).catch(() => {});
        throw err;
      }
      if (attempt < attempts) continue;
      throw err;
    }
    emit({ id, status: 'Verifying Checksum' });
    emit({ id, status: 'Download complete' });
    return;
  }
}

function contentRangeStart(h: string | undefined): number | undefined {
  const m = typeof h === 'string' ? /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(h.trim()) : null;
  return m ? Number(m[1]) : undefined;
}

async function* emptySource(): AsyncIterable<Buffer> {
  // nothing: the partial data is already complete
}
