import { createHash } from 'node:crypto';
import { unauthorized, unavailable, invalidArgument } from '../errdefs';
import type { AuthConfig } from './authheader';
import { parseChallenges, type Challenge } from './challenge';
import { readErrorEntries, formatEntry } from './errors';
import type { Endpoint } from './hosts';
import { readBody, redact, type HttpTransport } from './transport';

/** A bearer token and when to stop using it. */
interface CachedToken {
  token: string;
  expiresAt: number;
  refreshToken?: string;
}

/** What a token server answered. */
export interface TokenResponse {
  token: string;
  expiresIn: number;
  refreshToken?: string;
}

export interface AuthorizerOptions {
  /** clock, for tests (ms) */
  now?: () => number;
  /** `client_id` sent to token servers (default `stevedore`) */
  clientId?: string;
}

/**
 * Registry authentication (the Docker registry token spec): learns each registry's
 * challenges from `GET /v2/` (`Basic` or `Bearer realm=…,service=…`), then adds an
 * Authorization header to requests — basic credentials, or a bearer token fetched from
 * the realm for the request's scopes (`repository:<name>:pull[,push]`) and cached per
 * realm, service, scopes and credentials until it expires.
 *
 * Credentials go to the registry they were given for and to the token realm that
 * registry's challenge names (as Docker does; the registry chose its auth server).
 * They never follow redirects to other hosts (see HttpTransport), and are not sent
 * to mirrors.
 */
export class Authorizer {
  private readonly challenges = new Map<string, Challenge[]>();
  private readonly tokens = new Map<string, CachedToken>();
  private readonly now: () => number;
  private readonly clientId: string;

  constructor(private readonly transport: HttpTransport, opts: AuthorizerOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.clientId = opts.clientId ?? 'stevedore';
  }

  /**
   * `GET /v2/` on the endpoint and records its challenges (cached per endpoint base).
   * @throws unavailable when the endpoint cannot be reached (the caller may fall back).
   */
  async ping(ep: Endpoint, signal?: AbortSignal, force = false): Promise<Challenge[]> {
    const key = ep.base.href;
    const known = this.challenges.get(key);
    if (known && !force) return known;
    const res = await this.transport.send({ method: 'GET', url: new URL('v2/', ep.base), tls: ep.tls, signal });
    res.body.resume();
    const ch = res.status === 401 ? parseChallenges(res.headers['www-authenticate']) : [];
    if (res.status >= 500) throw unavailable(`Get "${redact(new URL('v2/', ep.base))}": received unexpected HTTP status: ${res.status}`);
    this.challenges.set(key, ch);
    return ch;
  }

  /** Records challenges from a 401 response to a request on `ep`. */
  noteChallenges(ep: Endpoint, header: string | string[] | undefined): void {
    const ch = parseChallenges(header);
    if (ch.length > 0) this.challenges.set(ep.base.href, ch);
  }

  /**
   * The Authorization header for a request to `ep` needing `scopes`, or undefined
   * (anonymous). Fetches a token when the registry wants one.
   * @throws unauthorized when the token server refuses the credentials.
   */
  async authorize(ep: Endpoint, scopes: string[], creds: AuthConfig | undefined, signal?: AbortSignal): Promise<string | undefined> {
    const ch = this.challenges.get(ep.base.href) ?? [];
    const useCreds = ep.mirror ? undefined : creds;
    const bearer = ch.find((c) => c.scheme === 'bearer');
    if (bearer) {
      if (useCreds?.registrytoken) return `Bearer ${useCreds.registrytoken}`;
      const key = tokenKey(bearer, scopes, useCreds);
      const cached = this.tokens.get(key);
      if (cached && cached.expiresAt > this.now()) return `Bearer ${cached.token}`;
      const t = await this.fetchToken(ep, bearer, scopes, useCreds, { signal });
      const lifetime = Math.max(t.expiresIn, 60) * 1000;
      this.tokens.set(key, { token: t.token, expiresAt: this.now() + lifetime - Math.min(10_000, lifetime / 10) });
      return `Bearer ${t.token}`;
    }
    const basic = ch.find((c) => c.scheme === 'basic');
    if (basic && useCreds && (useCreds.username || useCreds.password)) {
      return 'Basic ' + Buffer.from(`${useCreds.username ?? ''}:${useCreds.password ?? ''}`).toString('base64');
    }
    return undefined;
  }

