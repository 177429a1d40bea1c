/**
 * Leases protect work in flight (a pull, a build step, an unpack) from garbage
 * collection: resources added to a lease are GC roots until the lease is deleted or
 * expires. A lease is an owner of kind 'lease' in `gc_refs`.
 * Methods are synchronous so they can join a caller's `db.tx`.
 */
import { randomBytes } from 'node:crypto';
import { conflict, invalidArgument, notFound } from '../errdefs';
import type { MetadataDB } from '../metadata/db';
import { DEFAULT_NAMESPACE, validateNamespace } from '../metadata/namespaces';
import { GcRefs, type Resource } from './refs';

export interface Lease {
  id: string;
  createdAt: Date;
  expiresAt?: Date;
  labels: Record<string, string>;
}

interface LeaseRow {
  id: string;
  created_at: number;
  expires_at: number | null;
  labels: string;
}

export const LEASE_OWNER_KIND = 'lease';

/** The leases of one namespace (`default` unless told); lease ids are unique per namespace. */
export class LeaseManager {
  readonly namespace: string;
  private readonly refs: GcRefs;

  constructor(
    private readonly db: MetadataDB,
    opts: { namespace?: string } = {},
  ) {
    this.namespace = validateNamespace(opts.namespace ?? DEFAULT_NAMESPACE);
    this.refs = new GcRefs(db, { namespace: this.namespace });
  }

  /** Creates a lease (random id if none). Throws conflict if the id exists. */
  create(opts: { id?: string; expiresAt?: Date; labels?: Record<string, string> } = {}): Lease {
    const id = opts.id ?? randomBytes(16).toString('hex');
    if (!id || id.length > 256) throw invalidArgument('lease id must be 1 to 256 characters');
    const now = Date.now();
    this.db.tx((raw) => {
      if (raw.prepare('SELECT 1 FROM leases WHERE namespace = ? AND id = ?').get(this.namespace, id)) throw conflict(`lease ${id}: already exists`);
      raw
        .prepare('INSERT INTO leases (namespace, id, created_at, expires_at, labels) VALUES (?, ?, ?, ?, ?)')
        .run(this.namespace, id, now, opts.expiresAt ? opts.expiresAt.getTime() : null, JSON.stringify(opts.labels ?? {}));
    });
    return this.get(id);
  }

  /** Throws not-found. */
  get(id: string): Lease {
    const r = this.db.raw.prepare('SELECT * FROM leases WHERE namespace = ? AND id = ?').get(this.namespace, id) as LeaseRow | undefined;
    if (!r) throw notFound(`lease ${id} not found`);
    return toLease(r);
  }

  list(): Lease[] {
    return (this.db.raw.prepare('SELECT * FROM leases WHERE namespace = ? ORDER BY created_at, id').all(this.namespace) as LeaseRow[]).map(toLease);
  }

  /** Protects `resource` while the lease lives. Throws not-found for an unknown lease. */
  addResource(leaseId: string, resource: Resource): void {
    this.db.tx(() => {
      this.get(leaseId);
      this.refs.add({ kind: LEASE_OWNER_KIND, id: leaseId }, [resource]);
    });
  }

  removeResource(leaseId: string, resource: Resource): void {
    this.refs.remove({ kind: LEASE_OWNER_KIND, id: leaseId }, resource);
  }

  resources(leaseId: string): Resource[] {
    return this.refs.list({ kind: LEASE_OWNER_KIND, id: leaseId });
  }

  /** Whether anything (a lease, an image, a container) still references `resource` (see GcRefs.isReferenced). */
  isReferenced(resource: Resource): boolean {
    return this.refs.isReferenced(resource);
  }

  /** Deletes the lease and its references (the resources become collectable). Throws not-found. */
  delete(id: string): void {
    this.db.tx((raw) => {
      if (raw.prepare('DELETE FROM leases WHERE namespace = ? AND id = ?').run(this.namespace, id).changes === 0) throw notFound(`lease ${id} not found`);
      this.refs.removeOwner({ kind: LEASE_OWNER_KIND, id });
    });
  }

  /** Deletes leases expired at `now`, with their references; returns their ids. */
  deleteExpired(now: Date = new Date()): string[] {
    return this.db.tx((raw) => {
      const ids = raw.prepare('SELECT id FROM leases WHERE namespace = ? AND expires_at IS NOT NULL AND expires_at <= ?').pluck().all(this.namespace, now.getTime()) as string[];
      for (const id of ids) this.delete(id);
      return ids;
    });
  }

  /** Runs `fn` under a fresh lease and deletes the lease afterwards, whatever happens. */
  async withLease<T>(fn: (lease: Lease) => Promise<T>, opts: { expiresAt?: Date; labels?: Record<string, string> } = {}): Promise<T> {
    const lease = this.create(opts);
    try {
      return await fn(lease);
    } finally {
      this.delete(lease.id);
    }
  }
}

/** The namespaces that hold leases. */
export function leaseNamespaces(db: MetadataDB): string[] {
  return db.raw.prepare('SELECT DISTINCT namespace FROM leases ORDER BY namespace').pluck().all() as string[];
}

function toLease(r: LeaseRow): Lease {
  const l: Lease = { id: r.id, createdAt: new Date(r.created_at), labels: JSON.parse(r.labels) as Record<string, string> };
  if (r.expires_at !== null) l.expiresAt = new Date(r.expires_at);
  return l;
}
