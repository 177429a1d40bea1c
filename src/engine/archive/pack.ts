/**
 * Directory trees → tar streams: the diff of an overlay upper directory (`docker
 * commit`, build steps) and plain trees (`docker cp`, save). Deterministic: names are
 * sorted, user/group names left empty, mtimes truncated to seconds, so the same
 * content gives the same bytes and so the same DiffID.
 */
import * as fs from 'node:fs';
import { constants as C, type Stats } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { internal } from '../errdefs';
import { nativeSys, type NativeSys } from '../sys/native';
import { isReservedXattr, WHITEOUT_OPAQUE, WHITEOUT_PREFIX } from './paths';
import { END_OF_ARCHIVE, encodeHeader, paddingFor, type TarHeader } from './tarheader';

export interface PackOptions {
  signal?: AbortSignal;
  /**
   * Which xattrs go into the archive: 'all' (default; never `trusted.overlay.*`,
   * `user.overlay.*` or `security.selinux`), 'capability' (only `security.capability`,
   * exactly what Docker's archive package writes), or 'none'.
   */
  xattrs?: 'all' | 'capability' | 'none';
  /** Native xattr calls; default the addon. */
  sys?: Pick<NativeSys, 'llistxattr' | 'lgetxattr'>;
}

export interface TarDirectoryOptions extends PackOptions {
  /**
   * Put the tree under this name, with an entry for the root itself (Docker's
   * TarResourceRebase for `docker cp`). Without it the entries are relative to `dir`
   * and the root has no entry. When `dir` is not a directory, the one entry is named
   * `includeRoot`, or the file's base name.
   */
  includeRoot?: string;
  /** Called with each path relative to `dir`; false leaves it (and, for a directory, its content) out. */
  filter?(relPath: string): boolean;
  /** Entries without content (directories, empty files, links) written after the tree, before the end of the archive. */
  append?: TarHeader[];
}

interface Walk {
  root: string;
  whiteouts: boolean;
  rootName?: string;
  filter?: (rel: string) => boolean;
  xattrs: 'all' | 'capability' | 'none';
  sys: Pick<NativeSys, 'llistxattr' | 'lgetxattr'>;
  signal?: AbortSignal;
  /** dev:ino → archive name of the first link, for hard links. */
  seen: Map<string, string>;
  append?: TarHeader[];
}

const READ_CHUNK = 1024 * 1024;
const VFS_CAP_REVISION_3 = 3;

/**
 * A tar (uncompressed) of an overlay upper directory in the layer format: 0:0
 * character devices become `.wh.<name>` files, directories with
 * `trusted.overlay.opaque=y` get a `.wh..wh..opq` entry right after their own.
 * The stream fails with internal if a file changes size while it is read.
 */
export function diffUpperDir(upperDir: string, opts: PackOptions & Pick<TarDirectoryOptions, 'filter'> = {}): Readable {
  const w = walkOptions(upperDir, true, opts);
  w.filter = opts.filter;
  return toReadable(generate(w));
}

/** A tar (uncompressed) of a plain tree: no whiteout translation. */
export function tarDirectory(dir: string, opts: TarDirectoryOptions = {}): Readable {
  const w = walkOptions(dir, false, opts);
  w.rootName = opts.includeRoot;
  w.filter = opts.filter;
  w.append = opts.append;
  return toReadable(generate(w));
}

function walkOptions(root: string, whiteouts: boolean, opts: PackOptions): Walk {
  return {
    root,
    whiteouts,
    xattrs: opts.xattrs ?? 'all',
    sys: opts.sys ?? nativeSys(),
    signal: opts.signal,
    seen: new Map(),
  };
}

function toReadable(gen: AsyncGenerator<Buffer>): Readable {
  return Readable.from(gen, { objectMode: false, highWaterMark: READ_CHUNK });
}

async function* generate(w: Walk): AsyncGenerator<Buffer> {
  const st = await fsp.lstat(w.root);
  if (!st.isDirectory()) {
    yield* entry(w, w.root, w.rootName ?? path.basename(w.root), st);
  } else {
    if (w.rootName !== undefined && w.rootName !== '') yield* entry(w, w.root, w.rootName, st);
    yield* walk(w, w.root, '');
  }
  for (const h of w.append ?? []) yield encodeHeader({ ...h, size: 0 });
  yield END_OF_ARCHIVE;
}

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

async function* walk(w: Walk, absDir: string, relDir: string): AsyncGenerator<Buffer> {
  // Sync metadata calls: one thread-pool round trip each would cost more than the call.
  const names = fs.readdirSync(absDir).sort(byName);
  for (const name of names) {
    const rel = relDir ? `${relDir}/${name}` : name;
    if (w.filter && !w.filter(rel)) continue;
    const abs = `${absDir}/${name}`;
    const st = fs.lstatSync(abs);
    yield* entry(w, abs, w.rootName ? `${w.rootName.endsWith('/') ? w.rootName.slice(0, -1) : w.rootName}/${rel}` : rel, st);
    if (st.isDirectory()) yield* walk(w, abs, rel);
  }
}

