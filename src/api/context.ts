/**
 * What a handler sees: the request, the response, path parameters, query helpers with
 * Docker's parsing rules, the negotiated API version, and body readers that turn every
 * malformed input into a 400.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { invalidArgument } from '../engine/errdefs';
import type { Logger } from '../engine/log';
import { type GoType, goDecode } from './jsonfold';
import { type ApiVersion, MAX_API_VERSION, versionAtLeast, versionLessThan } from './version';

export type Handler = (ctx: RequestContext) => Promise<void> | void;

/** Largest JSON body accepted (Docker has no fixed limit; a create body is a few KiB). */
export const MAX_JSON_BODY = 16 * 1024 * 1024;

export interface HijackOptions {
  /** Content type of the raw stream; Docker uses raw-stream, or multiplexed-stream from 1.42. */
  contentType?: string;
}

export class RequestContext {
  readonly query: URLSearchParams;
  /** Set when the request arrived as an HTTP upgrade (Connection: Upgrade, Upgrade: tcp). */
  upgradeSocket: Duplex | undefined;
  upgradeHead: Buffer | undefined;
  private hijackedFlag = false;
  private abort: AbortController | undefined;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse | undefined,
    readonly params: Record<string, string>,
    query: URLSearchParams,
    readonly version: ApiVersion,
    readonly log: Logger,
  ) {
    this.query = query;
  }

  /** The response; absent only for upgrade requests, which must call `hijack()`. */
  get response(): ServerResponse {
    if (!this.res) throw invalidArgument('this endpoint does not accept an upgraded connection');
    return this.res;
  }

  /**
   * Aborted when the client goes away before the request body was read whole or the
   * response finished: long operations (pull, push, load, build) pass it down.
   */
  get signal(): AbortSignal {
    if (!this.abort) {
      const ac = (this.abort = new AbortController());
      const gone = () => ac.abort(new Error('client went away'));
      this.req.on('close', () => {
        if (!this.req.complete) gone();
      });
      this.res?.on('close', () => {
        if (!this.res!.writableFinished) gone();
      });
      this.upgradeSocket?.on('close', gone);
      // The client may have left before the handler first asked (its 'close' already fired).
      const sock = this.upgradeSocket ?? this.req.socket;
      if (sock?.destroyed && !this.res?.writableFinished) gone();
    }
    return this.abort.signal;
  }

  /** True once `hijack()` took over the connection: errors can no longer be sent as HTTP. */
  get hijacked(): boolean {
    return this.hijackedFlag;
  }

  versionAtLeast(v: string): boolean {
    return versionAtLeast(this.version, v);
  }
  versionLessThan(v: string): boolean {
    return versionLessThan(this.version, v);
  }

  param(name: string): string {
    const v = this.params[name];
    if (v === undefined) throw invalidArgument(`missing path parameter ${name}`);
    return v;
  }

  /** A query string value, or undefined when absent. */
  string(name: string): string | undefined {
    const v = this.query.get(name);
    return v === null ? undefined : v;
  }

  /** Docker's boolean rule: "", "0", "no", "false", "none" are false; anything else true. */
  bool(name: string, dflt = false): boolean {
    return queryBool(this.query, name, dflt);
  }

  /** An integer query value; 400 when it is not one. */
  int(name: string, dflt?: number): number | undefined {
    const v = this.query.get(name);
    if (v === null || v === '') return dflt;
    if (!/^[+-]?\d+$/.test(v.trim())) throw invalidArgument(`invalid value for ${name}: ${JSON.stringify(v)}`);
    return Number.parseInt(v, 10);
  }

  /**
   * The `filters` query parameter as Docker parses it: `{"key":["v",...]}` or the
   * legacy `{"key":{"v":true}}`. Invalid JSON → 400.
   */
  filters(name = 'filters'): Map<string, string[]> {
    return parseFilters(this.query.get(name));
  }

  /** True when the request carries a body (Content-Length > 0 or chunked). */
  hasBody(): boolean {
    const len = this.req.headers['content-length'];
    if (len !== undefined) return Number(len) > 0;
    return /chunked/i.test(this.req.headers['transfer-encoding'] ?? '');
  }

  /**
   * Reads and parses a JSON body. An empty body gives `undefined`. A body with a
   * Content-Type other than application/json, malformed JSON, or one larger than
   * `limit` → 400 (the connection is kept usable by draining what was sent).
   *
   * With `schema` (a Go type from ./jsonfold), the body is decoded as Docker's Go
   * decoder would: field names matched case-insensitively, duplicate keys and `null`
   * as in Go, Go's type errors; the result carries the canonical field names.
   */
  async json(limit = MAX_JSON_BODY, schema?: GoType): Promise<unknown> {
    const b = await this.jsonBody(limit);
    if (b === undefined) return undefined;
    return schema ? goDecode(b.text, schema) : b.parsed;
  }

  /**
   * The JSON body as sent: its text and its plain `JSON.parse` (undefined when empty),
   * with the Content-Type, size and syntax checks of `json`.
   */
  async jsonBody(limit = MAX_JSON_BODY): Promise<{ text: string; parsed: unknown } | undefined> {
    if (!this.hasBody()) return undefined;
    const ct = this.req.headers['content-type'];
    if (ct !== undefined && !/^application\/json\b/i.test(ct.split(';')[0]!.trim())) {
      this.req.resume();
      throw invalidArgument(`Content-Type specified (${ct}) must be 'application/json'`);
    }
    const body = await this.rawBody(limit);
    if (body.length === 0) return undefined;
    const text = body.toString('utf8');
    try {
      return { text, parsed: JSON.parse(text) };
    } catch (err) {
      throw invalidArgument(`invalid JSON: ${(err as Error).message}`);
    }
  }

  /** Reads the whole body up to `limit` bytes; 400 when larger. */
  async rawBody(limit: number): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let size = 0;
    const head = this.upgradeHead;
    if (head && head.length) {
      chunks.push(head);
      size += head.length;
    }
    const src = this.upgradeSocket ? undefined : this.req;
    if (this.upgradeSocket) {
      // On an upgraded connection Node hands the body over as raw bytes: take exactly Content-Length.
      const want = Number(this.req.headers['content-length'] ?? 0);
      if (want > limit) throw invalidArgument(`request body too large (${want} bytes, limit ${limit})`);
      const sock = this.upgradeSocket;
      while (size < want) {
        const chunk = await readChunk(sock);
        if (chunk === null) break;
        chunks.push(chunk);
        size += chunk.length;
      }
      const all = Buffer.concat(chunks);
      const body = all.subarray(0, want);
      const rest = all.subarray(want);
      this.upgradeHead = rest.length ? rest : undefined;
      return body;
    }
    for await (const c of src!) {
      const b = c as Buffer;
      size += b.length;
      if (size > limit) {
        this.req.resume();
        throw invalidArgument(`request body too large (limit ${limit} bytes)`);
      }
      chunks.push(b);
    }
    return Buffer.concat(chunks);
  }

  /**
   * Reads and drops the request's body, for endpoints that take none but hijack the
   * connection (attach): Docker never reads an attach body, so what a client sends with
   * the request (dockerode sends its options as JSON) is not the container's stdin. On
   * an upgrade exactly Content-Length bytes are taken (a chunked upgrade is left alone:
   * its "body" is the client's stream, as dockerode writes stdin after the upgrade);
   * later bytes stay for the hijacked stream.
   */
  async discardBody(): Promise<void> {
    const want = Number(this.req.headers['content-length'] ?? 0);
    if (!this.upgradeSocket) {
      if (!this.hasBody() || !(want > 0)) return;
      for await (const _ of this.req) void _;
      return;
    }
    if (!(want > 0)) return;
    let head = this.upgradeHead ?? Buffer.alloc(0);
    let left = want;
    const sock = this.upgradeSocket;
    while (left > head.length) {
      left -= head.length;
      const next = await readChunk(sock);
      if (next === null) throw invalidArgument('unexpected EOF in the request body');
      head = next;
    }
    const rest = head.subarray(left);
    this.upgradeHead = rest.length ? rest : undefined;
  }

  /** Writes a JSON response with the given status. */
  send(status: number, body: unknown): void {
    const data = JSON.stringify(body) + '\n';
    const res = this.response;
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) });
    res.end(this.req.method === 'HEAD' ? undefined : data);
  }

  /** 204 No Content. */
  noContent(): void {
    this.response.writeHead(204);
    this.response.end();
  }

  /**
   * Starts a long-lived streaming response and flushes the headers at once: the CLI
   * waits for them before it continues (wait, events, logs -f, progress streams).
   */
  startStream(status: number, contentType: string): ServerResponse {
    const res = this.response;
    res.writeHead(status, { 'Content-Type': contentType });
    res.flushHeaders();
    return res;
  }

  /**
   * Takes over the connection for a bidirectional raw stream. On an upgrade request
   * writes `101 UPGRADED` with Docker's headers and returns the socket (with any bytes
   * the client already sent pushed back); otherwise answers 200 with a raw-stream
   * content type and returns a duplex over the request body and the response.
   */
  hijack(opts: HijackOptions = {}): Duplex {
    if (this.hijackedFlag) throw new Error('connection already hijacked');
    this.hijackedFlag = true;
    const contentType = opts.contentType ?? 'application/vnd.docker.raw-stream';
    if (this.upgradeSocket) {
      const sock = this.upgradeSocket;
      sock.write(
        `HTTP/1.1 101 UPGRADED\r\nContent-Type: ${contentType}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n${this.commonHeaderLines()}\r\n`,
      );
      if (this.upgradeHead && this.upgradeHead.length) sock.unshift(this.upgradeHead);
      this.upgradeHead = undefined;
      return sock;
    }
    const res = this.response;
    res.writeHead(200, { 'Content-Type': contentType });
    res.flushHeaders();
    return new HttpDuplex(this.req, res);
  }

  private commonHeaderLines(): string {
    return Object.entries(commonHeaders(this.version))
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('');
  }
}

