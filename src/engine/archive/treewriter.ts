/**
 * Creates files under one destination directory without ever leaving it.
 *
 * Safety rests on three rules:
 * 1. Every name is cleaned first (`cleanName`: no `..`, no absolute paths).
 * 2. Every parent directory is checked component by component with lstat (results
 *    cached) and must be a real directory: a symbolic link on the way is refused,
 *    never followed. Missing parents are created (0755, root), as Docker does.
 * 3. The final component is never followed: nodes are created with O_EXCL / mkdir /
 *    mknod / symlink / link, and a name that is taken is removed (unlink, or rm -r
 *    for a directory; rm never follows links) and created anew. Metadata calls that
 *    take a path are made only on the node just created (lchown, lsetxattr, lutimes).
 *
 * It assumes nothing else changes the destination while it writes (true for a fresh
 * snapshot directory); see docs/layers.md for the race discussion.
 */
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import { errnoCode, invalidArgument } from '../errdefs';
import { S_IFBLK, S_IFCHR, S_IFIFO, type NativeSys } from '../sys/native';
import { parentOf } from './paths';

/** Ownership, permissions, time and xattrs of one node. */
export interface NodeMeta {
  uid: number;
  gid: number;
  /** Permission and special bits (0o7777). */
  mode: number;
  /** Seconds since the epoch; also used as atime. */
  mtime: number;
  xattrs: Map<string, Buffer>;
}

/** The native calls the writer needs (a subset of `NativeSys`, injectable for tests). */
export type WriterSys = Pick<NativeSys, 'mknod' | 'lsetxattr'>;

export interface TreeWriterOptions {
  /** Refuse to replace a directory by a non-directory and vice versa (Docker's `noOverwriteDirNonDir`). */
  noOverwriteDirNonDir?: boolean;
  /** Owner for every node instead of the archive's (Docker's ChownOpts, used by `copyUIDGID`). */
  chown?: { uid: number; gid: number };
  /** Told about ignored xattr failures (ENOTSUP/EPERM), as Docker ignores them. */
  onWarning?(message: string): void;
}

const OPEN_NEW = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW; // libuv adds O_CLOEXEC
/**
 * Files up to this size are gathered in memory and written with synchronous calls:
 * for small files the six thread-pool round trips of the async API (open, write,
 * fchown, fchmod, futimes, close) cost far more than the syscalls themselves.
 * Larger files stream to disk with async writes.
 */
const SMALL_FILE = 256 * 1024;
const q = JSON.stringify;

/**
 * Sets a tar entry's extended attributes on `path` (not following a link). An attribute
 * the file system does not support or the daemon may not set (ENOTSUP, EPERM) is skipped
 * and reported through `skipped`, as Docker's archive code skips it; other errors throw.
 */
export function setXattrsWhereSupported(
  sys: Pick<NativeSys, 'lsetxattr'>,
  path: string,
  xattrs: Map<string, Buffer>,
  skipped?: (name: string, code: string) => void,
): void {
  for (const [name, value] of xattrs) {
    try {
      sys.lsetxattr(path, name, value, 0);
    } catch (err) {
      const code = errnoCode(err);
      if (code !== 'ENOTSUP' && code !== 'EPERM') throw err;
      skipped?.(name, code);
    }
  }
}

export class TreeWriter {
  /** Relative paths known to be real directories ('' is the destination). */
  private readonly dirs = new Set<string>(['']);
  /** Directory mtimes, applied last (creating children changes them). */
  private readonly dirTimes = new Map<string, number>();

  constructor(
    private readonly root: string,
    private readonly sys: WriterSys,
    private readonly opts: TreeWriterOptions = {},
  ) {}

  private abs(rel: string): string {
    return rel === '' ? this.root : `${this.root}/${rel}`;
  }

  /** Makes `dir` (relative) a real directory chain inside the root, creating what is missing. */
  async ensureDir(dir: string, forName: string): Promise<void> {
    if (this.dirs.has(dir)) return;
    let cur = '';
    for (const part of dir.split('/')) {
      cur = cur ? `${cur}/${part}` : part;
      if (this.dirs.has(cur)) continue;
      const st = lstatOrNull(this.abs(cur));
      if (st === null) {
        try {
          fs.mkdirSync(this.abs(cur), 0o755);
          fs.chmodSync(this.abs(cur), 0o755);
        } catch (err) {
          if (errnoCode(err) !== 'EEXIST') throw err;
          throw invalidArgument(`archive entry ${q(forName)}: ${q(cur)} changed while extracting`);
        }
      } else if (st.isSymbolicLink()) {
        throw invalidArgument(
          `archive entry ${q(forName)} would be written through the symbolic link ${q(cur)}; refusing to follow links`,
        );
      } else if (!st.isDirectory()) {
        throw invalidArgument(`archive entry ${q(forName)}: ${q(cur)} is not a directory`);
      }
      this.dirs.add(cur);
    }
  }

