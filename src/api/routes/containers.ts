/**
 * Container routes: create, inspect, list, lifecycle (start/stop/kill/restart/wait/
 * pause/unpause/rm/rename/update/prune), logs, attach (hijacked), top, stats, resize.
 * Thin: parse and validate, call the ContainerService, serialize.
 */
import * as net from 'node:net';
import type { Writable } from 'node:stream';
import type { AttachStream, ContainerService, WaitCondition } from '../../daemon/containers/service';
import { parseCreateBody, parseUpdateBody } from '../../daemon/containers/validate';
import { filterContainers } from '../../daemon/containers/list';
import { inspectView, summaryView } from '../../daemon/containers/views';
import { parseTimestamp, readJsonLog } from '../../daemon/containers/logs';
import { emptyPrecpu, emptySample, sample } from '../../daemon/containers/stats';
import { top } from '../../daemon/containers/top';
import { isRunning } from '../../daemon/containers/state';
import type { ContainerRecord } from '../../daemon/containers/model';
import { invalidArgument, notImplemented } from '../../engine/errdefs';
import type { RequestContext } from '../context';
import type { Route } from '../router';
import { STDERR, STDOUT, frame } from '../streams';
import { parseDetachKeys } from '../../daemon/exec/keys';
import { splice } from '../../daemon/exec/splice';

export interface ContainersBackend {
  containers: ContainerService;
  /** ids of the container's exec instances that have not exited (inspect's ExecIDs) */
  execIds?: (containerId: string) => string[] | null;
  /** whether container `c` was created from the image `ref` (for the `ancestor` filter) */
  imageMatches?: (c: ContainerRecord, ref: string) => boolean;
}

function defaultImageMatches(c: ContainerRecord, ref: string): boolean {
  if (c.imageRef === ref || c.image === ref || c.image === `sha256:${ref}`) return true;
  if (/^[0-9a-f]{4,64}$/.test(ref) && c.image.startsWith(`sha256:${ref}`)) return true;
  const noTag = (r: string) => r.replace(/:[^/:]+$/, '');
  return !ref.includes(':') && noTag(c.imageRef) === ref;
}

async function create(b: ContainersBackend, ctx: RequestContext): Promise<void> {
  const body = await ctx.json();
  const { config, hostConfig } = parseCreateBody(body);
  const name = ctx.string('name');
  const r = await b.containers.create({ ...(name ? { name } : {}), config, hostConfig });
  ctx.send(201, { Id: r.id, Warnings: r.warnings });
}

async function list(b: ContainersBackend, ctx: RequestContext): Promise<void> {
  const limit = ctx.int('limit');
  const found = filterContainers(
    b.containers.list(),
    { all: ctx.bool('all'), filters: ctx.filters(), ...(limit !== undefined ? { limit } : {}) },
    b.imageMatches ?? defaultImageMatches,
  );
  const size = ctx.bool('size');
  const out = [];
  for (const c of found) {
    const rw = size ? await b.containers.sizeRw(c.id).catch(() => 0) : 0;
    out.push(summaryView(c, size ? { rw, rootFs: rw } : undefined));
  }
  ctx.send(200, out);
}

async function inspect(b: ContainersBackend, ctx: RequestContext): Promise<void> {
  const c = b.containers.get(ctx.param('id'));
  const size = ctx.bool('size');
  const rw = size ? await b.containers.sizeRw(c.id).catch(() => 0) : undefined;
  const view = inspectView(c, {
    paths: b.containers.paths(c.id),
    rootfsDir: b.containers.rootfsDir(c.id),
    ...(rw !== undefined ? { sizeRw: rw, sizeRootFs: rw } : {}),
  });
  if (b.execIds) view.ExecIDs = b.execIds(c.id);
  ctx.send(200, view);
}

const CONDITIONS = new Set(['not-running', 'next-exit', 'removed', '']);

