import { invalidArgument, notFound, unauthorized, isStevedoreError } from '../errdefs';
import type { Descriptor } from '../content';
import {
  digestLike,
  familiarName,
  familiarString,
  isDigest,
  parseNormalizedNamed,
  sha256Digest,
  tagNameOnly,
  type NamedReference,
} from '../reference';
import type { AuthConfig } from './authheader';
import { repositoryScope } from './auth';
import { responseError } from './errors';
import { MANIFEST_ACCEPT, isIndex, isIndexType, isManifestType, parseManifest, type ImageIndex, type ImageManifest } from './mediatypes';
import { DEFAULT_PLATFORM, bestPlatformMatch, formatPlatform, normalizePlatform, type Platform } from './platform';
import { RepositorySession, withEndpoints, type RegistryDeps } from './session';
import { readBody } from './transport';

/** Manifests and indexes larger than this are refused (bytes). */
export const MAX_MANIFEST_SIZE = 4 * 1024 * 1024;

export interface ResolveOptions {
  /** platform to pick from an index (default linux/amd64) */
  platform?: Platform;
  /** credentials for the reference's registry */
  auth?: AuthConfig;
  signal?: AbortSignal;
  /** push scope as well as pull (when resolving before a push) */
  push?: boolean;
}

/** A manifest fetched and verified against its digest. */
export interface FetchedManifest<T> {
  descriptor: Descriptor;
  bytes: Buffer;
  parsed: T;
}

/** What {@link resolve} found. */
export interface Resolved {
  /** the normalised reference (`:latest` added when it had neither tag nor digest) */
  ref: NamedReference;
  /** the index or manifest list the reference points at, if it is one */
  index?: FetchedManifest<ImageIndex>;
  /** the platform's image manifest */
  manifest: FetchedManifest<ImageManifest>;
  /** the session that answered: blobs are fetched from the same endpoint */
  session: RepositorySession;
}

/**
 * Resolves a reference to an image manifest: fetches it by tag or digest (trying
 * mirrors, then HTTPS, then HTTP for insecure registries), verifies the bytes, and
 * when it is an index picks the platform's entry and fetches that.
 * @throws not-found (no such manifest, no matching platform), unauthorized,
 *   invalid-argument (bad or unverifiable content, schema1), unavailable.
 */
export async function resolve(deps: RegistryDeps, reference: string | NamedReference, opts: ResolveOptions = {}): Promise<Resolved> {
  const ref = tagNameOnly(typeof reference === 'string' ? parseNormalizedNamed(reference) : reference);
  const want = normalizePlatform(opts.platform ?? DEFAULT_PLATFORM);
  const scopes = [repositoryScope(ref.path, opts.push ? ['pull', 'push'] : ['pull'])];
  return await withEndpoints(deps, ref.domain, 'pull', opts.signal, async (ep) => {
    const session = new RepositorySession(deps, ep, ref.path, scopes, opts.auth);
    const top = await fetchManifest(session, ref, ref.digest ?? ref.tag!, undefined, opts.signal);
    if (!isIndex(top.parsed)) return { ref, manifest: top as FetchedManifest<ImageManifest>, session };
    const index = top as FetchedManifest<ImageIndex>;
    let current: FetchedManifest<ImageIndex> = index;
    for (let depth = 0; depth < 2; depth++) {
      const entries = current.parsed.manifests.filter((m) => isManifestType(m.mediaType) || isIndexType(m.mediaType));
      const i = bestPlatformMatch(want, entries.map((m) => m.platform));
      if (i < 0) throw notFound(`no matching manifest for ${formatPlatform(want)} in the manifest list entries`);
      const desc = entries[i]!;
      const child = await fetchManifest(session, ref, desc.digest, desc, opts.signal);
      if (!isIndex(child.parsed)) return { ref, index, manifest: child as FetchedManifest<ImageManifest>, session };
      current = child as FetchedManifest<ImageIndex>;
    }
    throw invalidArgument(`manifest list for ${familiarString(ref)} nests too deeply`);
  });
}

/**
 * GETs `/v2/<name>/manifests/<tagOrDigest>` and verifies it: by digest, the bytes must
 * hash to it; by tag, the digest is computed (and a Docker-Content-Digest header that
 * disagrees is an error). `expected` (an index entry) also fixes size and digest.
 */
export async function fetchManifest(
  session: RepositorySession,
  ref: NamedReference,
  tagOrDigest: string,
  expected: Descriptor | undefined,
  signal: AbortSignal | undefined,
): Promise<FetchedManifest<ImageManifest | ImageIndex>> {
  const byDigest = isDigest(tagOrDigest);
  const shown = byDigest ? `${familiarName(ref)}@${tagOrDigest}` : `${familiarName(ref)}:${tagOrDigest}`;
  const res = await session.request({ method: 'GET', url: `manifests/${tagOrDigest}`, headers: { Accept: MANIFEST_ACCEPT }, signal });
  if (res.status !== 200) {
    if (res.status === 401 || res.status === 403) {
      const e = await responseError(res);
      throw unauthorized(`pull access denied for ${familiarName(ref)}, repository does not exist or may require 'docker login': ${e.message}`, e);
    }
    const e = await responseError(res, `manifest for ${shown} not found`);
    throw e;
  }
  const limit = expected ? Math.min(expected.size, MAX_MANIFEST_SIZE) : MAX_MANIFEST_SIZE;
  let bytes: Buffer;
  try {
    bytes = await readBody(res, limit);
  } catch (err) {
    if (isStevedoreError(err) && err.kind === 'invalid-argument') {
      throw invalidArgument(expected ? `manifest verification failed for digest ${expected.digest}: size mismatch` : `manifest for ${shown} is larger than ${MAX_MANIFEST_SIZE} bytes`);
    }
    throw err;
  }
  let digest: string;
  if (byDigest) {
    digest = tagOrDigest;
    if (digestLike(digest, bytes) !== digest) throw invalidArgument(`manifest verification failed for digest ${digest}`);
  } else {
    digest = sha256Digest(bytes);
    const header = res.headers['docker-content-digest'];
    if (typeof header === 'string' && header !== '') {
      if (!isDigest(header) || digestLike(header, bytes) !== header) {
        throw invalidArgument(`manifest verification failed for ${shown}: Docker-Content-Digest ${header.slice(0, 100)} does not match the content`);
      }
    }
  }
  if (expected && bytes.length !== expected.size) throw invalidArgument(`manifest verification failed for digest ${digest}: size mismatch`);
  const contentType = typeof res.headers['content-type'] === 'string' ? res.headers['content-type'] : undefined;
  const parsed = parseManifest(bytes, contentType, `${ref.name}${byDigest ? '@' : ':'}${tagOrDigest}`);
  if (expected && isIndexType(expected.mediaType) !== isIndex(parsed)) {
    throw invalidArgument(`manifest ${digest} has media type ${parsed.mediaType}, but its descriptor says ${expected.mediaType}`);
  }
  const descriptor: Descriptor = { mediaType: parsed.mediaType, digest, size: bytes.length };
  if (expected?.platform) descriptor.platform = expected.platform;
  return { descriptor, bytes, parsed };
}
