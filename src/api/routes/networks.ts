/**
 * Network routes (moby's router/network): list, inspect, create, remove, prune,
 * connect, disconnect. Thin: parse, call the backend, serialize.
 */
import type { NetworkCreateRequest } from '../../daemon/networks/service';
import type { EndpointConfig } from '../../daemon/networks/types';
import { invalidArgument } from '../../engine/errdefs';
import { MAX_JSON_BODY, type RequestContext } from '../context';
import { NetworkConnectBody, NetworkCreateBody, NetworkDisconnectBody } from '../jsonfold';
import type { Route } from '../router';
import { shapeFor, versionedBody } from '../apiversions';

/** What the network routes need of the daemon (daemon/networks NetworkService). */
export interface NetworksBackend {
  /** Throws invalid-argument for a bad filter. `detailed`: the endpoints in `Containers` (API < 1.28). */
  list(filters: Map<string, string[]>, opts: { detailed?: boolean }): Record<string, unknown>[];
  /** By full id, name or unique id prefix. Throws not-found `network x not found`, invalid-argument (ambiguous). */
  inspect(idOrName: string, opts: { scope?: string }): Record<string, unknown>;
  create(req: NetworkCreateRequest): Promise<{ Id: string; Warning: string }>;
  /** Throws not-found; forbidden for predefined networks and networks with endpoints. */
  remove(idOrName: string): Promise<void>;
  prune(filters: Map<string, string[]>): Promise<{ NetworksDeleted: string[] | null }>;
  connect(network: string, container: string, cfg: EndpointConfig | null | undefined): Promise<void>;
  disconnect(network: string, container: string, force: boolean): Promise<void>;
}

/** Go's strconv.ParseBool, for `verbose`. */
function parseBool(name: string, v: string): boolean {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  throw invalidArgument(`invalid value for ${name}: ${v}: strconv.ParseBool: parsing ${JSON.stringify(v)}: invalid syntax`);
}

/** A body is required (moby: `got EOF while reading request body`). */
async function body<T>(ctx: RequestContext, schema: Parameters<RequestContext['json']>[1], endpoint?: string): Promise<T> {
  const b = endpoint && schema ? (await versionedBody(ctx, endpoint, MAX_JSON_BODY, schema)).body : await ctx.json(MAX_JSON_BODY, schema); // API versions: src/api/apiversions.ts
  if (b === undefined) throw invalidArgument('got EOF while reading request body');
  return b as T;
}

export function networkRoutes(b: NetworksBackend): Route[] {
  return [
    {
      method: 'GET',
      path: '/networks',
      handler: async (ctx) => {
        const detailed = ctx.versionLessThan('1.28');
        ctx.send(200, shapeFor(ctx.version, 'GET /networks', b.list(ctx.filters(), { detailed })));
      },
    },
    {
      method: 'POST',
      path: '/networks/create',
      handler: async (ctx) => ctx.send(201, await b.create(await body<NetworkCreateRequest>(ctx, NetworkCreateBody, 'POST /networks/create'))),
    },
    { method: 'POST', path: '/networks/prune', handler: async (ctx) => ctx.send(200, await b.prune(ctx.filters())) },
    {
      method: 'GET',
      path: '/networks/{id}',
      handler: async (ctx) => {
        const v = ctx.query.get('verbose');
        if (v) parseBool('verbose', v); // verbose adds swarm services only: nothing more for local networks
        const scope = ctx.query.get('scope') ?? '';
        ctx.send(200, shapeFor(ctx.version, 'GET /networks/{id}', b.inspect(ctx.param('id'), scope ? { scope } : {})));
      },
    },
    {
      method: 'DELETE',
      path: '/networks/{id}',
      handler: async (ctx) => {
        await b.remove(ctx.param('id'));
        ctx.noContent();
      },
    },
    {
      method: 'POST',
      path: '/networks/{id}/connect',
      handler: async (ctx) => {
        const req = await body<{ Container?: string; EndpointConfig?: EndpointConfig | null }>(ctx, NetworkConnectBody, 'POST /networks/{id}/connect');
        await b.connect(ctx.param('id'), req.Container ?? '', req.EndpointConfig);
        emptyOk(ctx);
      },
    },
    {
      method: 'POST',
      path: '/networks/{id}/disconnect',
      handler: async (ctx) => {
        const req = await body<{ Container?: string; Force?: boolean }>(ctx, NetworkDisconnectBody);
        await b.disconnect(ctx.param('id'), req.Container ?? '', !!req.Force);
        emptyOk(ctx);
      },
    },
  ];
}

/** 200 without a body: what moby's connect and disconnect handlers answer (they write nothing). */
function emptyOk(ctx: RequestContext): void {
  ctx.response.writeHead(200, { 'Content-Length': 0 });
  ctx.response.end();
}
