/**
 * The route table. Paths use `{name}` for one segment and `{name*}` for one or more
 * segments (image names contain slashes: `/images/{name*}/json`). Matching is by
 * method, then by the routes registered under the path's first segment.
 */
import type { Handler } from './context';

export type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE';

export interface Route {
  method: Method;
  path: string;
  handler: Handler;
  /** The endpoint takes over the connection (attach, exec start): served on `upgrade` too. */
  hijack?: boolean;
  /** A Docker endpoint stevedore does not implement: answers 501 (see notImplementedRoutes). */
  notImplemented?: boolean;
}

interface Compiled extends Route {
  regex: RegExp;
  names: string[];
}

export interface Match {
  route: Route;
  params: Record<string, string>;
}

function compile(route: Route): Compiled {
  const names: string[] = [];
  const src = route.path
    .split('/')
    .map((seg) => {
      const m = /^\{(\w+)(\*?)\}$/.exec(seg);
      if (!m) return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      names.push(m[1]!);
      return m[2] ? '(.+)' : '([^/]+)';
    })
    .join('/');
  return { ...route, regex: new RegExp(`^${src}$`), names };
}

function firstSegment(p: string): string {
  const i = p.indexOf('/', 1);
  return i < 0 ? p.slice(1) : p.slice(1, i);
}

export class Router {
  private readonly byKey = new Map<string, Compiled[]>();
  private readonly all: Route[] = [];

  add(...routes: Route[]): this {
    for (const r of routes) {
      const c = compile(r);
      const key = `${r.method} ${firstSegment(r.path)}`;
      const list = this.byKey.get(key) ?? [];
      list.push(c);
      this.byKey.set(key, list);
      this.all.push(r);
    }
    return this;
  }

  /** Every registered route, in registration order (for the OpenAPI conformance test). */
  routes(): readonly Route[] {
    return this.all;
  }

  /**
   * Finds the route for a method and path. HEAD falls back to GET, as in Go's mux.
   * Returns undefined for unknown paths (the server answers Docker's 404 "page not found").
   */
  match(method: string, pathname: string): Match | undefined {
    const m = this.find(method, pathname);
    if (m || method !== 'HEAD') return m;
    return this.find('GET', pathname);
  }

  private find(method: string, pathname: string): Match | undefined {
    const list = this.byKey.get(`${method} ${firstSegment(pathname)}`);
    if (!list) return undefined;
    for (const r of list) {
      const m = r.regex.exec(pathname);
      if (!m) continue;
      const params: Record<string, string> = {};
      r.names.forEach((n, i) => {
        params[n] = decodeURIComponent(m[i + 1]!);
      });
      return { route: r, params };
    }
    return undefined;
  }
}
