/**
 * Staging the members of an uploaded image archive (`docker load`): the tar is read
 * once, as a stream. Small members (manifests, configs, `repositories`) are kept in
 * memory within a budget; larger ones are written to a private temporary folder while
 * their sha256 is computed. Nothing is trusted until the whole archive was read.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { detectCompression, decompressor, peek } from '../archive/compression';
import { drain, forEachEntry } from '../archive/parser';
import { cleanName } from '../archive/paths';
import { invalidArgument, isStevedoreError } from '../errdefs';

/** One regular file of the archive. */
export interface StagedFile {
  name: string;
  size: number;
  digest: string;
  /** the bytes, for small members */
  data?: Buffer;
  /** the temporary file holding the bytes, for large members */
  file?: string;
}

/** Members up to this size are held in memory. */
const SMALL = 1024 * 1024;
/** Total bytes held in memory for one archive. */
const MEMORY_BUDGET = 64 * 1024 * 1024;
const MAX_MEMBERS = 100_000;

export class StagedArchive {
  readonly files = new Map<string, StagedFile>();
  /** symbolic links between members (Docker 20.10 links a layer saved twice to its first copy) */
  readonly links = new Map<string, string>();

  private constructor(readonly dir: string) {}

  /**
   * Reads `input` (a tar, possibly gzip/zstd-compressed) to its end into a new folder
   * under `tmpRoot`. Throws invalid-argument for a malformed archive; the folder is
   * removed on failure.
   */
  static async read(input: Readable, tmpRoot: string, opts: { signal?: AbortSignal; onBytes?: (n: number) => void } = {}): Promise<StagedArchive> {
    await fsp.mkdir(tmpRoot, { recursive: true, mode: 0o700 });
    const dir = path.join(tmpRoot, `load-${randomBytes(8).toString('hex')}`);
    await fsp.mkdir(dir, { mode: 0o700 });
    const st = new StagedArchive(dir);
    try {
      const head = await peek(input, 8);
      const kind = detectCompression(head);
      const tar = kind === 'none' ? input : input.pipe(decompressor(kind));
      let memory = 0;
      let n = 0;
      await forEachEntry(tar, async (entry, body) => {
        opts.signal?.throwIfAborted();
        if (++n > MAX_MEMBERS) throw invalidArgument('invalid archive: too many members');
        const name = cleanName(entry.name);
        if (entry.type === 'symlink' && name !== '') {
          const target = entry.linkname.startsWith('/') ? entry.linkname : path.posix.join(path.posix.dirname(name), entry.linkname);
          st.links.set(name, cleanName(target, 'link target'));
          await drain(body);
          return;
        }
        if (entry.type !== 'file' && entry.type !== 'contiguous-file') {
          await drain(body);
          return;
        }
        if (st.files.has(name)) throw invalidArgument(`invalid archive: duplicate member ${name}`);
        const hash = createHash('sha256');
        if (entry.size <= SMALL && memory + entry.size <= MEMORY_BUDGET) {
          const chunks: Buffer[] = [];
          for await (const c of body) {
            chunks.push(c);
            hash.update(c);
          }
          const data = Buffer.concat(chunks);
          memory += data.length;
          st.files.set(name, { name, size: data.length, digest: 'sha256:' + hash.digest('hex'), data });
          return;
        }
        const file = path.join(dir, `m${n}`);
        const fh = await fsp.open(file, 'wx', 0o600);
        let size = 0;
        try {
          for await (const c of body) {
            hash.update(c);
            size += c.length;
            opts.onBytes?.(c.length);
            await fh.write(c);
          }
        } finally {
          await fh.close();
        }
        st.files.set(name, { name, size, digest: 'sha256:' + hash.digest('hex'), file });
      });
      return st;
    } catch (err) {
      await st.cleanup();
      if (isStevedoreError(err)) throw err;
      throw invalidArgument(`invalid archive: ${(err as Error).message}`, err);
    }
  }

  has(name: string): boolean {
    return this.files.has(name);
  }

  /** A member by name (following links between members); throws invalid-argument when the archive lacks it. */
  get(name: string): StagedFile {
    let n = cleanName(name);
    for (let hops = 0; hops < 8 && !this.files.has(n) && this.links.has(n); hops++) n = this.links.get(n)!;
    const f = this.files.get(n);
    if (!f) throw invalidArgument(`invalid archive: missing ${name}`);
    return f;
  }

  /** A small member parsed as JSON; throws invalid-argument. */
  json<T>(name: string): T {
    const f = this.get(name);
    if (!f.data) throw invalidArgument(`invalid archive: ${name} is too large`);
    try {
      return JSON.parse(f.data.toString('utf8')) as T;
    } catch (err) {
      throw invalidArgument(`invalid archive: ${name}: ${(err as Error).message}`);
    }
  }

  /** The bytes of a member as a stream. */
  open(name: string): Readable {
    const f = this.get(name);
    if (f.data) {
      return Readable.from([f.data]);
    }
    return fs.createReadStream(f.file!);
  }

  /** Removes the temporary folder. */
  async cleanup(): Promise<void> {
    await fsp.rm(this.dir, { recursive: true, force: true });
  }
}
