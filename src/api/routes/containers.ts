/**
 * Container routes: create, inspect, list, lifecycle (start/stop/kill/restart/wait/
 * pause/unpause/rm/rename/update/prune), logs, attach (hijacked), top, stats, resize.
 * Thin: parse and validate, call the backend, serialize and frame.
 */
import * as net from 'node:net';
import { rfc3339ToNanos } from '../../engine/timeparse';
import { keptByUntil, matchPruneLabels, pruneUntil, UNTIL_AND_LABELS, validatePruneFilters } from '../../daemon/system/prune-filters';
import type { AttachRequest, AttachStream, CreateRequest, WaitCondition } from '../../daemon/containers/service';
import { parseCreateBody, parseUpdateBody } from '../../daemon/containers/validate';
import { type ImageGraph, containerSizes, listSummaries } from '../../daemon/containers/list';
import type { ContainerPaths } from '../../daemon/containers/files';
import type { ContainerRecord } from '../../daemon/containers/model';
import type { HostConfig } from '../../daemon/containers/types';
import { inspectView } from '../../daemon/containers/views';
import { type ContainerLogsRequest, type LogEntry, detailsPrefix, parseTimestamp, rfc3339NanoFixed } from '../../daemon/containers/logs';
import type { StatsDocument, StatsOptions } from '../../daemon/containers/stats';
import { top, validatePsArgs } from '../../daemon/containers/top';
import { StevedoreError, invalidArgument, kindOf } from '../../engine/errdefs';
import { MAX_JSON_BODY, type RequestContext } from '../context';
import { ContainerCreateBody, ContainerUpdateBody } from '../jsonfold';
import type { Route } from '../router';
import { STDERR, STDOUT, frame, writeChunk } from '../streams';
import { parseDetachKeys } from '../../daemon/exec/keys';
import { splice } from '../../daemon/exec/splice';
import { queryFor, shapeFor, startConsoleSize, streamContentType, versionedBody } from '../apiversions';

// ---------- backend: what these routes need of the daemon (moby's router/container/backend.go) ----------

/** Containers by reference, and their views' inputs. */
export interface ContainerQueryBackend {
  /** Resolves an id, unique id prefix or name. Throws not-found. */
  get(ref: string): ContainerRecord;
  list(): ContainerRecord[];
  sizeRw(id: string): Promise<number>;
  paths(id: string): ContainerPaths;
  rootfsDir(id: string): string;
  pids(ref: string): Promise<number[]>;
  /** Publishes a container event for an action done by a route (`top`). */
  emit(ref: string, action: string, extra?: Record<string, string>): void;
}

/** Creating, changing and removing containers. */
export interface ContainerLifecycleBackend {
  create(req: CreateRequest): Promise<{ id: string; warnings: string[] }>;
  start(ref: string): Promise<void>;
  stop(ref: string, timeout?: number, signal?: string): Promise<void>;
  restart(ref: string, timeout?: number, signal?: string): Promise<void>;
  kill(ref: string, signal?: string): Promise<void>;
  pause(ref: string): Promise<void>;
  unpause(ref: string): Promise<void>;
  wait(ref: string, condition: WaitCondition, signal?: AbortSignal): Promise<number>;
  remove(ref: string, opts?: { force?: boolean; removeVolumes?: boolean }): Promise<void>;
  rename(ref: string, newName: string): Promise<void>;
  update(ref: string, body: HostConfig): Promise<string[]>;
  prune(match: (c: ContainerRecord) => boolean): Promise<{ deleted: string[]; reclaimed: number }>;
  resize(ref: string, h: number, w: number): Promise<void>;
}

/** Attaching to a container's stdio. */
export interface ContainerAttachBackend {
  /** Records that a client attached (Docker's `attach` event). */
  attached(id: string): void;
  attachClient(ref: string, req: AttachRequest, signal?: AbortSignal): Promise<AttachStream>;
}

