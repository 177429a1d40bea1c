/**
 * Digest validation and hashing. A digest is checked here before it is ever used to
 * build a path, so `sha256:../../x` can never reach the file system.
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { invalidArgument } from '../errdefs';

const DIGEST_RE = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

/** Returns `d` unchanged if it is `sha256:<64 lowercase hex>` or `sha512:<128 lowercase hex>`; throws invalid-argument otherwise. */
export function validateDigest(d: string): string {
  if (typeof d !== 'string' || !DIGEST_RE.test(d)) {
    const shown = typeof d === 'string' ? JSON.stringify(d.length > 140 ? d.slice(0, 140) + '…' : d) : String(d);
    throw invalidArgument(`invalid digest ${shown}: expected sha256:<64 lowercase hex digits>`);
  }
  return d;
}

/** Splits a validated digest into algorithm and hex. */
export function splitDigest(d: string): { algorithm: 'sha256' | 'sha512'; hex: string } {
  validateDigest(d);
  const i = d.indexOf(':');
  return { algorithm: d.slice(0, i) as 'sha256' | 'sha512', hex: d.slice(i + 1) };
}

/** A fresh hash for the digest's algorithm. */
export function hasherFor(d: string): Hash {
  return createHash(splitDigest(d).algorithm);
}

/** `sha256:<hex>` of a buffer. */
export function sha256Digest(data: Buffer | string): string {
  return 'sha256:' + createHash('sha256').update(data).digest('hex');
}

/**
 * A pass-through stream that hashes (sha256) and counts what flows through it, for
 * pipelines that write a blob to a temporary file and need its digest and size.
 */
export class DigestTap extends Transform {
  private readonly hash = createHash('sha256');
  /** bytes seen so far */
  size = 0;

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    cb(null, chunk);
  }

  /** `sha256:<hex>` of everything seen; call once, after the stream finished. */
  digest(): string {
    return 'sha256:' + this.hash.digest('hex');
  }
}
