import type { Readable } from 'node:stream';
import type { AuthConfig } from './authheader';
import type { Authorizer } from './auth';
import type { Endpoint, RegistryHosts } from './hosts';
import type { HttpResponse, HttpTransport } from './transport';

/** What every registry operation needs: how to reach hosts, send requests, authenticate. */
export interface RegistryDeps {
  hosts: RegistryHosts;
  transport: HttpTransport;
  authorizer: Authorizer;
}

/** A request within a repository session. */
export interface SessionRequest {
  method: string;
  /** absolute URL (e.g. an upload Location), or a path relative to `/v2/<name>/` */
  url: URL | string;
  headers?: Record<string, string>;
  body?: Buffer | (() => Promise<Readable>);
  signal?: AbortSignal;
}

/**
 * Requests to one repository on one endpoint with given scopes and credentials: adds
 * the Authorization header, and on a 401 refreshes the challenge and token and retries
 * once.
 */
export class RepositorySession {
  constructor(
    private readonly deps: RegistryDeps,
    readonly endpoint: Endpoint,
    /** repository path, e.g. `library/busybox` */
    readonly repo: string,
    readonly scopes: string[],
    private readonly creds: AuthConfig | undefined,
  ) {}

  /** `<endpoint>/v2/<repo>/<p>` */
  url(p: string): URL {
    return new URL(`v2/${this.repo}/${p}`, this.endpoint.base);
  }

  /** Sends a request; the caller reads or resumes the response body. */
  async request(req: SessionRequest): Promise<HttpResponse> {
    const url = typeof req.url === 'string' ? this.url(req.url) : req.url;
    const sameHost = url.host === this.endpoint.base.host;
    for (let attempt = 0; ; attempt++) {
      const headers = { ...(req.headers ?? {}) };
      if (sameHost) {
        const auth = await this.deps.authorizer.authorize(this.endpoint, this.scopes, this.creds, req.signal);
        if (auth) headers.Authorization = auth;
      }
      const res = await this.deps.transport.send({
        method: req.method,
        url,
        headers,
        body: req.body,
        tls: sameHost ? this.endpoint.tls : undefined,
        signal: req.signal,
      });
      if (res.status !== 401 || attempt > 0 || !sameHost) return res;
      res.body.resume();
      this.deps.authorizer.noteChallenges(this.endpoint, res.headers['www-authenticate']);
      this.deps.authorizer.invalidate(this.endpoint, this.scopes, this.creds);
    }
  }
}

/**
 * Runs `fn` against the endpoints of `domain` in order. An endpoint that cannot be
 * reached (`GET /v2/` fails: refused, TLS error, 5xx) is skipped for the next one — this
 * is how HTTPS falls back to HTTP for insecure registries; a mirror is skipped on any
 * error. The last endpoint's error is thrown.
 */
export async function withEndpoints<T>(
  deps: RegistryDeps,
  domain: string,
  purpose: 'pull' | 'push',
  signal: AbortSignal | undefined,
  fn: (ep: Endpoint) => Promise<T>,
): Promise<T> {
  const eps = await deps.hosts.endpoints(domain, purpose);
  let lastErr: unknown;
  for (let i = 0; i < eps.length; i++) {
    const ep = eps[i]!;
    const last = i === eps.length - 1;
    try {
      await deps.authorizer.ping(ep, signal);
    } catch (err) {
      if (signal?.aborted || last) throw err;
      lastErr = err;
      continue;
    }
    try {
      return await fn(ep);
    } catch (err) {
      if (signal?.aborted || last || !ep.mirror) throw err;
      lastErr = err;
    }
  }
  throw lastErr;
}
