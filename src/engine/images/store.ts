/**
 * ImageStore: image records and references in the metadata database. An image row is
 * keyed by its ID (`sha256:` of the config blob); references (`docker.io/library/x:tag`
 * or `name@sha256:…`) point at images. Each image holds GC references to its config,
 * manifest and layer blobs and to its top snapshot, written in the same transaction
 * as the row, so the collector never sees an image without its roots.
 *
 * Every method is synchronous so that callers can compose them inside one `db.tx`.
 * A store works in one namespace: images and references of another are not seen, and
 * the same image may be recorded in several namespaces, each with its own GC roots.
 */
import { conflict, invalidArgument, notFound } from '../errdefs';
import { GcRefs, type Resource } from '../gc/refs';
import type { MetadataDB } from '../metadata/db';
import { DEFAULT_NAMESPACE, validateNamespace } from '../metadata/namespaces';
import type { ImageRecord, LayerRecord } from './types';

interface ImageRow {
  id: string;
  manifest_digest: string | null;
  layers: string;
  chain_id: string | null;
  parent: string | null;
  created_at: number;
  last_tag_time: number | null;
}

export const IMAGE_OWNER_KIND = 'image';

/** The GC resources an image keeps alive. */
export function imageResources(rec: ImageRecord): Resource[] {
  const out: Resource[] = [{ kind: 'content', id: rec.id }];
  if (rec.manifestDigest) out.push({ kind: 'content', id: rec.manifestDigest });
  for (const l of rec.layers) out.push({ kind: 'content', id: l.digest });
  if (rec.chainId) out.push({ kind: 'snapshot', id: rec.chainId });
  return out;
}

/** A reference that moved from one image to another by `setRef`. */
export interface MovedRef {
  ref: string;
  from: string;
}

export class ImageStore {
  readonly namespace: string;
  private readonly refs: GcRefs;

  /**
   * @param db a database migrated with the gc and image migrations.
   * @param opts.namespace the namespace of the images (default `default`)
   */
  constructor(
    readonly db: MetadataDB,
    opts: { namespace?: string } = {},
  ) {
    this.namespace = validateNamespace(opts.namespace ?? DEFAULT_NAMESPACE);
    this.refs = new GcRefs(db, { namespace: this.namespace });
  }

  /** The image with ID `id`, or undefined. */
  find(id: string): ImageRecord | undefined {
    const r = this.db.raw.prepare('SELECT * FROM images WHERE namespace = ? AND id = ?').get(this.namespace, id) as ImageRow | undefined;
    return r && toRecord(r);
  }

  /** Throws not-found `No such image: <id>`. */
  get(id: string): ImageRecord {
    const r = this.find(id);
    if (!r) throw notFound(`No such image: ${id}`);
    return r;
  }

  /** Every image, oldest first. */
  list(): ImageRecord[] {
    return (this.db.raw.prepare('SELECT * FROM images WHERE namespace = ? ORDER BY created_at, id').all(this.namespace) as ImageRow[]).map(toRecord);
  }

  count(): number {
    return this.db.raw.prepare('SELECT count(*) FROM images WHERE namespace = ?').pluck().get(this.namespace) as number;
  }

  /**
   * Images whose hex ID starts with `hexPrefix` (lower-case hex). Used for short-ID
   * lookups; the caller decides what an ambiguous answer means.
   */
  byPrefix(hexPrefix: string): string[] {
    if (!/^[0-9a-f]+$/.test(hexPrefix)) return [];
    return this.db.raw
      .prepare('SELECT id FROM images WHERE namespace = ? AND id >= ? AND id < ? ORDER BY id')
      .pluck()
      .all(this.namespace, 'sha256:' + hexPrefix, 'sha256:' + hexPrefix + 'g') as string[];
  }

  /** The image a normalised reference points at, or undefined. */
  resolve(ref: string): string | undefined {
    return this.db.raw.prepare('SELECT image_id FROM image_refs WHERE namespace = ? AND ref = ?').pluck().get(this.namespace, ref) as string | undefined;
  }

  /** The references of an image, sorted. */
  refsOf(id: string): string[] {
    return this.db.raw.prepare('SELECT ref FROM image_refs WHERE namespace = ? AND image_id = ? ORDER BY ref').pluck().all(this.namespace, id) as string[];
  }

