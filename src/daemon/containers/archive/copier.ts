/**
 * `docker cp`, `docker export` and `docker diff` over a container's files (moby's
 * daemon/archive.go, export.go, changes.go), for the archive routes.
 *
 * The daemon reads and writes the container's files itself, with no process per
 * request: each operation opens a RootView (rootview.ts) — a detached mount tree of the
 * container's root file system with its volumes, binds and /etc/resolv.conf, /etc/hostname
 * and /etc/hosts moved onto it, never the runtime's /proc, /sys, /dev or tmpfs mounts —
 * and resolves every path in it with openat2(RESOLVE_IN_ROOT), then streams the tar on
 * directory fds (fdtar.ts). No path the container controls is ever resolved against the
 * host's root (docs/archive.md, "Confinement"). The root file system is the one the
 * lifecycle mounted for a running or paused container (`<bundle>/rootfs`), or for any
 * other its writable snapshot mounted for the operation and unmounted after. Export
 * reads the root file system alone (Docker exports the container's layer, not its mounts).
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { decompressor, detectCompression, peek } from '../../../engine/archive/compression';
import type { TarHeader } from '../../../engine/archive/tarheader';
import { errnoCode, internal, invalidArgument, isStevedoreError, notFound } from '../../../engine/errdefs';
import type { Logger } from '../../../engine/log';
import type { Mount } from '../../../engine/mount/types';
import { parseBindSpec } from '../hostconfig';
import type { ContainerRecord } from '../model';
import { extractAt, tarAt } from './fdtar';
import { containerAbsPath, followSymlinkInScope, goBase, goFileMode, goSplit, goTimeJSON, inMount, type ContainerPathStat } from './paths';
import { at, closeQuietly, O_PATH, RESOLVE_SCOPED, RootView, viewNative, type ViewMount, type ViewNative } from './rootview';
import { containerChanges, type Change } from './changes';

/** What the copier needs of the containers. */
export interface ArchiveContainers {
  /** Resolves a reference; throws not-found. */
  get(ref: string): ContainerRecord;
  /** Publishes a container event (`archive-path`, `extract-to-dir`, `export`). */
  emit(id: string, action: string, extra?: Record<string, string>): void;
  /** where a running container's root file system is mounted in the daemon's namespace */
  rootfsDir(id: string): string;
  /** the container's files: resolv.conf, hostname, hosts */
  paths(id: string): { resolvConf: string; hostname: string; hosts: string };
  /** Holds the container's lifecycle lock (start/stop/remove wait) until the returned function is called. */
  hold?(id: string): Promise<() => void>;
}

/** One of a container's mounts (the volume service's mount table entry). */
export interface MountTableEntry {
  destination: string;
  /** host path; '' for tmpfs */
  source: string;
  type: 'bind' | 'volume' | 'tmpfs';
  readOnly: boolean;
}

/** What the copier needs of the snapshots and the mounter. */
export interface ArchiveStorage {
  mounts(key: string): Promise<Mount[]>;
  mountAll(mounts: Mount[], target: string): void;
  unmount(target: string): void;
}

export interface ContainerCopierOptions {
  containers: ArchiveContainers;
  storage: ArchiveStorage;
  /** a private directory for temporary mounts (under the exec root) */
  tmpDir: string;
  log: Logger;
  /** the host's passwd file, for copyUIDGID (Docker looks the user up on the host) */
  passwdFile?: string;
  /** the addon's calls (tests); default the addon */
  sys?: ViewNative;
  /** the container's mounts (volumes/service.ts mountTable); default: its Binds and Mounts of type bind */
  mountTable?: (ref: string) => MountTableEntry[];
}

/** A container root mounted for one operation. */
interface Root {
  /** the host directory where the root file system is mounted */
  dir: string;
  /** mounted for this operation (a stopped container's snapshot), unmounted by release */
  temporary: boolean;
  release(): void;
}

/** The copy-to options of `PUT /containers/{id}/archive`. */
export interface ExtractOptions {
  noOverwriteDirNonDir?: boolean;
  copyUIDGID?: boolean;
  signal?: AbortSignal;
}

const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW } = fs.constants;

/** A path the container does not have: Docker's "Could not find the file" (with the path and container as the client gave them). */
class PathNotFound extends Error {}

function copyError(err: unknown, ref: string, p: string): unknown {
  if (err instanceof PathNotFound) return notFound(`Could not find the file ${p} in container ${ref}`);
  if (isStevedoreError(err)) return err;
  const code = errnoCode(err);
  if (code === 'ENOENT') return notFound(`Could not find the file ${p} in container ${ref}`);
  return internal(err instanceof Error ? err.message : String(err), err);
}

