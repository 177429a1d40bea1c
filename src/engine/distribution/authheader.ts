import { invalidArgument } from '../errdefs';

/** Registry credentials as Docker passes them (`X-Registry-Auth`, config.json). */
export interface AuthConfig {
  username?: string;
  password?: string;
  /** base64 of `username:password` (config.json style) */
  auth?: string;
  serveraddress?: string;
  /** an OAuth refresh token returned by a previous login */
  identitytoken?: string;
  /** a bearer token to send to the registry as is */
  registrytoken?: string;
  email?: string;
}

const FIELDS = ['username', 'password', 'auth', 'serveraddress', 'identitytoken', 'registrytoken', 'email'] as const;

/**
 * Decodes an `X-Registry-Auth` header: base64 (URL-safe or standard, padded or not)
 * JSON of {@link AuthConfig}. Keys are matched case-insensitively, as Go's JSON decoder
 * does. An empty header gives `{}`. When only `auth` is set, username and password are
 * taken from it. The error message never contains the header's content.
 * @throws invalid-argument on anything that is not such JSON.
 */
export function decodeAuthHeader(value: string | undefined): AuthConfig {
  if (value === undefined || value.trim() === '') return {};
  const v = value.trim();
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(v)) throw invalidArgument('invalid X-Registry-Auth header: not base64');
  const json = Buffer.from(v.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw invalidArgument('invalid X-Registry-Auth header: not JSON');
  }
  if (parsed === null) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw invalidArgument('invalid X-Registry-Auth header: not an object');
  const out: AuthConfig = {};
  for (const [k, val] of Object.entries(parsed as Record<string, unknown>)) {
    const key = FIELDS.find((f) => f === k.toLowerCase());
    if (key === undefined) continue;
    if (typeof val !== 'string') throw invalidArgument(`invalid X-Registry-Auth header: ${key} is not a string`);
    out[key] = val;
  }
  if (out.auth && out.username === undefined && out.password === undefined) {
    const plain = Buffer.from(out.auth, 'base64').toString('utf8');
    const colon = plain.indexOf(':');
    if (colon > 0) {
      out.username = plain.slice(0, colon);
      out.password = plain.slice(colon + 1);
    }
  }
  return out;
}

/** Encodes credentials for `X-Registry-Auth` (URL-safe base64, as the Docker CLI does). */
export function encodeAuthHeader(auth: AuthConfig): string {
  return Buffer.from(JSON.stringify(auth)).toString('base64url');
}
