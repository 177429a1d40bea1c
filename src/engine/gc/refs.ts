/**
 * GC roots: rows of `gc_refs` saying "owner X keeps resource Y alive". Other modules
 * add them in the same transaction as their own rows (an image row and the refs to its
 * manifest, config, layers and top snapshot; a container and its snapshot) and remove
 * them when the owner goes. Methods are synchronous so they can join a caller's `db.tx`.
 *
 * Every reference belongs to its owner's namespace. Snapshots are per namespace, so a
 * snapshot reference keeps the snapshot of that namespace; content (blobs, ingests) is
 * shared, so a reference from any namespace keeps it.
 */
import { validateDigest } from '../content/digest';
import { invalidArgument } from '../errdefs';
import type { MetadataDB } from '../metadata/db';
import { DEFAULT_NAMESPACE, validateNamespace } from '../metadata/namespaces';

/** Who holds references: e.g. {kind: 'image', id: 'sha256:…'}, {kind: 'container', id}, {kind: 'lease', id}. */
export interface Owner {
  kind: string;
  id: string;
}

/**
 * What is referenced: a blob by digest, a snapshot by key or name (its parents are
 * kept implicitly), or an ingest (partial download) by ref.
 */
export interface Resource {
  kind: 'content' | 'snapshot' | 'ingest';
  id: string;
}

/** The references of one namespace (`default` unless told). */
export class GcRefs {
  readonly namespace: string;

  constructor(
    private readonly db: MetadataDB,
    opts: { namespace?: string } = {},
  ) {
    this.namespace = validateNamespace(opts.namespace ?? DEFAULT_NAMESPACE);
  }

  /** Adds references from `owner` (idempotent). */
  add(owner: Owner, resources: Resource[]): void {
    checkOwner(owner);
    for (const r of resources) checkResource(r);
    const ins = this.db.raw.prepare(
      'INSERT OR IGNORE INTO gc_refs (namespace, owner_kind, owner_id, resource_kind, resource_id) VALUES (?, ?, ?, ?, ?)',
    );
    this.db.tx(() => {
      for (const r of resources) ins.run(this.namespace, owner.kind, owner.id, r.kind, r.id);
    });
  }

  /** Removes one reference (no-op if absent). */
  remove(owner: Owner, resource: Resource): void {
    this.db.raw
      .prepare('DELETE FROM gc_refs WHERE namespace = ? AND owner_kind = ? AND owner_id = ? AND resource_kind = ? AND resource_id = ?')
      .run(this.namespace, owner.kind, owner.id, resource.kind, resource.id);
  }

  /** Removes every reference held by `owner`. */
  removeOwner(owner: Owner): void {
    this.db.raw.prepare('DELETE FROM gc_refs WHERE namespace = ? AND owner_kind = ? AND owner_id = ?').run(this.namespace, owner.kind, owner.id);
  }

  /** The references held by `owner`. */
  list(owner: Owner): Resource[] {
    return this.db.raw
      .prepare('SELECT resource_kind AS kind, resource_id AS id FROM gc_refs WHERE namespace = ? AND owner_kind = ? AND owner_id = ? ORDER BY 1, 2')
      .all(this.namespace, owner.kind, owner.id) as Resource[];
  }

  /**
   * Whether anything references `resource`: for a snapshot, anything in this namespace;
   * for content and ingests (shared by all namespaces), anything in any namespace.
   */
  isReferenced(resource: Resource): boolean {
    return isReferencedIn(this.db, resource.kind === 'snapshot' ? this.namespace : undefined, resource);
  }
}

/** Whether `resource` is referenced in namespace `ns` (in any namespace when undefined). */
export function isReferencedIn(db: MetadataDB, ns: string | undefined, resource: Resource): boolean {
  const row =
    ns === undefined
      ? db.raw.prepare('SELECT 1 FROM gc_refs WHERE resource_kind = ? AND resource_id = ? LIMIT 1').get(resource.kind, resource.id)
      : db.raw.prepare('SELECT 1 FROM gc_refs WHERE resource_kind = ? AND resource_id = ? AND namespace = ? LIMIT 1').get(resource.kind, resource.id, ns);
  return row !== undefined;
}

function checkOwner(o: Owner): void {
  if (!o || typeof o.kind !== 'string' || !o.kind || typeof o.id !== 'string' || !o.id) {
    throw invalidArgument('gc reference owner needs a kind and an id');
  }
}

function checkResource(r: Resource): void {
  if (!r || (r.kind !== 'content' && r.kind !== 'snapshot' && r.kind !== 'ingest')) {
    throw invalidArgument(`invalid gc resource kind ${JSON.stringify(r?.kind)}`);
  }
  if (typeof r.id !== 'string' || !r.id) throw invalidArgument('gc resource needs an id');
  if (r.kind === 'content') validateDigest(r.id);
}
