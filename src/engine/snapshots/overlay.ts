/**
 * OverlaySnapshotter: snapshots as overlayfs layers under `<root>/snapshots`:
 *   <id>/fs     the snapshot's own layer (overlay upperdir while active)
 *   <id>/work   overlay workdir
 *   l/<link>    short symlink → ../<id>/fs, used in lowerdir lists so deep chains fit
 *               in one page (see engine/mount/overlay-options.ts)
 * Rows live in the `snapshots` table (migrations.ts). Directories are created before
 * the row that points at them is committed and removed after it is deleted.
 *
 * Keys and names are per namespace (engine/metadata/namespaces.ts): an instance works in
 * one namespace, and `withNamespace` gives another namespace's view of the same files.
 * Directories, links and crash repair (`cleanup`, `recover`) span all namespaces.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { conflict, errnoCode, invalidArgument, notFound } from '../errdefs';
import type { Database, MetadataDB } from '../metadata/db';
import { DEFAULT_NAMESPACE, validateNamespace } from '../metadata/namespaces';
import { mountsUnder } from '../mount/mount';
import type { Mount, SnapshotDirs, SnapshotInfo, SnapshotKind, Snapshotter, Usage } from './types';

interface Row {
  id: number;
  key: string;
  parent_id: number | null;
  kind: SnapshotKind;
  link: string;
  labels: string;
  created_at: number;
  updated_at: number;
}

const LINK_ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
const LINK_LENGTH = 12;
const MAX_KEY_LENGTH = 1024;

/** What `recover` repaired. */
export interface RecoverReport {
  removedDirs: number;
  removedLinks: number;
  removedRows: string[];
  repairedLinks: number;
}

export class OverlaySnapshotter implements Snapshotter, SnapshotDirs {
  /** `<root>/snapshots` */
  readonly dir: string;
  readonly linkDir: string;
  /** the namespace this instance's keys and names live in */
  readonly namespace: string;
  private readonly indexOff: boolean;

  /**
   * @param root the data root; snapshots live in `<root>/snapshots`. It must not contain
   *   ',' or ':' (overlay option separators).
   * @param db a database migrated with `snapshotMigrations`.
   * @param opts.namespace the namespace of keys and names (default `default`)
   */
  constructor(
    private readonly root: string,
    private readonly db: MetadataDB,
    opts: { namespace?: string } = {},
  ) {
    this.dir = path.join(path.resolve(root), 'snapshots');
    if (/[,:]/.test(this.dir)) throw invalidArgument(`snapshot root ${this.dir} must not contain ',' or ':'`);
    this.linkDir = path.join(this.dir, 'l');
    this.namespace = validateNamespace(opts.namespace ?? DEFAULT_NAMESPACE);
    this.indexOff = fs.existsSync('/sys/module/overlay/parameters/index');
  }

  /** The same snapshotter (same files, same database) working in namespace `ns`. */
  withNamespace(ns: string): OverlaySnapshotter {
    return ns === this.namespace ? this : new OverlaySnapshotter(this.root, this.db, { namespace: ns });
  }

  /** The namespaces that hold snapshots. */
  namespaces(): string[] {
    return this.db.raw.prepare('SELECT DISTINCT namespace FROM snapshots ORDER BY namespace').pluck().all() as string[];
  }

  /**
   * The directory an active snapshot's writes go to (the overlay upperdir, or the bind
   * source of a snapshot without parents). Throws not-found, or invalid-argument for a
   * view or committed snapshot.
   */
  upperDir(key: string): string {
    const row = this.row(key);
    if (row.kind !== 'active') throw invalidArgument(`snapshot ${key} is ${row.kind === 'view' ? 'a view' : 'committed'} and has no writable layer`);
    return this.fsDir(row.id);
  }

  /**
   * Where a snapshot's files are: its own layer (`fs`), the overlay work dir, and the
   * directory holding both (Docker shows these as GraphDriver data). Undefined when the
   * snapshot does not exist.
   */
  dirsOf(keyOrName: string): { home: string; fs: string; work: string } | undefined {
    const row = this.find(keyOrName);
    if (!row) return undefined;
    const home = path.join(this.dir, String(row.id));
    return { home, fs: path.join(home, 'fs'), work: path.join(home, 'work') };
  }

