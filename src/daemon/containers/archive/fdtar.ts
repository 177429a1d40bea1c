/**
 * `docker cp`'s tar streams over directory fds of a RootView (rootview.ts): archiving a
 * tree (GET, export) and extracting into one (PUT), in the daemon, every file system
 * call made on one name under a directory fd that was reached without following any
 * link. The format and the rules are those of src/engine/archive (pack.ts, apply.ts,
 * treewriter.ts; docs/layers.md), with fewer system calls per file than Docker's
 * pkg/archive makes (docs/archive.md, "Throughput"):
 *
 * - out: lstat, lgetxattr(security.capability) (Docker's only xattr), open, one read,
 *   close per small file; file content is read straight into 1 MiB output chunks, so
 *   the response is written 1 MiB at a time.
 * - in: open(O_EXCL, the final permission bits), one write (or writev of the gathered
 *   chunks, 1 MiB at a time, for big files), futimens, close; fchown only when the
 *   archive's owner differs from the one the kernel gave the new node, fchmod only when
 *   the umask or special bits need it. Docker makes open, write, close, lchown, chmod,
 *   utimes (and lsetxattr attempts) for every file.
 */
import * as fs from 'node:fs';
import { Readable } from 'node:stream';
import { errnoCode, internal, invalidArgument } from '../../../engine/errdefs';
import { cleanName, isReservedXattr, parentOf, baseOf } from '../../../engine/archive/paths';
import { drain, forEachEntry, type EntryBody, type TarEntry } from '../../../engine/archive/parser';
import { devNumbers } from '../../../engine/archive/pack';
import { END_OF_ARCHIVE, encodeHeader, type TarHeader } from '../../../engine/archive/tarheader';
import { setXattrsWhereSupported } from '../../../engine/archive/treewriter';
import { S_IFBLK, S_IFCHR, S_IFIFO } from '../../../engine/sys/native';
import { at, closeQuietly, openDirAt, RESOLVE_ONE, type ViewNative } from './rootview';

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_DIRECTORY } = fs.constants;
const CHUNK = 1024 * 1024;
const VFS_CAP_REVISION_3 = 3;
const q = JSON.stringify;

// ---------------------------------------------------------------- archiving

export interface FdTarOptions {
  /**
   * Docker's TarResourceRebase: the node itself is an entry of this name and the tree's
   * entries are under it. '' (export): no entry for the root, entries relative to it.
   */
  rebase: string;
  /** Entries without content written after the tree (export's init-layer entries). */
  append?: TarHeader[];
}

/**
 * A tar of `name` under `dirFd` ('.' = the directory `dirFd` itself), as pack.ts's
 * tarDirectory writes it with `xattrs: 'capability'`. Takes ownership of nothing: the
 * caller keeps `dirFd` open until the stream has closed.
 */
export function tarAt(sys: ViewNative, dirFd: number, name: string, o: FdTarOptions): Readable {
  return Readable.from(generate(sys, dirFd, name, o), { objectMode: false, highWaterMark: CHUNK });
}

/** Output chunks of 1 MiB, file contents read straight into them. */
class Chunker {
  buf = Buffer.allocUnsafe(CHUNK);
  len = 0;
  out: Buffer[] = [];
  push(b: Buffer): void {
    if (b.length > this.buf.length - this.len) this.flush();
    if (b.length > this.buf.length) {
      this.out.push(b);
      return;
    }
    b.copy(this.buf, this.len);
    this.len += b.length;
  }
  /** Room for `n` contiguous bytes (n ≤ CHUNK), flushing first when needed; returns the offset. */
  reserve(n: number): number {
    if (n > this.buf.length - this.len) this.flush();
    return this.len;
  }
  flush(): void {
    if (this.len === 0) return;
    this.out.push(this.buf.subarray(0, this.len));
    this.buf = Buffer.allocUnsafe(CHUNK);
    this.len = 0;
  }
  take(): Buffer[] {
    const o = this.out;
    this.out = [];
    return o;
  }
}

interface Walk {
  sys: ViewNative;
  c: Chunker;
  /** dev:ino → first name, for hard links */
  seen: Map<string, string>;
}