async function wait(b: ContainersBackend, ctx: RequestContext): Promise<void> {
  const cond = ctx.string('condition') ?? '';
  if (!CONDITIONS.has(cond)) throw invalidArgument(`invalid condition: "${cond}"`);
  const c = b.containers.get(ctx.param('id'));
  const ac = new AbortController();
  const res = ctx.startStream(200, 'application/json');
  res.on('close', () => ac.abort());
  try {
    const code = await b.containers.wait(c.id, (cond || 'not-running') as WaitCondition, ac.signal);
    res.end(JSON.stringify({ StatusCode: code, Error: null }) + '\n');
  } catch (err) {
    if (ac.signal.aborted) return;
    res.end(JSON.stringify({ StatusCode: -1, Error: { Message: err instanceof Error ? err.message : String(err) } }) + '\n');
  }
}

async function logs(b: ContainersBackend, ctx: RequestContext): Promise<void> {
  const c = b.containers.get(ctx.param('id'));
  const stdout = ctx.bool('stdout');
  const stderr = ctx.bool('stderr');
  if (!stdout && !stderr) throw invalidArgument('Bad parameters: you must choose at least one stream');
  if (c.hostConfig.LogConfig?.Type === 'none') throw notImplemented('configured logging driver does not support reading');
  const tailRaw = ctx.string('tail') ?? 'all';
  const tail = tailRaw === 'all' || tailRaw === '' ? undefined : Number.parseInt(tailRaw, 10);
  const since = parseTimestamp(ctx.string('since'));
  const until = parseTimestamp(ctx.string('until'));
  const follow = ctx.bool('follow');
  const timestamps = ctx.bool('timestamps');
  const tty = c.config.Tty === true;
  const res = ctx.startStream(200, 'application/vnd.docker.raw-stream');
  const ac = new AbortController();
  res.on('close', () => ac.abort());
  try {
    for await (const e of readJsonLog(b.containers.paths(c.id).log, {
      stdout,
      stderr,
      ...(tail !== undefined && !Number.isNaN(tail) ? { tail } : {}),
      ...(since !== undefined ? { since } : {}),
      ...(until !== undefined ? { until } : {}),
      follow,
      isLive: () => {
        try {
          return isRunning(b.containers.get(c.id).state.status);
        } catch {
          return false;
        }
      },
      signal: ac.signal,
    })) {
      const payload = timestamps ? Buffer.concat([Buffer.from(e.time + ' '), e.log]) : e.log;
      const chunk = tty ? payload : frame(e.stream === 'stderr' ? STDERR : STDOUT, payload);
      if (!res.write(chunk)) await drained(res);
      if (ac.signal.aborted) break;
    }
  } finally {
    res.end();
  }
}