  /**
   * The snapshotter's own description of an active snapshot's layout, as Docker's
   * overlay2 graph driver shows it in inspect's `GraphDriver`: the layers below it
   * (top first, ':'-separated), its writable layer and its work dir. Undefined when
   * the snapshot does not exist or is not active.
   */
  driverData(key: string): { name: string; data: { LowerDir?: string; UpperDir: string; WorkDir: string } } | undefined {
    const row = this.find(key);
    if (!row || row.kind !== 'active') return undefined;
    const lower = this.chain(row)
      .slice(1)
      .map((p) => this.fsDir(p.id))
      .join(':');
    const data = { ...(lower ? { LowerDir: lower } : {}), UpperDir: this.fsDir(row.id), WorkDir: path.join(this.dir, String(row.id), 'work') };
    return { name: 'overlay2', data };
  }

  async prepare(key: string, parent?: string, opts: { labels?: Record<string, string> } = {}): Promise<Mount[]> {
    return this.mountsOf(this.create('active', key, parent, opts.labels));
  }

  async view(key: string, parent?: string, opts: { labels?: Record<string, string> } = {}): Promise<Mount[]> {
    return this.mountsOf(this.create('view', key, parent, opts.labels));
  }

  async mounts(key: string): Promise<Mount[]> {
    const row = this.row(key);
    if (row.kind === 'committed') throw invalidArgument(`snapshot ${key} is committed and cannot be mounted; view or prepare over it`);
    return this.mountsOf(row);
  }

  async commit(name: string, key: string, opts: { labels?: Record<string, string> } = {}): Promise<void> {
    checkKey(name);
    const labels = checkLabels(opts.labels);
    this.db.tx((raw) => {
      const row = this.row(key);
      if (row.kind !== 'active') throw invalidArgument(`snapshot ${key} is ${row.kind === 'view' ? 'a view' : 'already committed'} and cannot be committed`);
      if (this.find(name)) throw conflict(`snapshot ${name}: already exists`);
      const merged = { ...(JSON.parse(row.labels) as Record<string, string>), ...labels };
      raw
        .prepare("UPDATE snapshots SET key = ?, kind = 'committed', labels = ?, updated_at = ? WHERE id = ?")
        .run(name, JSON.stringify(merged), Date.now(), row.id);
    });
  }

  async remove(keyOrName: string): Promise<void> {
    return this.removeWith(keyOrName, () => {});
  }

  /**
   * `remove`, with `also` run in the same transaction as the row's delete (one commit,
   * one fsync, for an owner's row that goes with the snapshot: a container's). The files
   * go after the commit — or, with `opts.files`, are handed to the caller as a function
   * that removes them off the JS thread, to run when it suits it (a container's removal:
   * after it is reported). Throws what `remove` throws, or what `also` throws (then
   * nothing is removed).
   */
  async removeWith(keyOrName: string, also: (db: Database) => void, opts: { files?: (remove: () => Promise<void>) => void } = {}): Promise<void> {
    const row = this.db.tx((raw) => {
      const r = this.row(keyOrName);
      // (children are in the same namespace: parents are looked up in the child's)
      const children = raw.prepare('SELECT count(*) FROM snapshots WHERE parent_id = ?').pluck().get(r.id) as number;
      if (children > 0) throw conflict(`cannot remove snapshot ${keyOrName}: it has ${children} child snapshot(s)`);
      raw.prepare('DELETE FROM snapshots WHERE id = ?').run(r.id);
      also(raw);
      return r;
    });
    // the row is gone; now the files. A failure here leaves an orphan that recover()/cleanup() removes.
    if (opts.files) opts.files(() => this.removeFilesAsync(row.id, row.link));
    else this.removeFiles(row.id, row.link);
  }

  /** removeFiles on libuv's threads; refuses (leaves an orphan for cleanup) when something is mounted under it. */
  private async removeFilesAsync(id: number, link: string): Promise<void> {
    await fs.promises.rm(path.join(this.linkDir, link), { force: true });
    const dir = path.join(this.dir, String(id));
    if (mountsUnder(dir).length > 0) return;
    await fs.promises.rm(dir, { recursive: true, force: true, maxRetries: 2 });
  }

  async stat(keyOrName: string): Promise<SnapshotInfo> {
    return this.toInfo(this.row(keyOrName));
  }

  async usage(keyOrName: string): Promise<Usage> {
    const row = this.row(keyOrName);
    return diskUsage(this.fsDir(row.id));
  }

  async *walk(): AsyncIterable<SnapshotInfo> {
    const rows = this.db.raw.prepare('SELECT * FROM snapshots WHERE namespace = ? ORDER BY id').all(this.namespace) as Row[];
    const byId = new Map(rows.map((r) => [r.id, r]));
    for (const r of rows) yield this.toInfo(r, byId);
  }

