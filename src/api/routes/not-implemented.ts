/**
 * The Engine API operations stevedore does not implement (yet) answer Docker's
 * "not implemented" error, 501, rather than 404 "page not found": a client then sees
 * that the daemon knows the endpoint and does not do it. The list is the operations
 * marked `x-stevedore-not-implemented` in openapi/engine-api.json (generated from
 * Docker's v1.41 definition by scripts/gen-openapi.py).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { notImplemented } from '../../engine/errdefs';
import { projectRoot } from '../../engine/sys/project';
import type { Method, Route } from '../router';

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
      routes.push({
        method: method as Method,
        // `{x*}`: names may hold slashes (images, plugins); real routes are matched first.
        path: p.replace(/\{(\w+)\}/g, '{$1*}'),
        notImplemented: true,
        hijack: true,
        handler: () => {
          throw notImplemented(`${what} is not implemented by stevedore`);
        },
      });
    }
  }
  return routes;
}
