/**
 * Writing `docker save` archives in Docker 20.10's format, which every Docker since
 * 1.10 loads back with the same image IDs:
 *   <layerid>/VERSION ("1.0"), <layerid>/json (legacy v1 metadata), <layerid>/layer.tar
 *   <confighex>.json  the config blob, byte for byte
 *   manifest.json     [{"Config","RepoTags","Layers"}]
 *   repositories      {"name":{"tag":"<top layer id>"}}
 * layer.tar is the uncompressed layer, so its sha256 is the config's diffID. The
 * archive is streamed; compressed blobs are decompressed to a temporary file first
 * because a tar header needs the size up front.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { type Readable, type Writable, pipeline } from 'node:stream';
import { promisify } from 'node:util';
import { decompressor, detectCompression, peek } from '../archive/compression';
import type { Provider } from '../content/types';
import { internal } from '../errdefs';
import { chainIDs } from './chainid';
import type { DockerImageConfig, LayerRecord } from './types';

const pipe = promisify(pipeline);
// eslint-disable-next-line @typescript-eslint/no-var-requires
const tarStream = require('tar-stream') as typeof import('tar-stream');

/** One image to save. */
export interface SaveImage {
  id: string;
  configBytes: Buffer;
  config: DockerImageConfig;
  layers: LayerRecord[];
  /** familiar references to list in RepoTags (`busybox:latest`); may be empty */
  repoTags: string[];
}

/** The legacy v1 ID Docker gives layer `i` of an image (deterministic). */
function v1LayerId(created: string, chainId: string, parent: string): string {
  return createHash('sha256').update(JSON.stringify({ created, layer_id: chainId, parent })).digest('hex');
}

/**
 * Streams a docker-archive of `images` to `out`, ending it. Throws (and destroys
 * `out`) if a blob is missing or the output fails.
 */
export async function writeDockerArchive(images: SaveImage[], content: Provider, out: Writable, opts: { tmpDir: string; signal?: AbortSignal }): Promise<void> {
  // Every layer must be readable before the first byte goes out: Docker stages the
  // export before sending it, so a damaged store is an HTTP error (500), never a
  // truncated archive.
  for (const img of images) {
    for (const l of img.layers) {
      try {
        await content.info(l.digest);
      } catch (err) {
        throw internal(`cannot export image ${img.id}: layer ${l.digest}: ${(err as Error).message}`, err);
      }
    }
  }
  const pack = tarStream.pack();
  const done = pipe(pack, out);
  // The output can fail at any moment (a client that hangs up): `done` rejects then,
  // while the loop below waits on an entry that will never be drained. Every wait
  // races `failed`, so the first output error ends the loop instead of hanging it or
  // surfacing as an unhandled rejection.
  const failed = done.then(() => new Promise<never>(() => undefined));
  failed.catch(() => undefined);
  const guard = <T>(p: Promise<T>): Promise<T> => Promise.race([p, failed]);
  const mtime = new Date();
  const written = new Set<string>();
  const manifest: Array<{ Config: string; RepoTags: string[] | null; Layers: string[] }> = [];
  const repositories: Record<string, Record<string, string>> = {};
  const entry = (name: string, data: Buffer, mode = 0o644) =>
    guard(new Promise<void>((resolve, reject) => pack.entry({ name, size: data.length, mode, mtime }, data, (e) => (e ? reject(e) : resolve()))));
  try {
    for (const img of images) {
      const chains = chainIDs(img.layers.map((l) => l.diffID));
      const created = img.config.created ?? '0001-01-01T00:00:00Z';
      let parent = '';
      const layerPaths: string[] = [];
      for (let i = 0; i < img.layers.length; i++) {
        opts.signal?.throwIfAborted();
        const id = v1LayerId(i === img.layers.length - 1 ? `${created} ${img.id}` : created, chains[i]!, parent);
        layerPaths.push(`${id}/layer.tar`);
        if (!written.has(id)) {
          written.add(id);
          await guard(new Promise<void>((resolve, reject) => pack.entry({ name: `${id}/`, type: 'directory', mode: 0o755, mtime }, (e) => (e ? reject(e) : resolve()))));
          await entry(`${id}/VERSION`, Buffer.from('1.0'));
          const v1: Record<string, unknown> = { id, ...(parent ? { parent } : {}), created, container_config: {}, os: img.config.os ?? 'linux' };
          await entry(`${id}/json`, Buffer.from(JSON.stringify(v1)));
          await guard(writeLayer(pack, `${id}/layer.tar`, img.layers[i]!, content, opts.tmpDir, mtime));
        }
        parent = id;
      }
      const hex = img.id.slice('sha256:'.length);
      if (!written.has(hex)) {
        written.add(hex);
        await entry(`${hex}.json`, img.configBytes);
      }
      manifest.push({ Config: `${hex}.json`, RepoTags: img.repoTags.length ? img.repoTags : null, Layers: layerPaths });
      for (const t of img.repoTags) {
        const at = t.lastIndexOf(':');
        const repo = t.slice(0, at);
        (repositories[repo] ??= {})[t.slice(at + 1)] = parent;
      }
    }
    await entry('manifest.json', Buffer.from(JSON.stringify(manifest)));
    if (Object.keys(repositories).length) await entry('repositories', Buffer.from(JSON.stringify(repositories)));
    pack.finalize();
  } catch (err) {
    pack.destroy(err as Error);
    await done.catch(() => undefined);
    throw err;
  }
  await done;
}

async function writeLayer(pack: ReturnType<typeof tarStream.pack>, name: string, layer: LayerRecord, content: Provider, tmpDir: string, mtime: Date): Promise<void> {
  let src: Readable = await content.reader(layer.digest);
  const kind = detectCompression(await peek(src, 8));
  let size = layer.size;
  let tmp: string | undefined;
  try {
    if (kind !== 'none') {
      await fsp.mkdir(tmpDir, { recursive: true, mode: 0o700 });
      tmp = path.join(tmpDir, `save-${randomBytes(8).toString('hex')}.tar`);
      await pipe(src, decompressor(kind), fs.createWriteStream(tmp, { mode: 0o600 }));
      size = (await fsp.stat(tmp)).size;
      src = fs.createReadStream(tmp);
    }
    const sink = pack.entry({ name, size, mode: 0o644, mtime });
    await pipe(src, sink);
  } finally {
    src.destroy();
    if (tmp) await fsp.rm(tmp, { force: true });
  }
}
