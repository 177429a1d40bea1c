/**
 * COPY and ADD (moby builder/dockerfile/copy.go): the sources — paths in the context
 * or in another stage's or image's files, Go globs, ADD's URLs — resolved without ever
 * leaving their root (`..` and symlinks are resolved inside it), their checksum (the
 * cache key, `file:`/`dir:`/`multi:` as Docker records it), and the copy into the step's
 * snapshot with Docker's rules: a directory's contents go into the destination, a file
 * into it when it ends in `/` or is a directory, several sources need a `/`, everything
 * owned by root or `--chown` (names looked up in the image's /etc/passwd and
 * /etc/group), ADD extracts local tar archives (gzip, bzip2, xz) and downloads URLs
 * (mode 0600, mtime from Last-Modified).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { invalidArgument } from '../../engine/errdefs';
import { download, unpackTar } from './context';
import { copyTree, goMatch, hasWildcards, lookupId, mkdirAllNew, multiHash, type Owner, resolveInScope, sourceHash, walk } from './fsutil';

export interface CopyOptions {
  /** `COPY` or `ADD` (for messages) */
  name: string;
  /** the sources as written (expanded) */
  srcs: string[];
  /** the destination, absolute (a trailing `/` kept) */
  dest: string;
  /** `--chown` (expanded), if given */
  chown?: string;
  /** ADD: URLs allowed */
  allowRemote: boolean;
  /** ADD: local archives extracted */
  decompress: boolean;
  signal?: AbortSignal;
  /** checksums already computed in this build, by host path (a file copied by several steps is read once) */
  hashes?: Map<string, Promise<string>>;
}

interface Source {
  /** the host path of the resolved source */
  abs: string;
  /** the path as named (its base name names a copied file) */
  name: string;
  hash: string;
  /** an ADD download: not extracted */
  remote?: boolean;
}

export interface CopyPlan {
  /** the sources' checksum as Docker writes it into `COPY <hash> in <dest>` */
  hash: string;
  /** copies into a root file system */
  apply(root: string): Promise<void>;
  /** removes downloads */
  close(): void;
}

function isURL(s: string): boolean {
  return /^https?:\/\//.test(s);
}

