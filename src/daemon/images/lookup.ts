/**
 * Finding an image the way Docker does: by full ID (`sha256:<hex>` or 64 hex digits),
 * by reference (`busybox` = `docker.io/library/busybox:latest`, `x@sha256:…`), then by
 * unique ID prefix (`sha256:` optional). Messages are Docker's.
 */
import { invalidArgument, notFound } from '../../engine/errdefs';
import type { ImageStore } from '../../engine/images/store';
import { NamedReference, familiarString, parseAnyReference, tagNameOnly } from '../../engine/reference';

/** Resolves `refOrId` to an image ID. Throws not-found `No such image: x`, invalid-argument. */
export function resolveImage(store: ImageStore, refOrId: string): string {
  let parsed: ReturnType<typeof parseAnyReference>;
  try {
    parsed = parseAnyReference(refOrId);
  } catch (err) {
    // not a valid name: it may still be an ID prefix such as "sha256:abc"
    const id = byPrefix(store, refOrId);
    if (id) return id;
    throw invalidArgument((err as Error).message, err);
  }
  if (!(parsed instanceof NamedReference)) {
    if (store.find(parsed.digest)) return parsed.digest;
    throw notFound(`No such image: ${parsed.digest}`);
  }
  const id = store.resolve(tagNameOnly(parsed).toString());
  if (id) return id;
  const byId = byPrefix(store, refOrId);
  if (byId) return byId;
  throw notFound(`No such image: ${familiarString(tagNameOnly(parsed))}`);
}

function byPrefix(store: ImageStore, s: string): string | undefined {
  const hex = s.startsWith('sha256:') ? s.slice(7) : s;
  if (!/^[0-9a-f]{1,64}$/.test(hex)) return undefined;
  const ids = store.byPrefix(hex);
  if (ids.length > 1) throw notFound(`No such image: ${s}`);
  return ids[0];
}

/** Whether `ref` names the image by (a prefix of) its ID rather than by a reference. */
export function isImageIdPrefix(imageId: string, ref: string): boolean {
  const hex = imageId.slice('sha256:'.length);
  const r = ref.startsWith('sha256:') ? ref.slice(7) : ref;
  return r.length > 0 && hex.startsWith(r);
}
