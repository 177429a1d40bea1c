/**
 * Stream framing used across the API, in one place:
 * - Docker's multiplexed stdio frames (stdcopy): an 8-byte header — stream type
 *   (0 stdin, 1 stdout, 2 stderr, 3 systemerr), three zero bytes, a big-endian uint32
 *   payload length — then the payload;
 * - newline-delimited JSON messages (progress, events) with in-band errors.
 */
import type { Writable } from 'node:stream';

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
  const ok = out.write(JSON.stringify(value) + '\n');
  if (ok || out.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      out.off('drain', done);
      out.off('close', done);
      resolve();
    };
    out.on('drain', done);
    out.on('close', done);
  });
}

/** A progress message as the CLI's jsonmessage renderer reads it. */
export interface JsonMessage {
  status?: string;
  id?: string;
  progress?: string;
  progressDetail?: { current?: number; total?: number; units?: string };
  stream?: string;
  error?: string;
  errorDetail?: { code?: number; message: string };
  aux?: unknown;
}

/** The in-band error message of a JSON progress stream (after the 200 was sent). */
export function jsonError(message: string): JsonMessage {
  return { errorDetail: { message }, error: message };
}