  /** Checks that `rel` exists, is not a directory, and is reached through real directories only. */
  private async linkTarget(rel: string, forName: string): Promise<void> {
    const bad = (why: string) => invalidArgument(`invalid hard link ${q(forName)} -> ${q(rel)}: ${why}`);
    if (rel === '') throw bad('it points at the destination itself');
    let cur = '';
    for (const part of parentOf(rel).split('/')) {
      if (part === '') break;
      cur = cur ? `${cur}/${part}` : part;
      if (this.dirs.has(cur)) continue;
      const st = lstatOrNull(this.abs(cur));
      if (st === null) throw bad('target not found in the archive');
      if (!st.isDirectory()) throw bad(st.isSymbolicLink() ? `it goes through the symbolic link ${q(cur)}` : 'target not found');
      this.dirs.add(cur);
    }
    const st = lstatOrNull(this.abs(rel));
    if (st === null) throw bad('target not found in the archive');
    if (st.isDirectory()) throw bad('target is a directory');
  }

  /** Forgets cached directories at or below `rel` (it was removed). */
  private forget(rel: string): void {
    const prefix = `${rel}/`;
    for (const d of this.dirs) if (d === rel || d.startsWith(prefix)) this.dirs.delete(d);
    for (const d of this.dirTimes.keys()) if (d === rel || d.startsWith(prefix)) this.dirTimes.delete(d);
  }

  /**
   * Runs `make`; if the name is taken, removes what is there (never following it) and
   * runs `make` again. Returns 'merge' instead when both are directories.
   */
  private async create<T>(rel: string, wantDir: boolean, make: () => T): Promise<T | 'merge'> {
    try {
      return make();
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') throw err;
    }
    const path = this.abs(rel);
    const st = fs.lstatSync(path);
    if (st.isDirectory()) {
      if (wantDir) return 'merge';
      if (this.opts.noOverwriteDirNonDir) throw invalidArgument(`cannot overwrite directory ${q(path)} with non-directory`);
      await fsp.rm(path, { recursive: true, force: true });
      this.forget(rel);
    } else {
      if (wantDir && this.opts.noOverwriteDirNonDir) {
        throw invalidArgument(`cannot overwrite non-directory ${q(path)} with directory`);
      }
      fs.unlinkSync(path);
    }
    return make();
  }

  private owner(meta: NodeMeta): [number, number] {
    return this.opts.chown ? [this.opts.chown.uid, this.opts.chown.gid] : [meta.uid, meta.gid];
  }

  private setXattrs(path: string, xattrs: Map<string, Buffer>): void {
    setXattrsWhereSupported(this.sys, path, xattrs, (name, code) => this.opts.onWarning?.(`ignoring xattr ${name} on ${path}: ${code}`));
  }

  /** A directory; an existing one is kept and gets the new metadata (Docker merges). */
  async directory(rel: string, meta: NodeMeta): Promise<void> {
    await this.ensureDir(parentOf(rel), rel);
    const path = this.abs(rel);
    await this.create(rel, true, () => fs.mkdirSync(path, 0o700));
    this.dirs.add(rel);
    fs.lchownSync(path, ...this.owner(meta));
    this.setXattrs(path, meta.xattrs);
    fs.chmodSync(path, meta.mode);
    this.dirTimes.delete(rel);
    this.dirTimes.set(rel, meta.mtime);
  }

