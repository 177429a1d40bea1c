/**
 * Image routes: load, save, import (`create?fromSrc`), tag, delete, list, inspect,
 * history, prune, and the Images part of /system/df. `create?fromImage` (pull) is
 * served by the handler passed as `pull` (the distribution side).
 */
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { invalidArgument, isStevedoreError, notFound } from '../../engine/errdefs';
import { type NamedReference, parseNormalizedNamed, withTag, tagNameOnly } from '../../engine/reference';
import { parsePlatform } from '../../daemon/images/import';
import type { ImportOptions } from '../../daemon/images/import';
import type { LoadOptions } from '../../daemon/images/load';
import type { DeleteRecord, PruneReport } from '../../daemon/images/service';
import type { HistoryItem, ImageInspect, ImageSummary } from '../../daemon/images/shapes';
import { applyChanges } from '../../engine/images/changes';
import type { RequestContext } from '../context';
import { imageUsageFor, queryFor, shapeFor } from '../apiversions';
import type { Route } from '../router';
import { detachedBody, jsonError, jsonProgress, writeJsonLine } from '../streams';
import { describeError } from '../errors';

// ---------- backend: what these routes need of the daemon (moby's router/image/backend.go) ----------

/** The image service's operations the routes call (daemon/images/service.ts). */
export interface ImageServiceBackend {
  list(opts: { all?: boolean; digests?: boolean; filters?: Map<string, string[]> }): Promise<ImageSummary[]>;
  /** Throws not-found. */
  inspect(refOrId: string): Promise<ImageInspect>;
  history(refOrId: string): Promise<HistoryItem[]>;
  tag(refOrId: string, repo: string, tag: string | undefined): Promise<string>;
  /** Throws not-found, conflict (in use, several references). */
  remove(refOrId: string, opts: { force?: boolean; noprune?: boolean }): Promise<DeleteRecord[]>;
  prune(filters: Map<string, string[]>): Promise<PruneReport>;
  load(input: Readable, opts: LoadOptions): Promise<string[]>;
  import(input: Readable, opts: ImportOptions): Promise<string>;
  /** Resolves the names of a save; throws not-found before any byte is written. */
  selectForSave(names: string[]): Map<string, Set<string>>;
  save(selection: Map<string, Set<string>>, out: Writable, opts: { signal?: AbortSignal }): Promise<void>;
  /** Per image: containers using it, and its shared size when asked (the list's 1.51 `Containers`, `shared-size`). */
  usage(opts: { sharedSize: boolean }): Promise<Map<string, { Containers: number; SharedSize: number }>>;
}

/** The Images section of /system/df. */
export interface ImagesDiskUsageBackend {
  diskUsage(): Promise<{ LayersSize: number; Images: ImageSummary[] }>;
}

export interface ImagesBackend {
  images: ImageServiceBackend;
  /** POST /images/create?fromImage=…: the registry pull (absent until wired). */
  pull?: (ctx: RequestContext) => Promise<void>;
}

/**
 * POST /images/load. As moby's postImagesLoad, every error of the load is written
 * in-band (the 200 is sent even when nothing else was), so the CLI prints it.
 */
async function load(b: ImagesBackend, ctx: RequestContext): Promise<void> {
  queryFor(ctx, 'POST /images/load');
  const quiet = ctx.bool('quiet', true);
  const signal = ctx.signal;
  const res = ctx.startStream(200, 'application/json');
  const write = (m: unknown) => writeJsonLine(res, m);
  try {
    await b.images.load(detachedBody(ctx.req), { quiet, signal, onMessage: write });
  } catch (err) {
    if (!signal.aborted) await write(jsonError(describeError(err).message));
  } finally {
    res.end();
  }
}

async function create(b: ImagesBackend, ctx: RequestContext): Promise<void> {
  const fromImage = ctx.string('fromImage');
  const fromSrc = ctx.string('fromSrc');
  if (fromImage !== undefined && fromImage !== '') {
    if (!b.pull) throw invalidArgument('pulling images is not supported yet');
    return b.pull(ctx);
  }
  if (fromSrc === undefined || fromSrc === '') throw invalidArgument('fromImage or fromSrc is required');
  if (fromSrc !== '-') throw invalidArgument('importing from a URL is not supported; use fromSrc=-');
  const repo = ctx.string('repo') ?? '';
  const tag = ctx.string('tag') ?? '';
  let ref: NamedReference | undefined;
  if (repo !== '') {
    // As Docker: a repository without a tag is tagged `latest`.
    ref = parseNormalizedNamed(repo);
    ref = tag !== '' ? withTag(ref, tag) : tagNameOnly(ref);
  }
  const changes = ctx.query.getAll('changes');
  const message = ctx.string('message') || `Imported from ${fromSrc}`;
  const platform = ctx.string('platform');
  // bad changes or platform are a 400 before the progress stream starts, as in Docker
  applyChanges({}, changes);
  parsePlatform(platform);
  const signal = ctx.signal;
  // moby's postImagesCreate: an import that fails before its first message answers an HTTP error
  await jsonProgress(
    () => ctx.startStream(200, 'application/json'),
    async (write) => {
      const id = await b.images.import(detachedBody(ctx.req), { changes, message, platform, ref, signal });
      await write({ status: id });
    },
    (err) => describeError(err).message,
  );
}