/** A path's stat as Docker's ResolvePath + StatPath: the parent resolved in scope, the last component not. */
export interface StatIn {
  stat: ContainerPathStat;
  /** the cleaned container path, keeping a trailing `/.` or `/` */
  abs: string;
  /** the resolved parent directory (O_PATH); the caller closes it */
  dirFd: number;
  /** the node's name under dirFd ('.' = dirFd itself) */
  name: string;
}

export function statIn(v: RootView, original: string): StatIn {
  const abs = containerAbsPath(original);
  const [dir, base] = goSplit(abs);
  const resolvedDir = followSymlinkInScope(dir, v);
  let dirFd: number;
  try {
    dirFd = v.open(resolvedDir, O_PATH | O_DIRECTORY);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new PathNotFound();
    throw err;
  }
  try {
    const name = base === '' || base === '.' ? '.' : base;
    let st: fs.BigIntStats;
    try {
      st = name === '.' ? fs.fstatSync(dirFd, { bigint: true }) : fs.lstatSync(at(dirFd, name), { bigint: true });
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') throw new PathNotFound();
      throw internal(`lstat ${resolvedDir === '/' ? '' : resolvedDir}/${base}: ${errnoCode(err) ?? String(err)}`);
    }
    const stat: ContainerPathStat = {
      name: goBase(abs),
      size: Number(st.size),
      mode: goFileMode(Number(st.mode)),
      mtime: goTimeJSON(st.mtimeMs / 1000n, st.mtimeNs % 1_000_000_000n),
      linkTarget: st.isSymbolicLink() ? followSymlinkInScope(abs, v) : '',
    };
    return { stat, abs, dirFd, name };
  } catch (err) {
    closeQuietly(dirFd);
    throw err;
  }
}