/**
 * The next chunk an upgraded socket delivers, or null at its end; rejects on a socket
 * error. Reads with 'readable' and read(), not 'data' and pause(): once the last
 * 'readable' listener is gone the socket is back in its initial state, so whoever takes
 * it next (the ws package, a splice) starts it by adding a 'data' listener, as usual.
 */
function readChunk(sock: Duplex): Promise<Buffer | null> {
  return new Promise<Buffer | null>((resolve, reject) => {
    const cleanup = () => {
      sock.off('readable', onReadable);
      sock.off('end', onEnd);
      sock.off('error', onErr);
    };
    const onReadable = () => {
      const c = sock.read() as Buffer | null;
      if (c === null) return;
      cleanup();
      resolve(c);
    };
    const onEnd = () => {
      cleanup();
      resolve(null);
    };
    const onErr = (e: Error) => {
      cleanup();
      reject(e);
    };
    sock.on('readable', onReadable);
    sock.on('end', onEnd);
    sock.on('error', onErr);
  });
}

/** Docker's boolean query rule: absent → `dflt`; "", "0", "no", "false", "none" are false; anything else true. */
export function queryBool(query: URLSearchParams, name: string, dflt = false): boolean {
  const v = query.get(name);
  if (v === null) return dflt;
  const s = v.trim().toLowerCase();
  return !(s === '' || s === '0' || s === 'no' || s === 'false' || s === 'none');
}

