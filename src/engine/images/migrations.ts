import type { Migration } from '../metadata/db';
import { LEGACY_NAMESPACE } from '../metadata/namespaces';

/** Schema of the image store (see docs/images.md). Needs the gc migrations (gc_refs). */
export const imageMigrations: Migration[] = [
  {
    id: 'images/001-create',
    up(db) {
      db.exec(`
        CREATE TABLE images (
          id              TEXT PRIMARY KEY,
          manifest_digest TEXT,
          layers          TEXT NOT NULL DEFAULT '[]',
          chain_id        TEXT,
          parent          TEXT,
          created_at      INTEGER NOT NULL,
          last_tag_time   INTEGER
        ) STRICT;
        CREATE TABLE image_refs (
          ref        TEXT PRIMARY KEY,
          image_id   TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
          created_at INTEGER NOT NULL
        ) STRICT;
        CREATE INDEX image_refs_image ON image_refs(image_id);
      `);
    },
  },
  {
    // images and references belong to a namespace; existing ones are the Docker front end's
    id: 'images/002-namespaces',
    rebuildsTables: true,
    up(db) {
      db.exec(`
        CREATE TABLE images_v2 (
          namespace       TEXT NOT NULL,
          id              TEXT NOT NULL,
          manifest_digest TEXT,
          layers          TEXT NOT NULL DEFAULT '[]',
          chain_id        TEXT,
          parent          TEXT,
          created_at      INTEGER NOT NULL,
          last_tag_time   INTEGER,
          PRIMARY KEY (namespace, id)
        ) STRICT;
        CREATE TABLE image_refs_v2 (
          namespace  TEXT NOT NULL,
          ref        TEXT NOT NULL,
          image_id   TEXT NOT NULL,
          created_at INTEGER NOT NULL,
          PRIMARY KEY (namespace, ref),
          FOREIGN KEY (namespace, image_id) REFERENCES images(namespace, id) ON DELETE CASCADE
        ) STRICT;
      `);
      db.prepare(
        `INSERT INTO images_v2 (namespace, id, manifest_digest, layers, chain_id, parent, created_at, last_tag_time)
         SELECT ?, id, manifest_digest, layers, chain_id, parent, created_at, last_tag_time FROM images`,
      ).run(LEGACY_NAMESPACE);
      db.prepare('INSERT INTO image_refs_v2 (namespace, ref, image_id, created_at) SELECT ?, ref, image_id, created_at FROM image_refs').run(LEGACY_NAMESPACE);
      db.exec(`
        DROP TABLE image_refs;
        DROP TABLE images;
        ALTER TABLE images_v2 RENAME TO images;
        ALTER TABLE image_refs_v2 RENAME TO image_refs;
        CREATE INDEX image_refs_image ON image_refs(namespace, image_id);
      `);
    },
  },
];