  /** Forgets the cached token for these scopes (after a 401 with it). */
  invalidate(ep: Endpoint, scopes: string[], creds: AuthConfig | undefined): void {
    const bearer = (this.challenges.get(ep.base.href) ?? []).find((c) => c.scheme === 'bearer');
    if (bearer) this.tokens.delete(tokenKey(bearer, scopes, ep.mirror ? undefined : creds));
  }

  /**
   * Asks the challenge's realm for a token. With an identity (refresh) token, uses the
   * OAuth2 `refresh_token` grant (POST); otherwise GET with basic credentials, if any.
   * `offline` asks for a refresh token (login).
   */
  async fetchToken(
    ep: Endpoint,
    bearer: Challenge,
    scopes: string[],
    creds: AuthConfig | undefined,
    opts: { signal?: AbortSignal; offline?: boolean } = {},
  ): Promise<TokenResponse> {
    const realmStr = bearer.params.realm;
    if (!realmStr) throw unauthorized('unauthorized: bearer challenge without realm');
    let realm: URL;
    try {
      realm = new URL(realmStr);
    } catch {
      throw invalidArgument(`invalid token realm ${JSON.stringify(realmStr.slice(0, 200))}`);
    }
    if (realm.protocol !== 'https:' && realm.protocol !== 'http:') throw invalidArgument('invalid token realm scheme');
    const tlsm = realm.host === ep.base.host ? ep.tls : undefined;
    const service = bearer.params.service;
    let res;
    if (creds?.identitytoken) {
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: creds.identitytoken, client_id: this.clientId });
      if (service) form.set('service', service);
      if (scopes.length) form.set('scope', scopes.join(' '));
      if (opts.offline) form.set('access_type', 'offline');
      const body = Buffer.from(form.toString());
      res = await this.transport.send({
        method: 'POST',
        url: realm,
        tls: tlsm,
        signal: opts.signal,
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': String(body.length) },
        body,
      });
    } else {
      const url = new URL(realm);
      if (service) url.searchParams.append('service', service);
      for (const s of scopes) url.searchParams.append('scope', s);
      if (opts.offline) {
        url.searchParams.set('offline_token', 'true');
        url.searchParams.set('client_id', this.clientId);
      }
      const headers: Record<string, string> = {};
      if (creds && (creds.username || creds.password)) {
        headers.Authorization = 'Basic ' + Buffer.from(`${creds.username ?? ''}:${creds.password ?? ''}`).toString('base64');
      }
      res = await this.transport.send({ method: 'GET', url, tls: tlsm, signal: opts.signal, headers });
    }
    if (res.status !== 200) {
      const entries = await readErrorEntries(res);
      const text = entries.map(formatEntry).join(', ');
      if (res.status === 401 || res.status === 403) throw unauthorized(text || 'unauthorized: authentication required');
      throw unavailable(`fetching token from ${redact(realm)}: unexpected status ${res.status}${text ? ': ' + text : ''}`);
    }
    let j: Record<string, unknown>;
    try {
      j = JSON.parse((await readBody(res, 1024 * 1024)).toString('utf8')) as Record<string, unknown>;
    } catch (err) {
      throw unavailable(`fetching token from ${redact(realm)}: invalid response`, err);
    }
    const token = typeof j.token === 'string' && j.token ? j.token : typeof j.access_token === 'string' ? j.access_token : '';
    if (!token || /[\r\n]/.test(token)) throw unavailable(`fetching token from ${redact(realm)}: no token in response`);
    const expiresIn = typeof j.expires_in === 'number' && j.expires_in > 0 ? j.expires_in : 60;
    const out: TokenResponse = { token, expiresIn };
    if (typeof j.refresh_token === 'string' && j.refresh_token) out.refreshToken = j.refresh_token;
    return out;
  }
}

function tokenKey(bearer: Challenge, scopes: string[], creds: AuthConfig | undefined): string {
  const who = creds
    ? createHash('sha256')
        .update(JSON.stringify([creds.username ?? '', creds.password ?? '', creds.identitytoken ?? '']))
        .digest('hex')
    : 'anonymous';
  return JSON.stringify([bearer.params.realm ?? '', bearer.params.service ?? '', [...scopes].sort(), who]);
}

/** `repository:<path>:<actions>` */
export function repositoryScope(path: string, actions: Array<'pull' | 'push'>): string {
  return `repository:${path}:${actions.join(',')}`;
}
