/**
 * Image routes: load, save, import (`create?fromSrc`), tag, delete, list, inspect,
 * history, prune, and the Images part of /system/df. `create?fromImage` (pull) is
 * served by the handler passed as `pull` (the distribution side).
 */
import { invalidArgument, isStevedoreError, notFound } from '../../engine/errdefs';
import { type NamedReference, parseNormalizedNamed, withTag, tagNameOnly } from '../../engine/reference';
import { parsePlatform } from '../../daemon/images/import';
import type { ImageService } from '../../daemon/images/service';
import { applyChanges } from '../../engine/images/changes';
import type { RequestContext } from '../context';
import type { Route } from '../router';
import { jsonError, writeJsonLine } from '../streams';
import { describeError } from '../errors';

export interface ImagesBackend {
  images: ImageService;
  /** POST /images/create?fromImage=…: the registry pull (absent until wired). */
  pull?: (ctx: RequestContext) => Promise<void>;
}

/** Runs a JSON-progress operation: errors after the 200 go in-band, as Docker does. */
async function progressStream(ctx: RequestContext, fn: (write: (m: unknown) => Promise<void>) => Promise<void>): Promise<void> {
  const res = ctx.startStream(200, 'application/json');
  const write = (m: unknown) => writeJsonLine(res, m);
  try {
    await fn(write);
  } catch (err) {
    await write(jsonError(describeError(err).message));
  } finally {
    res.end();
  }
}


async function load(b: ImagesBackend, ctx: RequestContext): Promise<void> {
  const quiet = ctx.bool('quiet', true);
  const signal = ctx.signal;
  await progressStream(ctx, (write) => b.images.load(ctx.req, { quiet, signal, onMessage: write }).then(() => undefined));
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
  await progressStream(ctx, async (write) => {
    const id = await b.images.import(ctx.req, { changes, message, platform, ref, signal });
    await write({ status: id });
  });
}

async function save(b: ImagesBackend, ctx: RequestContext, names: string[]): Promise<void> {
  const selection = b.images.selectForSave(names);
  const res = ctx.startStream(200, 'application/x-tar');
  const signal = ctx.signal;
  try {
    await b.images.save(selection, res, { signal });
  } catch (err) {
    ctx.log.warn('image save failed', { err });
    res.destroy();
  }
}

async function remove(b: ImagesBackend, ctx: RequestContext): Promise<void> {
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
    ctx.send(200, await b.images.inspect(name));
  } catch (err) {
    // Docker 20.10's inspect route wraps the lookup error this way
    if (isStevedoreError(err) && err.kind === 'not-found') throw notFound(`no such image: ${name}: ${err.message}`, err);
    throw err;
  }
}

export function imageRoutes(b: ImagesBackend): Route[] {
  return [
    { method: 'GET', path: '/images/json', handler: async (ctx) => ctx.send(200, await b.images.list({ all: ctx.bool('all'), digests: ctx.bool('digests'), filters: ctx.filters() })) },
    { method: 'POST', path: '/images/load', handler: (ctx) => load(b, ctx) },
    { method: 'POST', path: '/images/create', handler: (ctx) => create(b, ctx) },
    { method: 'POST', path: '/images/prune', handler: async (ctx) => ctx.send(200, await b.images.prune(ctx.filters())) },
    { method: 'GET', path: '/images/get', handler: (ctx) => save(b, ctx, ctx.query.getAll('names')) },
    { method: 'GET', path: '/images/{name*}/json', handler: (ctx) => inspect(b, ctx) },
    { method: 'GET', path: '/images/{name*}/history', handler: async (ctx) => ctx.send(200, await b.images.history(ctx.param('name'))) },
    { method: 'GET', path: '/images/{name*}/get', handler: (ctx) => save(b, ctx, [ctx.param('name')]) },
    { method: 'POST', path: '/images/{name*}/tag', handler: (ctx) => tag(b, ctx) },
    { method: 'DELETE', path: '/images/{name*}', handler: (ctx) => remove(b, ctx) },
  ];
}

/** One section of GET /system/df: returns the fields it contributes. */
export type DiskUsageSection = () => Promise<Record<string, unknown>>;

/** The Images section of /system/df (`LayersSize`, `Images`). */
export function imagesDiskUsage(images: ImageService): DiskUsageSection {
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
      for (const s of sections) Object.assign(out, await s());
      ctx.send(200, out);
    },
  };
}
