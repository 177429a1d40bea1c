/**
 * A container's files as the copy sees them, opened by the daemon itself without a
 * helper process: a *detached* mount tree (open_tree(2) clone of the root file system,
 * with the container's volumes, binds and network files moved onto it with
 * move_mount(2) — a tree that no mount namespace shows), and every lookup in it made
 * with openat2(2) `RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS` from the tree's root fd, or
 * one name at a time under a directory fd that was itself obtained that way.
 *
 * The kernel resolves `..`, absolute symbolic links and links swapped in while a copy
 * runs as if the tree's root were `/`: nothing the container controls can make the
 * daemon open, create or remove a host file (the CVE-2018-15664 class). The daemon
 * reads and writes the container's files as data only; it never loads or executes
 * anything from them (CVE-2019-14271). docs/archive.md gives the argument.
 *
 * Names under a directory fd are handed to Node's path calls as `/proc/self/fd/<fd>/<name>`
 * (`at`): procfs's magic link jumps to the directory the fd holds (the daemon's own
 * /proc, never the container's), and `<name>` is one component — never `.`, `..` or
 * containing `/` — so the only link the kernel could follow is the last component's,
 * and every call used on such a path (lstat, readlink, mkdir, symlink, link, unlink,
 * rmdir, lchown, lutimes, l*xattr, mknod, open with O_NOFOLLOW|O_EXCL) does not follow it.
 *
 * Attaching onto a detached tree needs Linux 6.15. Before that (Debian 12's 6.1) the view
 * is the container's root opened in a private mount namespace made for it by the addon
 * (`cpNamespaceOpen`), the mounts attached inside that namespace (`cpNamespaceAttach`);
 * the lookups are the same. `viewMode()` chooses (docs/archive.md "Kernels before 6.15").
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { internal } from '../../../engine/errdefs';
import { nativeSys, type NativeSys } from '../../../engine/sys/native';
import { followSymlinkInScope, goClean } from './paths';

/** The addon's calls for confined lookups (native/addon, "docker cp in the daemon"; documented in NativeSys). */
export type ViewNative = Pick<
  NativeSys,
  'openTree' | 'mknod' | 'lsetxattr' | 'lgetxattr' | 'openat2' | 'moveMountAt' | 'chmodAt' | 'cpNamespaceOpen' | 'cpNamespaceAttach'
>;

export function viewNative(): ViewNative {
  return nativeSys();
}

// linux/openat2.h
export const RESOLVE_NO_XDEV = 0x01;
export const RESOLVE_NO_MAGICLINKS = 0x02;
export const RESOLVE_NO_SYMLINKS = 0x04;
export const RESOLVE_BENEATH = 0x08;
export const RESOLVE_IN_ROOT = 0x10;
/** O_PATH on Linux (x86_64 and arm64). */
export const O_PATH = 0o10000000;

/** One name under a directory: no link followed on the way, none out of it. */
export const RESOLVE_ONE = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
/** A container path: links followed inside the tree's root, never outside it. */
export const RESOLVE_SCOPED = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;

const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW, O_CREAT, O_WRONLY, O_EXCL } = fs.constants;

/** A path naming `name` (one component) in the directory open as `fd`, for Node's path calls; `at(fd)` is the directory itself. */
export function at(fd: number, name?: string): string {
  if (name === undefined) return `/proc/self/fd/${fd}`;
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) {
    throw internal(`refusing the name ${JSON.stringify(name)} under a directory fd`);
  }
  return `/proc/self/fd/${fd}/${name}`;
}

/** A mount to attach in the view: a host path (trusted: the container's configuration) at a container path. */
export interface ViewMount {
  source: string;
  destination: string;
  readOnly: boolean;
}

export function closeQuietly(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {
    // already closed
  }
}

/**
 * How a view is built: `detached` (open_tree clone, mounts attached onto it; Linux 6.15+)
 * or `namespace` (the root opened in a private mount namespace, mounts attached there).
 */
export type ViewMode = 'detached' | 'namespace';

let probed: ViewMode | undefined;

/**
 * The mode views use: STEVEDORE_CP_VIEW (`namespace` or `detached`) when set, else what
 * the kernel supports, probed once: a detached clone of a directory of ours moved onto a
 * detached clone of another (EINVAL before 6.15). A probe that fails otherwise (no
 * privilege) keeps `detached`, whose errors then say why.
 */
export function viewMode(sys: ViewNative = viewNative()): ViewMode {
  const forced = process.env.STEVEDORE_CP_VIEW;
  if (forced === 'namespace' || forced === 'detached') return forced;
  if (probed === undefined) probed = probeDetachedAttach(sys) ? 'detached' : 'namespace';
  return probed;
}

