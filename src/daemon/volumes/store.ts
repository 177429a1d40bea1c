/**
 * VolumeStore: the volumes table of the metadata database (one row per volume of the
 * Docker front end's namespace). The volume's data lives under `<data-root>/volumes/<name>`
 * (local.ts); the row is what makes it a volume: its driver, creation time, labels and
 * driver options. Which containers use a volume is not stored here: it is read from the
 * containers' recorded mount points (service.ts), as moby rebuilds its references.
 */
import { conflict } from '../../engine/errdefs';
import { MOBY_NAMESPACE, validateNamespace, type Database, type MetadataDB, type Migration } from '../../engine/metadata';

export const volumeMigrations: Migration[] = [
  {
    id: 'volumes/001-create',
    up(db: Database) {
      db.exec(`CREATE TABLE volumes (
        namespace TEXT NOT NULL,
        name TEXT NOT NULL,
        driver TEXT NOT NULL,
        created_at TEXT NOT NULL,
        labels TEXT,
        options TEXT,
        PRIMARY KEY (namespace, name)
      ) STRICT`);
    },
  },
  {
    // whether the volume was created without a name (`-v /path`, an image's VOLUME, a
    // nameless `volume create`): what /volumes/prune takes by default from API 1.42
    // (Docker marks these with the label com.docker.volume.anonymous; the flag keeps
    // Labels as 20.10 shows them)
    id: 'volumes/002-anonymous',
    up(db: Database) {
      db.exec('ALTER TABLE volumes ADD COLUMN anonymous INTEGER NOT NULL DEFAULT 0');
    },
  },
];

/** One volume as stored. `labels`/`options` are null when none were given (Docker shows `null`). */
export interface VolumeRecord {
  name: string;
  driver: string;
  /** RFC 3339, seconds, UTC: `2026-12-02T15:16:10Z` */
  createdAt: string;
  labels: Record<string, string> | null;
  options: Record<string, string> | null;
  /** created without a name (see migration 002); absent means false */
  anonymous?: boolean;
}

interface Row {
  name: string;
  driver: string;
  created_at: string;
  labels: string | null;
  options: string | null;
  anonymous: number;
}

const toRecord = (r: Row): VolumeRecord => ({
  name: r.name,
  driver: r.driver,
  createdAt: r.created_at,
  labels: r.labels === null ? null : (JSON.parse(r.labels) as Record<string, string>),
  options: r.options === null ? null : (JSON.parse(r.options) as Record<string, string>),
  ...(r.anonymous ? { anonymous: true } : {}),
});

export class VolumeStore {
  readonly namespace: string;

  constructor(
    private readonly db: MetadataDB,
    opts: { namespace?: string } = {},
  ) {
    db.migrate(volumeMigrations);
    this.namespace = validateNamespace(opts.namespace ?? MOBY_NAMESPACE);
  }

  /** Inserts a new volume. Throws conflict when the name is taken. */
  insert(v: VolumeRecord): void {
    this.db.tx((raw) => {
      if (raw.prepare('SELECT 1 FROM volumes WHERE namespace = ? AND name = ?').get(this.namespace, v.name)) throw conflict(`volume ${v.name} already exists`);
      raw
        .prepare('INSERT INTO volumes (namespace, name, driver, created_at, labels, options, anonymous) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(this.namespace, v.name, v.driver, v.createdAt, v.labels === null ? null : JSON.stringify(v.labels), v.options === null ? null : JSON.stringify(v.options), v.anonymous ? 1 : 0);
    });
  }

  get(name: string): VolumeRecord | undefined {
    const r = this.db.raw.prepare('SELECT name, driver, created_at, labels, options, anonymous FROM volumes WHERE namespace = ? AND name = ?').get(this.namespace, name) as Row | undefined;
    return r ? toRecord(r) : undefined;
  }

  /** Every volume, by name. */
  all(): VolumeRecord[] {
    return (this.db.raw.prepare('SELECT name, driver, created_at, labels, options, anonymous FROM volumes WHERE namespace = ? ORDER BY name').all(this.namespace) as Row[]).map(toRecord);
  }

  delete(name: string): void {
    this.db.tx((raw) => raw.prepare('DELETE FROM volumes WHERE namespace = ? AND name = ?').run(this.namespace, name));
  }
}
