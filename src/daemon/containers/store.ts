/**
 * ContainerStore: the containers table of the metadata database, behind a small
 * interface. Every write is one transaction; readers get copies (callers mutate a copy
 * and `save` it).
 */
import { conflict, notFound } from '../../engine/errdefs';
import type { Database, MetadataDB, Migration } from '../../engine/metadata';
import type { ContainerRecord } from './model';

export const containerMigrations: Migration[] = [
  {
    id: 'containers/001-create',
    up(db: Database) {
      db.exec(`CREATE TABLE containers (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        created TEXT NOT NULL,
        image TEXT NOT NULL,
        snapshot_key TEXT NOT NULL,
        restart_count INTEGER NOT NULL DEFAULT 0,
        state TEXT NOT NULL,
        config TEXT NOT NULL,
        host_config TEXT NOT NULL,
        extra TEXT NOT NULL
      ) STRICT`);
    },
  },
];

interface Row {
  id: string;
  name: string;
  created: string;
  image: string;
  snapshot_key: string;
  restart_count: number;
  state: string;
  config: string;
  host_config: string;
  extra: string;
}

function toRecord(r: Row): ContainerRecord {
  const extra = JSON.parse(r.extra) as { imageRef: string; parentSnapshot?: string; path: string; args: string[] };
  return {
    id: r.id,
    name: r.name,
    created: r.created,
    image: r.image,
    imageRef: extra.imageRef,
    parentSnapshot: extra.parentSnapshot,
    snapshotKey: r.snapshot_key,
    path: extra.path,
    args: extra.args,
    restartCount: r.restart_count,
    state: JSON.parse(r.state),
    config: JSON.parse(r.config),
    hostConfig: JSON.parse(r.host_config),
  };
}

function toParams(c: ContainerRecord): Row {
  return {
    id: c.id,
    name: c.name,
    created: c.created,
    image: c.image,
    snapshot_key: c.snapshotKey,
    restart_count: c.restartCount,
    state: JSON.stringify(c.state),
    config: JSON.stringify(c.config),
    host_config: JSON.stringify(c.hostConfig),
    extra: JSON.stringify({ imageRef: c.imageRef, parentSnapshot: c.parentSnapshot, path: c.path, args: c.args }),
  };
}

export class ContainerStore {
  constructor(private readonly db: MetadataDB) {}

  /** Inserts a new container. Throws conflict when the name is taken. `also` runs in the same transaction. */
  insert(c: ContainerRecord, also?: (db: Database) => void): void {
    this.db.tx((raw) => {
      const other = raw.prepare('SELECT id FROM containers WHERE name = ?').get(c.name) as { id: string } | undefined;
      if (other) throw nameConflict(c.name, other.id);
      raw
        .prepare(
          `INSERT INTO containers (id, name, created, image, snapshot_key, restart_count, state, config, host_config, extra)
           VALUES (@id, @name, @created, @image, @snapshot_key, @restart_count, @state, @config, @host_config, @extra)`,
        )
        .run(toParams(c));
      also?.(raw);
    });
  }

  /** Replaces a container's row. Throws not-found if it is gone, conflict on a name clash. */
  save(c: ContainerRecord): void {
    this.db.tx((raw) => {
      const other = raw.prepare('SELECT id FROM containers WHERE name = ? AND id != ?').get(c.name, c.id) as { id: string } | undefined;
      if (other) throw nameConflict(c.name, other.id);
      const r = raw
        .prepare(
          `UPDATE containers SET name=@name, created=@created, image=@image, snapshot_key=@snapshot_key,
           restart_count=@restart_count, state=@state, config=@config, host_config=@host_config, extra=@extra WHERE id=@id`,
        )
        .run(toParams(c));
      if (r.changes === 0) throw notFound(`No such container: ${c.id}`);
    });
  }

  /** Deletes the row; `also` runs in the same transaction. */
  delete(id: string, also?: (db: Database) => void): void {
    this.db.tx((raw) => {
      raw.prepare('DELETE FROM containers WHERE id = ?').run(id);
      also?.(raw);
    });
  }

  get(id: string): ContainerRecord | undefined {
    const r = this.db.raw.prepare('SELECT * FROM containers WHERE id = ?').get(id) as Row | undefined;
    return r ? toRecord(r) : undefined;
  }

  /** Every container, oldest first. */
  all(): ContainerRecord[] {
    return (this.db.raw.prepare('SELECT * FROM containers ORDER BY created, id').all() as Row[]).map(toRecord);
  }
}

export function nameConflict(name: string, id: string) {
  return conflict(
    `Conflict. The container name "${name}" is already in use by container "${id}". You have to remove (or rename) that container to be able to reuse that name.`,
  );
}

/** The container holds its snapshot (the GC's reference; absent table = no GC module). */
export function addGcRef(db: Database, id: string): void {
  try {
    db.prepare('INSERT OR IGNORE INTO gc_refs (owner_kind, owner_id, resource_kind, resource_id) VALUES (?, ?, ?, ?)').run('container', id, 'snapshot', id);
  } catch (err) {
    if (!/no such table/.test(String(err))) throw err;
  }
}

export function removeGcRef(db: Database, id: string): void {
  try {
    db.prepare('DELETE FROM gc_refs WHERE owner_kind = ? AND owner_id = ?').run('container', id);
  } catch (err) {
    if (!/no such table/.test(String(err))) throw err;
  }
}
