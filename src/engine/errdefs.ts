/**
 * The one error type of stevedore. Every layer throws `StevedoreError` with a kind
 * from a closed set; the API maps kinds to HTTP status codes in one table
 * (src/api/errors.ts). Messages read like Docker's ("No such container: x").
 *
 * Errors are recognised by a `Symbol.for` brand rather than `instanceof`, so that two
 * copies of this module (or errors crossing a worker boundary) still classify.
 */

export type ErrorKind =
  | 'not-found'
  | 'invalid-argument'
  | 'conflict'
  | 'unauthorized'
  | 'forbidden'
  | 'not-modified'
  | 'unavailable'
  | 'not-implemented'
  | 'internal';

const BRAND = Symbol.for('stevedore.error');

export class StevedoreError extends Error {
  readonly kind: ErrorKind;
  readonly [BRAND] = true;

  constructor(kind: ErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.kind = kind;
    this.name = 'StevedoreError';
  }
}

export function isStevedoreError(err: unknown): err is StevedoreError {
  return typeof err === 'object' && err !== null && (err as Record<symbol, unknown>)[BRAND] === true;
}

/** The kind of any thrown value; non-stevedore errors are `internal`. */
export function kindOf(err: unknown): ErrorKind {
  return isStevedoreError(err) ? err.kind : 'internal';
}

export const notFound = (msg: string, cause?: unknown) => new StevedoreError('not-found', msg, { cause });
export const invalidArgument = (msg: string, cause?: unknown) => new StevedoreError('invalid-argument', msg, { cause });
export const conflict = (msg: string, cause?: unknown) => new StevedoreError('conflict', msg, { cause });
export const unauthorized = (msg: string, cause?: unknown) => new StevedoreError('unauthorized', msg, { cause });
export const forbidden = (msg: string, cause?: unknown) => new StevedoreError('forbidden', msg, { cause });
export const notModified = (msg = '', cause?: unknown) => new StevedoreError('not-modified', msg, { cause });
export const unavailable = (msg: string, cause?: unknown) => new StevedoreError('unavailable', msg, { cause });
export const notImplemented = (msg: string, cause?: unknown) => new StevedoreError('not-implemented', msg, { cause });
export const internal = (msg: string, cause?: unknown) => new StevedoreError('internal', msg, { cause });

export function isNotFound(err: unknown): boolean {
  return kindOf(err) === 'not-found';
}

/** Node system errors (ENOENT, EEXIST, …) carry a string `code`. */
export function errnoCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'string') {
    return (err as { code: string }).code;
  }
  return undefined;
}