/** The daemon's log reader (daemon/containers/logs.ts). */
export interface ContainerLogsBackend {
  /** A container's log entries; throws (before the first) not-found, invalid-argument, not-implemented. */
  read(ref: string, r: ContainerLogsRequest): AsyncIterable<LogEntry>;
  /** What was logged so far (attach's `logs=1`). */
  logged(ref: string, streams: { stdout: boolean; stderr: boolean }): AsyncIterable<LogEntry>;
}

/** The daemon's stats (daemon/containers/stats.ts, over engine/metrics). */
export interface ContainerStatsBackend {
  /** The documents of one stats request; throws not-found before the first. */
  documents(ref: string, o: StatsOptions): AsyncIterable<StatsDocument>;
}

/** The storage driver's description of a container's writable snapshot (inspect's GraphDriver.Data). */
export interface GraphDriverBackend {
  driverData(snapshotKey: string): { data: { LowerDir?: string; UpperDir: string; WorkDir: string } } | undefined;
}

export interface ContainersBackend {
  containers: ContainerQueryBackend & ContainerLifecycleBackend & ContainerAttachBackend;
  logs: ContainerLogsBackend;
  stats: ContainerStatsBackend;
  /** the snapshotter's layout data; without it inspect shows only MergedDir */
  graphDriver?: GraphDriverBackend;
  /** ids of the container's exec instances that have not exited (inspect's ExecIDs) */
  execIds?: (containerId: string) => string[] | null;
  /** the image graph: the `ancestor` filter, the list's `Image`, `SizeRootFs` */
  images: ImageGraph;
}

async function create(b: ContainersBackend, ctx: RequestContext): Promise<void> {
  const { body, warnings } = await versionedBody(ctx, 'POST /containers/create', MAX_JSON_BODY, ContainerCreateBody); // API versions: src/api/apiversions.ts
  const { config, hostConfig } = parseCreateBody(body);
  const name = ctx.string('name');
  const networkingConfig = (body as { NetworkingConfig?: CreateRequest['networkingConfig'] } | null)?.NetworkingConfig;
  const r = await b.containers.create({ ...(name ? { name } : {}), config, hostConfig, ...(networkingConfig ? { networkingConfig } : {}) });
  ctx.send(201, { Id: r.id, Warnings: [...r.warnings, ...warnings] });
}

async function list(b: ContainersBackend, ctx: RequestContext): Promise<void> {
  const limit = ctx.int('limit');
  const o = { all: ctx.bool('all'), filters: ctx.filters(), size: ctx.bool('size'), ...(limit !== undefined ? { limit } : {}) };
  ctx.send(200, shapeFor(ctx.version, 'GET /containers/json', await listSummaries(b, o), { health: (cid) => b.containers.get(cid).health }));
}

async function inspect(b: ContainersBackend, ctx: RequestContext): Promise<void> {
  const c = b.containers.get(ctx.param('id'));
  const size = ctx.bool('size');
  const sizes = size ? await containerSizes(b, c) : undefined;
  const driver = b.graphDriver?.driverData(c.snapshotKey)?.data;
  const view = inspectView(c, {
    paths: b.containers.paths(c.id),
    rootfsDir: b.containers.rootfsDir(c.id),
    ...(driver ? { snapshotDir: { ...(driver.LowerDir !== undefined ? { lower: driver.LowerDir } : {}), upper: driver.UpperDir, work: driver.WorkDir } } : {}),
    ...(sizes ? { sizeRw: sizes.rw, sizeRootFs: sizes.rootFs } : {}),
  });
  if (b.execIds) view.ExecIDs = b.execIds(c.id);
  ctx.send(200, shapeFor(ctx.version, 'GET /containers/{id}/json', view));
}

const CONDITIONS = new Set(['not-running', 'next-exit', 'removed', '']);

