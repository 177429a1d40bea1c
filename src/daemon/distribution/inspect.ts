/**
 * `GET /distribution/{name}/json`: what a reference names in its registry — the
 * descriptor of the manifest or index, and the platforms it offers (an index's
 * entries, or a manifest's config), in Docker's shape.
 */
import { invalidArgument, unauthorized } from '../../engine/errdefs';
import { repositoryScope } from '../../engine/distribution/auth';
import { responseError } from '../../engine/distribution/errors';
import { isIndex, type ImageManifest } from '../../engine/distribution/mediatypes';
import { MAX_CONFIG_SIZE } from '../../engine/distribution/pull';
import { fetchManifest } from '../../engine/distribution/resolver';
import { RepositorySession, withEndpoints } from '../../engine/distribution/session';
import { readBody } from '../../engine/distribution/transport';
import type { AuthConfig, RegistryClient } from '../../engine/distribution';
import { digestLike, familiarName, tagNameOnly, type NamedReference } from '../../engine/reference';

/** Docker's `registry.DistributionInspect`. */
export interface DistributionInspect {
  Descriptor: { mediaType: string; digest: string; size: number };
  Platforms: Array<{ architecture: string; os: string; variant?: string; 'os.version'?: string; 'os.features'?: string[] }>;
}

export async function distributionInspect(client: RegistryClient, reference: NamedReference, auth: AuthConfig | undefined, signal?: AbortSignal): Promise<DistributionInspect> {
  const ref = tagNameOnly(reference);
  const deps = client.deps;
  return withEndpoints(deps, ref.domain, 'pull', signal, async (ep) => {
    const session = new RepositorySession(deps, ep, ref.path, [repositoryScope(ref.path, ['pull'])], auth);
    let top;
    try {
      top = await fetchManifest(session, ref, ref.digest ?? ref.tag!, undefined, signal);
    } catch (err) {
      if (err instanceof Error && (err as { kind?: string }).kind === 'unauthorized') throw unauthorized(err.message.replace(/^pull access denied for [^,]*, repository does not exist or may require 'docker login': /, ''), err);
      throw err;
    }
    const Descriptor = { mediaType: top.descriptor.mediaType, digest: top.descriptor.digest, size: top.descriptor.size };
    if (isIndex(top.parsed)) {
      const Platforms = top.parsed.manifests.filter((m) => m.platform).map((m) => ({ ...m.platform! }));
      return { Descriptor, Platforms };
    }
    const cfg = (top.parsed as ImageManifest).config;
    if (cfg.size > MAX_CONFIG_SIZE) throw invalidArgument(`image config ${cfg.digest} is too large`);
    const res = await session.request({ method: 'GET', url: `blobs/${cfg.digest}`, signal });
    if (res.status !== 200) throw await responseError(res, `config blob of ${familiarName(ref)} not found`);
    const bytes = await readBody(res, cfg.size);
    if (digestLike(cfg.digest, bytes) !== cfg.digest) throw invalidArgument(`image config ${cfg.digest}: digest mismatch`);
    let c: Record<string, unknown>;
    try {
      c = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
    } catch {
      throw invalidArgument(`image config ${cfg.digest} is not JSON`);
    }
    const str = (k: string) => (typeof c[k] === 'string' && c[k] !== '' ? (c[k] as string) : undefined);
    const p: DistributionInspect['Platforms'][number] = { architecture: str('architecture') ?? '', os: str('os') ?? '' };
    if (str('variant')) p.variant = str('variant')!;
    if (str('os.version')) p['os.version'] = str('os.version')!;
    return { Descriptor, Platforms: [p] };
  });
}