function drained(w: Writable): Promise<void> {
  return new Promise((r) => {
    const done = () => {
      w.off('drain', done);
      w.off('close', done);
      r();
    };
    w.on('drain', done);
    w.on('close', done);
  });
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
  const sock = ctx.hijack();
  sock.on('error', () => {});
  const ac = new AbortController();
  sock.on('close', () => ac.abort());
  if (withLogs && (opts.stdout || opts.stderr)) {
    for await (const e of readJsonLog(b.containers.paths(c.id).log, { stdout: opts.stdout, stderr: opts.stderr, follow: false, isLive: () => false })) {
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
  // Docker's attach semantics (detach keys with a tty, StdinOnce, half-close): daemon/exec/splice.ts
  await splice(sock, task, { stdin, tty, detachKeys, closeStdin: c.config.StdinOnce === true });
}

/** Resolves true once everything written to `sock` so far has reached the kernel. */
function flushed(sock: net.Socket): Promise<boolean> {
  return new Promise((resolve) => {
    if (sock.destroyed || !sock.writable) return resolve(false);
    sock.write(Buffer.alloc(0), (err) => resolve(!err));
  });
}

async function stats(b: ContainersBackend, ctx: RequestContext): Promise<void> {
  const c = b.containers.get(ctx.param('id'));
  const stream = ctx.bool('stream', true);
  const oneShot = ctx.bool('one-shot');
  const svc = b.containers;
  const take = () => {
    const cur = svc.get(c.id);
    const base = (isRunning(cur.state.status) ? sample(svc.cgroupPath(c.id), svc.cgroupVersion) : emptySample()) as Record<string, unknown>;
    return { ...base, name: cur.name, id: cur.id } as unknown as Record<string, unknown> & { read: unknown; cpu_stats: unknown };
  };
  const res = ctx.startStream(200, 'application/json');
  let closed = false;
  res.on('close', () => (closed = true));
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  let prev: Record<string, unknown> | undefined;
  if (!stream) {
    const first = take();
    if (!oneShot && isRunning(svc.get(c.id).state.status)) {
      await sleep(1000);
      const second = take();
      res.end(JSON.stringify({ ...second, preread: first.read, precpu_stats: first.cpu_stats }) + '\n');
      return;
    }
    res.end(JSON.stringify({ ...first, preread: '0001-01-01T00:00:00Z', precpu_stats: emptyPrecpu().cpu_stats }) + '\n');
    return;
  }
  while (!closed) {
    const s = take();
    const doc = prev ? { ...s, preread: prev.read, precpu_stats: prev.cpu_stats } : { ...s, preread: '0001-01-01T00:00:00Z', precpu_stats: emptyPrecpu().cpu_stats };
    if (!res.write(JSON.stringify(doc) + '\n')) await drained(res);
    prev = s;
    await sleep(1000);
  }
  res.end();
}

async function prune(b: ContainersBackend, ctx: RequestContext): Promise<void> {
  const f = ctx.filters();
  for (const k of f.keys()) if (!['until', 'label', 'label!'].includes(k)) throw invalidArgument(`Invalid filter '${k}'`);
  let until: number | undefined;
  for (const u of f.get('until') ?? []) {
    const n = /^\d+(\.\d+)?$/.test(u) ? Number(u) * 1000 : Date.parse(u);
    if (Number.isNaN(n)) throw invalidArgument(`invalid filter 'until=${u}'`);
    until = n;
  }
  const labelOk = (labels: Record<string, string>, spec: string) => {
    const i = spec.indexOf('=');
    return i < 0 ? spec in labels : labels[spec.slice(0, i)] === spec.slice(i + 1);
  };
  const r = await b.containers.prune((c) => {
    const labels = c.config.Labels ?? {};
    if (until !== undefined && Date.parse(c.created) >= until) return false;
    if (!(f.get('label') ?? []).every((s) => labelOk(labels, s))) return false;
    if ((f.get('label!') ?? []).some((s) => labelOk(labels, s))) return false;
    return true;
  });
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
        ctx.noContent();
      },
    },
    {
      method: 'POST',
      path: '/containers/{id}/stop',
      handler: async (ctx) => {
        await svc.stop(id(ctx), ctx.int('t'), ctx.string('signal'));
        ctx.noContent();
      },
    },
    {
      method: 'POST',
      path: '/containers/{id}/restart',
      handler: async (ctx) => {
        await svc.restart(id(ctx), ctx.int('t'));
        ctx.noContent();
      },
    },
    {
      method: 'POST',
      path: '/containers/{id}/kill',
      handler: async (ctx) => {
        await svc.kill(id(ctx), ctx.string('signal') || 'SIGKILL');
        ctx.noContent();
      },
    },
    { method: 'POST', path: '/containers/{id}/wait', handler: (ctx) => wait(b, ctx) },
    {
      method: 'DELETE',
      path: '/containers/{id}',
      handler: async (ctx) => {
        await svc.remove(id(ctx), { force: ctx.bool('force') });
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
        const body = parseUpdateBody(await ctx.json());
        const warnings = await svc.update(id(ctx), body);
        ctx.send(200, { Warnings: warnings });
      },
    },
    {
      method: 'GET',
      path: '/containers/{id}/top',
      handler: async (ctx) => {
        const pids = await svc.pids(id(ctx));
        ctx.send(200, await top(pids, ctx.string('ps_args') || '-ef'));
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
