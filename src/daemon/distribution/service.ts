/**
 * DistributionService: the daemon's registry operations — pull, push, login and
 * distribution inspect — over the engine's `RegistryClient`, the content store, leases
 * and the image service. Built once by the composition root (`openDistribution`).
 *
 * Credentials (`X-Registry-Auth`, `/auth` bodies) are passed through to the registry
 * client and never logged, stored or put into events or error messages.
 */
import * as path from 'node:path';
import type { ContentStore } from '../../engine/content';
import { RegistryClient, loginDomain, parsePlatform, type AuthConfig, type LoginResult, type Platform } from '../../engine/distribution';
import { invalidArgument } from '../../engine/errdefs';
import type { LeaseManager } from '../../engine/gc';
import type { MetadataDB } from '../../engine/metadata/db';
import { isDigest, parseNormalizedNamed, tagNameOnly, withDigest, withTag, type NamedReference } from '../../engine/reference';
import type { JsonMessage } from '../jsonmessage';
import type { ImageService } from '../images/service';
import { distributionInspect, type DistributionInspect } from './inspect';
import { DistributionMetadata } from './metadata';
import { pullImage, type PulledImage } from './pull';
import { pushRepository } from './push';

export interface DistributionOptions {
  db: MetadataDB;
  content: ContentStore;
  leases: LeaseManager;
  images: ImageService;
  /** `<data-root>/tmp/distribution`: scratch space for compressed layers */
  tmpDir: string;
  insecureRegistries?: string[];
  registryMirrors?: string[];
  maxConcurrentDownloads?: number;
  maxConcurrentUploads?: number;
  /** certs.d root (default /etc/docker/certs.d) */
  certsDir?: string;
  /** treat loopback registries as insecure, as Docker does (default true) */
  insecureLoopback?: boolean;
}

export class DistributionService {
  readonly client: RegistryClient;
  private readonly meta: DistributionMetadata;

  constructor(private readonly opts: DistributionOptions) {
    this.client = new RegistryClient({
      insecureRegistries: opts.insecureRegistries,
      registryMirrors: opts.registryMirrors,
      certsDir: opts.certsDir,
      insecureLoopback: opts.insecureLoopback,
    });
    this.meta = new DistributionMetadata(opts.db);
  }

  /**
   * The reference of `POST /images/create?fromImage=&tag=`: `tag` may be a tag or a
   * digest; `fromImage` may carry either itself. Throws invalid-argument.
   */
  static pullReference(fromImage: string, tag: string | undefined): NamedReference {
    let ref = parseNormalizedNamed(fromImage);
    if (tag) ref = isDigest(tag) ? withDigest(ref, tag) : withTag(ref, tag);
    return tagNameOnly(ref);
  }

  /** Parses the `platform` query parameter (`os[/arch[/variant]]`). */
  static platform(s: string | undefined): Platform | undefined {
    if (!s) return undefined;
    try {
      return parsePlatform(s.includes('/') ? s : `${s}/amd64`);
    } catch (err) {
      throw invalidArgument(`"${s}": unknown operating system or architecture: invalid argument`, err);
    }
  }

  /** pulls under way (close cancels them and waits for their clean-up) */
  private readonly inflight = new Set<{ stop: AbortController; done: Promise<void> }>();

  /** See pull.ts. */
  pull(ref: NamedReference, o: { auth?: AuthConfig; platform?: Platform; signal?: AbortSignal; onMessage: (m: JsonMessage) => Promise<void> }): Promise<PulledImage> {
    const stop = new AbortController();
    const signal = o.signal ? AbortSignal.any([o.signal, stop.signal]) : stop.signal;
    const p = pullImage(
      { client: this.client, images: this.opts.images, content: this.opts.content, leases: this.opts.leases, meta: this.meta, maxConcurrentDownloads: this.opts.maxConcurrentDownloads ?? 3 },
      ref,
      { ...o, signal },
    );
    const entry = { stop, done: p.then(() => undefined, () => undefined) };
    this.inflight.add(entry);
    void entry.done.finally(() => this.inflight.delete(entry));
    return p;
  }

  /** See push.ts. `name` is the repository, `tag` optional (all tags when empty). */
  push(name: string, tag: string | undefined, o: { auth?: AuthConfig; signal?: AbortSignal; onMessage: (m: JsonMessage) => Promise<void> }): Promise<void> {
    let repo = parseNormalizedNamed(name);
    if (repo.digest) throw invalidArgument('cannot push a digest reference');
    if (tag) repo = withTag(repo, tag);
    return pushRepository(
      {
        client: this.client,
        images: this.opts.images,
        content: this.opts.content,
        meta: this.meta,
        maxConcurrentUploads: this.opts.maxConcurrentUploads ?? 5,
        tmpDir: this.opts.tmpDir,
      },
      repo,
      o,
    );
  }

  /** `POST /auth`. Throws unauthorized with the registry's words. */
  login(creds: AuthConfig, signal?: AbortSignal): Promise<LoginResult> {
    return this.client.login(creds.serveraddress ?? '', creds, { signal });
  }

  /** `GET /distribution/{name}/json`. */
  inspect(name: string, auth: AuthConfig | undefined, signal?: AbortSignal): Promise<DistributionInspect> {
    return distributionInspect(this.client, parseNormalizedNamed(name), auth, signal);
  }

  /**
   * Cancels the pulls under way and waits (at most `waitMs`) until each has dropped its
   * lease: a daemon stopped while a pull — or the clean-up of one whose client left —
   * is running keeps nothing of it, as Docker. (A daemon killed keeps the downloads for
   * the retry: the lease outlives it.)
   */
  async close(waitMs = 10_000): Promise<void> {
    const all = [...this.inflight];
    for (const e of all) e.stop.abort(new Error('the daemon is shutting down'));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(all.map((e) => e.done)), new Promise<void>((r) => (timer = setTimeout(r, waitMs)))]);
    clearTimeout(timer);
    this.client.close();
  }
}

/** The registry domain `docker login` names (for messages). */
export { loginDomain };

/**
 * Builds the service from the daemon's settings. The certs.d root is
 * `/etc/docker/certs.d`, or `$STEVEDORE_CERTS_D` when set (tests); with
 * `STEVEDORE_SECURE_LOOPBACK=1` loopback registries are not insecure by default
 * (tests of certificate verification).
 */
export function openDistribution(
  a: Omit<DistributionOptions, 'tmpDir' | 'certsDir' | 'insecureLoopback'> & { dataRoot: string; env?: NodeJS.ProcessEnv },
): DistributionService {
  const env = a.env ?? {};
  return new DistributionService({
    ...a,
    tmpDir: path.join(a.dataRoot, 'tmp', 'distribution'),
    certsDir: env.STEVEDORE_CERTS_D || undefined,
    insecureLoopback: env.STEVEDORE_SECURE_LOOPBACK === '1' ? false : undefined,
  });
}
