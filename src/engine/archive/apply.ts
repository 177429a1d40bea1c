/**
 * Applying layer tars to snapshot directories, and extracting plain archives
 * (`docker cp`, build contexts) with the same safe extractor.
 */
import { createHash } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import { pipeline, Transform, type Readable, type TransformCallback } from 'node:stream';
import { internal, invalidArgument, isStevedoreError, errnoCode } from '../errdefs';
import { nativeSys } from '../sys/native';
import { decompressor, detectCompression, peek } from './compression';
import { cleanName, classifyWhiteout, isReservedXattr } from './paths';
import { drain, forEachEntry, type EntryBody, type TarEntry } from './parser';
import { TreeWriter, type WriterSys } from './treewriter';

/** Bounds against decompression bombs. */
export interface ApplyLimits {
  /** Uncompressed tar bytes; default 64 GiB. */
  maxBytes?: number;
  /** Archive entries; default 1,000,000. */
  maxEntries?: number;
}

export const DEFAULT_LIMITS: Required<ApplyLimits> = { maxBytes: 64 * 1024 ** 3, maxEntries: 1_000_000 };

export interface ApplyOptions {
  signal?: AbortSignal;
  limits?: ApplyLimits;
  /**
   * 'overlay' (default, for image layers): `.wh.name` becomes a 0:0 character device,
   * `.wh..wh..opq` the `trusted.overlay.opaque=y` xattr, other `.wh..wh.*` are skipped.
   * 'none' (for `docker cp`, build contexts, import): such names are ordinary files.
   */
  whiteouts?: 'overlay' | 'none';
  /** Called with the number of *source* (possibly compressed) bytes consumed so far. */
  onProgress?(bytes: number): void;
  /** Refuse to replace a directory with a non-directory or the reverse. */
  noOverwriteDirNonDir?: boolean;
  /** Give every node this owner instead of the archive's. */
  chown?: { uid: number; gid: number };
  /** Told about xattrs that could not be set and were ignored (ENOTSUP/EPERM, as Docker). */
  onWarning?(message: string): void;
  /** The native calls (mknod, lsetxattr); defaults to the addon. */
  sys?: WriterSys;
  /** false: no DiffID is computed (plain extractions; `diffID` is then meaningless). Default true. */
  digest?: boolean;
}

export interface ApplyResult {
  /** `sha256:<hex>` of the uncompressed tar stream, all of it (what Docker calls the DiffID). */
  diffID: string;
  /**
   * What Docker reports as the layer's size: the bytes of the non-directory entries
   * written (regular file contents plus symlink target lengths; hard links count once).
   */
  size: number;
  /** Bytes of the uncompressed tar stream. */
  tarSize: number;
}

/** Hashes (unless told not to) and counts what passes through, and fails past `max` bytes. */
class DigestCounter extends Transform {
  readonly hash = createHash('sha256');
  bytes = 0;
  constructor(private readonly max: number, private readonly hashing = true) {
    super({ highWaterMark: 256 * 1024 });
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.max) {
      cb(invalidArgument(`layer exceeds the limit of ${this.max} uncompressed bytes (decompression bomb?)`));
      return;
    }
    if (this.hashing) this.hash.update(chunk);
    cb(null, chunk);
  }
}

/** Counts source bytes for progress reports. */
function progressCounter(onProgress: (bytes: number) => void): Transform {
  let n = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      n += chunk.length;
      onProgress(n);
      cb(null, chunk);
    },
  });
}

/** `stream.pipeline` over an array (the typings want a fixed arity); errors surface downstream. */
function pipeStreams(streams: NodeJS.ReadableStream[]): void {
  const run = pipeline as unknown as (s: NodeJS.ReadableStream[], cb: (err?: Error | null) => void) => void;
  run(streams, () => { /* the last stream carries the error to its reader */ });
}

/** Turns stream and format errors into our kinds. */
function classify(err: unknown, signal?: AbortSignal): unknown {
  if (signal?.aborted) return signal.reason;
  if (isStevedoreError(err)) return err;
  const code = errnoCode(err);
  const msg = err instanceof Error ? err.message : String(err);
  if (code?.startsWith('Z_')) return invalidArgument(`invalid gzip stream: ${msg}`, err);
  if (code === 'ENAMETOOLONG') return invalidArgument(`archive entry name too long: ${msg}`, err);
  return internal(`failed to extract archive: ${msg}`, err);
}

/**
 * Applies a layer tar (plain, gzip or zstd; detected by magic bytes) to `destDir`, an
 * empty directory that becomes one overlay layer, while computing its DiffID.
 *
 * Throws invalid-argument for hostile or corrupt input (see docs/layers.md for the
 * list); nothing is ever written outside `destDir`, but on any error `destDir` is left
 * half-written and the caller removes it. Honours `signal` (rejects with its reason).
 */
