import type { Migration } from '../metadata/db';

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
];
