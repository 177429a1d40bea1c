/**
 * Exec routes (`docker exec`): create, start (hijacked, or detached), resize, inspect;
 * and the websocket attach to a container (`/containers/{id}/attach/ws`). Thin: parse,
 * validate, call the backend, connect the streams.
 */
import { Duplex, Transform } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { LogEntry } from '../../daemon/containers/logs';
import type { ContainerRecord } from '../../daemon/containers/model';
import { parseDetachKeys } from '../../daemon/exec/keys';
import { execInspectView, type ExecCreateRequest, type ExecRecord, type StartedExec } from '../../daemon/exec/service';
import { splice } from '../../daemon/exec/splice';
import { invalidArgument } from '../../engine/errdefs';
import { MAX_JSON_BODY, type RequestContext, queryBool } from '../context';
import { ExecCreateBody, ExecStartBody } from '../jsonfold';
import type { Route } from '../router';
import { FrameParser, STDOUT, frame } from '../streams';
import { execCreateConsoleSize, execStartConsoleSize, queryFor, streamContentType, versionedBody } from '../apiversions';

// ---------- backend: what these routes need of the daemon (moby's router/container exec backend) ----------

/** Exec instances (daemon/exec/service.ts). */
export interface ExecInstancesBackend {
  /** Creates an exec in a running container (with the tty size its start uses by default); throws not-found, conflict, invalid-argument. */
  create(containerRef: string, body: ExecCreateRequest, opts?: { consoleSize?: { height: number; width: number } }): { id: string };
  /** Throws not-found. */
  get(id: string): ExecRecord;
  start(id: string, opts: { detach: boolean; tty?: boolean; consoleSize?: { height: number; width: number } }): Promise<StartedExec>;
  resize(id: string, height: number, width: number): Promise<void>;
}

/** What the websocket attach needs of the containers and their logs. */
export interface WsAttachBackend {
  /** Resolves a reference; throws not-found. */
  get(ref: string): ContainerRecord;
  /** Records that a client attached. */
  attached(id: string): void;
  /** The container's stdio as one duplex (stdcopy-framed output without a tty); undefined when it has none. */
  attachStreams(ref: string, opts: { stdin: boolean; stdout: boolean; stderr: boolean }, signal?: AbortSignal): Promise<Duplex | undefined>;
}

export interface ExecBackend {
  execs: ExecInstancesBackend;
  containers: WsAttachBackend;
  /** what was logged so far (the websocket attach's `logs=1`) */
  logs: { logged(ref: string, streams: { stdout: boolean; stderr: boolean }): AsyncIterable<LogEntry> };
}

const RAW = 'application/vnd.docker.raw-stream';

async function create(b: ExecBackend, ctx: RequestContext): Promise<void> {
  const { body, raw } = await versionedBody(ctx, 'POST /containers/{id}/exec', MAX_JSON_BODY, ExecCreateBody); // API versions: src/api/apiversions.ts
  const consoleSize = execCreateConsoleSize(ctx.version, raw);
  const r = b.execs.create(ctx.param('id'), body as ExecCreateRequest, consoleSize ? { consoleSize } : {});
  ctx.send(201, { Id: r.id });
}

interface StartBody {
  detach: boolean;
  /** The start request's own Tty: it chooses the stream's framing (not the exec's Tty). */
  tty: boolean;
  consoleSize?: { height: number; width: number };
}

/** The exec-start body: `{"Detach":bool,"Tty":bool,"ConsoleSize":[h,w]}`. */
function parseStartBody(body: unknown): StartBody {
  if (body === undefined || body === null) return { detach: false, tty: false };
  if (typeof body !== 'object' || Array.isArray(body)) throw invalidArgument('invalid exec start body');
  const o = body as { Detach?: unknown; Tty?: unknown; ConsoleSize?: unknown };
  for (const k of ['Detach', 'Tty'] as const) {
    if (o[k] !== undefined && o[k] !== null && typeof o[k] !== 'boolean') throw invalidArgument(`${k} must be a boolean`);
  }
  const out: StartBody = { detach: o.Detach === true, tty: o.Tty === true };
  const cs = o.ConsoleSize;
  if (cs !== undefined && cs !== null) {
    if (!Array.isArray(cs) || cs.length !== 2 || !cs.every((n) => Number.isInteger(n) && n >= 0 && n <= 65535)) {
      throw invalidArgument('ConsoleSize must be [height, width]');
    }
    if (cs[0] > 0 || cs[1] > 0) out.consoleSize = { height: cs[0] as number, width: cs[1] as number };
  }
  return out;
}

async function start(b: ExecBackend, ctx: RequestContext): Promise<void> {
  const id = ctx.param('id');
  const opts = execStartConsoleSize(ctx.version, parseStartBody(await ctx.json(MAX_JSON_BODY, ExecStartBody)));
  const e = b.execs.get(id);
  if (opts.detach) {
    await b.execs.start(id, opts);
    if (ctx.upgradeSocket) {
      ctx.hijack().end();
      return;
    }
    ctx.response.writeHead(200, { 'Content-Length': '0' });
    ctx.response.end();
    return;
  }
  // As Docker, the START request's Tty chooses the framing (stdcopy frames without it,
  // raw bytes with it), whatever the exec was created with; the exec's own Tty still
  // decides the pty, detach keys and stdin rules.
  const contentType = streamContentType(ctx.version, opts.tty, RAW)!;
  // As Docker: the connection is taken over first and the process started after, so
  // that no output can arrive in the same read as the response headers (clients such
  // as docker-py read the headers through a buffer and would lose it); errors from
  // here on (the runtime refusing the command: exit code 126, see inspect) are
  // reported in the stream.
  const sock = ctx.hijack({ contentType });
  sock.on('error', () => {});
  let started;
  try {
    started = await b.execs.start(id, opts);
  } catch (err) {
    const msg = Buffer.from((err instanceof Error ? err.message : String(err)) + '\r\n');
    sock.end(opts.tty ? msg : frame(STDOUT, msg), () => sock.destroy());
    return;
  }
  if (!started.stream) {
    await started.exited;
    sock.end(() => sock.destroy());
    return;
  }
  await splice(sock, started.stream, {
    stdin: e.attachStdin,
    tty: e.tty,
    detachKeys: parseDetachKeys(e.detachKeys),
    closeStdin: true,
    beforeClose: () => started.exited.then(() => {}),
    ...(opts.tty !== e.tty ? { output: reframe(opts.tty) } : {}),
  });
}

