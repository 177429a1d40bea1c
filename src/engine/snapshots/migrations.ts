import type { Migration } from '../metadata/db';

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
];
