import * as http from 'node:http';
import * as https from 'node:https';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { errnoCode, invalidArgument, unavailable } from '../errdefs';
import { tlsOptions, type TlsMaterial } from './hosts';

/** One HTTP request to a registry (or a token server, or blob storage). */
export interface HttpRequest {
  method: string;
  url: URL;
  headers?: Record<string, string>;
  /** A Buffer, or a factory giving a fresh stream for every attempt (retries, redirects). */
  body?: Buffer | (() => Promise<Readable>);
  /** TLS settings for `url`'s host; a redirect to another host uses the system roots only. */
  tls?: TlsMaterial;
  signal?: AbortSignal;
}

/** A response whose body has not been read yet: read it, or `resume()` it. */
export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: http.IncomingMessage;
  /** the URL that answered (after redirects) */
  url: URL;
}

export interface TransportOptions {
  /** redirects followed per request (default 10) */
  maxRedirects?: number;
  /** retries of transient failures: resets, 429, 5xx (default 3) */
  retries?: number;
  /** first backoff delay, doubled each retry (default 250 ms); Retry-After is honoured up to 10 s */
  retryDelayMs?: number;
  /** socket idle timeout (default 60 s) */
  timeoutMs?: number;
}

const RETRY_STATUS = new Set([429, 500, 502, 503, 504]);
const RETRY_CODES = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ECONNABORTED', 'ESOCKETTIMEDOUT']);
const REDIRECT_STATUS = new Set([301, 302, 303, 307, 308]);

/**
 * HTTP(S) client for registry traffic on `node:http`/`node:https`: follows redirects
 * (bounded; the Authorization header is dropped when the redirect leaves the origin,
 * e.g. to blob storage), retries transient failures with exponential backoff (bounded),
 * uses keep-alive agents per TLS configuration. Call {@link close} when done.
 */
export class HttpTransport {
  private readonly maxRedirects: number;
  private readonly retries: number;
  private readonly retryDelayMs: number;
  private readonly timeoutMs: number;
  private readonly agents = new Map<string, http.Agent>();
  private readonly tlsAgents = new WeakMap<TlsMaterial, https.Agent>();
  private readonly allAgents: http.Agent[] = [];

  constructor(opts: TransportOptions = {}) {
    this.maxRedirects = opts.maxRedirects ?? 10;
    this.retries = opts.retries ?? 3;
    this.retryDelayMs = opts.retryDelayMs ?? 250;
    this.timeoutMs = opts.timeoutMs ?? 60_000;
  }