function* generate(sys: ViewNative, dirFd: number, name: string, o: FdTarOptions): Generator<Buffer> {
  const w: Walk = { sys, c: new Chunker(), seen: new Map() };
  const self = name === '.';
  const st = self ? fs.fstatSync(dirFd) : fs.lstatSync(at(dirFd, name));
  const prefix = o.rebase === '' ? '' : `${o.rebase.endsWith('/') ? o.rebase.slice(0, -1) : o.rebase}/`;
  if (!st.isDirectory()) {
    yield* entry(w, dirFd, name, o.rebase || name, st);
  } else {
    const fd = openDirAt(sys, dirFd, name);
    try {
      if (o.rebase !== '') yield* entry(w, dirFd, name, o.rebase, st, fd);
      yield* walk(w, fd, prefix);
    } finally {
      closeQuietly(fd);
    }
  }
  for (const h of o.append ?? []) w.c.push(encodeHeader({ ...h, size: 0 }));
  w.c.push(END_OF_ARCHIVE);
  w.c.flush();
  yield* w.c.take();
}

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function* walk(w: Walk, dfd: number, prefix: string): Generator<Buffer> {
  const names = fs.readdirSync(at(dfd)).sort(byName);
  for (const name of names) {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(at(dfd, name));
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') continue; // removed since the readdir
      throw err;
    }
    if (!st.isDirectory()) {
      yield* entry(w, dfd, name, prefix + name, st);
      continue;
    }
    let sub: number;
    try {
      sub = openDirAt(w.sys, dfd, name);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') continue;
      throw err;
    }
    try {
      yield* entry(w, dfd, name, prefix + name, st, sub);
      yield* walk(w, sub, `${prefix}${name}/`);
    } finally {
      closeQuietly(sub);
    }
  }
}

/** Docker's only archived xattr, a v3 capability rewritten as v2 (as pack.ts and Docker do). */
function capability(w: Walk, path: string): Map<string, Buffer> | undefined {
  let value: Buffer | null;
  try {
    value = w.sys.lgetxattr(path, 'security.capability');
  } catch {
    return undefined;
  }
  if (value === null) return undefined;
  if (value.length >= 24 && value[3] === VFS_CAP_REVISION_3) {
    value = Buffer.from(value.subarray(0, 20));
    value[3] = 2;
  }
  return new Map([['security.capability', value]]);
}

/** One node: `name` under `dfd` ('.' = dfd itself, whose open fd is `selfFd` for a directory). */
function* entry(w: Walk, dfd: number, name: string, tarName: string, st: fs.Stats, selfFd?: number): Generator<Buffer> {
  if (st.isSocket()) return; // tar cannot hold sockets; Docker skips them too
  const path = name === '.' ? `${at(selfFd ?? dfd)}/.` : at(dfd, name);
  const xattrs = capability(w, path);
  const base: TarHeader = {
    name: tarName,
    type: 'file',
    mode: st.mode,
    uid: st.uid,
    gid: st.gid,
    size: 0,
    mtime: Math.floor(st.mtimeMs / 1000),
    ...(xattrs ? { xattrs } : {}),
  };
  if (st.isDirectory()) {
    w.c.push(encodeHeader({ ...base, type: 'directory' }));
  } else {
    if (st.nlink > 1) {
      const key = `${st.dev}:${st.ino}`;
      const first = w.seen.get(key);
      if (first !== undefined) {
        w.c.push(encodeHeader({ ...base, type: 'link', linkname: first }));
        return;
      }
      w.seen.set(key, tarName);
    }
    if (st.isSymbolicLink()) {
      w.c.push(encodeHeader({ ...base, type: 'symlink', linkname: fs.readlinkSync(path) }));
    } else if (st.isCharacterDevice() || st.isBlockDevice()) {
      const [devmajor, devminor] = devNumbers(st.rdev);
      w.c.push(encodeHeader({ ...base, type: st.isBlockDevice() ? 'block-device' : 'character-device', devmajor, devminor }));
    } else if (st.isFIFO()) {
      w.c.push(encodeHeader({ ...base, type: 'fifo' }));
    } else if (st.isFile()) {
      yield* fileContent(w, path, base, st.size);
    }
  }
  if (w.c.out.length > 0) yield* w.c.take();
}

