import type { Migration } from '../metadata/db';

/** Schema of garbage collection roots and leases (see docs/storage.md). */
export const gcMigrations: Migration[] = [
  {
    id: 'gc/001-create',
    up(db) {
      db.exec(`
        CREATE TABLE leases (
          id         TEXT PRIMARY KEY,
          created_at INTEGER NOT NULL,
          expires_at INTEGER,
          labels     TEXT NOT NULL DEFAULT '{}'
        ) STRICT;
        CREATE TABLE gc_refs (
          owner_kind    TEXT NOT NULL,
          owner_id      TEXT NOT NULL,
          resource_kind TEXT NOT NULL CHECK (resource_kind IN ('content', 'snapshot', 'ingest')),
          resource_id   TEXT NOT NULL,
          PRIMARY KEY (owner_kind, owner_id, resource_kind, resource_id)
        ) STRICT, WITHOUT ROWID;
        CREATE INDEX gc_refs_resource ON gc_refs (resource_kind, resource_id);
      `);
    },
  },
];
