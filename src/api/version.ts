/**
 * Engine API version negotiation. Every route is served bare and under /v{major}.{minor}/;
 * a bare path means the highest version we implement (1.52), as in Docker. What differs
 * between versions is in ./apiversions.ts.
 */
import { StevedoreError, invalidArgument } from '../engine/errdefs';

/**
 * An error Docker writes as text/plain rather than JSON: clients older than API 1.23
 * expect plain-text errors, and Docker answers a too-old version that way.
 */
export class PlainTextError extends StevedoreError {
  constructor(message: string) {
    super('invalid-argument', message);
  }
}

import { MAX_API_VERSION, MIN_API_VERSION } from '../daemon/apiversion';

export { MAX_API_VERSION, MIN_API_VERSION };

export type ApiVersion = string;

/** Compares two "major.minor" versions numerically: <0, 0, >0. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map((x) => Number.parseInt(x, 10));
  const pb = b.split('.').map((x) => Number.parseInt(x, 10));
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export const versionLessThan = (v: string, than: string) => compareVersions(v, than) < 0;
export const versionAtLeast = (v: string, atLeast: string) => compareVersions(v, atLeast) >= 0;

const PREFIX = /^\/v(\d+\.\d+)(\/.*)$/;

/**
 * Splits "/v1.41/containers/json" into version and path, and checks the version
 * against the supported range with Docker's messages. A path without a version
 * prefix gets the maximum version.
 */
export function negotiate(pathname: string): { version: ApiVersion; path: string } {
  const m = PREFIX.exec(pathname);
  if (!m) return { version: MAX_API_VERSION, path: pathname };
  const version = m[1]!;
  if (compareVersions(version, MAX_API_VERSION) > 0) {
    throw invalidArgument(`client version ${version} is too new. Maximum supported API version is ${MAX_API_VERSION}`);
  }
  if (compareVersions(version, MIN_API_VERSION) < 0) {
    throw new PlainTextError(
      `client version ${version} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`,
    );
  }
  return { version, path: m[2]! };
}