export async function applyLayer(source: Readable, destDir: string, opts: ApplyOptions = {}): Promise<ApplyResult> {
  const { signal } = opts;
  signal?.throwIfAborted();
  const limits = { ...DEFAULT_LIMITS, ...opts.limits };
  const overlay = (opts.whiteouts ?? 'overlay') === 'overlay';
  const st = await fsp.lstat(destDir);
  if (!st.isDirectory()) throw invalidArgument(`extraction destination ${destDir} is not a directory`);

  const writer = new TreeWriter(destDir, opts.sys ?? nativeSys(), {
    noOverwriteDirNonDir: opts.noOverwriteDirNonDir,
    chown: opts.chown,
    onWarning: opts.onWarning,
  });
  const digest = new DigestCounter(limits.maxBytes, opts.digest !== false);
  // An abort can come before the stages are piped (while `peek` waits for the first
  // bytes): the source is destroyed so that wait ends, and the digest stage gets a
  // listener of its own so its error is never an unhandled 'error' event — its reader
  // (`forEachEntry`) sees it through the stream, and `classify` returns the reason.
  digest.on('error', () => undefined);
  const onAbort = () => {
    source.destroy(signal?.reason instanceof Error ? signal.reason : undefined);
    digest.destroy(signal?.reason instanceof Error ? signal.reason : undefined);
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  let entries = 0;
  let size = 0;

  const onEntry = async (e: TarEntry, body: EntryBody): Promise<void> => {
    if (++entries > limits.maxEntries) {
      throw invalidArgument(`archive has more than ${limits.maxEntries} entries`);
    }
    signal?.throwIfAborted();
    size += await applyEntry(writer, e, body, overlay);
  };

  try {
    signal?.throwIfAborted(); // aborted during the lstat, before the listener
    const head = await peek(source, 4);
    signal?.throwIfAborted();
    const kind = detectCompression(head);
    const stages: NodeJS.ReadWriteStream[] = [];
    if (opts.onProgress) stages.push(progressCounter(opts.onProgress));
    if (kind !== 'none') stages.push(decompressor(kind));
    stages.push(digest);
    pipeStreams([source, ...stages]);
    await forEachEntry(digest, onEntry);
    await writer.finish();
  } catch (err) {
    source.destroy();
    digest.destroy();
    throw classify(err, signal);
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  return { diffID: `sha256:${digest.hash.digest('hex')}`, size, tarSize: digest.bytes };
}

/** Writes one entry; returns the bytes it adds to the layer size. */
async function applyEntry(writer: TreeWriter, e: TarEntry, body: EntryBody, overlay: boolean): Promise<number> {
  const rel = cleanName(e.name);
  for (const name of e.xattrs.keys()) {
    if (isReservedXattr(name)) {
      throw invalidArgument(`archive entry ${JSON.stringify(e.name)} carries the reserved xattr ${name}`);
    }
  }
  if (rel === '') {
    await drain(body);
    if (e.type === 'directory') return 0; // the root itself: skipped, as Docker does
    throw invalidArgument(`archive entry ${JSON.stringify(e.name)} has no name`);
  }
  if (overlay) {
    const wh = classifyWhiteout(rel);
    if (wh.kind !== 'none') {
      await drain(body);
      if (wh.kind === 'opaque') await writer.opaque(wh.dir);
      else if (wh.kind === 'whiteout') await writer.whiteout(wh.target, e.uid, e.gid);
      return 0;
    }
  }
  const meta = { uid: e.uid, gid: e.gid, mode: e.mode, mtime: e.mtime, xattrs: e.xattrs };
  switch (e.type) {
    case 'file':
    case 'contiguous-file':
      await writer.file(rel, meta, body, e.size);
      return e.size;
    case 'directory':
      await drain(body);
      await writer.directory(rel, meta);
      return 0;
    case 'symlink':
      await drain(body);
      if (e.linkname === '' || e.linkname.includes('\0') || Buffer.byteLength(e.linkname) > 4095) {
        throw invalidArgument(`archive entry ${JSON.stringify(e.name)}: invalid symbolic link target`);
      }
      await writer.symlink(rel, e.linkname, meta);
      return Buffer.byteLength(e.linkname);
    case 'link':
      await drain(body);
      await writer.hardlink(rel, cleanName(e.linkname, 'hard link target'));
      return 0;
    case 'character-device':
    case 'block-device':
    case 'fifo': {
      await drain(body);
      const kind = e.type === 'fifo' ? 'fifo' : e.type === 'block-device' ? 'block' : 'char';
      await writer.special(rel, kind, meta, e.devmajor, e.devminor);
      return 0;
    }
    default:
      throw invalidArgument(`archive entry ${JSON.stringify(e.name)} has an unsupported type (${e.type ?? 'unknown'})`);
  }
}

/** Options of `extractTar`, as Docker's archive endpoints take them. */
export interface ExtractOptions {
  signal?: AbortSignal;
  limits?: ApplyLimits;
  /** Docker's `noOverwriteDirNonDir` query parameter. */
  noOverwriteDirNonDir?: boolean;
  /**
   * Owner for every extracted node. Docker's `copyUIDGID=1` means: the container's
   * configured user (resolved by the daemon, then passed here); without it the
   * archive's own uid/gid are kept.
   */
  chown?: { uid: number; gid: number };
  onWarning?(message: string): void;
  sys?: WriterSys;
}

/**
 * Extracts a plain archive (optionally compressed) into `destDir`: `applyLayer` with
 * whiteouts treated as ordinary names. Same safety rules and errors.
 */
export async function extractTar(source: Readable, destDir: string, opts: ExtractOptions = {}): Promise<void> {
  await applyLayer(source, destDir, { ...opts, whiteouts: 'none', digest: false });
}
