/**
 * MetadataDB: the SQLite database that is the one source of truth for engine objects.
 * Each module brings its own migrations; they are applied once each, in the order given,
 * each in its own transaction, and recorded by id in `schema_migrations`.
 *
 * Pragmas: WAL, foreign_keys=ON, synchronous=FULL (see docs/storage.md for why FULL).
 *
 * Prepared statements are kept per SQL text on the handle (`raw.prepare` answers a kept
 * one): better-sqlite3 compiles on every `prepare`, and a container's create, start, exit
 * and removal prepared ~40 statements each time, ~2 ms of the daemon's thread per
 * `docker run --rm` (docs/benchmarks.md). A kept statement is handed out with its
 * pluck/expand/raw modes off, as a new one would be; the migrations clear the cache.
 *
 * A full disk: beside the database file lies a reserve (`<file>.reserve.<n>`, 16 MiB of
 * allocated zeros in 4 parts). A write that fails with SQLITE_FULL releases a part and
 * runs again, so
 * the writes that free space (prune, rm, a failed pull's cleanup) and the records of
 * exits still go through on a full data root, and so does opening the database at
 * start. The reserve is made again once the file system has room for it.
 */
import BetterSqlite3 from 'better-sqlite3';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { internal, invalidArgument } from '../errdefs';
import type { Logger } from '../log';

/** The raw better-sqlite3 handle. */
export type Database = BetterSqlite3.Database;

/** A schema change owned by one module. `id` must never change once released (e.g. 'snapshots/001-create'). */
export interface Migration {
  id: string;
  up(db: Database): void;
  /**
   * The migration rebuilds tables (SQLite cannot change a key in place: a new table is
   * made, the rows copied, the old one dropped and the new one renamed). Foreign-key
   * enforcement is off while it runs, so dropping a referenced table neither cascades
   * nor fails; before the transaction commits, `foreign_key_check` must find no broken
   * reference (SQLite's documented procedure for schema changes).
   */
  rebuildsTables?: boolean;
}

export interface MetadataDBOptions {
  /** bytes kept in reserve for a full disk (`<file>.reserve`); default 16 MiB, 0 for none */
  reserveBytes?: number;
  /** told when the reserve is released and made again (once each time) */
  log?: Logger;
}

/** Default size of the full-disk reserve. */
export const DEFAULT_RESERVE_BYTES = 16 * 1024 * 1024;

/** A write failed because the file system is full (SQLite maps ENOSPC to SQLITE_FULL). */
export function isDiskFull(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'SQLITE_FULL' || code === 'ENOSPC';
}

export class MetadataDB {
  private readonly statements: StatementCache;

  private constructor(
    /** The raw handle, for prepared statements (kept per SQL text). Prefer `tx` for writes. */
    readonly raw: Database,
    private readonly reserve: DiskReserve | undefined,
  ) {
    this.statements = new StatementCache(raw);
  }

  /**
   * Opens (creating if needed) the database at `file` (':memory:' for tests) and applies
   * the migrations not yet applied. Throws invalid-argument on duplicate migration ids.
   * On a full disk it releases the reserve (see the module comment) and tries again.
   */
  static open(file: string, migrations: Migration[] = [], opts: MetadataDBOptions = {}): MetadataDB {
    const bytes = opts.reserveBytes ?? DEFAULT_RESERVE_BYTES;
    const reserve = file !== ':memory:' && bytes > 0 ? new DiskReserve(`${file}.reserve`, bytes, opts.log) : undefined;
    if (file !== ':memory:') fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    for (;;) {
      try {
        return MetadataDB.openOnce(file, migrations, reserve);
      } catch (err) {
        if (!reserve || !isDiskFullOnOpen(err) || !reserve.release(err)) throw err;
      }
    }
  }

