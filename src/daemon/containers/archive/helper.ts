/**
 * The docker cp helper: a short-lived child of the daemon (started by copier.ts with
 * `process.execPath`) that chroots into a container's root before it touches any of
 * its paths, then stats, archives or extracts there. Inside the chroot every path
 * lookup, `..` and symbolic links included, ends inside the container's root, however
 * the container swaps directories for links while the copy runs (the CVE-2018-15664
 * class); docs/archive.md gives the argument.
 *
 * Everything it runs is loaded before the chroot (its modules, the native addon, the
 * crypto and zlib bindings): after it nothing is ever loaded or executed from the
 * container's files, and no user name is resolved through libc (CVE-2019-14271).
 *
 * It runs in a mount namespace of its own (started through `unshare -m --propagation
 * private`): before the chroot it takes each of the container's mount sources as a
 * detached mount (open_tree), after it attaches them at their destinations, resolved
 * inside the chroot — so the copy sees the container's files as Docker's does (its
 * root file system, volumes, binds and /etc/hosts-like files; no /proc, /sys or tmpfs),
 * and a destination a container swapped for a link can only misplace a mount inside
 * this private namespace.
 *
 * argv: `<op> <json args>`; fd 3: a pipe for one JSON line of result or error;
 * stdin/stdout carry the tar.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';
import { extractTar, tarDirectory } from '../../../engine/archive';
import { detectCompression, peek } from '../../../engine/archive/compression';
import type { TarHeader } from '../../../engine/archive/tarheader';
import { errnoCode, isStevedoreError, kindOf } from '../../../engine/errdefs';
import { nativeSys } from '../../../engine/sys/native';
import { containerAbsPath, followSymlinkInScope, goBase, goClean, goFileMode, goSplit, goTimeJSON, inMount, type ContainerPathStat } from './paths';

/** Arguments of one helper run. */
export interface HelperArgs {
  /** the host directory where the container's root file system is mounted (the daemon's path) */
  root: string;
  /** mounts to attach inside the root, in order: Docker's sorted volumes and binds, then the network files */
  attach?: Array<{ source: string; destination: string; readOnly: boolean }>;
  /** the path as the client gave it */
  path?: string;
  noOverwriteDirNonDir?: boolean;
  chown?: { uid: number; gid: number };
  /** the container's mount points (Docker's MountPoints), for the read-only checks */
  mounts?: Array<{ destination: string; rw: boolean }>;
  readonlyRootfs?: boolean;
}

/** The helper's one result line. */
export type HelperResult =
  | { ok: true; stat?: ContainerPathStat }
  | { ok: false; kind: string; code?: string; message: string };

const CONTROL_FD = 3;

class HelperError extends Error {
  constructor(readonly kind: string, message: string, readonly code?: string) {
    super(message);
  }
}

const links = {
  readlink(p: string): string | null {
    try {
      return fs.readlinkSync(p);
    } catch {
      return null;
    }
  },
};

function lstat(p: string): fs.BigIntStats {
  try {
    return fs.lstatSync(p, { bigint: true });
  } catch (err) {
    const code = errnoCode(err);
    const why = /^\w+: ([^,]*)/.exec((err as Error).message)?.[1] ?? (err as Error).message;
    throw new HelperError(code === 'ENOENT' ? 'path-not-found' : 'internal', `lstat ${p}: ${why}`, code);
  }
}

/** Docker's ResolvePath + StatPath: the parent resolved in scope, the last component not. */
function statPath(original: string): { stat: ContainerPathStat; resolved: string; abs: string } {
  const abs = containerAbsPath(original);
  const [dir, base] = goSplit(abs);
  const resolvedDir = followSymlinkInScope(dir, links);
  const resolved = `${resolvedDir === '/' ? '' : resolvedDir}/${base}`;
  const st = lstat(resolved);
  let linkTarget = '';
  if (st.isSymbolicLink()) linkTarget = followSymlinkInScope(abs, links);
  const stat: ContainerPathStat = {
    name: goBase(abs),
    size: Number(st.size),
    mode: goFileMode(Number(st.mode)),
    mtime: goTimeJSON(st.mtimeMs / 1000n, st.mtimeNs % 1_000_000_000n),
    linkTarget,
  };
  return { stat, resolved, abs };
}

/** Docker's CreateIfNotExists for a mount point, inside the chroot. */
function createIfNotExists(dest: string, dir: boolean): void {
  if (fs.lstatSync(dest, { throwIfNoEntry: false })) return;
  if (dir) {
    fs.mkdirSync(dest, { recursive: true, mode: 0o755 });
    return;
  }
  fs.mkdirSync(dest.slice(0, dest.lastIndexOf('/')) || '/', { recursive: true, mode: 0o755 });
  fs.closeSync(fs.openSync(dest, fs.constants.O_CREAT | fs.constants.O_WRONLY | fs.constants.O_NOFOLLOW, 0o755));
}

