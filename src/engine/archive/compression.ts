/**
 * Layer compression: detection by magic bytes, streaming decompression and
 * compression. gzip uses Node's zlib; zstd (which Node 20's zlib lacks) runs the
 * `zstd` binary as a child process, fed and drained with backpressure and killed
 * when the stream is destroyed.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { Duplex, PassThrough, Readable, pipeline } from 'node:stream';
import * as zlib from 'node:zlib';
import { invalidArgument, internal } from '../errdefs';

export type Compression = 'gzip' | 'zstd' | 'none';

/** Detects the compression of a stream from its first bytes. */
export function detectCompression(head: Buffer): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head.readUInt32BE(0) === 0x28b52ffd) return 'zstd';
  return 'none';
}

/**
 * Reads up to `n` bytes from the start of `source` and puts them back, so the stream
 * is unchanged for the next reader. Fewer bytes only when the stream is shorter.
 */
export async function peek(source: Readable, n: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let have = 0;
  while (have < n) {
    const chunk = source.read() as Buffer | null;
    if (chunk !== null) {
      parts.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
      have += chunk.length;
      continue;
    }
    if (source.readableEnded || source.destroyed) break;
    const ended = await new Promise<boolean>((resolve, reject) => {
      const done = (v: boolean) => { cleanup(); resolve(v); };
      const onReadable = () => done(false);
      const onEnd = () => done(true);
      const onError = (err: unknown) => { cleanup(); reject(err); };
      const cleanup = () => {
        source.off('readable', onReadable);
        source.off('end', onEnd);
        source.off('close', onEnd);
        source.off('error', onError);
      };
      source.on('readable', onReadable);
      source.on('end', onEnd);
      source.on('close', onEnd);
      source.on('error', onError);
    });
    if (ended) break;
  }
  const head = Buffer.concat(parts);
  if (head.length > 0) source.unshift(head);
  return head;
}

/**
 * A Duplex around a filter process (`zstd -dc`, `zstd -c`): what is written goes to its
 * stdin, its stdout is readable. Ends only after the process exited 0; a non-zero exit
 * fails the stream with `failure(stderr)`. Destroying the stream kills the process.
 */
class ChildFilter extends Duplex {
  private readonly child: ChildProcessWithoutNullStreams;
  private stderr = '';
  private exited = false;
  private stdoutEnded = false;
  private exitCode: number | null = null;

  constructor(cmd: string, args: string[], private readonly failure: (stderr: string) => Error) {
    super();
    this.child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.on('error', (err) => this.destroy(internal(`cannot run ${cmd}: ${err.message}`, err)));
    this.child.stdin.on('error', () => { /* EPIPE: the exit status tells what happened */ });
    this.child.stderr.on('data', (d: Buffer) => { if (this.stderr.length < 4096) this.stderr += d.toString(); });
    this.child.stdout.on('data', (d: Buffer) => { if (!this.push(d)) this.child.stdout.pause(); });
    this.child.stdout.on('end', () => { this.stdoutEnded = true; this.maybeEnd(); });
    this.child.on('exit', (code) => { this.exited = true; this.exitCode = code; this.maybeEnd(); });
  }

  private maybeEnd(): void {
    if (!this.exited || this.destroyed) return;
    if (this.exitCode !== 0) { this.destroy(this.failure(this.stderr.trim())); return; }
    if (this.stdoutEnded) this.push(null);
  }

  override _read(): void {
    this.child.stdout.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.exited) { cb(); return; } // it quit early; its exit status decides
    if (this.child.stdin.write(chunk)) cb();
    else this.child.stdin.once('drain', () => cb());
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.child.stdin.end();
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (!this.exited) this.child.kill('SIGKILL');
    this.child.stdout.destroy();
    this.child.stdin.destroy();
    cb(err);
  }
}

/** A stream that decompresses `kind`; errors are invalid-argument (corrupt input). */
export function decompressor(kind: Compression): Duplex {
  switch (kind) {
    case 'gzip':
      return zlib.createGunzip({ chunkSize: 128 * 1024 });
    case 'zstd':
      return new ChildFilter('zstd', ['-d', '-c', '-q'], (e) => invalidArgument(`invalid zstd layer: ${e || 'zstd failed'}`));
    case 'none':
      return new PassThrough();
  }
}

/**
 * Compresses a stream for push or save. The returned stream fails if `source` fails
 * and stops the compressor (and the zstd process) when destroyed.
 * gzip output is deterministic (no name, mtime 0); zstd uses level 3.
 */
export function compress(source: Readable, kind: Compression): Readable {
  if (kind === 'none') return source;
  const filter =
    kind === 'gzip'
      ? zlib.createGzip()
      : new ChildFilter('zstd', ['-c', '-q', '-3'], (e) => internal(`zstd compression failed: ${e || 'zstd failed'}`));
  return pipeline(source, filter, () => { /* errors surface on the returned stream */ });
}
