/**
 * `docker import` (POST /images/create?fromSrc=-): a root filesystem tar (possibly
 * compressed) becomes a one-layer image. The tar is decompressed into a scratch file
 * while hashed (its sha256 is the diffID), stored uncompressed in the content store,
 * unpacked, and registered with a config built from `changes`, `message`, `platform`.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { DigestTap } from '../../engine/content/digest';
import type { Readable } from 'node:stream';
import { pipeline as pipe } from 'node:stream/promises';
import { decompressor, detectCompression, peek } from '../../engine/archive/compression';
import { invalidArgument } from '../../engine/errdefs';
import { goArch } from '../../engine/images/archive-format';
import { applyChanges } from '../../engine/images/changes';
import { type DockerImageConfig, MediaTypes } from '../../engine/images/types';
import type { NamedReference } from '../../engine/reference';
import { nowRfc3339Nano } from '../../engine/clock';
import { imageLease, registerImage } from './register';
import type { ImageService } from './service';


/** The `docker_version` we write into configs we create. */
export const DOCKER_VERSION = '20.10.24';

export interface ImportOptions {
  changes?: string[];
  message?: string;
  /** `os[/arch[/variant]]`; linux only */
  platform?: string;
  ref?: NamedReference;
  signal?: AbortSignal;
}

/** Parses `platform`, defaulting to linux and this machine's architecture. */
export function parsePlatform(p: string | undefined): { os: string; architecture: string; variant?: string } {
  if (!p) return { os: 'linux', architecture: goArch() };
  const [os, arch, variant] = p.toLowerCase().split('/');
  if (os !== 'linux') throw invalidArgument(`"${p}": operating system is not supported`);
  const out: { os: string; architecture: string; variant?: string } = { os, architecture: arch || goArch() };
  if (variant) out.variant = variant;
  return out;
}

/** Imports a rootfs tar; returns the new image ID. */
export async function importImage(svc: ImageService, input: Readable, opts: ImportOptions = {}): Promise<string> {
  const platform = parsePlatform(opts.platform);
  const config = applyChanges({}, opts.changes ?? []);
  const { content, leases, tmpDir } = svc.opts;
  await fsp.mkdir(tmpDir, { recursive: true, mode: 0o700 });
  const tmp = path.join(tmpDir, `import-${randomBytes(8).toString('hex')}.tar`);
  const lease = imageLease(svc, 'import');
  try {
    const kind = detectCompression(await peek(input, 8));
    const tee = new DigestTap();
    await pipe(input, decompressor(kind), tee, fs.createWriteStream(tmp, { mode: 0o600 }), { signal: opts.signal });
    if (tee.size === 0) throw invalidArgument('EOF: the imported archive is empty');
    const diffID = tee.digest();
    leases.addResource(lease.id, { kind: 'content', id: diffID });
    const ingestRef = `import-${lease.id}`;
    leases.addResource(lease.id, { kind: 'ingest', id: ingestRef });
    await content.ingest(ingestRef, fs.createReadStream(tmp), { digest: diffID, size: tee.size }, { signal: opts.signal });
    await fsp.rm(tmp, { force: true });
    const created = nowRfc3339Nano();
    const cfg: DockerImageConfig = {
      architecture: platform.architecture,
      ...(platform.variant ? { variant: platform.variant } : {}),
      ...(opts.message ? { comment: opts.message } : {}),
      config: config,
      container_config: {},
      created,
      docker_version: DOCKER_VERSION,
      history: [{ created, ...(opts.message ? { comment: opts.message } : {}) }],
      os: platform.os,
      rootfs: { type: 'layers', diff_ids: [diffID] },
    };
    const reg = await registerImage(
      svc,
      { configBytes: Buffer.from(JSON.stringify(cfg)), layers: [{ digest: diffID, mediaType: MediaTypes.DockerLayer, size: tee.size }], refs: opts.ref ? [opts.ref] : [] },
      { lease, signal: opts.signal },
    );
    // moby tags the imported image before it logs `import`
    for (const t of reg.tags) svc.emit('tag', reg.id, t, cfg.config?.Labels);
    svc.emit('import', reg.id, reg.id, cfg.config?.Labels);
    return reg.id;
  } finally {
    leases.delete(lease.id);
    await fsp.rm(tmp, { force: true });
  }
}
