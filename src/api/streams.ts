/**
 * Stream framing used across the API, in one place:
 * - Docker's multiplexed stdio frames (stdcopy): an 8-byte header — stream type
 *   (0 stdin, 1 stdout, 2 stderr, 3 systemerr), three zero bytes, a big-endian uint32
 *   payload length — then the payload;
 * - newline-delimited JSON messages (progress, events) with in-band errors.
 */
import type { ServerResponse } from 'node:http';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import type { JsonMessage } from '../daemon/jsonmessage';

export const STDIN = 0;
export const STDOUT = 1;
export const STDERR = 2;
export const SYSTEMERR = 3;
export type StreamType = 0 | 1 | 2 | 3;

/** The largest payload put in one frame; bigger writes are split. */
const MAX_FRAME = 32 * 1024;

/** One or more stdcopy frames for `payload` (split at 32 KiB). */
export function frame(stream: StreamType, payload: Buffer): Buffer {
  if (payload.length <= MAX_FRAME) {
    const out = Buffer.allocUnsafe(8 + payload.length);
    out.writeUInt32BE(stream << 24, 0);
    out.writeUInt32BE(payload.length, 4);
    payload.copy(out, 8);
    return out;
  }
  const parts: Buffer[] = [];
  for (let off = 0; off < payload.length; off += MAX_FRAME) parts.push(frame(stream, payload.subarray(off, off + MAX_FRAME)));
  return Buffer.concat(parts);
}

/**
 * Incremental parser for stdcopy frames (the reverse of `frame`): feed bytes, get
 * complete frames. Used by tests and by anything consuming a multiplexed stream.
 */
export class FrameParser {
  private buf: Buffer = Buffer.alloc(0);
  push(chunk: Buffer): Array<{ stream: StreamType; payload: Buffer }> {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: Array<{ stream: StreamType; payload: Buffer }> = [];
    while (this.buf.length >= 8) {
      const len = this.buf.readUInt32BE(4);
      if (this.buf.length < 8 + len) break;
      out.push({ stream: this.buf[0] as StreamType, payload: this.buf.subarray(8, 8 + len) });
      this.buf = this.buf.subarray(8 + len);
    }
    return out;
  }
  /** Bytes of an incomplete frame still held. */
  get pending(): number {
    return this.buf.length;
  }
}

/** Writes a value as one JSON line, honouring backpressure (resolves when drained). */
export function writeJsonLine(out: Writable, value: unknown): Promise<void> {
  return writeLine(out, JSON.stringify(value));
}

/**
 * Writes one line of already-serialised JSON, honouring backpressure: resolves when the
 * output drained, or at once when it is gone (a client that hung up) — callers check
 * `out.destroyed` or their abort signal to stop producing.
 */
export function writeLine(out: Writable, text: string): Promise<void> {
  if (out.destroyed || out.writableEnded) return Promise.resolve();
  const ok = out.write(text + '\n');
  if (ok || out.destroyed) return Promise.resolve();
  return drained(out);
}

/**
 * Writes a chunk of a streamed response and waits for it to drain. Resolves false once
 * the output is gone (the client hung up): the caller stops producing.
 */
export async function writeChunk(out: Writable, chunk: Buffer | string): Promise<boolean> {
  if (out.destroyed || out.writableEnded) return false;
  if (!out.write(chunk)) await drained(out);
  return !out.destroyed;
}

/** Resolves when `out` drained or closed (never rejects: a closed output is the caller's signal to stop). */
export function drained(out: Writable): Promise<void> {
  if (out.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      out.off('drain', done);
      out.off('close', done);
      out.off('error', done);
      resolve();
    };
    out.on('drain', done);
    out.on('close', done);
    out.on('error', done);
  });
}

/** A progress message as the CLI's jsonmessage renderer reads it (a daemon shape). */
export type { JsonMessage };

/** The in-band error message of a JSON progress stream (after the 200 was sent). */
export function jsonError(message: string): JsonMessage {
  return { errorDetail: { message }, error: message };
}

/**
 * The request body as a stream the work may destroy freely. A parser that fails
 * half-way destroys its input (pipeline does); were that input the request itself, the
 * connection would go with it and the client would see a reset instead of the error
 * the response carries (issue #11 item 9). Here only the copy is destroyed, and the
 * rest of the body is read and dropped so that the response reaches the client and
 * the connection stays usable. A client that goes away destroys the copy (with the
 * error), which ends the work.
 */
export function detachedBody(req: Readable): Readable {
  const body = new PassThrough();
  // the consumer sees errors through its own listeners; this one keeps a late error
  // (after the consumer let go) from being an uncaught exception
  body.on('error', () => undefined);
  req.pipe(body);
  // Kept for the request's whole life: Node emits a late 'aborted' error on a request
  // whose connection closes before its response finished, even after its body ended.
  req.on('error', (err) => body.destroy(err));
  req.on('close', () => {
    if (!(req as Readable & { complete?: boolean }).complete && !req.readableEnded) body.destroy(new Error('client went away'));
  });
  body.on('close', () => {
    if (req.readableEnded) return;
    req.unpipe(body);
    req.resume();
  });
  return body;
}

/**
 * Runs a JSON-message operation whose response starts with its first message, as
 * moby's WriteFlusher does: an error before anything was written is an ordinary HTTP
 * error (the CLI prints "Error response from daemon: …"); after that it travels
 * in-band as `{"errorDetail":{"message":…},"error":…}` and the response ends normally,
 * so the client prints it. A client that went away gets nothing more.
 */
export async function jsonProgress(start: () => ServerResponse, fn: (write: (m: JsonMessage) => Promise<void>) => Promise<void>, describe: (err: unknown) => string): Promise<void> {
  let res: ServerResponse | undefined;
  const write = (m: JsonMessage) => {
    res ??= start();
    return writeJsonLine(res, m);
  };
  try {
    await fn(write);
  } catch (err) {
    if (!res) throw err;
    if (!res.destroyed) await write(jsonError(describe(err)));
  } finally {
    res?.end();
  }
}