  /**
   * Removes directories and links that no row points at (leftovers of a crash between
   * mkdir and insert, or of a failed file removal). Skips anything with a mount under it.
   * Returns the counts removed.
   */
  cleanup(): { removedDirs: number; removedLinks: number } {
    const names = readdirOrEmpty(this.dir);
    const links = readdirOrEmpty(this.linkDir);
    const rows = this.db.raw.prepare('SELECT id, link FROM snapshots').all() as { id: number; link: string }[];
    const ids = new Set(rows.map((r) => String(r.id)));
    const linkNames = new Set(rows.map((r) => r.link));
    let removedDirs = 0;
    let removedLinks = 0;
    for (const name of names) {
      if (name === 'l' || ids.has(name)) continue;
      if (this.removeTree(path.join(this.dir, name))) removedDirs++;
    }
    for (const name of links) {
      if (linkNames.has(name)) continue;
      fs.rmSync(path.join(this.linkDir, name), { force: true });
      removedLinks++;
    }
    return { removedDirs, removedLinks };
  }

  /**
   * Startup repair after a crash: `cleanup()`, then rows whose directory vanished are
   * deleted together with their descendants (children first), and missing links of the
   * remaining rows are recreated.
   */
  recover(): RecoverReport {
    const { removedDirs, removedLinks } = this.cleanup();
    const removedRows: string[] = [];
    let repairedLinks = 0;
    this.db.tx((raw) => {
      const rows = raw.prepare('SELECT * FROM snapshots ORDER BY id').all() as Row[];
      const broken = new Set(rows.filter((r) => !fs.existsSync(this.fsDir(r.id))).map((r) => r.id));
      // rows are in id order and parents always have smaller ids than their children
      for (const r of rows) if (r.parent_id !== null && broken.has(r.parent_id)) broken.add(r.id);
      const del = raw.prepare('DELETE FROM snapshots WHERE id = ?');
      for (const r of [...rows].reverse()) {
        if (!broken.has(r.id)) continue;
        del.run(r.id);
        removedRows.push(r.key);
      }
      for (const r of rows) {
        if (broken.has(r.id)) continue;
        const link = path.join(this.linkDir, r.link);
        if (readlinkOrUndefined(link) !== this.linkTarget(r.id)) {
          fs.rmSync(link, { force: true });
          fs.mkdirSync(this.linkDir, { recursive: true, mode: 0o700 });
          fs.symlinkSync(this.linkTarget(r.id), link);
          repairedLinks++;
        }
      }
    });
    // the deleted rows' leftovers (work dirs, links) are orphans now
    const again = this.cleanup();
    return { removedDirs: removedDirs + again.removedDirs, removedLinks: removedLinks + again.removedLinks, removedRows, repairedLinks };
  }

  // ---- internals ----

  private fsDir(id: number): string {
    return path.join(this.dir, String(id), 'fs');
  }

  private linkTarget(id: number): string {
    return `../${id}/fs`;
  }

  private find(keyOrName: string): Row | undefined {
    return this.db.raw.prepare('SELECT * FROM snapshots WHERE namespace = ? AND key = ?').get(this.namespace, keyOrName) as Row | undefined;
  }

  private row(keyOrName: string): Row {
    checkKey(keyOrName);
    const r = this.find(keyOrName);
    if (!r) throw notFound(`snapshot ${keyOrName} does not exist`);
    return r;
  }