/** The header (size from lstat, as Docker's) and exactly that many bytes, padded: read straight into the output chunks. */
function* fileContent(w: Walk, path: string, h: TarHeader, size: number): Generator<Buffer> {
  const fd = fs.openSync(path, O_RDONLY | O_NOFOLLOW);
  try {
    w.c.push(encodeHeader({ ...h, size }));
    let pos = 0;
    while (pos < size) {
      if (w.c.len === CHUNK) w.c.flush();
      const n = fs.readSync(fd, w.c.buf, w.c.len, Math.min(CHUNK - w.c.len, size - pos), pos);
      if (n === 0) throw internal(`${h.name} shrank while it was being archived`);
      pos += n;
      w.c.len += n;
      if (w.c.out.length > 0) yield* w.c.take();
    }
    const pad = (512 - (size % 512)) % 512;
    if (pad > 0) {
      const off = w.c.reserve(pad);
      w.c.buf.fill(0, off, off + pad);
      w.c.len += pad;
    }
  } finally {
    fs.closeSync(fd);
  }
}

// ---------------------------------------------------------------- extracting

export interface FdExtractOptions {
  /** Docker's noOverwriteDirNonDir */
  noOverwriteDirNonDir?: boolean;
  /** copyUIDGID's owner for every node, instead of the archive's */
  chown?: { uid: number; gid: number };
  /** the daemon's umask (what the kernel takes off creation modes); default the process's */
  umask?: number;
}

interface DirInfo {
  fd: number;
  gid: number;
  setgid: boolean;
}

const MAX_OPEN_DIRS = 256;

/**
 * Extracts a plain (already decompressed) tar into the directory open as `destFd`:
 * apply.ts's extractTar rules (no `..`, whiteout names are plain names, a link on the
 * way is refused, an existing name is replaced, `noOverwriteDirNonDir`), on fds.
 */
export async function extractAt(sys: ViewNative, destFd: number, source: Readable, o: FdExtractOptions = {}): Promise<void> {
  const x = new FdExtractor(sys, destFd, o);
  try {
    await forEachEntry(source, (e, body) => x.entry(e, body));
    await x.finish();
  } catch (err) {
    source.destroy();
    throw err;
  } finally {
    x.close();
  }
}

