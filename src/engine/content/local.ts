/**
 * LocalContentStore: blobs as read-only files under `<root>/content/blobs/<alg>/<hex>`,
 * partial downloads under `<root>/content/ingest/<sha256 of ref>/{ref,data}`.
 * See docs/storage.md for the ingest/commit protocol.
 */
import { createHash, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { errnoCode, internal, invalidArgument, notFound } from '../errdefs';
import { hasherFor, splitDigest, validateDigest } from './digest';
import { KeyedLock } from './keyed-lock';
import type { ContentStore, Info, IngestOptions, IngestStatus } from './types';

const DEFAULT_MAX_READ = 4 * 1024 * 1024;
const REHASH_CHUNK = 1024 * 1024;
const PUT_REF_PREFIX = 'put:';
const MAX_REF_LENGTH = 4096;

export class LocalContentStore implements ContentStore {
  /** `<root>/content` */
  readonly dir: string;
  private readonly blobsDir: string;
  private readonly ingestDir: string;
  private readonly locks = new KeyedLock();

  /** @param root the data root; the store lives in `<root>/content`. */
  constructor(root: string) {
    this.dir = path.join(path.resolve(root), 'content');
    this.blobsDir = path.join(this.dir, 'blobs');
    this.ingestDir = path.join(this.dir, 'ingest');
  }

  /** Path of a committed blob (validates the digest first). */
  blobPath(digest: string): string {
    const { algorithm, hex } = splitDigest(digest);
    return path.join(this.blobsDir, algorithm, hex);
  }

  // ---- Provider ----

  async info(digest: string): Promise<Info> {
    const info = await this.statBlob(validateDigest(digest));
    if (!info) throw notFound(`content digest ${digest} not found`);
    return info;
  }

  async exists(digest: string): Promise<boolean> {
    return (await this.statBlob(validateDigest(digest))) !== undefined;
  }

  async reader(digest: string, opts: { start?: number } = {}): Promise<Readable> {
    const start = opts.start ?? 0;
    if (!Number.isSafeInteger(start) || start < 0) throw invalidArgument(`invalid read offset ${start}`);
    const fh = await this.openBlob(digest);
    return fh.createReadStream({ start, autoClose: true });
  }

  async readAll(digest: string, opts: { maxSize?: number } = {}): Promise<Buffer> {
    const max = opts.maxSize ?? DEFAULT_MAX_READ;
    const fh = await this.openBlob(digest);
    try {
      const { size } = await fh.stat();
      if (size > max) throw invalidArgument(`content ${digest} is ${size} bytes, larger than the ${max} bytes allowed here`);
      return await fh.readFile();
    } finally {
      await fh.close();
    }
  }

  // ---- Ingester ----

  async ingestOffset(ref: string): Promise<number> {
    try {
      return (await fsp.stat(path.join(this.ingestPath(ref), 'data'))).size;
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return 0;
      throw err;
    }
  }

  async ingest(
    ref: string,
    source: Readable | AsyncIterable<Buffer>,
    expected: { digest: string; size?: number },
    opts: IngestOptions = {},
  ): Promise<Info> {
    const dir = this.ingestPath(ref);
    const digest = validateDigest(expected.digest);
    const size = expected.size;
    if (size !== undefined && (!Number.isSafeInteger(size) || size < 0)) {
      discard(source);
      throw invalidArgument(`invalid size ${size} for ${digest}`);
    }
    return this.locks.run(dir, async () => {
      try {
        opts.signal?.throwIfAborted();
        const existing = await this.statBlob(digest);
        if (existing) {
          discard(source);
          await fsp.rm(dir, { recursive: true, force: true });
          if (size !== undefined && existing.size !== size) {
            throw invalidArgument(`unexpected size for ${digest}: stored blob has ${existing.size} bytes, expected ${size}`);
          }
          return existing;
        }
      } catch (err) {
        discard(source);
        throw err;
      }
      return this.writeAndCommit(ref, dir, source, digest, size, opts);
    });
  }

  async abort(ref: string): Promise<void> {
    const dir = this.ingestPath(ref);
    await this.locks.run(dir, () => fsp.rm(dir, { recursive: true, force: true }));
  }

  async put(data: Buffer, expectedDigest?: string): Promise<Info> {
    const algorithm = expectedDigest === undefined ? 'sha256' : splitDigest(expectedDigest).algorithm;
    const actual = `${algorithm}:${createHash(algorithm).update(data).digest('hex')}`;
    if (expectedDigest !== undefined && actual !== expectedDigest) {
      throw invalidArgument(`content digest mismatch: got ${actual}, expected ${expectedDigest}`);
    }
    const existing = await this.statBlob(actual);
    if (existing) return existing;
    return this.ingest(PUT_REF_PREFIX + randomUUID(), once(data), { digest: actual, size: data.length });
  }

  // ---- Manager ----

  async delete(digest: string): Promise<void> {
    try {
      await fsp.unlink(this.blobPath(digest));
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') throw notFound(`content digest ${digest} not found`);
      throw err;
    }
  }

  async *list(): AsyncIterable<Info> {
    for (const algorithm of ['sha256', 'sha512']) {
      let names: string[];
      try {
        names = await fsp.readdir(path.join(this.blobsDir, algorithm));
      } catch (err) {
        if (errnoCode(err) === 'ENOENT') continue;
        throw err;
      }
      for (const hex of names) {
        const digest = `${algorithm}:${hex}`;
        if (!isDigest(digest)) continue;
        const info = await this.statBlob(digest);
        if (info) yield info;
      }
    }
  }

  // ---- ingest area maintenance (used by gc and recovery) ----

  /** The partial downloads present, with their refs. Entries without a readable ref are skipped (see `recover`). */
  async *listIngests(): AsyncIterable<IngestStatus> {
    for (const name of await readdirOrEmpty(this.ingestDir)) {
      const dir = path.join(this.ingestDir, name);
      const ref = await readRef(dir);
      if (!this.isIngestDirOf(dir, ref)) continue;
      const data = await statOrUndefined(path.join(dir, 'data'));
      const st = data ?? (await statOrUndefined(dir));
      if (!st) continue;
      yield { ref, offset: data ? data.size : 0, updatedAt: st.mtime, active: this.locks.busy(dir) };
    }
  }

  /**
   * Removes ref's partial data if no ingest of it is running in this process and it was
   * last written before `olderThan`. Returns whether it removed anything.
   */
  async removeStaleIngest(ref: string, olderThan: Date): Promise<boolean> {
    const dir = this.ingestPath(ref);
    if (this.locks.busy(dir)) return false;
    return this.locks.run(dir, async () => {
      const st = (await statOrUndefined(path.join(dir, 'data'))) ?? (await statOrUndefined(dir));
      if (!st || st.mtime >= olderThan) return false;
      await fsp.rm(dir, { recursive: true, force: true });
      return true;
    });
  }

  /**
   * Startup repair after a crash: removes ingest dirs that cannot be resumed (no `ref`
   * file, a ref that does not hash to the dir name, no `data`, or a `put` temp).
   * Call before serving requests. Returns the number of dirs removed.
   */
  async recover(): Promise<number> {
    let removed = 0;
    for (const name of await readdirOrEmpty(this.ingestDir)) {
      const dir = path.join(this.ingestDir, name);
      const ref = await readRef(dir);
      const hasData = (await statOrUndefined(path.join(dir, 'data'))) !== undefined;
      if (ref === undefined || !this.isIngestDirOf(dir, ref) || !hasData || ref.startsWith(PUT_REF_PREFIX)) {
        await fsp.rm(dir, { recursive: true, force: true });
        removed++;
      }
    }
    return removed;
  }

  // ---- internals ----

  private ingestPath(ref: string): string {
    if (typeof ref !== 'string' || ref.length === 0 || ref.length > MAX_REF_LENGTH) {
      throw invalidArgument(`invalid ingest ref: must be 1 to ${MAX_REF_LENGTH} characters`);
    }
    return path.join(this.ingestDir, createHash('sha256').update(ref).digest('hex'));
  }

  private isIngestDirOf(dir: string, ref: string | undefined): ref is string {
    if (ref === undefined) return false;
    try {
      return this.ingestPath(ref) === dir;
    } catch {
      return false;
    }
  }

  private async statBlob(digest: string): Promise<Info | undefined> {
    try {
      const st = await fsp.stat(this.blobPath(digest));
      if (!st.isFile()) return undefined;
      return { digest, size: st.size, createdAt: st.mtime };
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return undefined;
      throw err;
    }
  }

  private async openBlob(digest: string): Promise<fsp.FileHandle> {
    try {
      return await fsp.open(this.blobPath(digest), 'r');
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') throw notFound(`content digest ${digest} not found`);
      throw err;
    }
  }

  /** Runs under ref's lock, after the "already committed" check. */
  private async writeAndCommit(
    ref: string,
    dir: string,
    source: Readable | AsyncIterable<Buffer>,
    digest: string,
    size: number | undefined,
    opts: IngestOptions,
  ): Promise<Info> {
    await fsp.mkdir(this.ingestDir, { recursive: true, mode: 0o700 });
    await fsp.mkdir(dir, { mode: 0o700 }).catch((err) => {
      if (errnoCode(err) !== 'EEXIST') throw err;
    });
    if ((await readRef(dir)) !== ref) await fsp.writeFile(path.join(dir, 'ref'), ref, { mode: 0o600 });
    const dataPath = path.join(dir, 'data');
    const hash = hasherFor(digest);
    const fh = await fsp.open(dataPath, 'a+', 0o600);
    let closed = false;
    const close = async () => {
      if (!closed) {
        closed = true;
        await fh.close();
      }
    };
    const signal = opts.signal;
    const onAbort = () => {
      if (!(source instanceof Readable)) return;
      // The abort can come before the loop below reads (during `rehash`): the source
      // then has no reader yet, and its error must not become an unhandled 'error' event.
      // The loop (or the check after it) throws the reason.
      source.on('error', () => undefined);
      source.destroy(signal?.reason instanceof Error ? signal.reason : undefined);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      let total = await rehash(fh, hash);
      if (size !== undefined && total > size) {
        discard(source);
        await this.dropPartial(dir, close);
        throw invalidArgument(`unexpected size for ${digest}: partial data of ${ref} already has ${total} bytes, expected ${size}`);
      }
      opts.onProgress?.(total);
      for await (const chunk of source as AsyncIterable<Buffer | string>) {
        signal?.throwIfAborted();
        const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
        if (size !== undefined && total + buf.length > size) {
          await this.dropPartial(dir, close);
          throw invalidArgument(`unexpected size for ${digest}: received more than the expected ${size} bytes`);
        }
        try {
          await writeAll(fh, buf);
        } catch (err) {
          throw await this.writeFailed(dir, dataPath, close, err);
        }
        hash.update(buf);
        total += buf.length;
        opts.onProgress?.(total);
      }
      signal?.throwIfAborted();
      await fh.sync().catch(async (err: unknown) => {
        throw await this.writeFailed(dir, dataPath, close, err);
      });
      if (size !== undefined && total < size) {
        await close();
        throw invalidArgument(
          `content ${digest} truncated: received ${total} of ${size} bytes (partial data kept; resume from offset ${total})`,
        );
      }
      const actual = `${splitDigest(digest).algorithm}:${hash.digest('hex')}`;
      if (actual !== digest) {
        await this.dropPartial(dir, close);
        throw invalidArgument(`content digest mismatch for ${ref}: got ${actual}, expected ${digest}`);
      }
      await fh.chmod(0o444);
      await close();
      const target = this.blobPath(digest);
      await fsp.mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
      await fsp.rename(dataPath, target);
      await fsyncDir(path.dirname(target));
      await fsp.rm(dir, { recursive: true, force: true });
      return await this.info(digest);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      await close();
    }
  }

  /**
   * A write of the partial data failed. On a full file system (ENOSPC, EDQUOT) the
   * partial is removed at once (it would only hold the space), and the error reads as
   * Go's (`write <path>: no space left on device`, what dockerd reports).
   */
  private async writeFailed(dir: string, dataPath: string, close: () => Promise<void>, err: unknown): Promise<unknown> {
    const code = errnoCode(err);
    if (code !== 'ENOSPC' && code !== 'EDQUOT') return err;
    await this.dropPartial(dir, close).catch(() => {});
    const why = /^E[A-Z]+: (.+?)(, .*)?$/.exec((err as Error).message)?.[1] ?? String(code);
    return internal(`write ${dataPath}: ${why}`, err);
  }

  private async dropPartial(dir: string, close: () => Promise<void>): Promise<void> {
    await close();
    await fsp.rm(dir, { recursive: true, force: true });
  }
}

function isDigest(d: string): boolean {
  try {
    validateDigest(d);
    return true;
  } catch {
    return false;
  }
}

/** Stops a source we will not read. A Readable is destroyed so its connection is released. */
function discard(source: Readable | AsyncIterable<Buffer>): void {
  if (source instanceof Readable) source.destroy();
}

/** Feeds the existing partial data into `hash`; returns its length. */
async function rehash(fh: fsp.FileHandle, hash: ReturnType<typeof hasherFor>): Promise<number> {
  const buf = Buffer.allocUnsafe(REHASH_CHUNK);
  let pos = 0;
  for (;;) {
    const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
    if (bytesRead === 0) return pos;
    hash.update(buf.subarray(0, bytesRead));
    pos += bytesRead;
  }
}

async function writeAll(fh: fsp.FileHandle, buf: Buffer): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    const { bytesWritten } = await fh.write(buf, off, buf.length - off);
    off += bytesWritten;
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await fsp.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await fsp.readdir(dir);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return [];
    throw err;
  }
}

async function readRef(dir: string): Promise<string | undefined> {
  try {
    return await fsp.readFile(path.join(dir, 'ref'), 'utf8');
  } catch {
    return undefined;
  }
}

async function statOrUndefined(p: string): Promise<fs.Stats | undefined> {
  try {
    return await fsp.stat(p);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}

async function* once(data: Buffer): AsyncIterable<Buffer> {
  yield data;
}