  /** Creates the directories and the row in one synchronous transaction. */
  private create(kind: 'active' | 'view', key: string, parent: string | undefined, labels?: Record<string, string>): Row {
    checkKey(key);
    const labelJson = JSON.stringify(checkLabels(labels));
    return this.db.tx((raw) => {
      if (this.find(key)) throw conflict(`snapshot ${key}: already exists`);
      let parentId: number | null = null;
      if (parent !== undefined) {
        checkKey(parent);
        const p = this.find(parent);
        if (!p) throw notFound(`parent snapshot ${parent} does not exist`);
        if (p.kind !== 'committed') throw invalidArgument(`parent snapshot ${parent} is not committed`);
        parentId = p.id;
      }
      let link = newLink();
      while (raw.prepare('SELECT 1 FROM snapshots WHERE link = ?').get(link)) link = newLink();
      const now = Date.now();
      const id = Number(
        raw
          .prepare('INSERT INTO snapshots (namespace, key, parent_id, kind, link, labels, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
          .run(this.namespace, key, parentId, kind, link, labelJson, now, now).lastInsertRowid,
      );
      // files before the row becomes visible: the transaction commits after this returns
      this.makeFiles(id, link);
      return raw.prepare('SELECT * FROM snapshots WHERE id = ?').get(id) as Row;
    });
  }

  private makeFiles(id: number, link: string): void {
    const dir = path.join(this.dir, String(id));
    fs.mkdirSync(this.linkDir, { recursive: true, mode: 0o700 });
    try {
      fs.mkdirSync(dir, { mode: 0o700 });
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') throw err;
      // a leftover of a crashed, rolled-back create with the same id: no row points at it
      if (!this.removeTree(dir)) throw err;
      fs.mkdirSync(dir, { mode: 0o700 });
    }
    try {
      fs.mkdirSync(path.join(dir, 'fs'), { mode: 0o755 });
      fs.mkdirSync(path.join(dir, 'work'), { mode: 0o700 });
      fs.symlinkSync(this.linkTarget(id), path.join(this.linkDir, link));
    } catch (err) {
      this.removeFiles(id, link);
      throw err;
    }
  }

  private removeFiles(id: number, link: string): void {
    fs.rmSync(path.join(this.linkDir, link), { force: true });
    this.removeTree(path.join(this.dir, String(id)));
  }

  /** rm -rf, refused (false) if anything is mounted at or under `dir`. */
  private removeTree(dir: string): boolean {
    if (mountsUnder(dir).length > 0) return false;
    fs.rmSync(dir, { recursive: true, force: true });
    return true;
  }

  private chain(row: Row): Row[] {
    return this.db.raw
      .prepare(
        `WITH RECURSIVE chain(id, depth) AS (
           SELECT ?, 0
           UNION ALL SELECT s.parent_id, c.depth + 1 FROM snapshots s JOIN chain c ON s.id = c.id WHERE s.parent_id IS NOT NULL
         )
         SELECT s.* FROM chain c JOIN snapshots s ON s.id = c.id ORDER BY c.depth`,
      )
      .all(row.id) as Row[];
  }

  private mountsOf(row: Row): Mount[] {
    const parents = this.chain(row).slice(1);
    const ro = row.kind === 'view';
    if (parents.length === 0) {
      return [{ type: 'bind', source: this.fsDir(row.id), options: ['rbind', ro ? 'ro' : 'rw'] }];
    }
    if (ro && parents.length === 1) {
      return [{ type: 'bind', source: this.fsDir(parents[0].id), options: ['rbind', 'ro'] }];
    }
    const options = ['lowerdir=' + parents.map((p) => path.join(this.linkDir, p.link)).join(':')];
    if (!ro) options.push(`upperdir=${this.fsDir(row.id)}`, `workdir=${path.join(this.dir, String(row.id), 'work')}`);
    if (this.indexOff) options.push('index=off');
    return [{ type: 'overlay', source: 'overlay', options }];
  }

  private toInfo(r: Row, byId?: Map<number, Row>): SnapshotInfo {
    let parent: string | undefined;
    if (r.parent_id !== null) {
      const p = byId?.get(r.parent_id) ?? (this.db.raw.prepare('SELECT * FROM snapshots WHERE id = ?').get(r.parent_id) as Row);
      parent = p.key;
    }
    const info: SnapshotInfo = {
      name: r.key,
      kind: r.kind,
      createdAt: new Date(r.created_at),
      updatedAt: new Date(r.updated_at),
      labels: JSON.parse(r.labels) as Record<string, string>,
    };
    if (parent !== undefined) info.parent = parent;
    return info;
  }
}

function newLink(): string {
  const bytes = randomBytes(LINK_LENGTH);
  let s = '';
  for (const b of bytes) s += LINK_ALPHABET[b & 31];
  return s;
}

function checkKey(key: string): void {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH) {
    throw invalidArgument(`invalid snapshot key: must be 1 to ${MAX_KEY_LENGTH} characters`);
  }
}

function checkLabels(labels: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels ?? {})) {
    if (typeof v !== 'string') throw invalidArgument(`label ${k}: value must be a string`);
    out[k] = v;
  }
  return out;
}

function readlinkOrUndefined(p: string): string | undefined {
  try {
    return fs.readlinkSync(p);
  } catch {
    return undefined;
  }
}

function readdirOrEmpty(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return [];
    throw err;
  }
}

/** Apparent size and inode count of a tree, hard links counted once; does not follow symlinks. */
async function diskUsage(root: string): Promise<Usage> {
  const seen = new Set<string>();
  let size = 0;
  const stack = [root];
  while (stack.length > 0) {
    const p = stack.pop() as string;
    let st: fs.BigIntStats;
    try {
      st = await fsp.lstat(p, { bigint: true });
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') continue;
      throw err;
    }
    const id = `${st.dev}:${st.ino}`;
    if (p !== root) {
      if (seen.has(id)) continue;
      seen.add(id);
      if (!st.isDirectory()) size += Number(st.size);
    }
    if (st.isDirectory()) for (const name of await fsp.readdir(p)) stack.push(path.join(p, name));
  }
  return { size, inodes: seen.size };
}