/**
 * The shim sends an exec's output framed by the exec's own tty (raw with one, stdcopy
 * frames without); a start request that asked for the other framing gets it converted:
 * `raw` unwraps the frames (only stdout is attached then, as Docker gives such a start
 * no stderr writer), else every chunk of the pty's output becomes a stdout frame.
 */
function reframe(raw: boolean): Transform {
  if (!raw) {
    return new Transform({
      transform(chunk: Buffer, _enc, cb) {
        cb(null, frame(STDOUT, chunk));
      },
    });
  }
  const parser = new FrameParser();
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      for (const f of parser.push(chunk)) if (f.payload.length) this.push(f.payload);
      cb();
    },
  });
}

/** `GET /containers/{id}/attach/ws`: the container's stdio over a websocket (text frames, never multiplexed). */
async function attachWs(b: ExecBackend, ctx: RequestContext): Promise<void> {
  const c = b.containers.get(ctx.param('id'));
  const detachKeys = parseDetachKeys(ctx.string('detachKeys'));
  if (!ctx.upgradeSocket) throw invalidArgument('websocket upgrade required');
  const q = queryFor(ctx, 'GET /containers/{id}/attach/ws'); // before API 1.42 every stream is attached
  const opts = { stdin: queryBool(q, 'stdin'), stdout: queryBool(q, 'stdout'), stderr: queryBool(q, 'stderr') };
  const stream = ctx.bool('stream');
  const withLogs = ctx.bool('logs');
  const tty = c.config.Tty === true;
  await ctx.discardBody(); // what the websocket sends is stdin, never the request's body
  const wss = new WebSocketServer({ noServer: true });
  const ws = await new Promise<WebSocket>((resolve) => {
    wss.handleUpgrade(ctx.req, ctx.upgradeSocket as never, ctx.upgradeHead ?? Buffer.alloc(0), resolve);
  });
  const client = new WsDuplex(ws, !tty);
  try {
    if (withLogs && (opts.stdout || opts.stderr)) {
      for await (const e of b.logs.logged(c.id, { stdout: opts.stdout, stderr: opts.stderr })) {
        ws.send(e.log, { binary: false });
      }
    }
    if (!stream) return;
    b.containers.attached(c.id);
    const ac = new AbortController();
    ws.once('close', () => ac.abort());
    const task = await b.containers.attachStreams(c.id, opts, ac.signal).catch(() => undefined);
    if (!task) return;
    await splice(client, task, {
      stdin: opts.stdin && c.config.OpenStdin === true,
      tty,
      detachKeys,
      closeStdin: c.config.StdinOnce === true,
    });
  } finally {
    ws.close();
    wss.close();
  }
}

/**
 * A duplex over a websocket for splice(): what is written is sent as text messages
 * (demultiplexed from stdcopy frames first when `demux`); received messages are read.
 */
class WsDuplex extends Duplex {
  private readonly parser: FrameParser | undefined;

  constructor(
    private readonly ws: WebSocket,
    demux: boolean,
  ) {
    super();
    this.parser = demux ? new FrameParser() : undefined;
    ws.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
      const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      if (!this.push(buf)) ws.pause();
    });
    ws.on('close', () => {
      this.push(null);
      this.destroy();
    });
    ws.on('error', () => this.destroy());
  }
  override _read(): void {
    this.ws.resume();
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    const payloads = this.parser ? this.parser.push(chunk).map((f) => f.payload) : [chunk];
    if (payloads.length === 0 || this.ws.readyState !== this.ws.OPEN) return cb();
    payloads.forEach((p, i) => this.ws.send(p, { binary: false }, i === payloads.length - 1 ? () => cb() : undefined));
  }
  override _final(cb: (e?: Error | null) => void): void {
    this.ws.close();
    cb();
  }
}

/** The exec route table, and the websocket attach. */
export function execRoutes(b: ExecBackend): Route[] {
  return [
    { method: 'POST', path: '/containers/{id}/exec', handler: (ctx) => create(b, ctx) },
    { method: 'GET', path: '/containers/{id}/attach/ws', handler: (ctx) => attachWs(b, ctx), hijack: true },
    { method: 'POST', path: '/exec/{id}/start', handler: (ctx) => start(b, ctx), hijack: true },
    {
      method: 'POST',
      path: '/exec/{id}/resize',
      handler: async (ctx) => {
        const h = ctx.int('h', 0)!;
        const w = ctx.int('w', 0)!;
        await b.execs.resize(ctx.param('id'), h, w);
        ctx.response.writeHead(200, { 'Content-Length': '0' });
        ctx.response.end();
      },
    },
    { method: 'GET', path: '/exec/{id}/json', handler: (ctx) => ctx.send(200, execInspectView(b.execs.get(ctx.param('id')))) },
  ];
}
