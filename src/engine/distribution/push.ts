import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { invalidArgument, notFound, unavailable } from '../errdefs';
import type { Descriptor, Provider } from '../content';
import {
  digestLike,
  familiarName,
  isDigest,
  parseNormalizedNamed,
  sha256Digest,
  shortId,
  type NamedReference,
} from '../reference';
import type { AuthConfig } from './authheader';
import { repositoryScope } from './auth';
import { responseError } from './errors';
import { isIndexType, isManifestType, isNonDistributable, parseManifest, type ImageIndex, type ImageManifest } from './mediatypes';
import type { ProgressEvent } from './pull';
import { runLimited } from './pull';
import { MAX_MANIFEST_SIZE } from './resolver';
import { RepositorySession, withEndpoints, type RegistryDeps } from './session';

/** How a blob got to the registry. */
export type PushBlobOutcome = { kind: 'exists' } | { kind: 'mounted'; from: string } | { kind: 'pushed' };

export interface PushBlobOptions {
  /** a repository path on the same registry that has the blob: try a cross-repo mount */
  mountFrom?: string;
  signal?: AbortSignal;
  /** bytes sent so far */
  onProgress?: (sent: number) => void;
  /** blobs up to this size go in one PUT (default 16 MiB); larger ones in PATCH chunks */
  monolithicMax?: number;
  /** PATCH chunk size (default 32 MiB) */
  chunkSize?: number;
}

/**
 * Uploads one blob from `provider` to the session's repository: HEAD to see whether it
 * is there; a cross-repository mount when `mountFrom` is given; otherwise an upload
 * session (POST), then a monolithic PUT or PATCH chunks and a closing PUT, following
 * each `Location` (relative or absolute). Never holds more than a chunk's worth of
 * stream in flight; nothing is buffered whole.
 */
export async function pushBlob(session: RepositorySession, desc: Descriptor, provider: Provider, opts: PushBlobOptions = {}): Promise<PushBlobOutcome> {
  const signal = opts.signal;
  const head = await session.request({ method: 'HEAD', url: `blobs/${desc.digest}`, signal });
  head.body.resume();
  if (head.status === 200) return { kind: 'exists' };
  if (head.status !== 404) throw await responseError(head);

  let start;
  if (opts.mountFrom && opts.mountFrom !== session.repo) {
    const q = new URLSearchParams({ mount: desc.digest, from: opts.mountFrom });
    start = await session.request({ method: 'POST', url: `blobs/uploads/?${q}`, headers: { 'Content-Length': '0' }, body: Buffer.alloc(0), signal });
    if (start.status === 201) {
      start.body.resume();
      return { kind: 'mounted', from: opts.mountFrom };
    }
  } else {
    start = await session.request({ method: 'POST', url: 'blobs/uploads/', headers: { 'Content-Length': '0' }, body: Buffer.alloc(0), signal });
  }
  if (start.status !== 202) throw await responseError(start);
  start.body.resume();
  let location = nextLocation(start.url, start.headers.location);

  const monolithicMax = opts.monolithicMax ?? 16 * 1024 * 1024;
  const chunkSize = Math.max(1, opts.chunkSize ?? 32 * 1024 * 1024);
  let sent = 0;
  const counted = (from: number, len: number) => async () => counting(limitStream(await provider.reader(desc.digest, { start: from }), len), (n) => {
    sent = from + n;
    opts.onProgress?.(sent);
  });

  if (desc.size <= monolithicMax) {
    const url = withDigest(location, desc.digest);
    const res = await session.request({
      method: 'PUT',
      url,
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(desc.size) },
      body: counted(0, desc.size),
      signal,
    });
    if (res.status !== 201) throw await responseError(res);
    res.body.resume();
    return { kind: 'pushed' };
  }

  for (let offset = 0; offset < desc.size; offset += chunkSize) {
    const len = Math.min(chunkSize, desc.size - offset);
    const res = await session.request({
      method: 'PATCH',
      url: location,
      headers: {
        'Content-Type': 'application/octet-stream',
        'Content-Length': String(len),
        'Content-Range': `${offset}-${offset + len - 1}`,
      },
      body: counted(offset, len),
      signal,
    });
    if (res.status !== 202) throw await responseError(res);
    res.body.resume();
    location = nextLocation(res.url, res.headers.location, location);
  }
  const res = await session.request({ method: 'PUT', url: withDigest(location, desc.digest), headers: { 'Content-Length': '0' }, body: Buffer.alloc(0), signal });
  if (res.status !== 201) throw await responseError(res);
  res.body.resume();
  return { kind: 'pushed' };
}

