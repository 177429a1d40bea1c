/**
 * ContainerStore: the containers table of the metadata database, behind a small
 * interface. Every write is one transaction; readers get copies (callers mutate a copy
 * and `save` it).
 */
import { conflict, notFound } from '../../engine/errdefs';
import { LEGACY_NAMESPACE, MOBY_NAMESPACE, validateNamespace, type Database, type MetadataDB, type Migration } from '../../engine/metadata';
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
  {
    // ids and names are unique per namespace; existing containers are the Docker front end's
    id: 'containers/002-namespaces',
    rebuildsTables: true,
    up(db: Database) {
      db.exec(`CREATE TABLE containers_v2 (
        namespace TEXT NOT NULL,
        id TEXT NOT NULL,
        name TEXT NOT NULL,
        created TEXT NOT NULL,
        image TEXT NOT NULL,
        snapshot_key TEXT NOT NULL,
        restart_count INTEGER NOT NULL DEFAULT 0,
        state TEXT NOT NULL,
        config TEXT NOT NULL,
        host_config TEXT NOT NULL,
        extra TEXT NOT NULL,
        PRIMARY KEY (namespace, id),
        UNIQUE (namespace, name)
      ) STRICT`);
      db.prepare(
        `INSERT INTO containers_v2 (namespace, id, name, created, image, snapshot_key, restart_count, state, config, host_config, extra)
         SELECT ?, id, name, created, image, snapshot_key, restart_count, state, config, host_config, extra FROM containers`,
      ).run(LEGACY_NAMESPACE);
      db.exec(`DROP TABLE containers; ALTER TABLE containers_v2 RENAME TO containers`);
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
  const extra = JSON.parse(r.extra) as { imageRef: string; parentSnapshot?: string; path: string; args: string[]; mountPoints?: ContainerRecord['mountPoints']; networks?: ContainerRecord['networks'] };
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
    ...(extra.mountPoints ? { mountPoints: extra.mountPoints } : {}),
    ...(extra.networks ? { networks: extra.networks } : {}),
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
    extra: JSON.stringify({ imageRef: c.imageRef, parentSnapshot: c.parentSnapshot, path: c.path, args: c.args, mountPoints: c.mountPoints, networks: c.networks }),
  };
}

/**
 * The containers of one namespace (the Docker front end's, `moby`, unless told):
 * another namespace's containers are neither seen nor changed, and names are unique
 * per namespace.
 */
export class ContainerStore {
  readonly namespace: string;

  constructor(
    private readonly db: MetadataDB,
    opts: { namespace?: string } = {},
  ) {
    this.namespace = validateNamespace(opts.namespace ?? MOBY_NAMESPACE);
  }

  /** Inserts a new container. Throws conflict when the name is taken. `also` runs in the same transaction. */
  insert(c: ContainerRecord, also?: (db: Database) => void): void {
    this.db.tx((raw) => {
      const other = raw.prepare('SELECT id FROM containers WHERE namespace = ? AND name = ?').get(this.namespace, c.name) as { id: string } | undefined;
      if (other) throw nameConflict(c.name, other.id);
      raw
        .prepare(
          `INSERT INTO containers (namespace, id, name, created, image, snapshot_key, restart_count, state, config, host_config, extra)
           VALUES (@namespace, @id, @name, @created, @image, @snapshot_key, @restart_count, @state, @config, @host_config, @extra)`,
        )
        .run({ ...toParams(c), namespace: this.namespace });
      also?.(raw);
    });
  }

  /** Replaces a container's row. Throws not-found if it is gone, conflict on a name clash. */
  save(c: ContainerRecord): void {
    this.db.tx((raw) => {
      const other = raw.prepare('SELECT id FROM containers WHERE namespace = ? AND name = ? AND id != ?').get(this.namespace, c.name, c.id) as { id: string } | undefined;
      if (other) throw nameConflict(c.name, other.id);
      const r = raw
        .prepare(
          `UPDATE containers SET name=@name, created=@created, image=@image, snapshot_key=@snapshot_key,
           restart_count=@restart_count, state=@state, config=@config, host_config=@host_config, extra=@extra
           WHERE namespace=@namespace AND id=@id`,
        )
        .run({ ...toParams(c), namespace: this.namespace });
      if (r.changes === 0) throw notFound(`No such container: ${c.id}`);
    });
  }

  /** Deletes the row; `also` runs in the same transaction. */
  delete(id: string, also?: (db: Database) => void): void {
    this.db.tx((raw) => {
      raw.prepare('DELETE FROM containers WHERE namespace = ? AND id = ?').run(this.namespace, id);
      also?.(raw);
    });
  }

  get(id: string): ContainerRecord | undefined {
    const r = this.db.raw.prepare('SELECT * FROM containers WHERE namespace = ? AND id = ?').get(this.namespace, id) as Row | undefined;
    return r ? toRecord(r) : undefined;
  }

  /** Every container, oldest first. */
  all(): ContainerRecord[] {
    return (this.db.raw.prepare('SELECT * FROM containers WHERE namespace = ? ORDER BY created, id').all(this.namespace) as Row[]).map(toRecord);
  }
}

export function nameConflict(name: string, id: string) {
  return conflict(
    `Conflict. The container name "${name}" is already in use by container "${id}". You have to remove (or rename) that container to be able to reuse that name.`,
  );
}

/**
 * The container holds its snapshot (the GC's reference, in the container's namespace;
 * absent table = no GC module).
 */
export function addGcRef(db: Database, id: string, namespace: string = MOBY_NAMESPACE): void {
  try {
    db.prepare('INSERT OR IGNORE INTO gc_refs (namespace, owner_kind, owner_id, resource_kind, resource_id) VALUES (?, ?, ?, ?, ?)').run(namespace, 'container', id, 'snapshot', id);
  } catch (err) {
    if (!/no such table/.test(String(err))) throw err;
  }
}

export function removeGcRef(db: Database, id: string, namespace: string = MOBY_NAMESPACE): void {
  try {
    db.prepare('DELETE FROM gc_refs WHERE namespace = ? AND owner_kind = ? AND owner_id = ?').run(namespace, 'container', id);
  } catch (err) {
    if (!/no such table/.test(String(err))) throw err;
  }
}
