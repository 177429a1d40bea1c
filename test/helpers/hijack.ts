/**
 * Raw HTTP on the engine's socket, for the hijacked streams (attach, exec start) where a
 * test must see the bytes as they come: one request written at once, the response
 * headers, then the connection itself.
 */
import assert from 'node:assert/strict';
import * as net from 'node:net';

export interface Hijacked {
  sock: net.Socket;
  /** the response's status line and headers */
  head: string;
  /** bytes that arrived after the response headers */
  rest: Buffer;
}

/**
 * Sends one request on a fresh connection (`upgrade`: with `Connection: Upgrade` and
 * `Upgrade: tcp`) with `body` as its JSON body, all in one write, and resolves after the
 * response headers (the socket paused).
 */
export function rawRequest(socket: string, method: string, urlPath: string, body?: string, upgrade = true): Promise<Hijacked> {
  return new Promise((resolve, reject) => {
    const sock = net.createConnection({ path: socket, allowHalfOpen: true });
    sock.on('connect', () => {
      const headers =
        `${method} ${urlPath} HTTP/1.1\r\nHost: docker\r\n` +
        (upgrade ? 'Connection: Upgrade\r\nUpgrade: tcp\r\n' : '') +
        (body !== undefined ? `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` : '');
      sock.write(`${headers}\r\n${body ?? ''}`);
    });
    let buf = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      sock.off('data', onData);
      sock.pause();
      resolve({ sock, head: buf.subarray(0, end).toString(), rest: buf.subarray(end + 4) });
    };
    sock.on('data', onData);
    sock.on('error', reject);
    // settles nothing once resolved; before that, a server that hangs up is an answer too
    sock.on('end', () => reject(new Error(`connection ended before the response headers: ${JSON.stringify(buf.toString())}`)));
  });
}

/** Everything the server sends until it ends the connection (then the client closes its side too), after `first`. */
export function readAll(sock: net.Socket, first: Buffer = Buffer.alloc(0)): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks = [first];
    const done = () => {
      sock.destroy();
      resolve(Buffer.concat(chunks));
    };
    sock.on('data', (d: Buffer) => chunks.push(d));
    sock.on('end', done);
    sock.on('close', done);
    sock.resume();
  });
}

/** Parses stdcopy frames strictly: throws when the bytes are not a sequence of whole frames. */
export function frames(buf: Buffer): Array<{ stream: number; payload: string }> {
  const out: Array<{ stream: number; payload: string }> = [];
  let off = 0;
  while (off < buf.length) {
    assert.ok(off + 8 <= buf.length, `truncated frame header in ${JSON.stringify(buf.toString('latin1'))}`);
    const stream = buf[off]!;
    assert.ok(stream <= 2 && buf[off + 1] === 0 && buf[off + 2] === 0 && buf[off + 3] === 0, `not a stdcopy frame: ${JSON.stringify(buf.toString('latin1'))}`);
    const len = buf.readUInt32BE(off + 4);
    assert.ok(off + 8 + len <= buf.length, 'truncated frame payload');
    out.push({ stream, payload: buf.subarray(off + 8, off + 8 + len).toString() });
    off += 8 + len;
  }
  return out;
}

/** The stdout and stderr of a stdcopy stream (strict: see `frames`). */
export function demux(buf: Buffer): { stdout: string; stderr: string } {
  const r = { stdout: '', stderr: '' };
  for (const f of frames(buf)) {
    if (f.stream === 2) r.stderr += f.payload;
    else r.stdout += f.payload;
  }
  return r;
}