  /** All references, sorted. */
  allRefs(): Array<{ ref: string; imageId: string }> {
    return this.db.raw.prepare('SELECT ref, image_id AS imageId FROM image_refs WHERE namespace = ? ORDER BY ref').all(this.namespace) as Array<{ ref: string; imageId: string }>;
  }

  /** Images whose `parent` is `id`. */
  children(id: string): string[] {
    return this.db.raw.prepare('SELECT id FROM images WHERE namespace = ? AND parent = ? ORDER BY id').pluck().all(this.namespace, id) as string[];
  }

  /**
   * Records an image (no-op for the row if it exists: the ID is the content) and its
   * GC roots. Use inside the transaction that also sets its references.
   * Returns true when the image is new.
   */
  put(rec: ImageRecord): boolean {
    if (!/^sha256:[0-9a-f]{64}$/.test(rec.id)) throw invalidArgument(`invalid image id ${rec.id}`);
    return this.db.tx((raw) => {
      if (this.find(rec.id)) return false;
      raw
        .prepare('INSERT INTO images (namespace, id, manifest_digest, layers, chain_id, parent, created_at, last_tag_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
        .run(this.namespace, rec.id, rec.manifestDigest ?? null, JSON.stringify(rec.layers), rec.chainId ?? null, rec.parent ?? null, rec.createdAt, rec.lastTagTime ?? null);
      this.refs.add({ kind: IMAGE_OWNER_KIND, id: rec.id }, imageResources(rec));
      return true;
    });
  }

  /**
   * Points `ref` at image `id` (moving it from another image if needed) and stamps
   * the image's last tag time. Returns the previous image of the ref if it moved.
   */
  setRef(ref: string, id: string, now = Date.now()): MovedRef | undefined {
    return this.db.tx((raw) => {
      this.get(id);
      const prev = this.resolve(ref);
      if (prev === id) {
        raw.prepare('UPDATE images SET last_tag_time = ? WHERE namespace = ? AND id = ?').run(now, this.namespace, id);
        return undefined;
      }
      raw
        .prepare('INSERT INTO image_refs (namespace, ref, image_id, created_at) VALUES (?, ?, ?, ?) ON CONFLICT(namespace, ref) DO UPDATE SET image_id = excluded.image_id, created_at = excluded.created_at')
        .run(this.namespace, ref, id, now);
      raw.prepare('UPDATE images SET last_tag_time = ? WHERE namespace = ? AND id = ?').run(now, this.namespace, id);
      return prev === undefined ? undefined : { ref, from: prev };
    });
  }

  /** Removes a reference. Throws not-found if it does not exist. */
  deleteRef(ref: string): void {
    const n = this.db.raw.prepare('DELETE FROM image_refs WHERE namespace = ? AND ref = ?').run(this.namespace, ref).changes;
    if (n === 0) throw notFound(`No such image: ${ref}`);
  }

  /**
   * Deletes the image row, its references and its GC roots. Returns the resources it
   * held (for the caller to release when nothing else holds them).
   * Throws conflict if references remain and `force` is false.
   */
  delete(id: string, opts: { force?: boolean } = {}): Resource[] {
    return this.db.tx((raw) => {
      const rec = this.get(id);
      if (!opts.force && this.refsOf(id).length > 0) throw conflict(`image ${id} is still referenced`);
      raw.prepare('DELETE FROM image_refs WHERE namespace = ? AND image_id = ?').run(this.namespace, id);
      raw.prepare('DELETE FROM images WHERE namespace = ? AND id = ?').run(this.namespace, id);
      this.refs.removeOwner({ kind: IMAGE_OWNER_KIND, id });
      return imageResources(rec);
    });
  }

  /** Whether anything (an image, a container, a lease) still references `r`. */
  isReferenced(r: Resource): boolean {
    return this.refs.isReferenced(r);
  }
}

function toRecord(r: ImageRow): ImageRecord {
  const rec: ImageRecord = { id: r.id, layers: JSON.parse(r.layers) as LayerRecord[], createdAt: r.created_at };
  if (r.manifest_digest !== null) rec.manifestDigest = r.manifest_digest;
  if (r.chain_id !== null) rec.chainId = r.chain_id;
  if (r.parent !== null) rec.parent = r.parent;
  if (r.last_tag_time !== null) rec.lastTagTime = r.last_tag_time;
  return rec;
}
