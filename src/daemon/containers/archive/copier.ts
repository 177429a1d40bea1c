/**
 * `docker cp`, `docker export` and `docker diff` over a container's files (moby's
 * daemon/archive.go, export.go, changes.go), for the archive routes.
 *
 * Every access to the container's files goes through the helper (helper.ts): a child
 * process in a private mount namespace, chrooted into the container's root file system,
 * so no path the container controls is ever resolved against the host's root. The root
 * file system is the one the lifecycle mounted for a running or paused container
 * (`<bundle>/rootfs`), or for any other its writable snapshot mounted for the operation
 * and unmounted after. As in Docker, the copy sees the container's volumes and binds
 * and its /etc/resolv.conf, /etc/hostname and /etc/hosts at their places (the helper
 * attaches them), never the runtime's /proc, /sys, /dev or tmpfs mounts. Export reads
 * the root file system alone (Docker exports the container's layer, not its mounts).
 */
import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { decompressor, detectCompression, peek } from '../../../engine/archive/compression';
import { internal, notFound, StevedoreError, type ErrorKind } from '../../../engine/errdefs';
import type { Logger } from '../../../engine/log';
import type { Mount } from '../../../engine/mount/types';
import { parseBindSpec } from '../hostconfig';
import type { ContainerRecord } from '../model';
import type { HelperArgs, HelperResult } from './helper';
import type { ContainerPathStat } from './paths';
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
  /** unshare(1); default /usr/bin/unshare */
  unshare?: string;
  /** the helper script; default the compiled helper.js beside this file */
  helper?: string;
  /** the container's mounts (volumes/service.ts mountTable); default: its Binds and Mounts of type bind */
  mountTable?: (ref: string) => MountTableEntry[];
}

/** A container root mounted for one operation. */
interface Root {
  /** the host directory where the root file system is mounted */
  dir: string;
  release(): void;
}

/** The copy-to options of `PUT /containers/{id}/archive`. */
export interface ExtractOptions {
  noOverwriteDirNonDir?: boolean;
  copyUIDGID?: boolean;
  signal?: AbortSignal;
}

const KINDS = new Set<ErrorKind>(['not-found', 'invalid-argument', 'conflict', 'forbidden', 'not-implemented', 'internal']);

export class ContainerCopier {
  constructor(private readonly o: ContainerCopierOptions) {}

  /** HEAD: Docker's ContainerStatPath. Throws not-found "Could not find the file …". */
  async statPath(ref: string, p: string): Promise<ContainerPathStat> {
    const c = this.o.containers.get(ref);
    const root = await this.openRoot(c);
    try {
      const h = this.spawnHelper('stat', root, this.args(c, root, { path: p }));
      const r = await h.result;
      return this.check(r, ref, p).stat!;
    } finally {
      root.release();
    }
  }

  /**
   * GET: Docker's ContainerArchivePath: the stat and a tar of the path, its entries
   * named after the path's last component. The stream ends the copy (and unmounts).
   */
  async archivePath(ref: string, p: string, signal?: AbortSignal): Promise<{ stat: ContainerPathStat; tar: Readable }> {
    const c = this.o.containers.get(ref);
    const root = await this.openRoot(c);
    try {
      const h = this.spawnHelper('get', root, this.args(c, root, { path: p }), signal);
      const stat = this.check(await h.result, ref, p).stat!;
      const out = relay(h.child, root);
      this.o.containers.emit(c.id, 'archive-path');
      return { stat, tar: out };
    } catch (err) {
      root.release();
      throw err;
    }
  }

  /** PUT: Docker's ContainerExtractToDir. The body may be gzip or zstd compressed. */
  async extractToDir(ref: string, p: string, body: Readable, o: ExtractOptions = {}): Promise<void> {
    const c = this.o.containers.get(ref);
    const chown = o.copyUIDGID ? this.copyOwner(c) : undefined;
    const root = await this.openRoot(c);
    try {
      const h = this.spawnHelper('put', root, this.args(c, root, { path: p, noOverwriteDirNonDir: o.noOverwriteDirNonDir === true, ...(chown ? { chown } : {}) }), o.signal);
      // decompression runs here, never in the helper (zstd is a program, and the helper
      // must run nothing from the container's root)
      const kind = detectCompression(await peek(body, 4));
      const feed = pipeline(kind === 'none' ? [body, h.child.stdin!] : [body, decompressor(kind), h.child.stdin!] as never).catch(() => undefined);
      const r = await h.result;
      if (!r.ok) body.resume();
      await feed;
      this.check(r, ref, p);
      this.o.containers.emit(c.id, 'extract-to-dir');
    } finally {
      root.release();
    }
  }