/** Whether the container path exists (a link counts, not followed). */
function exists(v: RootView, rel: string): boolean {
  try {
    closeQuietly(v.open(rel, O_PATH | O_NOFOLLOW, RESOLVE_SCOPED));
    return true;
  } catch {
    return false;
  }
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

export class ContainerCopier {
  private readonly sys: ViewNative;

  constructor(private readonly o: ContainerCopierOptions) {
    this.sys = o.sys ?? viewNative();
  }

  /** HEAD: Docker's ContainerStatPath. Throws not-found "Could not find the file …". */
  async statPath(ref: string, p: string): Promise<ContainerPathStat> {
    const c = this.o.containers.get(ref);
    const root = await this.openRoot(c);
    let v: RootView | undefined;
    try {
      v = this.view(c, root);
      const s = statIn(v, p);
      closeQuietly(s.dirFd);
      return s.stat;
    } catch (err) {
      throw copyError(err, ref, p);
    } finally {
      // the answer does not wait for the tree's unmount, unless a snapshot mounted for
      // this request is to be unmounted after it
      const done = (v?.close() ?? Promise.resolve()).then(() => root.release());
      if (root.temporary) await done;
    }
  }

  /**
   * GET: Docker's ContainerArchivePath: the stat and a tar of the path, its entries
   * named after the path's last component. The stream ends the copy (and unmounts).
   */
  async archivePath(ref: string, p: string, _signal?: AbortSignal): Promise<{ stat: ContainerPathStat; tar: Readable }> {
    const c = this.o.containers.get(ref);
    const root = await this.openRoot(c);
    let v: RootView | undefined;
    let dirFd = -1;
    try {
      v = this.view(c, root);
      const s = statIn(v, p);
      dirFd = s.dirFd;
      const tar = tarAt(this.sys, dirFd, s.name, { rebase: goBase(s.abs) });
      const view = v;
      const fd = dirFd;
      tar.once('close', () => {
        closeQuietly(fd);
        void view.close().then(() => root.release());
      });
      this.o.containers.emit(c.id, 'archive-path');
      return { stat: s.stat, tar };
    } catch (err) {
      if (dirFd >= 0) closeQuietly(dirFd);
      await v?.close();
      root.release();
      throw copyError(err, ref, p);
    }
  }

  /** PUT: Docker's ContainerExtractToDir. The body may be gzip or zstd compressed. */
  async extractToDir(ref: string, p: string, body: Readable, o: ExtractOptions = {}): Promise<void> {
    const c = this.o.containers.get(ref);
    const chown = o.copyUIDGID ? this.copyOwner(c) : undefined;
    const root = await this.openRoot(c);
    const state = { fed: false };
    let v: RootView | undefined;
    try {
      const args = this.args(c);
      v = RootView.open(root.dir, args.attach, this.sys);
      await this.extractIn(c, v, args.mounts, p, body, o, chown, state);
      this.o.containers.emit(c.id, 'extract-to-dir');
    } catch (err) {
      if (!state.fed) body.resume();
      throw copyError(err, ref, p);
    } finally {
      const done = (v?.close() ?? Promise.resolve()).then(() => root.release());
      if (root.temporary) await done;
    }
  }

  /** PUT's work in a view: Docker's checks of the destination, then the extraction. */
  private async extractIn(c: ContainerRecord, v: RootView, mounts: Array<{ destination: string; rw: boolean }>, p: string, body: Readable, o: ExtractOptions, chown: { uid: number; gid: number } | undefined, state: { fed: boolean }): Promise<void> {
    const abs = containerAbsPath(p);
    const resolved = followSymlinkInScope(abs, v);
    let fd: number;
    try {
      fd = v.open(resolved, O_RDONLY | O_DIRECTORY);
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'ENOENT') throw new PathNotFound();
      if (code === 'ENOTDIR') throw internal('extraction point is not a directory');
      throw err;
    }
    try {
      const where = inMount(resolved, mounts);
      if (where === 'read-only') throw internal('mounted volume is marked read-only'); // Docker wraps it as a system error: 500
      if (where === false && c.hostConfig.ReadonlyRootfs === true) throw internal('container rootfs is marked read-only');
      // decompressed here; a compressed stream inside it is refused (Docker would run
      // a filter program for it)
      const kind = detectCompression(await peek(body, 4));
      // the extractor destroys its input when it fails: it gets a stream of its own,
      // and the request body is drained instead, so the error can still be answered
      const plain = new PassThrough({ highWaterMark: 1024 * 1024 });
      const first = kind === 'none' ? plain : decompressor(kind);
      if (first !== plain) first.pipe(plain);
      first.on('error', (err) => plain.destroy(err));
      body.on('error', (err) => plain.destroy(err));
      body.pipe(first);
      plain.once('close', () => {
        body.unpipe(first);
        body.resume();
      });
      state.fed = true;
      if (detectCompression(await peek(plain, 4)) !== 'none') {
        plain.destroy();
        throw invalidArgument('nested compressed archives are not supported');
      }
      const onAbort = () => plain.destroy(internal('the client went away'));
      o.signal?.addEventListener('abort', onAbort, { once: true });
      try {
        await extractAt(this.sys, fd, plain, { noOverwriteDirNonDir: o.noOverwriteDirNonDir === true, ...(chown ? { chown } : {}) });
      } catch (err) {
        if (isStevedoreError(err)) throw err;
        throw internal(`failed to extract archive: ${err instanceof Error ? err.message : String(err)}`, err);
      } finally {
        o.signal?.removeEventListener('abort', onAbort);
      }
    } finally {
      closeQuietly(fd);
    }
  }

  /** `GET /containers/{id}/export`: the container's file system (its layer over the image, no mounts) as a tar. */
  async export(ref: string, _signal?: AbortSignal): Promise<Readable> {
    const c = this.o.containers.get(ref);
    const root = await this.openRoot(c);
    let v: RootView | undefined;
    try {
      v = RootView.open(root.dir, [], this.sys);
      const now = Math.floor(Date.now() / 1000);
      const append: TarHeader[] = [];
      for (const [rel, type, linkname] of INIT_LAYER) {
        if (exists(v, rel)) continue;
        const mode = type === 'directory' ? 0o40755 : type === 'symlink' ? 0o120777 : 0o100755;
        append.push({ name: rel, type, mode, uid: 0, gid: 0, size: 0, mtime: now, ...(linkname ? { linkname } : {}) });
      }
      const tar = tarAt(this.sys, v.fd, '.', { rebase: '', append });
      const view = v;
      tar.once('close', () => void view.close().then(() => root.release()));
      this.o.containers.emit(c.id, 'export');
      return tar;
    } catch (err) {
      await v?.close();
      root.release();
      throw err;
    }
  }

  /** `GET /containers/{id}/changes`: Docker's overlay changes of the writable layer. */
  async changes(ref: string): Promise<Change[]> {
    const c = this.o.containers.get(ref);
    return containerChanges(await this.o.storage.mounts(c.snapshotKey));
  }

  // ---------- internals ----------

  /** The view's mounts (Docker's setupMounts: volumes and binds by depth, then the network files that exist) and the mount points. */
  private args(c: ContainerRecord): { attach: ViewMount[]; mounts: Array<{ destination: string; rw: boolean }> } {
    const table = this.mountTable(c);
    const ro = c.hostConfig.ReadonlyRootfs === true;
    const files = this.o.containers.paths(c.id);
    const attach = table
      .filter((m) => m.type !== 'tmpfs' && m.source !== '')
      .sort((x, y) => depth(x.destination) - depth(y.destination))
      .map((m) => ({ source: m.source, destination: m.destination, readOnly: m.readOnly }));
    for (const [destination, source] of [['/etc/resolv.conf', files.resolvConf], ['/etc/hostname', files.hostname], ['/etc/hosts', files.hosts]] as const) {
      if (fs.existsSync(source)) attach.push({ source, destination, readOnly: ro });
    }
    return { attach, mounts: table.map((m) => ({ destination: m.destination, rw: !m.readOnly })) };
  }

  private view(c: ContainerRecord, root: Root): RootView {
    return RootView.open(root.dir, this.args(c).attach, this.sys);
  }

  private mountTable(c: ContainerRecord): MountTableEntry[] {
    if (this.o.mountTable) return this.o.mountTable(c.id);
    return mountPoints(c);
  }

  /** Docker's tarCopyOptions: the container's configured user, looked up in the host's passwd file (as Docker 20.10 does). */
  private copyOwner(c: ContainerRecord): { uid: number; gid: number } | undefined {
    const user = c.config.User ?? '';
    if (user === '') return undefined;
    const lines = fs.readFileSync(this.o.passwdFile ?? '/etc/passwd', 'utf8').split('\n').map((l) => l.split(':'));
    const byName = lines.find((f) => f.length >= 4 && f[0] === user);
    const byId = /^\d+$/.test(user) ? lines.find((f) => f.length >= 4 && f[2] === user) : undefined;
    const hit = byName ?? byId;
    if (!hit) throw internal(`getent unable to find entry "${user}" in passwd database`);
    return { uid: Number(hit[2]), gid: Number(hit[3]) };
  }

  /** The container's root file system: where the lifecycle mounted it while it runs, else its snapshot mounted here. */
  private async openRoot(c: ContainerRecord): Promise<Root> {
    const running = (x: ContainerRecord) => (x.state.status === 'running' || x.state.status === 'paused') && x.state.pid > 0;
    if (running(c)) return { dir: this.o.containers.rootfsDir(c.id), temporary: false, release: () => undefined };
    // A stopped container: its snapshot is mounted here for the copy, under the
    // container's lock, so that a start (which mounts the same upper directory) or a
    // remove waits until the copy has ended and the snapshot is unmounted.
    const unlock = (await this.o.containers.hold?.(c.id)) ?? (() => undefined);
    try {
      const now = this.o.containers.get(c.id);
      if (running(now)) {
        unlock(); // started while we waited: the lifecycle's mount is the root
        return { dir: this.o.containers.rootfsDir(c.id), temporary: false, release: () => undefined };
      }
      const mounts = await this.o.storage.mounts(now.snapshotKey);
      fs.mkdirSync(this.o.tmpDir, { recursive: true, mode: 0o700 });
      const target = path.join(this.o.tmpDir, `${c.id.slice(0, 12)}-${randomBytes(4).toString('hex')}`);
      fs.mkdirSync(target, { mode: 0o700 });
      try {
        this.o.storage.mountAll(mounts, target);
      } catch (err) {
        fs.rmdirSync(target);
        throw err;
      }
      return {
        dir: target,
        temporary: true,
        release: once(() => {
          try {
            this.unmount(target);
          } finally {
            unlock();
          }
        }),
      };
    } catch (err) {
      unlock();
      throw err;
    }
  }

  private unmount(target: string): void {
    try {
      this.o.storage.unmount(target);
      fs.rmdirSync(target);
    } catch (err) {
      this.o.log.warn('cannot unmount a container root mounted for a copy', { target, err: String(err) });
    }
  }
}

/** A container's bind mounts from its HostConfig (without the volume service): Binds host paths and Mounts of type bind and tmpfs. */
export function mountPoints(c: ContainerRecord): MountTableEntry[] {
  const out: MountTableEntry[] = [];
  for (const b of c.hostConfig.Binds ?? []) {
    try {
      const m = parseBindSpec(b);
      if (m.type === 'bind') out.push({ destination: m.destination, source: m.source, type: 'bind', readOnly: m.readOnly });
    } catch {
      // refused at create; never here
    }
  }
  for (const m of c.hostConfig.Mounts ?? []) {
    if (!m.Target || (m.Type !== 'bind' && m.Type !== 'tmpfs')) continue;
    out.push({ destination: path.posix.normalize(m.Target), source: m.Type === 'bind' ? (m.Source ?? '') : '', type: m.Type, readOnly: m.ReadOnly === true });
  }
  return out;
}

const depth = (p: string) => p.split('/').filter(Boolean).length;

function once(f: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    f();
  };
}