async function wait(b: ContainersBackend, ctx: RequestContext): Promise<void> {
  const cond = ctx.string('condition') ?? '';
  if (!CONDITIONS.has(cond)) throw invalidArgument(`invalid condition: "${cond}"`);
  const c = b.containers.get(ctx.param('id'));
  const signal = ctx.signal;
  const res = ctx.startStream(200, 'application/json');
  try {
    const code = await b.containers.wait(c.id, (cond || 'not-running') as WaitCondition, signal);
    res.end(JSON.stringify({ StatusCode: code, Error: null }) + '\n');
  } catch (err) {
    if (signal.aborted) return;
    res.end(JSON.stringify({ StatusCode: -1, Error: { Message: err instanceof Error ? err.message : String(err) } }) + '\n');
  }
}

async function logs(b: ContainersBackend, ctx: RequestContext): Promise<void> {
  const tailRaw = ctx.string('tail') ?? 'all';
  const tail = tailRaw === 'all' || tailRaw === '' ? undefined : Number.parseInt(tailRaw, 10);
  const since = parseTimestamp(ctx.string('since'));
  const until = parseTimestamp(ctx.string('until'));
  const timestamps = ctx.bool('timestamps');
  const details = ctx.bool('details');
  const signal = ctx.signal;
  const c = b.containers.get(ctx.param('id'));
  const entries = b.logs.read(c.id, {
    stdout: ctx.bool('stdout'),
    stderr: ctx.bool('stderr'),
    ...(tail !== undefined && !Number.isNaN(tail) ? { tail } : {}),
    ...(since !== undefined ? { since } : {}),
    ...(until !== undefined ? { until } : {}),
    follow: ctx.bool('follow'),
    details,
    signal,
  });
  const tty = c.config.Tty === true;
  // Docker 20.10 (API 1.41) sets no Content-Type on logs; the raw/multiplexed stream
  // types came with API 1.42 (src/api/apiversions.ts).
  const res = ctx.response;
  const logsType = streamContentType(ctx.version, tty);
  res.writeHead(200, logsType ? { 'Content-Type': logsType } : {});
  res.flushHeaders();
  try {
    for await (const e of entries) {
      // moby's WriteLogStream: [timestamp ' '] [details ' '] line
      const head = (timestamps ? rfc3339NanoFixed(e.time) + ' ' : '') + (details ? detailsPrefix(e.attrs ?? {}) : '');
      const payload = head ? Buffer.concat([Buffer.from(head), e.log]) : e.log;
      const chunk = tty ? payload : frame(e.stream === 'stderr' ? STDERR : STDOUT, payload);
      if (!(await writeChunk(res, chunk)) || signal.aborted) break;
    }
  } finally {
    res.end();
  }
}

async function attach(b: ContainersBackend, ctx: RequestContext): Promise<void> {
  const c = b.containers.get(ctx.param('id'));
  const stream = ctx.bool('stream');
  const withLogs = ctx.bool('logs');
  const opts = { stdin: ctx.bool('stdin'), stdout: ctx.bool('stdout'), stderr: ctx.bool('stderr') };
  if (!stream && !withLogs) throw invalidArgument('Bad parameters: you must choose at least one stream');
  const detachKeys = parseDetachKeys(ctx.string('detachKeys'));
  const tty = c.config.Tty === true;
  const stdin = opts.stdin && c.config.OpenStdin === true;
  await ctx.discardBody(); // as Docker: an attach has no body; stdin starts after the upgrade
  const sock = ctx.hijack({ contentType: streamContentType(ctx.version, tty, 'application/vnd.docker.raw-stream')! });
  sock.on('error', () => {});
  const ac = new AbortController();
  sock.on('close', () => ac.abort());
  if (withLogs && (opts.stdout || opts.stderr)) {
    await headersReadFirst(sock);
    for await (const e of b.logs.logged(c.id, { stdout: opts.stdout, stderr: opts.stderr })) {
      sock.write(tty ? e.log : frame(e.stream === 'stderr' ? STDERR : STDOUT, e.log));
    }
  }
  if (!stream) {
    sock.end();
    return;
  }
  b.containers.attached(c.id);
  // Output only: the container's shim can write to the connection itself (no copy
  // through the daemon); everything written so far must be out before it does.
  const handOver = !stdin && sock instanceof net.Socket && (await flushed(sock)) ? sock : undefined;
  let task: AttachStream;
  try {
    task = await b.containers.attachClient(c.id, { stdin, stdout: opts.stdout, stderr: opts.stderr, ...(handOver ? { handOver } : {}) }, ac.signal);
  } catch {
    task = undefined;
  }
  // handed: the shim writes the output and closes the connection when it ends
  if (task === 'handed') return;
  if (!task) {
    sock.end();
    return;
  }
  // Docker's attach semantics (detach keys with a tty, StdinOnce, half-close): daemon/exec/splice.ts.
  // A request that was not upgraded has no input left once its body was discarded (a
  // chunked body still streaming is the exception): its end is not the client's EOF.
  const input = stdin && (ctx.upgradeSocket !== undefined || !ctx.req.complete);
  await splice(sock, task, { stdin: input, tty, detachKeys, closeStdin: c.config.StdinOnce === true });
}