function readXattrs(w: Walk, abs: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  if (w.xattrs === 'none') return out;
  for (const name of w.sys.llistxattr(abs).sort(byName)) {
    if (w.xattrs === 'capability' ? name !== 'security.capability' : isReservedXattr(name) || name === 'security.selinux') {
      continue;
    }
    let value = w.sys.lgetxattr(abs, name);
    if (value === null) continue;
    if (name === 'security.capability' && value.length >= 24 && value[3] === VFS_CAP_REVISION_3) {
      // as Docker: the namespaced root uid of a v3 capability means nothing elsewhere
      value = Buffer.from(value.subarray(0, 20));
      value[3] = 2;
    }
    out.set(name, value);
  }
  return out;
}

/** Device numbers from st_rdev (glibc's encoding). */
export function devNumbers(rdev: number): [number, number] {
  const r = BigInt(rdev);
  const major = Number(((r >> 8n) & 0xfffn) | ((r >> 32n) & ~0xfffn));
  const minor = Number((r & 0xffn) | ((r >> 12n) & ~0xffn));
  return [major, minor];
}

async function* entry(w: Walk, abs: string, name: string, st: Stats): AsyncGenerator<Buffer> {
  w.signal?.throwIfAborted();
  const base: TarHeader = {
    name,
    type: 'file',
    mode: st.mode, // with the file-type bits, as Docker writes them
    uid: st.uid,
    gid: st.gid,
    size: 0,
    mtime: Math.floor(st.mtimeMs / 1000),
  };
  if (st.isSocket()) return; // tar cannot hold sockets; Docker skips them too
  if (st.isCharacterDevice() && st.rdev === 0 && w.whiteouts) {
    const slash = name.lastIndexOf('/');
    yield encodeHeader({ ...base, name: `${name.slice(0, slash + 1)}${WHITEOUT_PREFIX}${name.slice(slash + 1)}`, mode: 0o600 });
    return;
  }
  const xattrs = readXattrs(w, abs);
  if (st.isDirectory()) {
    yield encodeHeader({ ...base, type: 'directory', xattrs });
    if (w.whiteouts) {
      const opaque = w.sys.lgetxattr(abs, 'trusted.overlay.opaque');
      if (opaque !== null && opaque.length === 1 && opaque[0] === 0x79) {
        yield encodeHeader({ ...base, name: `${name}/${WHITEOUT_OPAQUE}`, mode: st.mode & 0o777, mtime: 0 });
      }
    }
    return;
  }
  if (st.nlink > 1) {
    const key = `${st.dev}:${st.ino}`;
    const first = w.seen.get(key);
    if (first !== undefined) {
      yield encodeHeader({ ...base, type: 'link', linkname: first, xattrs });
      return;
    }
    w.seen.set(key, name);
  }
  if (st.isSymbolicLink()) {
    yield encodeHeader({ ...base, type: 'symlink', linkname: fs.readlinkSync(abs), xattrs });
  } else if (st.isCharacterDevice() || st.isBlockDevice()) {
    const [devmajor, devminor] = devNumbers(st.rdev);
    yield encodeHeader({ ...base, type: st.isBlockDevice() ? 'block-device' : 'character-device', devmajor, devminor, xattrs });
  } else if (st.isFIFO()) {
    yield encodeHeader({ ...base, type: 'fifo', xattrs });
  } else if (st.isFile()) {
    yield* fileEntry(abs, { ...base, xattrs }, st.size);
  }
}

const SMALL_FILE = 256 * 1024;

async function* fileEntry(abs: string, h: TarHeader, lsize: number): AsyncGenerator<Buffer> {
  if (lsize <= SMALL_FILE) {
    // small files: read whole with sync calls (see SMALL_FILE in treewriter.ts)
    const fd = fs.openSync(abs, C.O_RDONLY | C.O_NOFOLLOW);
    let data: Buffer;
    try {
      const size = fs.fstatSync(fd).size;
      data = Buffer.allocUnsafe(size);
      for (let off = 0; off < size; ) {
        const n = fs.readSync(fd, data, off, size - off, off);
        if (n === 0) throw internal(`${abs} shrank while it was being archived`);
        off += n;
      }
    } finally {
      fs.closeSync(fd);
    }
    yield Buffer.concat([encodeHeader({ ...h, size: data.length }), data, paddingFor(data.length)]);
    return;
  }
  const fh = await fsp.open(abs, C.O_RDONLY | C.O_NOFOLLOW);
  try {
    const size = (await fh.stat()).size;
    yield encodeHeader({ ...h, size });
    let left = size;
    while (left > 0) {
      const buf = Buffer.allocUnsafe(Math.min(left, READ_CHUNK));
      const { bytesRead } = await fh.read(buf, 0, buf.length, size - left);
      if (bytesRead === 0) throw internal(`${abs} shrank while it was being archived`);
      left -= bytesRead;
      yield bytesRead === buf.length ? buf : buf.subarray(0, bytesRead);
    }
    if (size % 512 !== 0) yield paddingFor(size);
  } finally {
    await fh.close();
  }
}