function probeDetachedAttach(sys: ViewNative): boolean {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stevedore-cp-probe-'));
  const fds: number[] = [];
  try {
    fs.mkdirSync(path.join(dir, 'd'));
    fds.push(sys.openTree(dir, false));
    fds.push(sys.openTree(path.join(dir, 'd'), false));
    fds.push(sys.openat2(fds[0]!, 'd', O_PATH | O_DIRECTORY, 0, RESOLVE_ONE));
    sys.moveMountAt(fds[1]!, fds[2]!, '');
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'EINVAL';
  } finally {
    for (const fd of fds.reverse()) closeQuietly(fd);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A container's files for one copy. close() drops the tree (the kernel unmounts a
 * detached tree with its last fd; a view's namespace goes with its fds).
 */
export class RootView {
  private closed = false;

  /** `nsFd`: the view's mount namespace in `namespace` mode, else -1. */
  private constructor(readonly fd: number, private readonly sys: ViewNative, private readonly nsFd = -1) {}

  /**
   * The view of the root file system mounted at `root` (a daemon path) with `mounts`
   * attached in order. A missing mount point is created in the container's layer, as
   * Docker's CreateIfNotExists does. `mode`: viewMode()'s by default.
   */
  static open(root: string, mounts: ViewMount[] = [], sys: ViewNative = viewNative(), mode: ViewMode = viewMode(sys)): RootView {
    let v: RootView;
    if (mode === 'namespace') {
      const ns = sys.cpNamespaceOpen(root);
      v = new RootView(ns.rootFd, sys, ns.nsFd);
    } else {
      v = new RootView(sys.openTree(root, false), sys);
    }
    try {
      for (const m of mounts) v.attach(m);
    } catch (err) {
      v.close();
      throw err;
    }
    return v;
  }

  /**
   * Drops the tree. On the thread pool: the last close of a detached tree unmounts it,
   * which waits for an RCU grace period when it holds mounts (milliseconds on a busy
   * machine), so the event loop does not wait for it.
   */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    const close = (fd: number) => new Promise<void>((resolve) => fs.close(fd, () => resolve()));
    return this.nsFd < 0 ? close(this.fd) : Promise.all([close(this.fd), close(this.nsFd)]).then(() => undefined);
  }

  private attach(m: ViewMount): void {
    const dir = fs.statSync(m.source).isDirectory();
    const src = this.sys.openTree(m.source, m.readOnly);
    try {
      const dest = followSymlinkInScope(m.destination, this);
      this.createIfNotExists(dest, dir);
      const target = this.open(dest, O_PATH | (dir ? O_DIRECTORY : 0));
      try {
        if (this.nsFd >= 0) this.sys.cpNamespaceAttach(this.nsFd, src, target);
        else this.sys.moveMountAt(src, target, '');
      } finally {
        closeQuietly(target);
      }
    } finally {
      closeQuietly(src);
    }
  }

  /** Creates the missing components of `dest` (resolved, absolute): directories 0755, a last empty file when `dir` is false. */
  private createIfNotExists(dest: string, dir: boolean): void {
    const parts = goClean(dest).split('/').filter((p) => p !== '');
    let cur = this.sys.openat2(this.fd, '.', O_PATH | O_DIRECTORY, 0, RESOLVE_ONE);
    try {
      for (let i = 0; i < parts.length; i++) {
        const last = i === parts.length - 1;
        const name = parts[i]!;
        if (fs.lstatSync(at(cur, name), { throwIfNoEntry: false }) === undefined) {
          if (last && !dir) {
            closeQuietly(fs.openSync(at(cur, name), O_CREAT | O_WRONLY | O_NOFOLLOW | O_EXCL, 0o755));
            return;
          }
          try {
            fs.mkdirSync(at(cur, name), 0o755);
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
          }
        }
        if (last) return;
        const next = this.sys.openat2(cur, name, O_PATH | O_DIRECTORY, 0, RESOLVE_ONE);
        closeQuietly(cur);
        cur = next;
      }
    } finally {
      closeQuietly(cur);
    }
  }

  /** openat2 of a container path (absolute or not), every link resolved inside the view. */
  open(p: string, flags: number, resolve = RESOLVE_SCOPED): number {
    return this.sys.openat2(this.fd, p === '' ? '/' : p, flags, 0, resolve);
  }

  /** LinkReader for followSymlinkInScope: the target of `p` when it is a symbolic link. */
  readlink(p: string): string | null {
    const clean = goClean(p);
    const i = clean.lastIndexOf('/');
    const dir = clean.slice(0, i) || '/';
    const base = clean.slice(i + 1);
    if (base === '' || base === '..' || base === '.') return null;
    let fd: number;
    try {
      fd = this.open(dir, O_PATH | O_DIRECTORY);
    } catch {
      return null;
    }
    try {
      return fs.readlinkSync(at(fd, base));
    } catch {
      return null;
    } finally {
      closeQuietly(fd);
    }
  }
}

/** Opens directory `name` under `dirFd` for reading, never following a link. */
export function openDirAt(sys: ViewNative, dirFd: number, name: string): number {
  if (name === '.') return sys.openat2(dirFd, '.', O_RDONLY | O_DIRECTORY, 0, RESOLVE_ONE);
  return sys.openat2(dirFd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0, RESOLVE_ONE);
}