/**
 * Gives the client time to read the upgrade's headers before the logs follow them.
 * docker-py reads the response headers through a buffered reader and then reads the
 * stream from the raw socket: bytes that arrived with the headers stay in that buffer
 * and are lost (attach(logs=True) came back empty about one time in five). Docker's
 * own gap between the two writes (reading the log) hides it there; here the headers
 * are flushed first and the logs wait a moment longer.
 */
async function headersReadFirst(sock: NodeJS.ReadWriteStream): Promise<void> {
  if (!(sock instanceof net.Socket) || !(await flushed(sock))) return;
  await new Promise((r) => setTimeout(r, HEADERS_GAP_MS));
}
const HEADERS_GAP_MS = 5;

/** Resolves true once everything written to `sock` so far has reached the kernel. */
function flushed(sock: net.Socket): Promise<boolean> {
  return new Promise((resolve) => {
    if (sock.destroyed || !sock.writable) return resolve(false);
    sock.write(Buffer.alloc(0), (err) => resolve(!err));
  });
}

async function stats(b: ContainersBackend, ctx: RequestContext): Promise<void> {
  const signal = ctx.signal;
  const docs = b.stats.documents(ctx.param('id'), { stream: ctx.bool('stream', true), oneShot: ctx.bool('one-shot'), signal })[Symbol.asyncIterator]();
  // the first document is awaited before the 200 goes out: a missing container is a 404
  const first = await docs.next();
  const res = ctx.startStream(200, 'application/json');
  try {
    for (let r = first; !r.done; r = await docs.next()) {
      if (!(await writeChunk(res, JSON.stringify(shapeFor(ctx.version, 'GET /containers/{id}/stats', r.value)) + '\n'))) break;
    }
  } finally {
    await docs.return?.();
    res.end();
  }
}

async function prune(b: ContainersBackend, ctx: RequestContext): Promise<void> {
  // moby's ContainerPrune: filters until, label, label! (daemon/system/prune-filters.ts)
  const f = ctx.filters();
  validatePruneFilters(f, UNTIL_AND_LABELS);
  const until = pruneUntil(f);
  const r = await b.containers.prune((c) => !keptByUntil(until, rfc3339ToNanos(c.created)) && matchPruneLabels(f, c.config.Labels));
  ctx.send(200, { ContainersDeleted: r.deleted.length ? r.deleted : null, SpaceReclaimed: r.reclaimed });
}

function ok(ctx: RequestContext): void {
  ctx.response.writeHead(200, { 'Content-Length': '0' });
  ctx.response.end();
}

