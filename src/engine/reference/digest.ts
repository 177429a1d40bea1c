import { createHash } from 'node:crypto';
import { invalidArgument } from '../errdefs';

/**
 * Content digests (`algorithm:hex`), validated as `github.com/opencontainers/go-digest`
 * does for the algorithms we support (sha256, sha384, sha512).
 */

const HEX_LENGTH: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };
const generalDigest = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/**
 * Checks `s` is a well-formed digest of a supported algorithm and returns it.
 * @throws invalid-argument with go-digest's messages: `invalid checksum digest format`,
 *   `unsupported digest algorithm`, `invalid checksum digest length`.
 */
export function parseDigest(s: string): string {
  const i = s.indexOf(':');
  if (i <= 0 || i + 1 === s.length) throw invalidArgument('invalid checksum digest format');
  const algorithm = s.slice(0, i);
  const encoded = s.slice(i + 1);
  const len = HEX_LENGTH[algorithm];
  if (len === undefined) {
    if (!generalDigest.test(s)) throw invalidArgument('invalid checksum digest format');
    throw invalidArgument('unsupported digest algorithm');
  }
  if (encoded.length !== len) throw invalidArgument('invalid checksum digest length');
  if (!/^[a-f0-9]+$/.test(encoded)) throw invalidArgument('invalid checksum digest format');
  return s;
}

/** True when `s` is a valid digest of a supported algorithm. */
export function isDigest(s: string): boolean {
  try {
    parseDigest(s);
    return true;
  } catch {
    return false;
  }
}

/** The algorithm part of a valid digest (`sha256`). */
export function digestAlgorithm(d: string): string {
  return d.slice(0, d.indexOf(':'));
}

/** The hex part of a valid digest. */
export function digestHex(d: string): string {
  return d.slice(d.indexOf(':') + 1);
}

/** The sha256 digest of some bytes, as `sha256:<hex>`. */
export function sha256Digest(data: Buffer | string): string {
  return 'sha256:' + createHash('sha256').update(data).digest('hex');
}

/** The digest of `data` computed with the same algorithm as `like` (a valid digest). */
export function digestLike(like: string, data: Buffer): string {
  const alg = digestAlgorithm(like);
  return alg + ':' + createHash(alg).update(data).digest('hex');
}

/** The short id Docker shows for a layer: the first 12 hex digits of its digest. */
export function shortId(d: string): string {
  return digestHex(d).slice(0, 12);
}
