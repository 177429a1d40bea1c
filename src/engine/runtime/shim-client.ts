/**
 * The client side of the shim's socket protocol (docs/shim.md): one request line per
 * connection, one reply line ("ok …", "error …", "exit {json}"); an `attach` request
 * turns the connection into the stdio stream after its "ok" line; `hello` tells the
 * shim's protocol version and capabilities.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { StevedoreError, errnoCode, internal, notImplemented, unavailable } from '../errdefs';
import { nativeSys } from '../sys/native';

const MAX_REPLY = 4096;

/** The shim is not there (socket missing or refused): it exited or crashed. */
export function isShimGone(err: unknown): boolean {
  const c = errnoCode(err) ?? (err as { cause?: unknown })?.cause;
  const code = typeof c === 'string' ? c : errnoCode(c);
  return code === 'ENOENT' || code === 'ECONNREFUSED';
}

function connect(sock: string, signal?: AbortSignal): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const s = net.createConnection({ path: sock, allowHalfOpen: true });
    const onErr = (err: Error) => {
      s.destroy();
      reject(Object.assign(unavailable(`shim not reachable at ${sock}: ${err.message}`, err), { code: errnoCode(err) }));
    };
    s.once('error', onErr);
    s.once('connect', () => {
      s.off('error', onErr);
      resolve(s);
    });
  });
}

/**
 * Reads one '\n'-terminated line in paused mode; bytes after it are pushed back, and
 * the socket is left neither flowing nor explicitly paused, so that a later 'data'
 * listener or pipe() starts it as usual.
 */
function readLine(s: net.Socket, signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    let settled = false;
    const done = (err: Error | undefined, line?: string, rest?: Buffer) => {
      if (settled) return;
      settled = true;
      s.off('readable', onReadable);
      s.off('end', onEnd);
      s.off('error', onError);
      signal?.removeEventListener('abort', onAbort);
      if (rest && rest.length > 0) s.unshift(rest);
      if (err) reject(err);
      else resolve(line ?? '');
    };
    const onReadable = () => {
      let chunk: Buffer | null;
      while (!settled && (chunk = s.read() as Buffer | null) !== null) {
        buf = Buffer.concat([buf, chunk]);
        const nl = buf.indexOf(0x0a);
        if (nl >= 0) done(undefined, buf.subarray(0, nl).toString('utf8'), buf.subarray(nl + 1));
        else if (buf.length > MAX_REPLY) done(internal('shim reply too long'));
      }
    };
    const onEnd = () => done(unavailable('shim closed the connection without a reply'));
    const onError = (err: Error) => done(unavailable(`shim connection failed: ${err.message}`, err));
    const onAbort = () => {
      s.destroy();
      done(signal?.reason instanceof Error ? signal.reason : new StevedoreError('unavailable', 'aborted'));
    };
    s.on('readable', onReadable);
    s.once('end', onEnd);
    s.once('error', onError);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Sends one request and returns the reply line. Throws `unavailable` if the shim is gone. */
export async function shimRequest(sock: string, line: string, signal?: AbortSignal): Promise<string> {
  const s = await connect(sock, signal);
  try {
    s.write(line + '\n');
    return await readLine(s, signal);
  } finally {
    s.destroy();
  }
}

/**
 * Sends a request whose reply line may be followed by a stream on the same connection
 * (`exec … ok <pid>`). Returns the reply and the socket; the caller owns the socket.
 */
export async function shimStreamRequest(sock: string, line: string): Promise<{ reply: string; stream: net.Socket }> {
  const s = await connect(sock);
  s.write(line + '\n');
  try {
    return { reply: await readLine(s), stream: s };
  } catch (err) {
    s.destroy();
    throw err;
  }
}

/** What a shim said to `hello`: its protocol version and capabilities. */
export interface ShimProtocol {
  /** 1: a shim from before `hello` (it answers "error unknown request"); 2: this one. */
  version: number;
  /** Requests and features it has beyond protocol 1 (e.g. "enter", "attach-fd", "framing", "sinks"). */
  capabilities: string[];
}

/** The protocol of a shim from before `hello`: capabilities unknown, found by trying. */
export const PROTOCOL_V1: ShimProtocol = { version: 1, capabilities: [] };

/**
 * Parses the reply to `hello`: "ok v<N> <capability>…", or "error unknown request"
 * from a shim of protocol 1. Throws internal on anything else.
 */
export function parseHello(reply: string): ShimProtocol {
  if (reply === 'error unknown request') return PROTOCOL_V1;
  const m = /^ok v(\d+)((?: [^ ]+)*)$/.exec(reply);
  if (!m) throw internal(`unexpected reply to hello: ${reply}`);
  return { version: Number(m[1]), capabilities: m[2]!.split(' ').filter(Boolean) };
}

/** Asks the shim its protocol version and capabilities (`hello`). */
export async function shimHello(sock: string, signal?: AbortSignal): Promise<ShimProtocol> {
  return parseHello(await shimRequest(sock, 'hello', signal));
}

/**
 * Opens an attach stream; the returned socket carries stdcopy frames or raw bytes.
 * `framing` is sent when given (a shim with the "framing" capability); without it the
 * shim frames by the container's tty.
 */
export async function shimAttach(sock: string, stdin: boolean, stdout: boolean, stderr: boolean, framing?: 'raw' | 'stdcopy'): Promise<Duplex> {
  const s = await connect(sock);
  s.write(`attach ${stdin ? 1 : 0} ${stdout ? 1 : 0} ${stderr ? 1 : 0}${framing ? ` ${framing}` : ''}\n`);
  let reply: string;
  try {
    reply = await readLine(s);
  } catch (err) {
    s.destroy();
    throw err;
  }
  if (reply !== 'ok') {
    s.destroy();
    throw new StevedoreError('conflict', reply.replace(/^error /, ''));
  }
  return s;
}

/** The descriptor under a net.Socket (undefined for one without, e.g. a TLS socket). */
function socketFd(s: net.Socket): number | undefined {
  const fd = (s as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

/**
 * Hands `client` to the shim (`attach-fd 0 <out> <err> [framing]` with the descriptor passed by
 * SCM_RIGHTS): the shim writes the output to it from then on. Resolves once the shim
 * took it; the caller still holds its own descriptor. Throws not-implemented when the
 * socket has no descriptor or the shim does not know the request (an older shim),
 * conflict with the shim's reason otherwise.
 */
export async function shimAttachFd(sock: string, client: net.Socket, stdout: boolean, stderr: boolean, framing?: 'raw' | 'stdcopy'): Promise<void> {
  if (client instanceof tls.TLSSocket) throw notImplemented('a TLS connection cannot be handed to the shim');
  const fd = socketFd(client);
  if (fd === undefined) throw notImplemented('the connection has no descriptor to hand to the shim');
  const s = await connect(sock);
  try {
    const own = socketFd(s);
    if (own === undefined) throw internal('shim connection has no descriptor');
    try {
      nativeSys().sendFd(own, Buffer.from(`attach-fd 0 ${stdout ? 1 : 0} ${stderr ? 1 : 0}${framing ? ` ${framing}` : ''}\n`), fd);
    } catch (err) {
      throw unavailable(`cannot pass the connection to the shim: ${(err as Error).message}`, err);
    }
    const reply = await readLine(s);
    if (reply === 'ok') return;
    if (reply === 'error unknown request') throw notImplemented('the shim cannot take over a connection');
    throw new StevedoreError('conflict', reply.replace(/^error /, ''));
  } finally {
    s.destroy();
  }
}
