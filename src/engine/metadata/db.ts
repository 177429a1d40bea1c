/**
 * MetadataDB: the SQLite database that is the one source of truth for engine objects.
 * Each module brings its own migrations; they are applied once each, in the order given,
 * each in its own transaction, and recorded by id in `schema_migrations`.
 *
 * Pragmas: WAL, foreign_keys=ON, synchronous=FULL (see docs/storage.md for why FULL).
 */
import BetterSqlite3 from 'better-sqlite3';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { invalidArgument } from '../errdefs';

/** The raw better-sqlite3 handle. */
export type Database = BetterSqlite3.Database;

/** A schema change owned by one module. `id` must never change once released (e.g. 'snapshots/001-create'). */
export interface Migration {
  id: string;
  up(db: Database): void;
}

export class MetadataDB {
  private constructor(
    /** The raw handle, for prepared statements. Prefer `tx` for writes. */
    readonly raw: Database,
  ) {}

  /**
   * Opens (creating if needed) the database at `file` (':memory:' for tests) and applies
   * the migrations not yet applied. Throws invalid-argument on duplicate migration ids.
   */
  static open(file: string, migrations: Migration[] = []): MetadataDB {
    if (file !== ':memory:') fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
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
      const db = new MetadataDB(raw);
      db.migrate(migrations);
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
      this.tx(() => {
        if (done.get(m.id)) return;
        m.up(this.raw);
        record.run(m.id, Date.now());
        applied.push(m.id);
      });
    }
    return applied;
  }

  /**
   * Runs `fn` in a transaction (`BEGIN IMMEDIATE`, so it takes the write lock up front)
   * and returns its result; rolls back if it throws. `fn` must be synchronous.
   * Nested calls become savepoints of the enclosing transaction.
   */
  tx<T>(fn: (db: Database) => T): T {
    return this.raw.transaction(() => fn(this.raw)).immediate();
  }

  /** Whether a transaction is open on this connection. */
  get inTransaction(): boolean {
    return this.raw.inTransaction;
  }

  close(): void {
    this.raw.close();
  }
}
