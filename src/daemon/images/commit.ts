/**
 * `docker commit`: the diff of a container's writable layer (its overlay upper
 * directory) becomes a new layer over the container's image, with a config derived
 * from the image's and the container's, `changes` applied. The route and the pause
 * belong to the containers service; this only builds and registers the image.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { DigestTap } from '../../engine/content/digest';
import { pipeline } from 'node:stream/promises';
import { diffUpperDir } from '../../engine/archive';
import { applyChanges } from '../../engine/images/changes';
import { type ContainerConfig, type DockerImageConfig, MediaTypes } from '../../engine/images/types';
import { parseNormalizedNamed, tagNameOnly, withTag } from '../../engine/reference';
import { DOCKER_VERSION } from './import';
import { imageLease, registerImage } from './register';
import type { ImageService } from './service';

export interface CommitOptions {
  /** the container's overlay upper directory */
  upperDir: string;
  /** the container's image */
  parentImageId: string;
  /** the container's config (Docker's container_config; the base of the new config) */
  config: ContainerConfig;
  containerId?: string;
  comment?: string;
  author?: string;
  changes?: string[];
  repo?: string;
  tag?: string;
  signal?: AbortSignal;
}

/** Builds and registers the committed image; returns its ID. Emits Docker's `commit`-side image events (`tag`). */
export async function commitContainer(svc: ImageService, o: CommitOptions): Promise<string> {
  const parent = svc.store.get(o.parentImageId);
  const parentCfg = await svc.config(parent.id);
  const changes = o.changes ?? [];
  const newConfig = applyChanges({ ...(parentCfg.config ?? {}), ...o.config }, changes);
  let ref = o.repo ? parseNormalizedNamed(o.repo) : undefined;
  if (ref && o.tag) ref = withTag(ref, o.tag);
  if (ref) ref = tagNameOnly(ref);
  const { content, leases, tmpDir } = svc.opts;
  await fsp.mkdir(tmpDir, { recursive: true, mode: 0o700 });
  const tmp = path.join(tmpDir, `commit-${randomBytes(8).toString('hex')}.tar`);
  const lease = imageLease(svc, 'commit');
  try {
    const tee = new DigestTap();
    await pipeline(diffUpperDir(o.upperDir, { signal: o.signal }), tee, fs.createWriteStream(tmp, { mode: 0o600 }), { signal: o.signal });
    const diffID = tee.digest();
    leases.addResource(lease.id, { kind: 'content', id: diffID });
    const ingestRef = `commit-${lease.id}`;
    leases.addResource(lease.id, { kind: 'ingest', id: ingestRef });
    await content.ingest(ingestRef, fs.createReadStream(tmp), { digest: diffID, size: tee.size }, { signal: o.signal });
    const created = new Date().toISOString();
    const cfg: DockerImageConfig = {
      architecture: parentCfg.architecture,
      ...(parentCfg.variant ? { variant: parentCfg.variant } : {}),
      ...(o.author ? { author: o.author } : {}),
      ...(o.comment ? { comment: o.comment } : {}),
      config: newConfig,
      ...(o.containerId ? { container: o.containerId } : {}),
      container_config: o.config,
      created,
      docker_version: DOCKER_VERSION,
      history: [
        ...(parentCfg.history ?? []),
        { created, created_by: (o.config.Cmd ?? []).join(' '), ...(o.author ? { author: o.author } : {}), ...(o.comment ? { comment: o.comment } : {}) },
      ],
      os: parentCfg.os,
      parent: parent.id,
      rootfs: { type: 'layers', diff_ids: [...parentCfg.rootfs.diff_ids, diffID] },
    };
    const reg = await registerImage(
      svc,
      {
        configBytes: Buffer.from(JSON.stringify(cfg)),
        layers: [...parent.layers.map((l) => ({ digest: l.digest, mediaType: l.mediaType, size: l.size })), { digest: diffID, mediaType: MediaTypes.DockerLayer, size: tee.size }],
        parent: parent.id,
        refs: ref ? [ref] : [],
      },
      { lease, signal: o.signal },
    );
    for (const t of reg.tags) svc.emit('tag', reg.id, t, newConfig.Labels);
    return reg.id;
  } finally {
    leases.delete(lease.id);
    await fsp.rm(tmp, { force: true });
  }
}