/**
 * PUTs a manifest under a tag or digest and returns its digest (sha256 of the bytes,
 * or of the given digest's algorithm when pushing by digest).
 */
export async function putManifest(
  session: RepositorySession,
  tagOrDigest: string,
  bytes: Buffer,
  mediaType: string,
  signal?: AbortSignal,
): Promise<string> {
  const digest = isDigest(tagOrDigest) ? digestLike(tagOrDigest, bytes) : sha256Digest(bytes);
  if (isDigest(tagOrDigest) && digest !== tagOrDigest) throw invalidArgument(`manifest content does not match digest ${tagOrDigest}`);
  const res = await session.request({
    method: 'PUT',
    url: `manifests/${tagOrDigest}`,
    headers: { 'Content-Type': mediaType, 'Content-Length': String(bytes.length) },
    body: bytes,
    signal,
  });
  if (res.status !== 201 && res.status !== 200) throw await responseError(res);
  res.body.resume();
  return digest;
}

export interface PushImageOptions {
  /** the image's top descriptor: a manifest or an index, present in `provider` */
  target: Descriptor;
  provider: Provider;
  auth?: AuthConfig;
  signal?: AbortSignal;
  /** layers uploaded at once (default 5, as dockerd's max-concurrent-uploads) */
  maxConcurrent?: number;
  onProgress?: (e: ProgressEvent) => void;
  /** where each blob is known to come from: digest → repository path on the same registry */
  mountSources?: (digest: string) => string | undefined;
  monolithicMax?: number;
  chunkSize?: number;
}

/**
 * Pushes an image: for an index, every child manifest present in the provider (by
 * digest) then the index; for a manifest, its layers (with Docker's progress lines:
 * `Preparing`, `Waiting`, `Pushing`, `Pushed`, `Layer already exists`,
 * `Mounted from x`), its config, then the manifest under the reference's tag (or digest).
 * Returns the digest of the pushed top manifest.
 */
