import type { Migration } from '../metadata/db';
import { LEGACY_NAMESPACE } from '../metadata/namespaces';

/** Schema of the overlay snapshotter (see docs/storage.md). */
export const snapshotMigrations: Migration[] = [
  {
    id: 'snapshots/001-create',
    up(db) {
      db.exec(`
        CREATE TABLE snapshots (
          id         INTEGER PRIMARY KEY AUTOINCREMENT,
          key        TEXT NOT NULL UNIQUE,
          parent_id  INTEGER REFERENCES snapshots(id) ON DELETE RESTRICT,
          kind       TEXT NOT NULL CHECK (kind IN ('active', 'view', 'committed')),
          link       TEXT NOT NULL UNIQUE,
          labels     TEXT NOT NULL DEFAULT '{}',
          created_at INTEGER NOT NULL,
          updated_at INTEGER NOT NULL
        ) STRICT;
        CREATE INDEX snapshots_parent ON snapshots(parent_id);
      `);
    },
  },
  {
    // keys become unique per namespace; existing snapshots are the Docker front end's.
    // The row ids (the directory names) and the AUTOINCREMENT sequence are kept.
    id: 'snapshots/002-namespaces',
    rebuildsTables: true,
    up(db) {
      const seq = db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'snapshots'").pluck().get() as number | undefined;
      db.exec(`
        CREATE TABLE snapshots_v2 (
          id         INTEGER PRIMARY KEY AUTOINCREMENT,
          namespace  TEXT NOT NULL,
          key        TEXT NOT NULL,
          parent_id  INTEGER REFERENCES snapshots(id) ON DELETE RESTRICT,
          kind       TEXT NOT NULL CHECK (kind IN ('active', 'view', 'committed')),
          link       TEXT NOT NULL UNIQUE,
          labels     TEXT NOT NULL DEFAULT '{}',
          created_at INTEGER NOT NULL,
          updated_at INTEGER NOT NULL,
          UNIQUE (namespace, key)
        ) STRICT;
      `);
      db.prepare(
        `INSERT INTO snapshots_v2 (id, namespace, key, parent_id, kind, link, labels, created_at, updated_at)
         SELECT id, ?, key, parent_id, kind, link, labels, created_at, updated_at FROM snapshots ORDER BY id`,
      ).run(LEGACY_NAMESPACE);
      db.exec(`
        DROP TABLE snapshots;
        ALTER TABLE snapshots_v2 RENAME TO snapshots;
        CREATE INDEX snapshots_parent ON snapshots(parent_id);
      `);
      if (seq !== undefined) db.prepare("UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = 'snapshots'").run(seq);
    },
  },
];
