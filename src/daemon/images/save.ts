/**
 * `docker save` (GET /images/get, GET /images/{name}/get): which images and tags the
 * names select (Docker's rules), then the archive in Docker 20.10's format.
 */
import * as path from 'node:path';
import type { Writable } from 'node:stream';
import { invalidArgument, notFound } from '../../engine/errdefs';
import { writeDockerArchive, type SaveImage } from '../../engine/images/save';
import { NamedReference, familiarName, familiarString, isNameOnly, parseAnyReference, parseReference } from '../../engine/reference';
import type { ImageService } from './service';

/**
 * The images `names` select, each with the tags to list: a tag selects itself, a bare
 * repository name all its tags, an ID (or ID prefix) the image without tags.
 * Throws not-found before anything is written.
 */
export function selectImages(svc: ImageService, names: string[]): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  const add = (id: string, tag?: string) => {
    const s = out.get(id) ?? new Set<string>();
    if (tag) s.add(tag);
    out.set(id, s);
  };
  for (const name of names) {
    let ref: ReturnType<typeof parseAnyReference>;
    try {
      ref = parseAnyReference(name);
    } catch (err) {
      throw invalidArgument((err as Error).message);
    }
    if (!(ref instanceof NamedReference)) {
      if (!svc.store.find(ref.digest)) throw notFound(`No such image: ${ref.digest}`);
      add(ref.digest);
      continue;
    }
    if (familiarName(ref) === 'sha256') {
      add(svc.resolve(name));
      continue;
    }
    if (isNameOnly(ref)) {
      const assocs = svc.store.allRefs().filter((a) => {
        const r = parseReference(a.ref);
        return r.name === ref.name;
      });
      for (const a of assocs) {
        const r = parseReference(a.ref);
        add(a.imageId, r.tag !== undefined && !r.digest ? familiarString(r) : undefined);
      }
      if (assocs.length === 0) add(svc.resolve(name));
      continue;
    }
    const id = svc.store.resolve(ref.toString());
    if (!id) throw notFound('reference does not exist');
    add(id, ref.tag !== undefined && !ref.digest ? familiarString(ref) : undefined);
  }
  return out;
}

/** Streams the archive of `selection` to `out` and emits `save` events. */
export async function saveImages(svc: ImageService, selection: Map<string, Set<string>>, out: Writable, opts: { signal?: AbortSignal } = {}): Promise<void> {
  const images: SaveImage[] = [];
  for (const [id, tags] of selection) {
    const rec = svc.store.get(id);
    const configBytes = await svc.configBytes(id);
    images.push({ id, configBytes, config: await svc.config(id), layers: rec.layers, repoTags: [...tags].sort() });
  }
  await writeDockerArchive(images, svc.opts.content, out, { tmpDir: path.join(svc.opts.tmpDir, 'save'), signal: opts.signal });
  for (const img of images) svc.emit('save', img.id, img.id, img.config.config?.Labels);
}
