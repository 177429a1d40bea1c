/**
 * The engine's container records (containerd's `containers.Container`): what the engine
 * needs to run a container, in its own table keyed (namespace, id). A front end keeps
 * its own view beside it (the Docker daemon's `containers` table holds Docker's config
 * and state); the record here holds no Docker shape.
 */
import { conflict, invalidArgument, notFound } from '../errdefs';
import { DEFAULT_NAMESPACE, validateNamespace, type Database, type MetadataDB, type Migration } from '../metadata';
import type { Spec } from '../oci/spec';

/** The runtime that runs a container's task, with its options (containerd's `Runtime`). */
export interface RuntimeInfo {
  /** e.g. `runc` */
  name: string;
  options?: Record<string, unknown>;
}

/** One engine container. */
export interface ContainerRecord {
  id: string;
  namespace: string;
  /** the OCI runtime spec the task is created from; undefined until the front end sets it */
  spec?: Spec;
  /** the key of the container's writable snapshot */
  snapshotKey: string;
  /** the snapshotter holding it (e.g. `overlayfs`) */
  snapshotter: string;
  runtime: RuntimeInfo;
  labels: Record<string, string>;
  /** ISO 8601 */
  createdAt: string;
  updatedAt: string;
}

/** What a caller gives to create a record. */
export interface NewContainer {
  id: string;
  snapshotKey: string;
  snapshotter?: string;
  spec?: Spec;
  runtime?: RuntimeInfo;
  labels?: Record<string, string>;
}

export const engineContainerMigrations: Migration[] = [
  {
    id: 'engine-containers/001-create',
    up(db) {
      db.exec(`CREATE TABLE engine_containers (
        namespace TEXT NOT NULL,
        id TEXT NOT NULL,
        spec TEXT,
        snapshot_key TEXT NOT NULL,
        snapshotter TEXT NOT NULL,
        runtime TEXT NOT NULL,
        labels TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (namespace, id)
      ) STRICT`);
    },
  },
];

interface Row {
  namespace: string;
  id: string;
  spec: string | null;
  snapshot_key: string;
  snapshotter: string;
  runtime: string;
  labels: string;
  created_at: string;
  updated_at: string;
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** The records of one namespace: another namespace's are neither seen nor changed. */
export class ContainerRecordStore {
  readonly namespace: string;

  constructor(
    private readonly db: MetadataDB,
    opts: { namespace?: string } = {},
  ) {
    this.namespace = validateNamespace(opts.namespace ?? DEFAULT_NAMESPACE);
    db.migrate(engineContainerMigrations);
  }

  /** Throws invalid-argument for a bad id, conflict when the id exists in this namespace. */
  create(n: NewContainer, now = new Date()): ContainerRecord {
    if (!ID_RE.test(n.id)) throw invalidArgument(`container id ${JSON.stringify(n.id)}: must be 1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit`);
    if (!n.snapshotKey) throw invalidArgument(`container ${n.id}: a snapshot key is required`);
    const at = now.toISOString();
    const r: ContainerRecord = {
      id: n.id,
      namespace: this.namespace,
      ...(n.spec ? { spec: structuredClone(n.spec) } : {}),
      snapshotKey: n.snapshotKey,
      snapshotter: n.snapshotter ?? 'overlayfs',
      runtime: structuredClone(n.runtime ?? { name: 'runc' }),
      labels: { ...(n.labels ?? {}) },
      createdAt: at,
      updatedAt: at,
    };
    this.db.tx(() => {
      if (this.find(n.id)) throw conflict(`container ${n.id} already exists in namespace ${this.namespace}`);
      this.db.raw
        .prepare(
          `INSERT INTO engine_containers (namespace, id, spec, snapshot_key, snapshotter, runtime, labels, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(this.namespace, r.id, r.spec ? JSON.stringify(r.spec) : null, r.snapshotKey, r.snapshotter, JSON.stringify(r.runtime), JSON.stringify(r.labels), at, at);
    });
    return r;
  }

  /** The record, or undefined. */
  find(id: string): ContainerRecord | undefined {
    const row = this.db.raw.prepare('SELECT * FROM engine_containers WHERE namespace = ? AND id = ?').get(this.namespace, id) as Row | undefined;
    return row ? toRecord(row) : undefined;
  }

  /** Whether there is a record (without reading it). */
  has(id: string): boolean {
    return this.db.raw.prepare('SELECT 1 FROM engine_containers WHERE namespace = ? AND id = ?').get(this.namespace, id) !== undefined;
  }

  /** Throws not-found. */
  get(id: string): ContainerRecord {
    const r = this.find(id);
    if (!r) throw notFound(`container ${id} not found in namespace ${this.namespace}`);
    return r;
  }

  /**
   * Replaces the spec and/or the labels (the fields given). Throws not-found. Written
   * without reading the record back: a start stores its spec (seccomp rules and all) this
   * way, and a copy of the old and the new one cost more than the write.
   */
  update(id: string, u: { spec?: Spec; labels?: Record<string, string> }, now = new Date()): void {
    const spec = u.spec ? JSON.stringify(u.spec) : null;
    const labels = u.labels ? JSON.stringify(u.labels) : null;
    const changed = this.db.tx(
      (raw) =>
        raw
          .prepare('UPDATE engine_containers SET spec = coalesce(?, spec), labels = coalesce(?, labels), updated_at = ? WHERE namespace = ? AND id = ?')
          .run(spec, labels, now.toISOString(), this.namespace, id).changes,
    );
    if (!changed) throw notFound(`container ${id} not found in namespace ${this.namespace}`);
  }

  /** Deletes the record; returns whether there was one. */
  delete(id: string): boolean {
    return this.db.tx(() => this.db.raw.prepare('DELETE FROM engine_containers WHERE namespace = ? AND id = ?').run(this.namespace, id).changes > 0);
  }

  /**
   * Deletes the record inside a transaction the caller runs on the same database (a
   * front end dropping its own row and the engine's in one commit).
   */
  deleteIn(db: Database, id: string): void {
    db.prepare('DELETE FROM engine_containers WHERE namespace = ? AND id = ?').run(this.namespace, id);
  }

  list(): ContainerRecord[] {
    return (this.db.raw.prepare('SELECT * FROM engine_containers WHERE namespace = ? ORDER BY created_at, id').all(this.namespace) as Row[]).map(toRecord);
  }
}

function toRecord(row: Row): ContainerRecord {
  return {
    id: row.id,
    namespace: row.namespace,
    ...(row.spec ? { spec: JSON.parse(row.spec) as Spec } : {}),
    snapshotKey: row.snapshot_key,
    snapshotter: row.snapshotter,
    runtime: JSON.parse(row.runtime) as RuntimeInfo,
    labels: JSON.parse(row.labels) as Record<string, string>,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
