/**
 * The Engine API operations stevedore does not implement (yet) answer Docker's
 * "not implemented" error, 501, rather than 404 "page not found": a client then sees
 * that the daemon knows the endpoint and does not do it. The list is the operations
 * marked `x-stevedore-not-implemented` in openapi/engine-api.json (generated from
 * Docker's v1.41 definition by scripts/gen-openapi.py).
 *
 * One exception: a GET of one object of a kind stevedore has none of (`GET
 * /plugins/{name}/json`, `/secrets/{id}`, …) answers 404 "No such plugin: x" — true,
 * and what clients rely on: `docker inspect x` asks every object kind in turn and moves
 * on only on a 404. (The /networks operations are served: ./networks.ts.)
 *
 * Swarm mode's operations are not implemented either, but Docker itself answers them on
 * a node outside a swarm — 503 "This node is not a swarm manager…" — and clients
 * (docker-py, `docker info`, `docker node ls`) expect exactly that: those routes answer
 * as Docker does there (./swarm.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { notFound, notImplemented } from '../../engine/errdefs';
import { projectRoot } from '../../engine/sys/project';
import type { Method, Route } from '../router';
import { swarmHandler } from './swarm';

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE']);

/** 501 routes for every operation the document marks as not implemented. */
export function notImplementedRoutes(docPath = path.join(projectRoot(), 'openapi', 'engine-api.json')): Route[] {
  const doc = JSON.parse(fs.readFileSync(docPath, 'utf8')) as { paths: Record<string, Record<string, { 'x-stevedore-not-implemented'?: boolean }>> };
  const routes: Route[] = [];
  for (const [p, ops] of Object.entries(doc.paths)) {
    for (const [m, op] of Object.entries(ops)) {
      const method = m.toUpperCase();
      if (!op['x-stevedore-not-implemented'] || !METHODS.has(method)) continue;
      const what = `${method} ${p}`;
      const swarm = swarmHandler(method, p);
      const lookup = !swarm && method === 'GET' && /^\/(\w+)\/\{(\w+)\}(\/json)?$/.exec(p);
      routes.push({
        method: method as Method,
        // `{x*}`: names may hold slashes (images, plugins); real routes are matched first.
        // Swarm object ids never do (and `/services/{id*}` would take `/services/x/logs`).
        path: swarm ? p : p.replace(/\{(\w+)\}/g, '{$1*}'),
        notImplemented: true,
        hijack: true,
        handler: (ctx) => {
          if (swarm) return swarm(ctx);
          if (lookup) throw notFound(`No such ${lookup[1]!.replace(/s$/, '')}: ${ctx.params[lookup[2]!] ?? ''}`);
          throw notImplemented(`${what} is not implemented by stevedore`);
        },
      });
    }
  }
  return routes;
}
