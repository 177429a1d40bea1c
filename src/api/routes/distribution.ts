/**
 * Registry routes: the pull side of `POST /images/create?fromImage=` (handed to the
 * image routes as their `pull` handler), `POST /images/{name}/push`, `POST /auth` and
 * `GET /distribution/{name}/json`. Progress streams start with their first line, so
 * errors found before it (bad reference, no such manifest, access denied) are HTTP
 * statuses and later ones are in-band `errorDetail` lines, as in dockerd.
 */
import { decodeAuthHeader, type AuthConfig, type Platform } from '../../engine/distribution';
import type { NamedReference } from '../../engine/reference';
import { invalidArgument } from '../../engine/errdefs';
import { DistributionService as Svc } from '../../daemon/distribution/service';
import type { RequestContext } from '../context';
import { describeError } from '../errors';
import type { Route } from '../router';
import { queryFor } from '../apiversions';
import { jsonProgress, type JsonMessage } from '../streams';

// ---------- backend: what these routes need of the daemon (moby's router/distribution/backend.go) ----------

/** Progress of a pull or push, one JSON message at a time. */
type OnMessage = (m: JsonMessage) => Promise<void>;

/** Registry operations (daemon/distribution/service.ts). */
export interface RegistryBackend {
  pull(ref: NamedReference, o: { auth: AuthConfig; platform?: Platform; signal?: AbortSignal; onMessage: OnMessage }): Promise<unknown>;
  push(name: string, tag: string | undefined, o: { auth: AuthConfig; signal?: AbortSignal; onMessage: OnMessage }): Promise<void>;
  login(creds: AuthConfig, signal?: AbortSignal): Promise<{ identityToken?: string; status: string }>;
  /** `docker manifest inspect`-like: the descriptor and platforms of a remote reference. */
  inspect(name: string, auth: AuthConfig, signal?: AbortSignal): Promise<unknown>;
}

export interface DistributionBackend {
  distribution: RegistryBackend;
}

/** Credentials of `X-Registry-Auth`; a malformed header means anonymous, as in dockerd. */
function registryAuth(ctx: RequestContext): AuthConfig {
  const h = ctx.req.headers['x-registry-auth'];
  try {
    return decodeAuthHeader(typeof h === 'string' ? h : undefined);
  } catch {
    return {};
  }
}


/** Runs `fn` with a JSON-lines writer whose first write sends the 200 and the headers. */
function lazyProgress(ctx: RequestContext, fn: (write: (m: JsonMessage) => Promise<void>) => Promise<void>): Promise<void> {
  return jsonProgress(() => ctx.startStream(200, 'application/json'), fn, (err) => describeError(err).message);
}

/** The `fromImage` half of `POST /images/create`. */
export function pullHandler(b: { distribution: Pick<RegistryBackend, 'pull'> }): (ctx: RequestContext) => Promise<void> {
  return async (ctx) => {
    const ref = Svc.pullReference(ctx.string('fromImage') ?? '', ctx.string('tag'));
    const platform = Svc.platform(ctx.string('platform'));
    const auth = registryAuth(ctx);
    const signal = ctx.signal;
    ctx.req.resume();
    await lazyProgress(ctx, async (write) => {
      await b.distribution.pull(ref, { auth, platform, signal, onMessage: write });
    });
  };
}

/**
 * dockerd (20.10 to 27) without an `X-Registry-Auth` header reads the credentials from
 * the body, the old format (docker-py sends `{}` there): an empty body or one that is
 * not an auth object is a 400.
 */
async function bodyAuth(ctx: RequestContext): Promise<AuthConfig> {
  const text = (await ctx.rawBody(64 * 1024)).toString('utf8');
  if (text.trim() === '') throw invalidArgument('Bad parameters and missing X-Registry-Auth: EOF');
  try {
    return decodeAuthHeader(Buffer.from(text).toString('base64'));
  } catch (err) {
    throw invalidArgument(`Bad parameters and missing X-Registry-Auth: ${describeError(err).message}`);
  }
}

async function push(b: DistributionBackend, ctx: RequestContext): Promise<void> {
  queryFor(ctx, 'POST /images/{name}/push'); // API versions: src/api/apiversions.ts
  const auth = ctx.req.headers['x-registry-auth'] === undefined ? await bodyAuth(ctx) : registryAuth(ctx);
  const signal = ctx.signal;
  ctx.req.resume();
  const name = ctx.param('name');
  const tag = ctx.string('tag') || undefined;
  await lazyProgress(ctx, (write) => b.distribution.push(name, tag, { auth, signal, onMessage: write }));
}

async function auth(b: DistributionBackend, ctx: RequestContext): Promise<void> {
  const body = await ctx.json(64 * 1024);
  if (body !== undefined && (typeof body !== 'object' || body === null || Array.isArray(body))) throw invalidArgument('invalid auth configuration: not a JSON object');
  // the header decoder validates fields the same way (case-insensitive keys, strings only)
  const creds = decodeAuthHeader(Buffer.from(JSON.stringify(body ?? {})).toString('base64'));
  const r = await b.distribution.login(creds, ctx.signal);
  ctx.send(200, { IdentityToken: r.identityToken ?? '', Status: r.status });
}

async function inspect(b: DistributionBackend, ctx: RequestContext): Promise<void> {
  ctx.send(200, await b.distribution.inspect(ctx.param('name'), registryAuth(ctx), ctx.signal));
}

export function distributionRoutes(b: DistributionBackend): Route[] {
  return [
    { method: 'POST', path: '/images/{name*}/push', handler: (ctx) => push(b, ctx) },
    { method: 'POST', path: '/auth', handler: (ctx) => auth(b, ctx) },
    { method: 'GET', path: '/distribution/{name*}/json', handler: (ctx) => inspect(b, ctx) },
  ];
}