/**
 * GET /images/get, /images/{name}/get. As moby's getImagesGet: the 200 goes out with
 * the first bytes of the archive, so an error before them is an HTTP error; an error
 * after them is appended as a JSON error message and the response ends normally. The
 * archive is written into a pass-through (not the response itself) so that a failing
 * writer does not take the connection down with it.
 */
async function save(b: ImagesBackend, ctx: RequestContext, names: string[]): Promise<void> {
  queryFor(ctx, 'GET /images/get'); // API versions: src/api/apiversions.ts
  const selection = b.images.selectForSave(names);
  const signal = ctx.signal;
  const res = ctx.response;
  res.setHeader('Content-Type', 'application/x-tar');
  const sink = new PassThrough();
  sink.on('error', () => undefined); // its errors surface through the save's own promise
  sink.pipe(res, { end: false });
  const gone = () => sink.destroy(new Error('client went away'));
  signal.addEventListener('abort', gone, { once: true });
  try {
    await b.images.save(selection, sink, { signal });
    await finished(sink);
    res.end();
  } catch (err) {
    sink.unpipe(res);
    if (signal.aborted || res.destroyed) return;
    if (!res.headersSent) throw err;
    ctx.log.warn('image save failed', { err });
    res.end(JSON.stringify(jsonError(describeError(err).message)) + '\r\n');
  } finally {
    signal.removeEventListener('abort', gone);
  }
}

async function remove(b: ImagesBackend, ctx: RequestContext): Promise<void> {
  queryFor(ctx, 'DELETE /images/{name}');
  const records = await b.images.remove(ctx.param('name'), { force: ctx.bool('force'), noprune: ctx.bool('noprune') });
  ctx.send(200, records);
}

async function tag(b: ImagesBackend, ctx: RequestContext): Promise<void> {
  await b.images.tag(ctx.param('name'), ctx.string('repo') ?? '', ctx.string('tag'));
  const res = ctx.response;
  res.writeHead(201, { 'Content-Length': '0' });
  res.end();
}

async function inspect(b: ImagesBackend, ctx: RequestContext): Promise<void> {
  const name = ctx.param('name');
  try {
    queryFor(ctx, 'GET /images/{name}/json');
    ctx.send(200, shapeFor(ctx.version, 'GET /images/{name}/json', await b.images.inspect(name)));
  } catch (err) {
    // Docker 20.10's inspect route wraps the lookup error this way
    if (isStevedoreError(err) && err.kind === 'not-found') throw notFound(`no such image: ${name}: ${err.message}`, err);
    throw err;
  }
}

export function imageRoutes(b: ImagesBackend): Route[] {
  return [
    { method: 'GET', path: '/images/json', handler: async (ctx) => ctx.send(200, shapeFor(ctx.version, 'GET /images/json', await b.images.list({ all: ctx.bool('all'), digests: ctx.bool('digests'), filters: ctx.filters() }), { query: ctx.query, imageUsage: await imageUsageFor(ctx, b.images) })) },
    { method: 'POST', path: '/images/load', handler: (ctx) => load(b, ctx) },
    { method: 'POST', path: '/images/create', handler: (ctx) => create(b, ctx) },
    { method: 'POST', path: '/images/prune', handler: async (ctx) => ctx.send(200, await b.images.prune(ctx.filters())) },
    { method: 'GET', path: '/images/get', handler: (ctx) => save(b, ctx, ctx.query.getAll('names')) },
    { method: 'GET', path: '/images/{name*}/json', handler: (ctx) => inspect(b, ctx) },
    { method: 'GET', path: '/images/{name*}/history', handler: async (ctx) => {
        queryFor(ctx, 'GET /images/{name}/history'); // API versions: src/api/apiversions.ts
        ctx.send(200, await b.images.history(ctx.param('name')));
      } },
    { method: 'GET', path: '/images/{name*}/get', handler: (ctx) => save(b, ctx, [ctx.param('name')]) },
    { method: 'POST', path: '/images/{name*}/tag', handler: (ctx) => tag(b, ctx) },
    { method: 'DELETE', path: '/images/{name*}', handler: (ctx) => remove(b, ctx) },
  ];
}

/** One section of GET /system/df: returns the fields it contributes. */
export type DiskUsageSection = () => Promise<Record<string, unknown>>;

/** The Images section of /system/df (`LayersSize`, `Images`). */
export function imagesDiskUsage(images: ImagesDiskUsageBackend): DiskUsageSection {
  return async () => images.diskUsage();
}

/**
 * GET /system/df: merges the sections (images here; containers, volumes, build cache
 * added by their owners). Missing sections are shown empty, as Docker does.
 */
export function diskUsageRoute(sections: DiskUsageSection[]): Route {
  return {
    method: 'GET',
    path: '/system/df',
    handler: async (ctx) => {
      const out: Record<string, unknown> = { LayersSize: 0, Images: [], Containers: [], Volumes: [], BuildCache: null, BuilderSize: 0 };
      queryFor(ctx, 'GET /system/df');
      for (const s of sections) Object.assign(out, await s());
      ctx.send(200, shapeFor(ctx.version, 'GET /system/df', out, { query: ctx.query }));
    },
  };
}
