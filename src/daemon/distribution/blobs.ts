/**
 * Blobs for a push: layers stored uncompressed are gzip-compressed (as Docker pushes
 * them) into scratch files, hashed on the way; `PushProvider` serves those, the
 * in-memory manifest, and everything else from the content store. A layer whose
 * compressed blob is already known (see metadata.ts) is compressed only if the
 * registry asks for its bytes, and must then hash to the known digest.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { DigestTap } from '../../engine/content/digest';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';
import type { Descriptor, Info, Provider } from '../../engine/content';
import { conflict, invalidArgument } from '../../engine/errdefs';

/** A blob compressed into a scratch file. */
export interface CompressedBlob {
  digest: string;
  size: number;
  file: string;
}

/** gzip-compresses blob `digest` of `src` into a new file under `dir`. */
export async function compressBlob(src: Provider, digest: string, dir: string, signal?: AbortSignal): Promise<CompressedBlob> {
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, `gz-${randomBytes(8).toString('hex')}`);
  const tap = new DigestTap();
  try {
    await pipeline(await src.reader(digest), zlib.createGzip(), tap, fs.createWriteStream(file, { mode: 0o600 }), { signal });
  } catch (err) {
    await fsp.rm(file, { force: true });
    throw err;
  }
  return { digest: tap.digest(), size: tap.size, file };
}

/** A layer to be compressed on demand: its uncompressed blob and the digest it must give. */
export interface LazyLayer {
  source: string;
  expected: Descriptor;
  /** called when the compressed bytes do not hash to `expected` */
  onMismatch?: () => void;
}

export class PushProvider implements Provider {
  private readonly memory = new Map<string, Buffer>();
  private readonly files = new Map<string, CompressedBlob>();
  private readonly lazy = new Map<string, LazyLayer>();
  private readonly pending = new Map<string, Promise<CompressedBlob>>();

  constructor(
    private readonly content: Provider,
    private readonly scratch: string,
    private readonly signal?: AbortSignal,
  ) {}

  addBytes(digest: string, bytes: Buffer): void {
    this.memory.set(digest, bytes);
  }
  addFile(b: CompressedBlob): void {
    this.files.set(b.digest, b);
  }
  addLazy(l: LazyLayer): void {
    if (!this.files.has(l.expected.digest)) this.lazy.set(l.expected.digest, l);
  }

  async info(digest: string): Promise<Info> {
    const m = this.memory.get(digest);
    if (m) return { digest, size: m.length, createdAt: new Date() };
    const f = this.files.get(digest);
    if (f) return { digest, size: f.size, createdAt: new Date() };
    const l = this.lazy.get(digest);
    if (l) return { digest, size: l.expected.size, createdAt: new Date() };
    return this.content.info(digest);
  }

  async exists(digest: string): Promise<boolean> {
    return this.memory.has(digest) || this.files.has(digest) || this.lazy.has(digest) || (await this.content.exists(digest));
  }

  async reader(digest: string, opts: { start?: number } = {}): Promise<Readable> {
    const start = opts.start ?? 0;
    const m = this.memory.get(digest);
    if (m) return Readable.from([m.subarray(start)]);
    const f = this.files.get(digest) ?? (this.lazy.has(digest) ? await this.materialize(digest) : undefined);
    if (f) return fs.createReadStream(f.file, { start });
    return this.content.reader(digest, opts);
  }

  async readAll(digest: string, opts: { maxSize?: number } = {}): Promise<Buffer> {
    const m = this.memory.get(digest);
    if (m) {
      if (opts.maxSize !== undefined && m.length > opts.maxSize) throw invalidArgument(`blob ${digest} is larger than ${opts.maxSize} bytes`);
      return m;
    }
    return this.content.readAll(digest, opts);
  }

  /** Removes the scratch files. */
  async cleanup(): Promise<void> {
    await Promise.allSettled([...this.pending.values()]);
    for (const f of this.files.values()) await fsp.rm(f.file, { force: true });
  }

  private materialize(digest: string): Promise<CompressedBlob> {
    let p = this.pending.get(digest);
    if (!p) {
      const l = this.lazy.get(digest)!;
      p = compressBlob(this.content, l.source, this.scratch, this.signal).then(async (b) => {
        if (b.digest !== l.expected.digest || b.size !== l.expected.size) {
          await fsp.rm(b.file, { force: true });
          l.onMismatch?.();
          throw conflict(`layer ${l.source} no longer compresses to ${l.expected.digest}; push again`);
        }
        this.files.set(digest, b);
        return b;
      });
      this.pending.set(digest, p);
    }
    return p;
  }
}
