/**
 * The Engine API HTTP server: version negotiation, routing, Docker's common headers,
 * error mapping, and connection hijacking for `Upgrade: tcp` requests (attach, exec
 * start), which Node delivers on the `upgrade` event rather than as a request.
 */
import * as http from 'node:http';
import type { Duplex } from 'node:stream';
import { notFound } from '../engine/errdefs';
import type { Logger } from '../engine/log';
import { RequestContext, commonHeaders } from './context';
import { describeError, writeError } from './errors';
import type { Router } from './router';
import { MAX_API_VERSION, negotiate } from './version';

export interface ApiServerOptions {
  router: Router;
  log: Logger;
}

function splitUrl(url: string | undefined): { pathname: string; query: URLSearchParams } {
  const u = url ?? '/';
  const q = u.indexOf('?');
  const rawPath = q < 0 ? u : u.slice(0, q);
  // Collapse duplicate slashes as Go's mux does ("//containers/json" is common from clients).
  const pathname = rawPath.replace(/\/{2,}/g, '/') || '/';
  return { pathname, query: new URLSearchParams(q < 0 ? '' : u.slice(q + 1)) };
}

export function createApiServer(opts: ApiServerOptions): http.Server {
  const { router, log } = opts;
  const server = http.createServer({ keepAliveTimeout: 60_000 });
  server.requestTimeout = 0;
  server.timeout = 0;

  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    void handle(req, res, undefined, undefined);
  });

  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    void handle(req, undefined, socket, head);
  });

  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const body = JSON.stringify({ message: `bad request: ${err.message}` }) + '\n';
    socket.end(
      `HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });

  async function handle(
    req: http.IncomingMessage,
    res: http.ServerResponse | undefined,
    socket: Duplex | undefined,
    head: Buffer | undefined,
  ): Promise<void> {
    const { pathname, query } = splitUrl(req.url);
    let version = MAX_API_VERSION;
    let ctx: RequestContext | undefined;
    try {
      const neg = negotiate(pathname);
      version = neg.version;
      if (res) for (const [k, v] of Object.entries(commonHeaders(version))) res.setHeader(k, v);
      const match = router.match(req.method ?? 'GET', neg.path);
      if (!match) throw notFound('page not found');
      ctx = new RequestContext(req, res, match.params, query, version, log);
      if (socket) {
        socket.on('error', () => socket.destroy());
        if (!match.route.hijack) throw notFound('page not found');
        ctx.upgradeSocket = socket;
        ctx.upgradeHead = head;
      }
      log.debug('request', { method: req.method, url: req.url });
      await match.route.handler(ctx);
    } catch (err) {
      const { status } = describeError(err);
      // A client that hung up ends its request with whatever error the work stopped
      // on (an abort, a premature close): that is not a daemon failure.
      const gone = (socket ?? req.socket)?.destroyed === true && !res?.writableFinished;
      if (gone) log.debug('client went away', { method: req.method, url: req.url, err });
      else if (status >= 500) log.error('request failed', { method: req.method, url: req.url, err });
      else log.debug('request error', { method: req.method, url: req.url, status, err });
      if (ctx?.hijacked) {
        if (socket) socket.destroy();
        else res?.destroy();
      } else if (res) writeError(res, err);
      else if (socket) writeRawError(socket, version, err);
    }
  }

  return server;
}

/** An error answered on an upgrade socket that has not been switched yet. */
function writeRawError(socket: Duplex, version: string, err: unknown): void {
  if (socket.destroyed || !socket.writable) return;
  const { status, message } = describeError(err);
  const body = JSON.stringify({ message }) + '\n';
  const headers = Object.entries(commonHeaders(version))
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${headers}Connection: close\r\n\r\n${body}`,
  );
}
