/**
 * What the daemon remembers about blobs and registries, in the metadata database
 * (Docker keeps the same in its `distribution/v2metadata`):
 * - `distribution_layers`: for a layer stored uncompressed (import, commit, load), the
 *   gzip blob we pushed for it — so a re-push names the same blob ("Layer already
 *   exists") and the pushed manifest stays the same;
 * - `distribution_sources`: which repositories (`domain/path`) are known to hold a
 *   blob, for cross-repository mounts on push.
 * Nothing here holds credentials.
 */
import type { Descriptor } from '../../engine/content';
import type { MetadataDB, Migration } from '../../engine/metadata/db';

export const distributionMigrations: Migration[] = [
  {
    id: 'distribution/001-create',
    up(db) {
      db.exec(`
        CREATE TABLE distribution_layers (
          diff_id    TEXT PRIMARY KEY,
          digest     TEXT NOT NULL,
          media_type TEXT NOT NULL,
          size       INTEGER NOT NULL
        ) STRICT;
        CREATE TABLE distribution_sources (
          digest     TEXT NOT NULL,
          repository TEXT NOT NULL,
          added_at   INTEGER NOT NULL,
          PRIMARY KEY (digest, repository)
        ) STRICT, WITHOUT ROWID;
      `);
    },
  },
];

/** Sources kept per blob (the most recent win). */
const MAX_SOURCES = 8;

export class DistributionMetadata {
  /** @param db the daemon's metadata database; applies this module's migrations. */
  constructor(private readonly db: MetadataDB) {
    db.migrate(distributionMigrations);
  }

  /** The compressed blob pushed for an uncompressed layer, if any. */
  compressedFor(diffID: string): Descriptor | undefined {
    const r = this.db.raw.prepare('SELECT digest, media_type AS mediaType, size FROM distribution_layers WHERE diff_id = ?').get(diffID) as Descriptor | undefined;
    return r && { mediaType: r.mediaType, digest: r.digest, size: r.size };
  }

  setCompressed(diffID: string, desc: Descriptor): void {
    this.db.tx((raw) =>
      raw.prepare('INSERT INTO distribution_layers (diff_id, digest, media_type, size) VALUES (?, ?, ?, ?) ON CONFLICT(diff_id) DO UPDATE SET digest = excluded.digest, media_type = excluded.media_type, size = excluded.size').run(diffID, desc.digest, desc.mediaType, desc.size),
    );
  }

  forgetCompressed(diffID: string): void {
    this.db.tx((raw) => raw.prepare('DELETE FROM distribution_layers WHERE diff_id = ?').run(diffID));
  }

  /** Records that `repository` (`domain/path`) holds these blobs. */
  addSources(digests: string[], repository: string, now = Date.now()): void {
    this.db.tx((raw) => {
      const ins = raw.prepare('INSERT INTO distribution_sources (digest, repository, added_at) VALUES (?, ?, ?) ON CONFLICT(digest, repository) DO UPDATE SET added_at = excluded.added_at');
      const trim = raw.prepare('DELETE FROM distribution_sources WHERE digest = ? AND repository NOT IN (SELECT repository FROM distribution_sources WHERE digest = ? ORDER BY added_at DESC, repository LIMIT ?)');
      for (const d of new Set(digests)) {
        ins.run(d, repository, now);
        trim.run(d, d, MAX_SOURCES);
      }
    });
  }

  /** Repositories known to hold `digest`, most recent first. */
  sources(digest: string): string[] {
    return this.db.raw.prepare('SELECT repository FROM distribution_sources WHERE digest = ? ORDER BY added_at DESC, repository').pluck().all(digest) as string[];
  }
}
