import type { Migration } from '../metadata/db';
import { LEGACY_NAMESPACE } from '../metadata/namespaces';

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
  {
    // leases and references belong to a namespace; existing ones are the Docker front end's
    id: 'gc/002-namespaces',
    rebuildsTables: true,
    up(db) {
      db.exec(`
        CREATE TABLE leases_v2 (
          namespace  TEXT NOT NULL,
          id         TEXT NOT NULL,
          created_at INTEGER NOT NULL,
          expires_at INTEGER,
          labels     TEXT NOT NULL DEFAULT '{}',
          PRIMARY KEY (namespace, id)
        ) STRICT;
        CREATE TABLE gc_refs_v2 (
          namespace     TEXT NOT NULL,
          owner_kind    TEXT NOT NULL,
          owner_id      TEXT NOT NULL,
          resource_kind TEXT NOT NULL CHECK (resource_kind IN ('content', 'snapshot', 'ingest')),
          resource_id   TEXT NOT NULL,
          PRIMARY KEY (namespace, owner_kind, owner_id, resource_kind, resource_id)
        ) STRICT, WITHOUT ROWID;
      `);
      db.prepare('INSERT INTO leases_v2 (namespace, id, created_at, expires_at, labels) SELECT ?, id, created_at, expires_at, labels FROM leases').run(LEGACY_NAMESPACE);
      db.prepare(
        `INSERT INTO gc_refs_v2 (namespace, owner_kind, owner_id, resource_kind, resource_id)
         SELECT ?, owner_kind, owner_id, resource_kind, resource_id FROM gc_refs`,
      ).run(LEGACY_NAMESPACE);
      db.exec(`
        DROP TABLE leases;
        DROP TABLE gc_refs;
        ALTER TABLE leases_v2 RENAME TO leases;
        ALTER TABLE gc_refs_v2 RENAME TO gc_refs;
        CREATE INDEX gc_refs_resource ON gc_refs (resource_kind, resource_id, namespace);
        CREATE INDEX leases_expires ON leases (expires_at) WHERE expires_at IS NOT NULL;
      `);
    },
  },
];