export async function pushImage(deps: RegistryDeps, reference: string | NamedReference, opts: PushImageOptions): Promise<{ digest: string; size: number; mediaType: string }> {
  const ref = typeof reference === 'string' ? parseNormalizedNamed(reference) : reference;
  const tagOrDigest = ref.tag ?? ref.digest ?? 'latest';
  const sources = new Set<string>();
  // scopes: push to ref, pull from mount sources (collected lazily per blob)
  return await withEndpoints(deps, ref.domain, 'push', opts.signal, async (ep) => {
    const topBytes = await opts.provider.readAll(opts.target.digest, { maxSize: MAX_MANIFEST_SIZE });
    const top = parseManifest(topBytes, opts.target.mediaType, ref.toString());
    const manifests: Array<{ desc: Descriptor; bytes: Buffer; parsed: ImageManifest }> = [];
    if (isIndexType(top.mediaType)) {
      for (const m of (top as ImageIndex).manifests) {
        if (!isManifestType(m.mediaType) || !(await opts.provider.exists(m.digest))) continue;
        const bytes = await opts.provider.readAll(m.digest, { maxSize: MAX_MANIFEST_SIZE });
        const parsed = parseManifest(bytes, m.mediaType, `${ref.name}@${m.digest}`);
        if (isManifestType(parsed.mediaType)) manifests.push({ desc: m, bytes, parsed: parsed as ImageManifest });
      }
    } else manifests.push({ desc: opts.target, bytes: topBytes, parsed: top as ImageManifest });

    for (const m of manifests) for (const l of [...m.parsed.layers, m.parsed.config]) {
      const s = opts.mountSources?.(l.digest);
      if (s && s !== ref.path) sources.add(s);
    }
    const scopes = [repositoryScope(ref.path, ['pull', 'push']), ...[...sources].map((s) => repositoryScope(s, ['pull']))];
    const session = new RepositorySession(deps, ep, ref.path, scopes, opts.auth);
    const emit = opts.onProgress ?? (() => {});
    const blobOpts = { monolithicMax: opts.monolithicMax, chunkSize: opts.chunkSize };

    for (const m of manifests) {
      const layers: Descriptor[] = [];
      for (const l of m.parsed.layers) {
        if (isNonDistributable(l.mediaType) || layers.some((x) => x.digest === l.digest)) continue;
        if (!(await opts.provider.exists(l.digest))) throw notFound(`content digest ${l.digest} not found`);
        layers.push(l);
      }
      const limit = Math.max(1, opts.maxConcurrent ?? 5);
      layers.forEach((l) => emit({ id: shortId(l.digest), status: 'Preparing' }));
      layers.slice(limit).forEach((l) => emit({ id: shortId(l.digest), status: 'Waiting' }));
      await runLimited(layers, limit, opts.signal, async (l, signal) => {
        const id = shortId(l.digest);
        const step = Math.max(64 * 1024, Math.floor(l.size / 100));
        let last = -step;
        const outcome = await pushBlob(session, l, opts.provider, {
          ...blobOpts,
          mountFrom: opts.mountSources?.(l.digest),
          signal,
          onProgress: (n) => {
            if (n === l.size || n - last >= step) {
              last = n;
              emit({ id, status: 'Pushing', progress: { current: n, total: l.size } });
            }
          },
        });
        if (outcome.kind === 'exists') emit({ id, status: 'Layer already exists' });
        else if (outcome.kind === 'mounted') emit({ id, status: `Mounted from ${familiarName(parseNormalizedNamed(`${ref.domain}/${outcome.from}`))}` });
        else emit({ id, status: 'Pushed' });
      });
      await pushBlob(session, m.parsed.config, opts.provider, { ...blobOpts, mountFrom: opts.mountSources?.(m.parsed.config.digest), signal: opts.signal });
      if (manifests.length > 1 || m.desc !== opts.target) await putManifest(session, m.desc.digest, m.bytes, m.parsed.mediaType, opts.signal);
    }
    const digest = await putManifest(session, tagOrDigest, topBytes, top.mediaType, opts.signal);
    return { digest, size: topBytes.length, mediaType: top.mediaType };
  });
}

/** Resolves an upload `Location` against the URL that sent it. */
function nextLocation(base: URL, location: string | string[] | undefined, fallback?: URL): URL {
  if (typeof location !== 'string' || location === '') {
    if (fallback) return fallback;
    throw unavailable('registry did not return an upload location');
  }
  try {
    return new URL(location, base);
  } catch {
    throw unavailable('registry returned an invalid upload location');
  }
}

function withDigest(u: URL, digest: string): URL {
  const out = new URL(u);
  out.searchParams.set('digest', digest);
  return out;
}

/** Passes on exactly `len` bytes of `src`, then ends (and destroys `src`). */
function limitStream(src: Readable, len: number): Readable {
  let left = len;
  const t = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      if (left <= 0) return cb();
      const part = chunk.length > left ? chunk.subarray(0, left) : chunk;
      left -= part.length;
      this.push(part);
      if (left === 0) {
        this.push(null);
        src.destroy();
      }
      cb();
    },
    flush(cb) {
      cb(left > 0 ? invalidArgument(`blob shorter than expected (${left} bytes missing)`) : null);
    },
  });
  src.on('error', (err) => t.destroy(err));
  src.pipe(t);
  return t;
}

function counting(src: Readable, onBytes: (n: number) => void): Readable {
  let n = 0;
  const t = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      n += chunk.length;
      onBytes(n);
      cb(null, chunk);
    },
  });
  pipeline(src, t).catch((err) => t.destroy(err));
  return t;
}