  /** `GET /containers/{id}/export`: the container's file system (its layer over the image, no mounts) as a tar. */
  async export(ref: string, signal?: AbortSignal): Promise<Readable> {
    const c = this.o.containers.get(ref);
    const root = await this.openRoot(c);
    try {
      const h = this.spawnHelper('export', root, { root: root.dir }, signal);
      const out = relay(h.child, root, h.result);
      this.o.containers.emit(c.id, 'export');
      return out;
    } catch (err) {
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

  private args(c: ContainerRecord, root: Root, a: Omit<HelperArgs, 'root'>): HelperArgs {
    const table = this.mountTable(c);
    const ro = c.hostConfig.ReadonlyRootfs === true;
    const files = this.o.containers.paths(c.id);
    // Docker's setupMounts: volumes and binds by depth, then the network files (that exist)
    const attach = table
      .filter((m) => m.type !== 'tmpfs' && m.source !== '')
      .sort((x, y) => depth(x.destination) - depth(y.destination))
      .map((m) => ({ source: m.source, destination: m.destination, readOnly: m.readOnly }));
    for (const [destination, source] of [['/etc/resolv.conf', files.resolvConf], ['/etc/hostname', files.hostname], ['/etc/hosts', files.hosts]] as const) {
      if (fs.existsSync(source)) attach.push({ source, destination, readOnly: ro });
    }
    return { ...a, root: root.dir, attach, mounts: table.map((m) => ({ destination: m.destination, rw: !m.readOnly })), readonlyRootfs: ro };
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
    if (running(c)) return { dir: this.o.containers.rootfsDir(c.id), release: () => undefined };
    // A stopped container: its snapshot is mounted here for the copy, under the
    // container's lock, so that a start (which mounts the same upper directory) or a
    // remove waits until the copy has ended and the snapshot is unmounted.
    const unlock = (await this.o.containers.hold?.(c.id)) ?? (() => undefined);
    try {
      const now = this.o.containers.get(c.id);
      if (running(now)) {
        unlock(); // started while we waited: the lifecycle's mount is the root
        return { dir: this.o.containers.rootfsDir(c.id), release: () => undefined };
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

  private spawnHelper(op: string, _root: Root, a: HelperArgs, signal?: AbortSignal): { child: ChildProcess; result: Promise<HelperResult> } {
    const script = this.o.helper ?? path.join(__dirname, 'helper.js');
    // a mount namespace of its own from its first instruction (unshare(1) of the host, run
    // before any chroot): the mounts it attaches stay private to it and go with it
    const child = spawn(this.o.unshare ?? '/usr/bin/unshare', ['--mount', '--propagation', 'private', process.execPath, script, op, JSON.stringify(a)], {
      stdio: [op === 'put' ? 'pipe' : 'ignore', op === 'get' || op === 'export' ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      env: {},
      ...(signal ? { signal, killSignal: 'SIGKILL' as const } : {}),
    });
    child.on('error', () => undefined);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => {
      if (stderr.length < 4096) stderr += d.toString();
    });
    const control = child.stdio[3] as Readable;
    const result = new Promise<HelperResult>((resolve) => {
      let text = '';
      control.on('data', (d: Buffer) => {
        text += d.toString();
        const nl = text.indexOf('\n');
        if (nl >= 0) resolve(JSON.parse(text.slice(0, nl)) as HelperResult);
      });
      child.on('close', (code, sig) => {
        resolve({ ok: false, kind: 'internal', message: `archive helper ended (${sig ?? code}) without an answer${stderr ? `: ${stderr.trim()}` : ''}` });
      });
    });
    return { child, result };
  }

  /** Turns a helper's result into Docker's errors. */
  private check(r: HelperResult, ref: string, p: string): Extract<HelperResult, { ok: true }> {
    if (r.ok) return r;
    if (r.kind === 'path-not-found') throw notFound(`Could not find the file ${p} in container ${ref}`);
    const kind = KINDS.has(r.kind as ErrorKind) ? (r.kind as ErrorKind) : 'internal';
    throw new StevedoreError(kind, r.message);
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

/**
 * The helper's tar as a stream that ends only when the helper ended well (and, for
 * export, answered ok): a helper that fails half-way makes it fail, never end as if
 * complete. The root is released when the helper is gone.
 */
function relay(child: ChildProcess, root: Root, result?: Promise<HelperResult>): Readable {
  const out = new PassThrough({ highWaterMark: 1024 * 1024 });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  void pipeline(child.stdout!, out, { end: false })
    .then(async () => {
      const code = await exited;
      const r = result ? await result : { ok: true as const };
      if (code === 0 && r.ok) out.end();
      else out.destroy(internal(r.ok ? `archive helper exited with ${code}` : r.message));
    })
    .catch((err: unknown) => {
      child.kill('SIGKILL');
      out.destroy(err instanceof Error ? err : internal(String(err)));
    })
    .finally(() => void exited.then(() => root.release()));
  return out;
}

function once(f: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    f();
  };
}

