/**
 * Archive routes (moby's router/container copy routes): `HEAD`, `GET` and `PUT
 * /containers/{id}/archive` (`docker cp`), `GET /containers/{id}/export` and `GET
 * /containers/{id}/changes` (`docker diff`). Thin: parse, call the backend, stream.
 */
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Change } from '../../daemon/containers/archive/changes';
import type { ContainerPathStat } from '../../daemon/containers/archive/paths';
import { invalidArgument } from '../../engine/errdefs';
import type { RequestContext } from '../context';
import type { Route } from '../router';

/** What the archive routes need of the daemon (daemon/containers/archive/copier.ts). */
export interface ArchiveBackend {
  /** Throws not-found for the container or the path. */
  statPath(ref: string, path: string): Promise<ContainerPathStat>;
  archivePath(ref: string, path: string, signal?: AbortSignal): Promise<{ stat: ContainerPathStat; tar: Readable }>;
  extractToDir(ref: string, path: string, body: Readable, o: { noOverwriteDirNonDir?: boolean; copyUIDGID?: boolean; signal?: AbortSignal }): Promise<void>;
  export(ref: string, signal?: AbortSignal): Promise<Readable>;
  changes(ref: string): Promise<Change[]>;
}

/** The header Docker puts the path's stat in: base64 of its JSON. */
export const PATH_STAT_HEADER = 'X-Docker-Container-Path-Stat';

function statHeader(stat: ContainerPathStat): string {
  return Buffer.from(JSON.stringify(stat)).toString('base64');
}

/** Docker's archiveFormValues: the container and a non-empty `path` (its badParameterError message, as is). */
function pathParam(ctx: RequestContext): string {
  const p = ctx.string('path') ?? '';
  if (p === '') throw invalidArgument('bad parameter: pathcannot be empty');
  return p;
}

async function head(b: ArchiveBackend, ctx: RequestContext): Promise<void> {
  const stat = await b.statPath(ctx.param('id'), pathParam(ctx));
  const res = ctx.response;
  res.setHeader(PATH_STAT_HEADER, statHeader(stat));
  res.writeHead(200);
  res.end();
}

async function streamTar(ctx: RequestContext, tar: Readable, headers: Record<string, string>): Promise<void> {
  const res = ctx.response;
  res.writeHead(200, { 'Content-Type': 'application/x-tar', ...headers });
  try {
    await pipeline(tar, res);
  } catch (err) {
    tar.destroy();
    if (!res.destroyed) res.destroy();
    if (!ctx.signal.aborted) ctx.log.warn('archive stream failed', { err: String(err) });
  }
}

async function get(b: ArchiveBackend, ctx: RequestContext): Promise<void> {
  const { stat, tar } = await b.archivePath(ctx.param('id'), pathParam(ctx), ctx.signal);
  await streamTar(ctx, tar, { [PATH_STAT_HEADER]: statHeader(stat) });
}

async function put(b: ArchiveBackend, ctx: RequestContext): Promise<void> {
  await b.extractToDir(ctx.param('id'), pathParam(ctx), ctx.req, {
    noOverwriteDirNonDir: ctx.bool('noOverwriteDirNonDir'),
    copyUIDGID: ctx.bool('copyUIDGID'),
    signal: ctx.signal,
  });
  const res = ctx.response;
  res.writeHead(200, { 'Content-Length': '0' });
  res.end();
}

async function exportContainer(b: ArchiveBackend, ctx: RequestContext): Promise<void> {
  const tar = await b.export(ctx.param('id'), ctx.signal);
  await streamTar(ctx, tar, {});
}

async function changes(b: ArchiveBackend, ctx: RequestContext): Promise<void> {
  const list = await b.changes(ctx.param('id'));
  ctx.send(200, list.length === 0 ? null : list); // Docker's nil slice
}

export function archiveRoutes(b: ArchiveBackend): Route[] {
  return [
    { method: 'HEAD', path: '/containers/{id}/archive', handler: (ctx) => head(b, ctx) },
    { method: 'GET', path: '/containers/{id}/archive', handler: (ctx) => get(b, ctx) },
    { method: 'PUT', path: '/containers/{id}/archive', handler: (ctx) => put(b, ctx) },
    { method: 'GET', path: '/containers/{id}/export', handler: (ctx) => exportContainer(b, ctx) },
    { method: 'GET', path: '/containers/{id}/changes', handler: (ctx) => changes(b, ctx) },
  ];
}