  /** Sends `req`, following redirects and retrying transient failures. */
  async send(req: HttpRequest): Promise<HttpResponse> {
    let url = req.url;
    let method = req.method;
    let body = req.body;
    const headers = { ...(req.headers ?? {}) };
    let tlsm = req.tls;
    for (let redirects = 0; ; redirects++) {
      const res = await this.sendWithRetries({ method, url, headers, body, tls: tlsm, signal: req.signal });
      const location = res.headers.location;
      if (!REDIRECT_STATUS.has(res.status) || typeof location !== 'string') return res;
      res.body.resume();
      if (redirects >= this.maxRedirects) {
        throw unavailable(`${method} "${redact(req.url)}": stopped after ${this.maxRedirects} redirects`);
      }
      let next: URL;
      try {
        next = new URL(location, url);
      } catch {
        throw unavailable(`${method} "${redact(url)}": invalid redirect location`);
      }
      if (next.protocol !== 'https:' && next.protocol !== 'http:') {
        throw unavailable(`${method} "${redact(url)}": redirect to unsupported scheme ${next.protocol}`);
      }
      if (next.origin !== url.origin) {
        // credentials belong to the registry, never to whoever it redirects us to
        for (const k of Object.keys(headers)) if (k.toLowerCase() === 'authorization') delete headers[k];
        if (next.host !== req.url.host) tlsm = undefined;
        else tlsm = req.tls;
      }
      if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === 'POST')) {
        method = 'GET';
        body = undefined;
        for (const k of Object.keys(headers)) if (/^content-(length|type)$/i.test(k)) delete headers[k];
      }
      url = next;
    }
  }

  /** Destroys the keep-alive connections. */
  close(): void {
    for (const a of this.allAgents) a.destroy();
  }

  private async sendWithRetries(req: HttpRequest): Promise<HttpResponse> {
    for (let attempt = 0; ; attempt++) {
      let res: HttpResponse;
      try {
        res = await this.sendOnce(req);
      } catch (err) {
        if (req.signal?.aborted) throw err;
        const code = errnoCode(err) ?? errnoCode((err as { cause?: unknown }).cause);
        if (attempt < this.retries && code !== undefined && RETRY_CODES.has(code)) {
          await sleep(this.retryDelayMs * 2 ** attempt, undefined, { signal: req.signal });
          continue;
        }
        throw err;
      }
      if (attempt < this.retries && RETRY_STATUS.has(res.status)) {
        res.body.resume();
        let delay = this.retryDelayMs * 2 ** attempt;
        const ra = Number(res.headers['retry-after']);
        if (Number.isFinite(ra) && ra > 0) delay = Math.max(delay, Math.min(ra * 1000, 10_000));
        await sleep(delay, undefined, { signal: req.signal });
        continue;
      }
      return res;
    }
  }

  private agentFor(url: URL, tlsm: TlsMaterial | undefined): http.Agent {
    if (url.protocol === 'http:' || !tlsm) {
      const key = url.protocol;
      let a = this.agents.get(key);
      if (!a) {
        a = url.protocol === 'http:' ? new http.Agent({ keepAlive: true }) : new https.Agent({ keepAlive: true });
        this.agents.set(key, a);
        this.allAgents.push(a);
      }
      return a;
    }
    let a = this.tlsAgents.get(tlsm);
    if (!a) {
      a = new https.Agent({ keepAlive: true, ...tlsOptions(tlsm) });
      this.tlsAgents.set(tlsm, a);
      this.allAgents.push(a);
    }
    return a;
  }

  private async sendOnce(req: HttpRequest): Promise<HttpResponse> {
    req.signal?.throwIfAborted();
    const bodyStream = typeof req.body === 'function' ? await req.body() : undefined;
    const mod = req.url.protocol === 'http:' ? http : https;
    return await new Promise<HttpResponse>((resolve, reject) => {
      const r = mod.request(req.url, {
        method: req.method,
        headers: req.headers,
        agent: this.agentFor(req.url, req.tls),
        signal: req.signal,
      });
      r.setTimeout(this.timeoutMs, () => r.destroy(Object.assign(new Error('i/o timeout'), { code: 'ETIMEDOUT' })));
      r.on('error', (err) => {
        bodyStream?.destroy();
        reject(wrapNetworkError(req, err));
      });
      r.on('response', (res) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res, url: req.url }));
      if (Buffer.isBuffer(req.body)) r.end(req.body);
      else if (bodyStream) {
        bodyStream.on('error', (err) => r.destroy(err));
        bodyStream.pipe(r);
      } else r.end();
    });
  }
}

function wrapNetworkError(req: HttpRequest, err: Error) {
  if (err.name === 'AbortError') return err;
  const e = unavailable(`${methodName(req.method)} "${redact(req.url)}": ${err.message}`, err);
  return e;
}

function methodName(m: string): string {
  return m.charAt(0) + m.slice(1).toLowerCase();
}

/** The URL without query string (it may carry upload state or signed tokens). */
export function redact(u: URL): string {
  return u.origin + u.pathname;
}

/** Reads a response body whole, refusing more than `max` bytes. */
export async function readBody(res: HttpResponse, max: number): Promise<Buffer> {
  const declared = Number(res.headers['content-length']);
  if (Number.isFinite(declared) && declared > max) {
    res.body.destroy();
    throw tooLarge(max);
  }
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res.body as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > max) {
      res.body.destroy();
      throw tooLarge(max);
    }
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

function tooLarge(max: number) {
  return invalidArgument(`response body larger than ${max} bytes`);
}