/** Docker's init layer entries, for export (the runtime's mount points; daemon/initlayer). */
const INIT_LAYER: Array<[string, TarHeader['type'], string?]> = [
  ['dev', 'directory'],
  ['dev/pts', 'directory'],
  ['dev/shm', 'directory'],
  ['proc', 'directory'],
  ['sys', 'directory'],
  ['.dockerenv', 'file'],
  ['etc', 'directory'],
  ['etc/resolv.conf', 'file'],
  ['etc/hosts', 'file'],
  ['etc/hostname', 'file'],
  ['dev/console', 'file'],
  ['etc/mtab', 'symlink', '/proc/mounts'],
];

async function run(op: string, a: HelperArgs, send: (r: HelperResult) => void): Promise<void> {
  switch (op) {
    case 'stat': {
      const { stat } = statPath(a.path ?? '');
      send({ ok: true, stat });
      return;
    }
    case 'get': {
      const { stat, resolved, abs } = statPath(a.path ?? '');
      send({ ok: true, stat });
      const source = goClean(resolved);
      const rebase = goBase(abs);
      await pipeline(tarDirectory(source, { includeRoot: rebase, xattrs: 'capability' }), process.stdout);
      return;
    }
    case 'put': {
      const abs = containerAbsPath(a.path ?? '');
      const resolved = followSymlinkInScope(abs, links);
      const st = lstat(resolved);
      if (!st.isDirectory()) throw new HelperError('internal', 'extraction point is not a directory');
      const where = inMount(resolved, a.mounts ?? []);
      if (where === 'read-only') throw new HelperError('internal', 'mounted volume is marked read-only'); // Docker wraps it as a system error: 500
      if (where === false && a.readonlyRootfs) throw new HelperError('internal', 'container rootfs is marked read-only');
      // the daemon decompressed the body: a compressed stream now would run a filter
      // program (zstd) inside the container's root, so it is refused
      if (detectCompression(await peek(process.stdin, 4)) !== 'none') throw new HelperError('invalid-argument', 'nested compressed archives are not supported');
      await extractTar(process.stdin, resolved, {
        noOverwriteDirNonDir: a.noOverwriteDirNonDir === true,
        ...(a.chown ? { chown: a.chown } : {}),
      });
      send({ ok: true });
      return;
    }
    case 'export': {
      const now = Math.floor(Date.now() / 1000);
      const append: TarHeader[] = [];
      for (const [rel, type, linkname] of INIT_LAYER) {
        if (fs.lstatSync(`/${rel}`, { throwIfNoEntry: false })) continue;
        const mode = type === 'directory' ? 0o40755 : type === 'symlink' ? 0o120777 : 0o100755;
        append.push({ name: rel, type, mode, uid: 0, gid: 0, size: 0, mtime: now, ...(linkname ? { linkname } : {}) });
      }
      await pipeline(tarDirectory('/', { xattrs: 'capability', append }), process.stdout);
      send({ ok: true });
      return;
    }
    default:
      throw new HelperError('internal', `unknown archive helper operation ${op}`);
  }
}

async function main(): Promise<void> {
  const control = fs.createWriteStream('', { fd: CONTROL_FD });
  let sent = false;
  const send = (r: HelperResult) => {
    if (sent) return;
    sent = true;
    control.write(`${JSON.stringify(r)}\n`);
  };
  try {
    const op = process.argv[2] ?? '';
    const a = JSON.parse(process.argv[3] ?? '{}') as HelperArgs;
    // everything that could be loaded lazily is loaded now, before the chroot
    const sys = nativeSys();
    createHash('sha256').update('').digest();
    zlib.createGunzip().close();
    // the mount sources, taken on the host side (trusted paths from the container's config)
    const trees = (a.attach ?? []).map((m) => ({ ...m, dir: fs.statSync(m.source).isDirectory(), fd: sys.openTree(m.source, m.readOnly) }));
    const rootFd = fs.openSync(a.root, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    sys.chrootFd(rootFd);
    fs.closeSync(rootFd);
    // from here on every path is the container's
    for (const t of trees) {
      const dest = followSymlinkInScope(t.destination, links);
      createIfNotExists(dest, t.dir);
      sys.moveMount(t.fd, dest);
      fs.closeSync(t.fd);
    }
    await run(op, a, send);
  } catch (err) {
    if (err instanceof HelperError) send({ ok: false, kind: err.kind, message: err.message, ...(err.code ? { code: err.code } : {}) });
    else if (isStevedoreError(err)) send({ ok: false, kind: kindOf(err), message: err.message });
    else send({ ok: false, kind: 'internal', message: err instanceof Error ? err.message : String(err), ...(errnoCode(err) ? { code: errnoCode(err) } : {}) });
    process.exitCode = 1;
  } finally {
    await new Promise<void>((resolve) => control.end(resolve));
  }
}

if (require.main === module) void main();