  /** A regular file with the content of `body` (exactly `size` bytes). */
  async file(rel: string, meta: NodeMeta, body: AsyncIterable<Buffer>, size: number): Promise<void> {
    await this.ensureDir(parentOf(rel), rel);
    const path = this.abs(rel);
    const truncated = () => invalidArgument(`archive entry ${q(rel)} is truncated`);
    if (size <= SMALL_FILE) {
      const chunks: Buffer[] = [];
      let got = 0;
      for await (const chunk of body) { chunks.push(chunk); got += chunk.length; }
      if (got !== size) throw truncated();
      const fd = (await this.create(rel, false, () => fs.openSync(path, OPEN_NEW, 0o600))) as number;
      try {
        writeAllSync(fd, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, got));
        this.finishFile(fd, path, meta);
      } finally {
        fs.closeSync(fd);
      }
      return;
    }
    const fd = (await this.create(rel, false, () => fs.openSync(path, OPEN_NEW, 0o600))) as number;
    try {
      let written = 0;
      for await (const chunk of body) {
        for (let off = 0; off < chunk.length; ) off += await writeAsync(fd, chunk, off, chunk.length - off);
        written += chunk.length;
      }
      if (written !== size) throw truncated();
      this.finishFile(fd, path, meta);
    } finally {
      fs.closeSync(fd);
    }
  }

  private finishFile(fd: number, path: string, meta: NodeMeta): void {
    fs.fchownSync(fd, ...this.owner(meta)); // before chmod: chown clears setuid/setgid
    this.setXattrs(path, meta.xattrs);
    fs.fchmodSync(fd, meta.mode);
    fs.futimesSync(fd, meta.mtime, meta.mtime);
  }

  /** A symbolic link; its target is stored as is and never followed by us. */
  async symlink(rel: string, target: string, meta: NodeMeta): Promise<void> {
    await this.ensureDir(parentOf(rel), rel);
    const path = this.abs(rel);
    await this.create(rel, false, () => fs.symlinkSync(target, path));
    fs.lchownSync(path, ...this.owner(meta));
    this.setXattrs(path, meta.xattrs);
    fs.lutimesSync(path, meta.mtime, meta.mtime);
  }

  /** A hard link to `targetRel`, which must already exist inside the destination. */
  async hardlink(rel: string, targetRel: string): Promise<void> {
    await this.ensureDir(parentOf(rel), rel);
    await this.linkTarget(targetRel, rel);
    if (targetRel === rel) return; // a link to itself: already there
    await this.create(rel, false, () => fs.linkSync(this.abs(targetRel), this.abs(rel)));
  }

  /** A character or block device or a fifo. */
  async special(rel: string, kind: 'char' | 'block' | 'fifo', meta: NodeMeta, major = 0, minor = 0): Promise<void> {
    await this.ensureDir(parentOf(rel), rel);
    const path = this.abs(rel);
    const type = kind === 'char' ? S_IFCHR : kind === 'block' ? S_IFBLK : S_IFIFO;
    await this.create(rel, false, () => this.sys.mknod(path, type | 0o600, major, minor));
    fs.lchownSync(path, ...this.owner(meta));
    this.setXattrs(path, meta.xattrs);
    fs.chmodSync(path, meta.mode);
    fs.lutimesSync(path, meta.mtime, meta.mtime);
  }

  /** An overlay whiteout for `rel`: a 0:0 character device, owned as the archive says. */
  async whiteout(rel: string, uid: number, gid: number): Promise<void> {
    await this.ensureDir(parentOf(rel), rel);
    const path = this.abs(rel);
    await this.create(rel, false, () => this.sys.mknod(path, S_IFCHR, 0, 0));
    fs.lchownSync(path, uid, gid);
  }

  /** Marks directory `rel` opaque for overlayfs (creating it if needed). */
  async opaque(rel: string): Promise<void> {
    await this.ensureDir(rel, rel);
    this.sys.lsetxattr(this.abs(rel), 'trusted.overlay.opaque', Buffer.from('y'), 0);
  }

  /** Sets the directories' mtimes, after all their content was written. Never follows links. */
  async finish(): Promise<void> {
    for (const [rel, mtime] of this.dirTimes) fs.lutimesSync(this.abs(rel), mtime, mtime);
    this.dirTimes.clear();
  }
}

function lstatOrNull(path: string): fs.Stats | null {
  const st = fs.lstatSync(path, { throwIfNoEntry: false });
  return st ?? null;
}

function writeAsync(fd: number, buf: Buffer, off: number, len: number): Promise<number> {
  return new Promise((resolve, reject) => fs.write(fd, buf, off, len, null, (err, n) => (err ? reject(err) : resolve(n))));
}

function writeAllSync(fd: number, data: Buffer): void {
  for (let off = 0; off < data.length; ) off += fs.writeSync(fd, data, off, data.length - off);
}