/** The container route table. */
export function containerRoutes(b: ContainersBackend): Route[] {
  const svc = b.containers;
  const id = (ctx: RequestContext) => ctx.param('id');
  return [
    { method: 'POST', path: '/containers/create', handler: (ctx) => create(b, ctx) },
    { method: 'GET', path: '/containers/json', handler: (ctx) => list(b, ctx) },
    { method: 'POST', path: '/containers/prune', handler: (ctx) => prune(b, ctx) },
    { method: 'GET', path: '/containers/{id}/json', handler: (ctx) => inspect(b, ctx) },
    {
      method: 'POST',
      path: '/containers/{id}/start',
      handler: async (ctx) => {
        if (ctx.hasBody()) {
          const body = await ctx.json();
          if (body !== undefined && body !== null && (typeof body !== 'object' || Object.keys(body).length > 0)) {
            throw invalidArgument('starting container with non-empty request body was deprecated since API v1.22 and removed in v1.24');
          }
        }
        await svc.start(id(ctx));
        await startConsoleSize(svc, id(ctx), ctx.version); // API 1.42's HostConfig.ConsoleSize
        ctx.noContent();
      },
    },
    {
      method: 'POST',
      path: '/containers/{id}/stop',
      handler: async (ctx) => {
        await svc.stop(id(ctx), ctx.int('t'), queryFor(ctx, 'POST /containers/{id}/stop').get('signal') ?? undefined);
        ctx.noContent();
      },
    },
    {
      method: 'POST',
      path: '/containers/{id}/restart',
      handler: async (ctx) => {
        await svc.restart(id(ctx), ctx.int('t'), queryFor(ctx, 'POST /containers/{id}/restart').get('signal') ?? undefined);
        ctx.noContent();
      },
    },
    {
      method: 'POST',
      path: '/containers/{id}/kill',
      handler: async (ctx) => {
        try {
          await svc.kill(id(ctx), ctx.string('signal') || 'SIGKILL');
        } catch (err) {
          // Docker's router wraps what ContainerKill returns (not a bad signal name), keeping its kind
          if (kindOf(err) === 'invalid-argument') throw err;
          throw new StevedoreError(kindOf(err), `Cannot kill container: ${id(ctx)}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
        }
        ctx.noContent();
      },
    },
    { method: 'POST', path: '/containers/{id}/wait', handler: (ctx) => wait(b, ctx) },
    {
      method: 'DELETE',
      path: '/containers/{id}',
      handler: async (ctx) => {
        await svc.remove(id(ctx), { force: ctx.bool('force'), removeVolumes: ctx.bool('v') });
        ctx.noContent();
      },
    },
    {
      method: 'POST',
      path: '/containers/{id}/rename',
      handler: async (ctx) => {
        await svc.rename(id(ctx), ctx.string('name') ?? '');
        ctx.noContent();
      },
    },
    {
      method: 'POST',
      path: '/containers/{id}/pause',
      handler: async (ctx) => {
        await svc.pause(id(ctx));
        ctx.noContent();
      },
    },
    {
      method: 'POST',
      path: '/containers/{id}/unpause',
      handler: async (ctx) => {
        await svc.unpause(id(ctx));
        ctx.noContent();
      },
    },
    {
      method: 'POST',
      path: '/containers/{id}/update',
      handler: async (ctx) => {
        const body = parseUpdateBody((await versionedBody(ctx, 'POST /containers/{id}/update', MAX_JSON_BODY, ContainerUpdateBody)).body);
        const warnings = await svc.update(id(ctx), body);
        ctx.send(200, { Warnings: warnings });
      },
    },
    {
      method: 'GET',
      path: '/containers/{id}/top',
      handler: async (ctx) => {
        const psArgs = ctx.string('ps_args') || '-ef';
        validatePsArgs(psArgs);
        const pids = await svc.pids(id(ctx));
        ctx.send(200, await top(pids, psArgs));
        svc.emit(id(ctx), 'top');
      },
    },
    { method: 'GET', path: '/containers/{id}/logs', handler: (ctx) => logs(b, ctx) },
    { method: 'POST', path: '/containers/{id}/attach', handler: (ctx) => attach(b, ctx), hijack: true },
    { method: 'GET', path: '/containers/{id}/stats', handler: (ctx) => stats(b, ctx) },
    {
      method: 'POST',
      path: '/containers/{id}/resize',
      handler: async (ctx) => {
        await svc.resize(id(ctx), ctx.int('h', 0)!, ctx.int('w', 0)!);
        ok(ctx);
      },
    },
  ];
}