  private static openOnce(file: string, migrations: Migration[], reserve: DiskReserve | undefined): MetadataDB {
    const raw = new BetterSqlite3(file);
    try {
      raw.pragma('journal_mode = WAL');
      raw.pragma('synchronous = FULL');
      raw.pragma('foreign_keys = ON');
      raw.pragma('busy_timeout = 5000');
      raw.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
        id TEXT PRIMARY KEY,
        applied_at INTEGER NOT NULL
      ) STRICT`);
      const db = new MetadataDB(raw, reserve);
      db.migrate(migrations);
      reserve?.ensureSoon();
      return db;
    } catch (err) {
      raw.close();
      throw err;
    }
  }

  /** Applies the migrations of `migrations` not yet applied, in order; returns the ids applied now. */
  migrate(migrations: Migration[]): string[] {
    const ids = new Set<string>();
    for (const m of migrations) {
      if (ids.has(m.id)) throw invalidArgument(`duplicate migration id ${m.id}`);
      ids.add(m.id);
    }
    const done = this.raw.prepare('SELECT 1 FROM schema_migrations WHERE id = ?');
    const record = this.raw.prepare('INSERT INTO schema_migrations (id, applied_at) VALUES (?, ?)');
    const applied: string[] = [];
    for (const m of migrations) {
      if (done.get(m.id)) continue;
      // foreign_keys cannot change inside a transaction: switched off around it
      if (m.rebuildsTables) this.raw.pragma('foreign_keys = OFF');
      try {
        // (a tx may run twice on a full disk, see tx: nothing outside the database inside it)
        const ran = this.tx(() => {
          if (done.get(m.id)) return false;
          m.up(this.raw);
          if (m.rebuildsTables) {
            const broken = this.raw.pragma('foreign_key_check') as unknown[];
            if (broken.length > 0) throw invalidArgument(`migration ${m.id} leaves ${broken.length} broken foreign key reference(s)`);
          }
          record.run(m.id, Date.now());
          return true;
        });
        if (ran) applied.push(m.id);
      } finally {
        if (m.rebuildsTables) this.raw.pragma('foreign_keys = ON');
      }
    }
    // statements compiled against the old schema are not kept (SQLite would recompile them)
    if (applied.length) this.statements.clear();
    return applied;
  }

  /**
   * Runs `fn` in a transaction (`BEGIN IMMEDIATE`, so it takes the write lock up front)
   * and returns its result; rolls back if it throws. `fn` must be synchronous.
   * Nested calls become savepoints of the enclosing transaction. On a full disk
   * (SQLITE_FULL) a part of the reserve is released and `fn` runs again in a new
   * transaction, so `fn` must be safe to run twice (its database effects are rolled back).
   */
  tx<T>(fn: (db: Database) => T): T {
    const run = () => this.raw.transaction(() => fn(this.raw)).immediate();
    // a nested call is a savepoint: the outermost transaction retries as a whole
    if (!this.reserve || this.raw.inTransaction) return run();
    for (;;) {
      try {
        const out = run();
        this.reserve.ensureSoon();
        return out;
      } catch (err) {
        // a full disk: a part of the reserve gives the room for this write
        if (!isDiskFull(err) || !this.reserve.release(err)) throw err;
      }
    }
  }

  /** Whether a transaction is open on this connection. */
  get inTransaction(): boolean {
    return this.raw.inTransaction;
  }

  close(): void {
    void this.reserve?.close(); // a part being written finishes on its own (a temp name until renamed)
    this.raw.close();
  }

  /** Whether the whole full-disk reserve is in place (tests, diagnostics). */
  get reserveHeld(): boolean {
    return this.reserve?.held ?? false;
  }
}

/**
 * The handle's `prepare`, answering a statement already compiled for the same SQL text.
 * Bounded: past MAX texts (SQL built with a variable number of placeholders) it starts
 * over. Safe because better-sqlite3 runs a statement to its end within one call; the two
 * calls that would make a kept statement unsafe to share — `iterate` (its open cursor
 * makes the statement busy until the loop ends) and `bind` (it fixes the statement's
 * parameters for every later caller) — throw on a kept statement. A caller that sets a
 * mode holds the statement only for its own call (the next `prepare` of the same text
 * resets it).
 */
class StatementCache {
  private static readonly MAX = 512;
  private readonly kept = new Map<string, BetterSqlite3.Statement>();

  constructor(raw: Database) {
    const compile = raw.prepare.bind(raw);
    const kept = this.kept;
    const prepare = (sql: string): BetterSqlite3.Statement => {
      let s = kept.get(sql);
      if (s === undefined) {
        s = compile(sql);
        for (const call of ['iterate', 'bind']) {
          Object.defineProperty(s, call, {
            value: () => {
              throw internal(`${call} on a kept statement (MetadataDB's statement cache): ${sql}`);
            },
          });
        }
        if (kept.size >= StatementCache.MAX) kept.clear();
        kept.set(sql, s);
      } else if (s.reader) {
        s.pluck(false).expand(false).raw(false).safeIntegers(false);
      }
      return s;
    };
    Object.defineProperty(raw, 'prepare', { value: prepare, configurable: true, writable: true });
  }

  clear(): void {
    this.kept.clear();
  }
}