/** The process's umask, read without changing it (umask(2) would, for every thread, for a moment). */
function currentUmask(): number {
  try {
    const m = /^Umask:\s*([0-7]+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    if (m) return parseInt(m[1]!, 8);
  } catch {
    // no procfs: assume the usual
  }
  return 0o022;
}

/*
 * Every file is written on the JS thread. Queuing small files on the thread pool, so
 * that the kernel's work overlaps the parsing of the next entries, was measured slower
 * on this VM (tmpfs, 10,308 files: 0.82–0.89 s against 0.50–0.67 s on the JS thread):
 * each file's two thread hand-overs cost more than the overlap saves (docs/archive.md).
 */

class FdExtractor {
  private readonly dirs = new Map<string, DirInfo>();
  private readonly dirTimes = new Map<string, number>();
  private readonly umask: number;
  private readonly euid = process.geteuid?.() ?? 0;
  private readonly egid = process.getegid?.() ?? 0;

  constructor(private readonly sys: ViewNative, private readonly destFd: number, private readonly o: FdExtractOptions) {
    this.umask = o.umask ?? currentUmask();
    const st = fs.fstatSync(destFd);
    this.dirs.set('', { fd: destFd, gid: st.gid, setgid: (st.mode & 0o2000) !== 0 });
  }

  close(): void {
    for (const [rel, d] of this.dirs) if (rel !== '') closeQuietly(d.fd);
    this.dirs.clear();
  }

  async entry(e: TarEntry, body: EntryBody): Promise<void> {
    // bounded fds; only here, so no DirInfo held by an entry is closed under it
    if (this.dirs.size > MAX_OPEN_DIRS) this.forget('', false);
    const rel = cleanName(e.name);
    for (const name of e.xattrs.keys()) {
      if (isReservedXattr(name)) throw invalidArgument(`archive entry ${q(e.name)} carries the reserved xattr ${name}`);
    }
    if (rel === '') {
      await drain(body);
      if (e.type === 'directory') return; // the root itself: skipped, as Docker does
      throw invalidArgument(`archive entry ${q(e.name)} has no name`);
    }
    const uid = this.o.chown ? this.o.chown.uid : e.uid;
    const gid = this.o.chown ? this.o.chown.gid : e.gid;
    switch (e.type) {
      case 'file':
      case 'contiguous-file':
        return this.file(rel, e, uid, gid, body);
      case 'directory':
        await drain(body);
        return this.directory(rel, e, uid, gid);
      case 'symlink': {
        await drain(body);
        if (e.linkname === '' || e.linkname.includes('\0') || Buffer.byteLength(e.linkname) > 4095) {
          throw invalidArgument(`archive entry ${q(e.name)}: invalid symbolic link target`);
        }
        const p = this.parent(rel);
        const name = baseOf(rel);
        this.create(p, rel, false, () => fs.symlinkSync(e.linkname, at(p.fd, name)));
        if (this.needChown(p, uid, gid)) fs.lchownSync(at(p.fd, name), uid, gid);
        this.xattrs(at(p.fd, name), e.xattrs);
        fs.lutimesSync(at(p.fd, name), e.mtime, e.mtime);
        return;
      }
      case 'link': {
        await drain(body);
        const target = cleanName(e.linkname, 'hard link target');
        const bad = (why: string) => invalidArgument(`invalid hard link ${q(rel)} -> ${q(target)}: ${why}`);
        if (target === '') throw bad('it points at the destination itself');
        const p = this.parent(rel);
        let tp: DirInfo;
        try {
          tp = this.dir(parentOf(target), rel, false);
        } catch (err) {
          if (errnoCode(err) === 'ENOENT') throw bad('target not found in the archive');
          throw err;
        }
        const tst = fs.lstatSync(at(tp.fd, baseOf(target)), { throwIfNoEntry: false });
        if (!tst) throw bad('target not found in the archive');
        if (tst.isDirectory()) throw bad('target is a directory');
        if (target === rel) return;
        this.create(p, rel, false, () => fs.linkSync(at(tp.fd, baseOf(target)), at(p.fd, baseOf(rel))));
        return;
      }
      case 'character-device':
      case 'block-device':
      case 'fifo': {
        await drain(body);
        const p = this.parent(rel);
        const name = baseOf(rel);
        const type = e.type === 'fifo' ? S_IFIFO : e.type === 'block-device' ? S_IFBLK : S_IFCHR;
        this.create(p, rel, false, () => this.sys.mknod(at(p.fd, name), type | (e.mode & 0o777), e.devmajor, e.devminor));
        const chowned = this.needChown(p, uid, gid);
        if (chowned) fs.lchownSync(at(p.fd, name), uid, gid);
        this.xattrs(at(p.fd, name), e.xattrs);
        if (chowned || this.needChmod(e.mode)) this.sys.chmodAt(p.fd, name, e.mode & 0o7777);
        fs.lutimesSync(at(p.fd, name), e.mtime, e.mtime);
        return;
      }
      default:
        throw invalidArgument(`archive entry ${q(e.name)} has an unsupported type (${e.type ?? 'unknown'})`);
    }
  }

  /** The kernel gives a new node our euid and the parent's gid (setgid) or our egid. */
  private needChown(p: DirInfo, uid: number, gid: number): boolean {
    return uid !== this.euid || gid !== (p.setgid ? p.gid : this.egid);
  }

  /** Whether the creation mode (less the umask) misses bits of `mode`. */
  private needChmod(mode: number): boolean {
    return (mode & 0o7777) !== (mode & 0o777 & ~this.umask);
  }

  private xattrs(path: string, xattrs: Map<string, Buffer>): void {
    setXattrsWhereSupported(this.sys, path, xattrs);
  }

  private parent(rel: string): DirInfo {
    return this.dir(parentOf(rel), rel, true);
  }

  /**
   * The directory `rel` (relative to the destination), each component opened under the
   * previous one without following links; missing ones are created (0755) when `create`.
   */
  private dir(rel: string, forName: string, create: boolean): DirInfo {
    const hit = this.dirs.get(rel);
    if (hit) return hit;
    const parent = this.dir(parentOf(rel), forName, create);
    const name = baseOf(rel);
    let fd: number;
    try {
      fd = openDirAt(this.sys, parent.fd, name);
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'ENOENT' && create) {
        try {
          fs.mkdirSync(at(parent.fd, name), 0o755);
          if ((0o755 & this.umask) !== 0) this.sys.chmodAt(parent.fd, name, 0o755);
        } catch (e2) {
          if (errnoCode(e2) !== 'EEXIST') throw e2;
        }
        return this.dir(rel, forName, false);
      }
      if (code === 'ELOOP' || code === 'EXDEV' || (code === 'ENOTDIR' && fs.lstatSync(at(parent.fd, name), { throwIfNoEntry: false })?.isSymbolicLink())) {
        throw invalidArgument(`archive entry ${q(forName)} would be written through the symbolic link ${q(rel)}; refusing to follow links`);
      }
      if (code === 'ENOTDIR') throw invalidArgument(`archive entry ${q(forName)}: ${q(rel)} is not a directory`);
      throw err;
    }
    const st = fs.fstatSync(fd);
    const d: DirInfo = { fd, gid: st.gid, setgid: (st.mode & 0o2000) !== 0 };
    this.dirs.set(rel, d);
    return d;
  }

  /** Closes cached directory fds at or below `rel` ('' and all: every one but the destination). */
  private forget(rel: string, times: boolean): void {
    const prefix = rel === '' ? '' : `${rel}/`;
    for (const [d, info] of this.dirs) {
      if (d !== '' && (d === rel || d.startsWith(prefix))) {
        closeQuietly(info.fd);
        this.dirs.delete(d);
      }
    }
    if (times) for (const d of this.dirTimes.keys()) if (d === rel || d.startsWith(prefix)) this.dirTimes.delete(d);
  }

  /**
   * Runs `make`; if the name is taken, removes what is there (never following it) and
   * runs `make` again. Returns 'merge' instead when both are directories.
   */
  private create<T>(p: DirInfo, rel: string, wantDir: boolean, make: () => T): T | 'merge' {
    try {
      return make();
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') throw err;
    }
    const name = baseOf(rel);
    const st = fs.lstatSync(at(p.fd, name));
    if (st.isDirectory()) {
      if (wantDir) return 'merge';
      if (this.o.noOverwriteDirNonDir) throw invalidArgument(`cannot overwrite directory ${q(rel)} with non-directory`);
      this.forget(rel, true);
      removeAt(this.sys, p.fd, name);
    } else {
      if (wantDir && this.o.noOverwriteDirNonDir) throw invalidArgument(`cannot overwrite non-directory ${q(rel)} with directory`);
      fs.unlinkSync(at(p.fd, name));
    }
    return make();
  }

  private directory(rel: string, e: TarEntry, uid: number, gid: number): void {
    const p = this.parent(rel);
    const name = baseOf(rel);
    const made: unknown = this.create(p, rel, true, () => { fs.mkdirSync(at(p.fd, name), e.mode & 0o777); });
    const d = this.dir(rel, rel, false);
    const chowned = made === 'merge' || this.needChown(p, uid, gid);
    if (chowned) fs.fchownSync(d.fd, uid, gid);
    this.xattrs(at(p.fd, name), e.xattrs);
    if (chowned || made === 'merge' || this.needChmod(e.mode)) fs.fchmodSync(d.fd, e.mode & 0o7777);
    if (chowned) {
      const st = fs.fstatSync(d.fd);
      d.gid = st.gid;
      d.setgid = (st.mode & 0o2000) !== 0;
    }
    this.dirTimes.delete(rel);
    this.dirTimes.set(rel, e.mtime);
  }

  private async file(rel: string, e: TarEntry, uid: number, gid: number, body: EntryBody): Promise<void> {
    const p = this.parent(rel);
    const name = baseOf(rel);
    const size = e.size;
    const truncated = () => invalidArgument(`archive entry ${q(rel)} is truncated`);
    const open = () => fs.openSync(at(p.fd, name), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, e.mode & 0o777);
    let fd: number;
    let written = 0;
    if (size <= CHUNK) {
      // gathered first: one write, and nothing created for a truncated archive
      const chunks: Buffer[] = [];
      for await (const chunk of body) {
        chunks.push(chunk);
        written += chunk.length;
      }
      if (written !== size) throw truncated();
      const small = this.create(p, rel, false, open) as number;
      try {
        writeAll(small, chunks, written);
        this.finishFile(small, p, name, e, uid, gid);
      } finally {
        fs.closeSync(small);
      }
      return;
    }
    fd = this.create(p, rel, false, open) as number;
    try {
      let pending: Buffer[] = [];
      let pendingBytes = 0;
      for await (const chunk of body) {
        pending.push(chunk);
        pendingBytes += chunk.length;
        if (pendingBytes >= CHUNK) {
          // on the thread pool: the request keeps being read while the kernel copies
          await writeAllAsync(fd, pending, pendingBytes);
          written += pendingBytes;
          pending = [];
          pendingBytes = 0;
        }
      }
      if (pendingBytes > 0) writeAll(fd, pending, pendingBytes);
      written += pendingBytes;
      if (written !== size) throw truncated();
      this.finishFile(fd, p, name, e, uid, gid);
    } finally {
      fs.closeSync(fd);
    }
  }

  private finishFile(fd: number, p: DirInfo, name: string, e: TarEntry, uid: number, gid: number): void {
    const chowned = this.needChown(p, uid, gid);
    if (chowned) fs.fchownSync(fd, uid, gid); // before chmod: chown clears setuid/setgid
    if (e.xattrs.size > 0) this.xattrs(at(p.fd, name), e.xattrs);
    if ((chowned && (e.mode & 0o6000) !== 0) || this.needChmod(e.mode)) fs.fchmodSync(fd, e.mode & 0o7777);
    fs.futimesSync(fd, e.mtime, e.mtime);
  }

  /** The directories' mtimes, after all their content was written. */
  async finish(): Promise<void> {
    for (const [rel, mtime] of this.dirTimes) {
      const cached = this.dirs.get(rel);
      if (cached) {
        fs.futimesSync(cached.fd, mtime, mtime);
        continue;
      }
      const fd = this.sys.openat2(this.destFd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0, RESOLVE_ONE);
      try {
        fs.futimesSync(fd, mtime, mtime);
      } finally {
        closeQuietly(fd);
      }
    }
    this.dirTimes.clear();
  }
}