/**
 * A `filters` query value as Docker parses it: `{"key":["v",...]}` or the legacy
 * `{"key":{"v":true}}`. Invalid JSON → 400.
 */
export function parseFilters(raw: string | null): Map<string, string[]> {
  const out = new Map<string, string[]>();
  if (raw === null || raw.trim() === '') return out;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    throw invalidArgument(`invalid filter: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw invalidArgument('invalid filter: expected a JSON object');
  }
  for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) out.set(k, v as string[]);
    else if (typeof v === 'object' && v !== null) out.set(k, Object.keys(v).filter((x) => (v as Record<string, unknown>)[x]));
    else throw invalidArgument(`invalid filter: the value of ${k} must be a list of strings`);
  }
  return out;
}

/** Headers Docker puts on every response. */
export function commonHeaders(_version: ApiVersion): Record<string, string> {
  // Docker's Api-Version is the daemon's own (highest) version whatever the request's: clients negotiate with it
  return { 'Api-Version': MAX_API_VERSION, Ostype: 'linux', Server: SERVER_HEADER };
}

export const SERVER_HEADER = 'stevedore/0.1.0 (linux)';

import { Duplex as DuplexBase } from 'node:stream';

/** A duplex over a non-upgraded request/response pair (reads the body, writes the response). */
class HttpDuplex extends DuplexBase {
  constructor(
    private readonly input: IncomingMessage,
    private readonly output: ServerResponse,
  ) {
    super();
    input.on('data', (c: Buffer) => {
      if (!this.push(c)) input.pause();
    });
    if (input.readableEnded || input.complete) this.push(null);
    else input.on('end', () => this.push(null));
    output.on('close', () => this.destroy());
  }
  override _read(): void {
    this.input.resume();
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.output.write(chunk, cb);
  }
  override _final(cb: (e?: Error | null) => void): void {
    this.output.end(cb);
  }
}