/** A downloaded ADD source: a file in a temporary directory, its name from the URL. */
export async function addFromURL(url: string, signal?: AbortSignal): Promise<{ file: string; name: string; dir: string }> {
  const u = new URL(url);
  const name = path.posix.basename(u.pathname);
  if (!name) throw invalidArgument(`cannot determine filename from url: ${url}`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stevedore-add-'));
  try {
    const res = await download(url, signal);
    const file = path.join(dir, name);
    await pipeline(res, fs.createWriteStream(file, { mode: 0o600 }));
    fs.chmodSync(file, 0o600);
    const lm = res.headers['last-modified'];
    const mtime = lm ? new Date(lm) : undefined;
    if (mtime && !Number.isNaN(mtime.getTime())) fs.utimesSync(file, mtime, mtime);
    return { file, name, dir };
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/**
 * Resolves the sources of a COPY/ADD in `root` (the context, or another stage's files)
 * and returns the plan. Throws invalid-argument with Docker's messages.
 */
/** `sourceHash`, remembered for the build. */
function hashOf(abs: string, memo: Map<string, Promise<string>> | undefined): Promise<string> {
  if (!memo) return sourceHash(abs);
  let h = memo.get(abs);
  if (!h) {
    h = sourceHash(abs);
    memo.set(abs, h);
  }
  return h;
}

export async function copySources(root: string, o: CopyOptions, fetch?: (url: string) => Promise<{ file: string; name: string; dir: string }>): Promise<CopyPlan> {
  const sources: Source[] = [];
  const temps: string[] = [];
  const close = () => {
    for (const d of temps) fs.rmSync(d, { recursive: true, force: true });
  };
  try {
    for (const src of o.srcs) {
      if (isURL(src)) {
        if (!o.allowRemote || !fetch) throw invalidArgument(`${o.name} failed: source can't be a URL for COPY`);
        let d: { file: string; name: string; dir: string };
        try {
          d = await fetch(src);
        } catch (err) {
          throw invalidArgument(`${o.name} failed: ${(err as Error).message}`);
        }
        temps.push(d.dir);
        sources.push({ abs: d.file, name: d.name, hash: await sourceHash(d.file), remote: true });
        continue;
      }
      const norm = path.posix.normalize(src);
      if (norm === '..' || norm.startsWith('../')) throw invalidArgument(`${o.name} failed: forbidden path outside the build context: ${src} ()`);
      const clean = path.posix.normalize('/' + src).replace(/^\/+/, '');
      if (hasWildcards(clean)) {
        const matches: Source[] = [];
        const rootAbs = path.resolve(root);
        await walk(rootAbs, '', (rel) => {
          if (rel !== '' && goMatch(clean, rel)) matches.push({ abs: resolveInScope(rootAbs, rel), name: rel, hash: '' });
        });
        for (const m of matches) {
          if (!fs.existsSync(m.abs)) continue;
          m.hash = await hashOf(m.abs, o.hashes);
          sources.push(m);
        }
        continue;
      }
      const abs = resolveInScope(root, clean);
      if (!fs.existsSync(abs)) throw invalidArgument(`${o.name} failed: file not found in build context or excluded by .dockerignore: stat ${src.replace(/^\/+/, '') || '.'}: file does not exist`);
      sources.push({ abs, name: clean === '' ? '.' : clean, hash: await hashOf(abs, o.hashes) });
    }
    if (sources.length === 0) throw invalidArgument(`${o.name} failed: no source files were specified`);
    if (sources.length > 1 && !o.dest.endsWith('/')) throw invalidArgument(`When using ${o.name} with more than one source file, the destination must be a directory and end with a /`);
  } catch (err) {
    close();
    throw err;
  }
  const hash = sources.length === 1 ? sources[0]!.hash : multiHash(sources.map((s) => s.hash));
  return {
    hash,
    close,
    apply: async (rootfs: string) => {
      const owner = o.chown ? resolveChown(rootfs, o.chown) : { uid: 0, gid: 0 };
      for (const s of sources) await copyOne(rootfs, s, o, owner);
    },
  };
}

async function copyOne(rootfs: string, s: Source, o: CopyOptions, owner: Owner): Promise<void> {
  const destPath = resolveInScope(rootfs, o.dest);
  const st = fs.statSync(s.abs);
  if (st.isDirectory()) {
    mkdirAllNew(path.dirname(destPath), owner);
    await copyTree(s.abs, destPath, owner);
    return;
  }
  if (o.decompress && !s.remote && isArchive(s.abs)) {
    mkdirAllNew(destPath, owner);
    await unpackTar(fs.createReadStream(s.abs), destPath, o.signal);
    return;
  }
  let target = destPath;
  let isDirDest = false;
  try {
    isDirDest = fs.statSync(destPath).isDirectory();
  } catch {
    /* missing */
  }
  if (o.dest.endsWith('/') || isDirDest) target = path.join(destPath, path.posix.basename(s.name));
  mkdirAllNew(path.dirname(target), owner);
  await copyTree(s.abs, target, owner);
}

/** Is the file a tar archive, plain or compressed (gzip, bzip2, xz)? */
export function isArchive(file: string): boolean {
  const fd = fs.openSync(file, 'r');
  const head = Buffer.alloc(512);
  let n: number;
  try {
    n = fs.readSync(fd, head, 0, 512, 0);
  } finally {
    fs.closeSync(fd);
  }
  const tool = head[0] === 0x1f && head[1] === 0x8b ? 'gzip' : head.subarray(0, 3).toString('latin1') === 'BZh' ? 'bzip2' : head[0] === 0xfd && head.subarray(1, 6).toString('latin1') === '7zXZ\0' ? 'xz' : undefined;
  let tarHead: Buffer = head.subarray(0, n);
  if (tool) {
    try {
      tarHead = execFileSync('sh', ['-c', `${tool} -dc -- "$1" 2>/dev/null | head -c 512`, 'sh', file], { maxBuffer: 4096 });
    } catch (err) {
      tarHead = ((err as { stdout?: Buffer }).stdout ?? Buffer.alloc(0)) as Buffer;
    }
  }
  return tarHead.length >= 262 && tarHead.subarray(257, 262).toString('latin1') === 'ustar';
}

/** `--chown=user[:group]`: numbers, or names in the image's /etc/passwd and /etc/group (Docker's parseChownFlag). */
export function resolveChown(rootfs: string, chown: string): Owner {
  try {
    return lookupChown(rootfs, chown);
  } catch (err) {
    throw invalidArgument(`unable to convert uid/gid chown string to host mapping: ${(err as Error).message}`);
  }
}

function lookupChown(rootfs: string, chown: string): Owner {
  const parts = chown.split(':');
  if (parts.length > 2) throw invalidArgument(`invalid chown string format: ${chown}`);
  const [u, g = parts[0]!] = parts as [string, string?];
  const uid = lookupId(resolveInScope(rootfs, '/etc/passwd'), u);
  if (uid === undefined) throw invalidArgument(`can't find uid for user ${u}: no such user: ${u}`);
  const gid = lookupId(resolveInScope(rootfs, '/etc/group'), g);
  if (gid === undefined) throw invalidArgument(`can't find gid for group ${g}: no such group: ${g}`);
  return { uid, gid };
}
