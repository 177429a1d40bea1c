/**
 * The one place where error kinds become HTTP status codes. Handlers throw; they
 * never write error bodies themselves.
 */
import type { ServerResponse } from 'node:http';
import { type ErrorKind, isStevedoreError } from '../engine/errdefs';
import { PlainTextError } from './version';

const STATUS: { readonly [K in ErrorKind]: number } = {
  'invalid-argument': 400,
  unauthorized: 401,
  forbidden: 403,
  'not-found': 404,
  conflict: 409,
  'not-modified': 304,
  internal: 500,
  'not-implemented': 501,
  unavailable: 503,
};

export function statusOf(kind: ErrorKind): number {
  return STATUS[kind];
}

/** Status code and message for any thrown value; unknown errors are 500. */
export function describeError(err: unknown): { status: number; message: string } {
  if (isStevedoreError(err)) return { status: STATUS[err.kind], message: err.message };
  const message = err instanceof Error ? err.message : String(err);
  return { status: 500, message };
}

/** Writes Docker's error body `{"message": "..."}` (no body for 304). */
export function writeError(res: ServerResponse, err: unknown): void {
  const { status, message } = describeError(err);
  if (res.headersSent) {
    // Too late for a status code: the stream protocols carry errors in-band, so here
    // all that is left is to end the response.
    res.end();
    return;
  }
  if (status === 304) {
    res.writeHead(304);
    res.end();
    return;
  }
  if (err instanceof PlainTextError) {
    const text = message + '\n';
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
    return;
  }
  const body = JSON.stringify({ message }) + '\n';
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}