function writeAllAsync(fd: number, chunks: Buffer[], total: number): Promise<void> {
  return new Promise((resolve, reject) => {
    fs.writev(fd, chunks, (err, done) => {
      if (err) return reject(err);
      if (done === total) return resolve();
      try {
        writeAll(fd, [Buffer.concat(chunks, total).subarray(done)], total - done); // a short write (rare): the rest here
        resolve();
      } catch (e) {
        reject(e);
      }
    });
  });
}

function writeAll(fd: number, chunks: Buffer[], total: number): void {
  const done = fs.writevSync(fd, chunks);
  if (done === total) return;
  // a short write (rare): the rest one buffer at a time
  let skip = done;
  for (const c of chunks) {
    if (skip >= c.length) {
      skip -= c.length;
      continue;
    }
    for (let off = skip; off < c.length; ) off += fs.writeSync(fd, c, off, c.length - off);
    skip = 0;
  }
}

/** rm -r of `name` under `dfd`, each step on one name under an fd, never following a link. */
function removeAt(sys: ViewNative, dfd: number, name: string): void {
  const st = fs.lstatSync(at(dfd, name));
  if (!st.isDirectory()) {
    fs.unlinkSync(at(dfd, name));
    return;
  }
  const fd = sys.openat2(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0, RESOLVE_ONE);
  try {
    for (const n of fs.readdirSync(at(fd))) removeAt(sys, fd, n);
  } finally {
    closeQuietly(fd);
  }
  fs.rmdirSync(at(dfd, name));
}
