import { unauthorized } from '../errdefs';
import type { AuthConfig } from './authheader';
import { formatEntry, readErrorEntries } from './errors';
import { DOCKER_HUB_HOST } from './hosts';
import { withEndpoints, type RegistryDeps } from './session';
import { redact } from './transport';
import { DEFAULT_DOMAIN, LEGACY_DEFAULT_DOMAIN } from '../reference';

export interface LoginResult {
  /** `Login Succeeded` */
  status: string;
  /** an OAuth refresh token the client may store instead of the password */
  identityToken?: string;
}

/**
 * Normalises what `docker login` sends as the server address: `https://index.docker.io/v1/`,
 * `docker.io`, `registry-1.docker.io` and the empty string all mean Docker Hub.
 */
export function loginDomain(serverAddress: string | undefined): string {
  let s = (serverAddress ?? '').trim();
  s = s.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
  if (s === '' || s === LEGACY_DEFAULT_DOMAIN || s === DOCKER_HUB_HOST || s === DEFAULT_DOMAIN) return DEFAULT_DOMAIN;
  return s.toLowerCase();
}

/**
 * Checks credentials against a registry as `docker login` does: `GET /v2/`; with a
 * Bearer challenge, asks the realm for a token (with `offline_token=true`, so a token
 * server may hand back a refresh token, returned as `identityToken`); with a Basic
 * challenge, repeats `GET /v2/` with the credentials.
 * @throws unauthorized (`unauthorized: incorrect username or password`, or the
 *   registry's words), unavailable when the registry cannot be reached.
 */
export async function login(deps: RegistryDeps, serverAddress: string, creds: AuthConfig, signal?: AbortSignal): Promise<LoginResult> {
  const domain = loginDomain(serverAddress);
  return await withEndpoints(deps, domain, 'push', signal, async (ep) => {
    const challenges = await deps.authorizer.ping(ep, signal, true);
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    if (bearer) {
      const t = await deps.authorizer.fetchToken(ep, bearer, [], creds, { signal, offline: true });
      return t.refreshToken ? { status: 'Login Succeeded', identityToken: t.refreshToken } : { status: 'Login Succeeded' };
    }
    if (challenges.length === 0) return { status: 'Login Succeeded' };
    const url = new URL('v2/', ep.base);
    const headers: Record<string, string> = {};
    if (creds.username || creds.password) {
      headers.Authorization = 'Basic ' + Buffer.from(`${creds.username ?? ''}:${creds.password ?? ''}`).toString('base64');
    }
    const res = await deps.transport.send({ method: 'GET', url, headers, tls: ep.tls, signal });
    if (res.status === 200) {
      res.body.resume();
      return { status: 'Login Succeeded' };
    }
    const entries = await readErrorEntries(res);
    const text = entries.map(formatEntry).join(', ');
    throw unauthorized(text && res.status === 401 ? text : `login attempt to ${redact(url)} failed with status: ${res.status} ${res.status === 401 ? 'Unauthorized' : ''}`.trim());
  });
}
