import type { Descriptor, Provider } from '../content';
import { parseNormalizedNamed, type NamedReference } from '../reference';
import { Authorizer, repositoryScope, type AuthorizerOptions } from './auth';
import type { AuthConfig } from './authheader';
import { RegistryHosts, type RegistryHostsOptions } from './hosts';
import { login, type LoginResult } from './login';
import { pull, type PullOptions, type PullResult } from './pull';
import { pushBlob, pushImage, putManifest, type PushBlobOptions, type PushBlobOutcome, type PushImageOptions } from './push';
import { resolve, type ResolveOptions, type Resolved } from './resolver';
import { RepositorySession, withEndpoints, type RegistryDeps } from './session';
import { HttpTransport, type TransportOptions } from './transport';

export interface RegistryClientOptions extends RegistryHostsOptions, TransportOptions, AuthorizerOptions {}

/**
 * The registry client (OCI distribution spec / Docker registry v2): resolve, pull,
 * push and login. One per daemon; holds keep-alive connections and the token cache —
 * call {@link close} on shutdown.
 */
export class RegistryClient {
  readonly deps: RegistryDeps;

  constructor(opts: RegistryClientOptions = {}) {
    const transport = new HttpTransport(opts);
    this.deps = { hosts: new RegistryHosts(opts), transport, authorizer: new Authorizer(transport, opts) };
  }

  /** See {@link resolve}. */
  resolve(ref: string | NamedReference, opts: ResolveOptions = {}): Promise<Resolved> {
    return resolve(this.deps, ref, opts);
  }

  /** See {@link pull}. */
  pull(ref: string | NamedReference, opts: PullOptions): Promise<PullResult> {
    return pull(this.deps, ref, opts);
  }

  /** See {@link pushImage}. */
  pushImage(ref: string | NamedReference, opts: PushImageOptions): Promise<{ digest: string; size: number; mediaType: string }> {
    return pushImage(this.deps, ref, opts);
  }

  /** Uploads one blob to `repo` (a reference; only its name counts). See {@link pushBlob}. */
  async pushBlob(repo: string | NamedReference, desc: Descriptor, provider: Provider, opts: PushBlobOptions & { auth?: AuthConfig } = {}): Promise<PushBlobOutcome> {
    return this.withPushSession(repo, opts.auth, opts.signal, opts.mountFrom, (s) => pushBlob(s, desc, provider, opts));
  }

  /** PUTs a manifest under a tag or digest; returns its digest. See {@link putManifest}. */
  async putManifest(repo: string | NamedReference, tagOrDigest: string, bytes: Buffer, mediaType: string, opts: { auth?: AuthConfig; signal?: AbortSignal } = {}): Promise<string> {
    return this.withPushSession(repo, opts.auth, opts.signal, undefined, (s) => putManifest(s, tagOrDigest, bytes, mediaType, opts.signal));
  }

  /** See {@link login}. */
  login(serverAddress: string, creds: AuthConfig, opts: { signal?: AbortSignal } = {}): Promise<LoginResult> {
    return login(this.deps, serverAddress, creds, opts.signal);
  }

  /** Closes keep-alive connections. */
  close(): void {
    this.deps.transport.close();
  }

  private async withPushSession<T>(
    repo: string | NamedReference,
    auth: AuthConfig | undefined,
    signal: AbortSignal | undefined,
    mountFrom: string | undefined,
    fn: (s: RepositorySession) => Promise<T>,
  ): Promise<T> {
    const ref = typeof repo === 'string' ? parseNormalizedNamed(repo) : repo;
    const scopes = [repositoryScope(ref.path, ['pull', 'push'])];
    if (mountFrom && mountFrom !== ref.path) scopes.push(repositoryScope(mountFrom, ['pull']));
    return withEndpoints(this.deps, ref.domain, 'push', signal, (ep) => fn(new RepositorySession(this.deps, ep, ref.path, scopes, auth)));
  }
}