/** Opening can also fail with an I/O error when the `-shm`/`-wal` files cannot be made. */
function isDiskFullOnOpen(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return isDiskFull(err) || (typeof code === 'string' && (code.startsWith('SQLITE_IOERR') || code === 'SQLITE_CANTOPEN'));
}

/**
 * Space set aside on the database's file system: PARTS files of allocated zeros
 * (`<file>.reserve.<n>`), one removed each time a write finds the disk full, so that a
 * second full disk (a restart on a disk filled again, say) still finds one. Missing
 * parts are made again, off the writer's path and at most every RETRY_MS after a
 * successful write, when the file system has room for twice a part.
 */
class DiskReserve {
  private static readonly PARTS = 4;
  private static readonly RETRY_MS = 5000;
  private readonly part: number;
  private timer: NodeJS.Timeout | undefined;
  private making: Promise<void> | undefined;
  private lastTry = 0;
  private released = false;
  private closed = false;

  constructor(
    private readonly base: string,
    bytes: number,
    private readonly log: Logger | undefined,
  ) {
    this.part = Math.max(4096, Math.ceil(bytes / DiskReserve.PARTS));
  }

  private file(n: number): string {
    return `${this.base}.${n}`;
  }

  /** Whether every part is in place. */
  get held(): boolean {
    for (let n = 0; n < DiskReserve.PARTS; n++) if (!fs.existsSync(this.file(n))) return false;
    return true;
  }

  /** Removes one part; false when none is left. Logged once per full-disk episode. */
  release(err: unknown): boolean {
    for (let n = DiskReserve.PARTS - 1; n >= 0; n--) {
      try {
        fs.unlinkSync(this.file(n));
      } catch {
        continue;
      }
      if (!this.released) {
        this.log?.error('data root is full: releasing the metadata reserve so that cleanup and state records can be written', {
          reserve: this.base,
          err: String(err),
        });
      }
      this.released = true;
      return true;
    }
    return false;
  }

  /** Makes missing parts again, off the caller's path (checked at most every RETRY_MS). */
  ensureSoon(): void {
    if (this.timer || Date.now() - this.lastTry < DiskReserve.RETRY_MS) return;
    this.timer = setTimeout(() => {
      this.lastTry = Date.now();
      this.making = this.ensure().finally(() => {
        this.timer = undefined;
        this.making = undefined;
      });
    }, 0);
    this.timer.unref();
  }

  /** Creates each missing part while twice its size is free (written asynchronously, then fsync'd). */
  async ensure(): Promise<void> {
    for (let n = 0; n < DiskReserve.PARTS; n++) {
      if (this.closed) return;
      const file = this.file(n);
      if (fs.existsSync(file)) continue;
      try {
        const st = await fsp.statfs(path.dirname(file));
        if (st.bavail * st.bsize < 2 * this.part) return;
      } catch {
        return;
      }
      const tmp = `${file}.tmp`;
      try {
        const fh = await fsp.open(tmp, 'w', 0o600);
        try {
          const chunk = Buffer.alloc(Math.min(this.part, 1 << 20));
          for (let done = 0; done < this.part; done += chunk.length) await fh.write(chunk, 0, Math.min(chunk.length, this.part - done));
          await fh.sync();
        } finally {
          await fh.close();
        }
        await fsp.rename(tmp, file);
      } catch {
        await fsp.rm(tmp, { force: true });
        return;
      }
    }
    if (this.released) this.log?.info('metadata reserve made again', { reserve: this.base });
    this.released = false;
  }

  /** Stops making the reserve; resolves once a part being written is done. */
  close(): Promise<void> {
    this.closed = true;
    if (this.timer && !this.making) clearTimeout(this.timer);
    return this.making ?? Promise.resolve();
  }
}
