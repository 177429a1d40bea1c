/**
 * Swarm mode's endpoints (`/swarm`, `/nodes`, `/services`, `/tasks`, `/secrets`,
 * `/configs`) as Docker answers them on a node that is not in a swarm — the only state
 * a stevedore node can be in (`docker info` shows `Swarm: inactive`). Each handler
 * checks its input first, in the order moby's swarm router does (request body, then
 * the `version` and flag parameters), and then answers 503 with the cluster's error:
 * "This node is not a swarm manager…", or "This node is not part of a swarm" for leave.
 * `POST /swarm/init` and `/swarm/join` would turn the node into a swarm node, which
 * stevedore does not do: after the body check they answer 501.
 */
import { invalidArgument, notImplemented, unavailable } from '../../engine/errdefs';
import type { Handler, RequestContext } from '../context';
import { MAX_JSON_BODY } from '../context';

/** moby daemon/cluster errNoManager */
export const NOT_A_MANAGER = 'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.';
/** moby daemon/cluster errNoSwarm */
export const NOT_IN_SWARM = 'This node is not part of a swarm';

/**
 * The request body as the swarm router decodes it (json.NewDecoder, no Content-Type
 * check): an empty body is "got EOF while reading request body", a body that is not a
 * JSON object cannot go into the Go struct `goType`. Fields are not checked further:
 * nothing is done with them.
 */
async function body(ctx: RequestContext, goType: string): Promise<void> {
  const raw = (await ctx.rawBody(MAX_JSON_BODY)).toString('utf8');
  if (raw.trim() === '') throw invalidArgument('got EOF while reading request body');
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch (err) {
    throw invalidArgument(`invalid JSON: ${(err as Error).message}`);
  }
  if (v === null || (typeof v === 'object' && !Array.isArray(v))) return;
  const kind = Array.isArray(v) ? 'array' : typeof v === 'boolean' ? 'bool' : typeof v;
  throw invalidArgument(`json: cannot unmarshal ${kind} into Go value of type ${goType}`);
}

/** Go's strconv.ParseUint(s, 10, 64) error text, or undefined when `s` parses. */
function parseUintError(s: string): string | undefined {
  if (!/^\d+$/.test(s)) return `strconv.ParseUint: parsing ${JSON.stringify(s)}: invalid syntax`;
  if (BigInt(s) > 2n ** 64n - 1n) return `strconv.ParseUint: parsing ${JSON.stringify(s)}: value out of range`;
  return undefined;
}

const GO_BOOLS = new Set(['1', 't', 'T', 'TRUE', 'true', 'True', '0', 'f', 'F', 'FALSE', 'false', 'False']);

/** A query value checked with Go's strconv.ParseBool, as the swarm router does for its flags. */
function checkBool(ctx: RequestContext, name: string, message: (v: string) => string): void {
  const v = ctx.string(name);
  if (v !== undefined && v !== '' && !GO_BOOLS.has(v)) throw invalidArgument(message(v));
}

function version(ctx: RequestContext, message: (raw: string, err: string) => string): void {
  const raw = ctx.string('version') ?? '';
  const err = parseUintError(raw);
  if (err) throw invalidArgument(message(raw, err));
}

const noManager = (): never => {
  throw unavailable(NOT_A_MANAGER);
};

const list: Handler = (ctx) => {
  ctx.filters();
  noManager();
};

const logs: Handler = (ctx) => {
  if (!ctx.bool('stdout') && !ctx.bool('stderr')) throw invalidArgument('Bad parameters: you must choose at least one stream');
  noManager();
};

const parseBoolMessage = (name: string) => (v: string) => `invalid value for ${name}: ${v}: strconv.ParseBool: parsing ${JSON.stringify(v)}: invalid syntax`;

/** Handlers by `METHOD path` (the paths of the Engine API definition). */
const HANDLERS: Record<string, Handler> = {
  'GET /swarm': noManager,
  'POST /swarm/init': async (ctx) => {
    await body(ctx, 'swarm.InitRequest');
    throw notImplemented('POST /swarm/init is not implemented by stevedore: it has no swarm mode');
  },
  'POST /swarm/join': async (ctx) => {
    await body(ctx, 'swarm.JoinRequest');
    throw notImplemented('POST /swarm/join is not implemented by stevedore: it has no swarm mode');
  },
  'POST /swarm/leave': () => {
    throw unavailable(NOT_IN_SWARM);
  },
  'POST /swarm/update': async (ctx) => {
    await body(ctx, 'swarm.Spec');
    version(ctx, (raw, err) => `invalid swarm version '${raw}': ${err}`);
    checkBool(ctx, 'rotateWorkerToken', (v) => `invalid value for rotateWorkerToken: ${v}`);
    checkBool(ctx, 'rotateManagerToken', (v) => `invalid value for rotateManagerToken: ${v}`);
    checkBool(ctx, 'rotateManagerUnlockKey', (v) => `invalid value for rotateManagerUnlockKey: ${v}`);
    noManager();
  },
  'GET /swarm/unlockkey': noManager,
  'POST /swarm/unlock': async (ctx) => {
    await body(ctx, 'swarm.UnlockRequest');
    noManager();
  },
  'GET /nodes': list,
  'GET /nodes/{id}': noManager,
  'DELETE /nodes/{id}': noManager,
  'POST /nodes/{id}/update': async (ctx) => {
    await body(ctx, 'swarm.NodeSpec');
    version(ctx, (raw, err) => `invalid node version '${raw}': ${err}`);
    noManager();
  },
  'GET /services': (ctx) => {
    ctx.filters();
    checkBool(ctx, 'status', parseBoolMessage('status'));
    noManager();
  },
  'POST /services/create': async (ctx) => {
    await body(ctx, 'swarm.ServiceSpec');
    noManager();
  },
  'GET /services/{id}': (ctx) => {
    checkBool(ctx, 'insertDefaults', parseBoolMessage('insertDefaults'));
    noManager();
  },
  'DELETE /services/{id}': noManager,
  'POST /services/{id}/update': async (ctx) => {
    await body(ctx, 'swarm.ServiceSpec');
    version(ctx, (raw, err) => `invalid service version '${raw}': ${err}`);
    noManager();
  },
  'GET /services/{id}/logs': logs,
  'GET /tasks': list,
  'GET /tasks/{id}': noManager,
  'GET /tasks/{id}/logs': logs,
  'GET /secrets': list,
  'POST /secrets/create': async (ctx) => {
    await body(ctx, 'swarm.SecretSpec');
    noManager();
  },
  'GET /secrets/{id}': noManager,
  'DELETE /secrets/{id}': noManager,
  'POST /secrets/{id}/update': async (ctx) => {
    await body(ctx, 'swarm.SecretSpec');
    version(ctx, () => 'invalid secret version');
    noManager();
  },
  'GET /configs': list,
  'POST /configs/create': async (ctx) => {
    await body(ctx, 'swarm.ConfigSpec');
    noManager();
  },
  'GET /configs/{id}': noManager,
  'DELETE /configs/{id}': noManager,
  'POST /configs/{id}/update': async (ctx) => {
    await body(ctx, 'swarm.ConfigSpec');
    version(ctx, () => 'invalid config version');
    noManager();
  },
};

/** The handler of a swarm-mode operation (`GET`, `/nodes/{id}`), or undefined for any other. */
export function swarmHandler(method: string, path: string): Handler | undefined {
  return HANDLERS[`${method} ${path}`];
}
