/**
 * `POST /build` and `POST /build/prune` (moby's api/server/router/build): the query
 * parameters parsed as Docker 20.10's newImageBuildOptions, the request body handed to
 * the build service as the context, and the progress written as Docker's JSON stream:
 * an error before the first message is an HTTP error, after it an in-band
 * `errorDetail` (with the exit code of a failed RUN).
 */
import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { BuildRequest } from '../../daemon/build/service';
import type { HostConfig } from '../../daemon/containers/types';
import type { JsonMessage } from '../../daemon/jsonmessage';
import { invalidArgument } from '../../engine/errdefs';
import type { RequestContext } from '../context';
import { describeError } from '../errors';
import type { Route } from '../router';
import { queryFor } from '../apiversions';
import { detachedBody, writeLine } from '../streams';

/** What the build routes need of the daemon. */
export interface BuildBackend {
  /** Runs a build; returns the image ID. */
  build(r: BuildRequest): Promise<string>;
  /** Throws invalid-argument for a filter or `keep-storage` Docker refuses. */
  prune(filters: Map<string, string[]>, opts: { keepStorage?: string }): unknown;
  /** the exit code of a failed RUN error, for `errorDetail.code` */
  errorCode(err: unknown): number | undefined;
}

/** One JSON message as Docker's streamformatter writes it: Go's escaping of `<`, `>`, `&`, and `\r\n`. */
function writeGoJson(out: ServerResponse, m: JsonMessage): Promise<void> {
  return writeLine(out, JSON.stringify(m).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) + '\r');
}

function jsonParam<T>(ctx: RequestContext, name: string, what: string, check: (v: unknown) => v is T): T | undefined {
  const raw = ctx.string(name);
  if (raw === undefined || raw === '') return undefined;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch (err) {
    throw invalidArgument(`${what}: ${(err as Error).message}`);
  }
  if (v === null) return undefined;
  if (!check(v)) throw invalidArgument(`${what}: invalid JSON`);
  return v;
}

const isStringMap = (v: unknown): v is Record<string, string | null> => typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => x === null || typeof x === 'string');
const isStringList = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

function int(ctx: RequestContext, name: string): number {
  const s = ctx.string(name);
  if (s === undefined || s === '') return 0;
  const n = Number(s);
  if (!Number.isInteger(n)) throw invalidArgument(`strconv.ParseInt: parsing ${JSON.stringify(s)}: invalid syntax`);
  return n;
}

/** X-Registry-Config: base64 JSON of registry → credentials; unreadable means none, as Docker. */
function registryConfig(ctx: RequestContext): Record<string, Record<string, unknown>> {
  const h = ctx.req.headers['x-registry-config'];
  if (typeof h !== 'string' || h === '') return {};
  try {
    const v = JSON.parse(Buffer.from(h.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8')) as unknown;
    if (typeof v !== 'object' || v === null) return {};
    const out: Record<string, Record<string, unknown>> = {};
    for (const [k, c] of Object.entries(v as Record<string, unknown>)) {
      if (typeof c !== 'object' || c === null) continue;
      const lower: Record<string, unknown> = {};
      for (const [f, x] of Object.entries(c as Record<string, unknown>)) lower[f.toLowerCase()] = x;
      out[k] = lower;
    }
    return out;
  } catch {
    return {};
  }
}

async function build(b: BuildBackend, ctx: RequestContext): Promise<void> {
  if (ctx.bool('squash')) throw invalidArgument('squash is only supported with experimental mode');
  const version = ctx.string('version');
  if (version !== undefined && version !== '' && version !== '1') {
    if (version === '2') throw invalidArgument('BuildKit is not supported by this daemon: use the classic builder (DOCKER_BUILDKIT=0)');
    throw invalidArgument(`invalid version ${version}`);
  }
  if (ctx.query.getAll('securityopt').length > 0) throw invalidArgument('The daemon on this platform does not support setting security options on build');
  const outputs = ctx.string('outputs');
  if (outputs !== undefined && outputs !== '' && outputs !== '[]' && outputs !== 'null') throw invalidArgument('outputs option is only supported for BuildKit builds');
  const isolation = ctx.string('isolation');
  if (isolation && isolation !== 'default') throw invalidArgument(`Invalid isolation: ${JSON.stringify(isolation)}`);
  if (ctx.string('session')) throw invalidArgument('sessions are not supported by this daemon');
  const buildArgs = new Map<string, string | undefined>();
  for (const [k, v] of Object.entries(jsonParam(ctx, 'buildargs', 'buildargs', isStringMap) ?? {})) buildArgs.set(k, v ?? undefined);
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(jsonParam(ctx, 'labels', 'labels', isStringMap) ?? {})) labels[k] = v ?? '';
  const cacheFrom = jsonParam(ctx, 'cachefrom', 'cachefrom', isStringList) ?? [];
  const ulimits = jsonParam(ctx, 'ulimits', 'ulimits', Array.isArray);
  const forceRm = ctx.bool('forcerm');
  const rmRaw = ctx.string('rm');
  const rm = forceRm || rmRaw === undefined || rmRaw === '' ? true : ctx.bool('rm');
  const hostConfig: HostConfig = {
    NetworkMode: ctx.string('networkmode') ?? '',
    ExtraHosts: ctx.query.getAll('extrahosts'),
    ShmSize: int(ctx, 'shmsize'),
    Memory: int(ctx, 'memory'),
    MemorySwap: int(ctx, 'memswap'),
    CpuShares: int(ctx, 'cpushares'),
    CpuPeriod: int(ctx, 'cpuperiod'),
    CpuQuota: int(ctx, 'cpuquota'),
    CpusetCpus: ctx.string('cpusetcpus') ?? '',
    CpusetMems: ctx.string('cpusetmems') ?? '',
    CgroupParent: ctx.string('cgroupparent') ?? '',
    ...(ulimits && ulimits.length > 0 ? { Ulimits: ulimits as HostConfig['Ulimits'] } : {}),
  } as HostConfig;
  let res: ServerResponse | undefined;
  const write = (m: JsonMessage) => {
    res ??= ctx.startStream(200, 'application/json');
    return writeGoJson(res, m);
  };
  const body: Readable = detachedBody(ctx.req);
  try {
    await b.build({
      body,
      remote: ctx.string('remote') ?? '',
      dockerfile: ctx.string('dockerfile') ?? '',
      tags: ctx.query.getAll('t'),
      quiet: ctx.bool('q'),
      platform: ctx.string('platform') ?? '',
      buildArgs,
      labels,
      target: ctx.string('target') ?? '',
      noCache: ctx.bool('nocache'),
      pull: ctx.bool('pull'),
      rm,
      forceRm,
      cacheFrom,
      hostConfig,
      auth: registryConfig(ctx),
      signal: ctx.signal,
      write,
    });
  } catch (err) {
    if (!res) throw err;
    if (!res.destroyed) {
      const message = describeError(err).message;
      const code = b.errorCode(err);
      await writeGoJson(res, { errorDetail: { ...(code !== undefined ? { code } : {}), message }, error: message });
    }
  } finally {
    res?.end();
    body.resume();
  }
}

export function buildRoutes(b: BuildBackend): Route[] {
  return [
    { method: 'POST', path: '/build', handler: (ctx) => build(b, ctx) },
    { method: 'POST', path: '/build/prune', handler: async (ctx) => ctx.send(200, b.prune(ctx.filters(), { keepStorage: queryFor(ctx, 'POST /build/prune').get('keep-storage') ?? '' })) },
  ];
}
