import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import type * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { nullLogger } from '../engine/log';
import { Router } from './router';
import { createApiServer } from './server';

/**
 * Sends `parts` on one connection, one write each (a short pause between them), and
 * returns everything the server sent until it closed the connection.
 */
function exchange(socket: string, parts: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.createConnection({ path: socket, allowHalfOpen: true });
    const got: Buffer[] = [];
    sock.on('data', (d: Buffer) => got.push(d));
    sock.on('error', reject);
    sock.on('close', () => resolve(Buffer.concat(got).toString()));
    sock.on('connect', async () => {
      for (const p of parts) {
        sock.write(p);
        await new Promise((r) => setTimeout(r, 20));
      }
      sock.end();
    });
  });
}

const upgrade = (body: string, extraHeaders = '') =>
  `POST /attach HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\n${extraHeaders}` +
  (body ? `Content-Length: ${Buffer.byteLength(body)}\r\n` : '') +
  '\r\n';

describe('RequestContext.discardBody (attach takes no body)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stv-ctx-'));
  const socket = path.join(dir, 's');
  let server: http.Server;

  before(async () => {
    // echoes back, after the hijack, everything the client sends as "stdin" until its EOF
    const router = new Router().add({
      method: 'POST',
      path: '/attach',
      hijack: true,
      handler: async (ctx) => {
        await ctx.discardBody();
        const s = ctx.hijack();
        const got: Buffer[] = [];
        s.on('data', (d: Buffer) => got.push(d));
        s.on('end', () => s.end(`stdin=${JSON.stringify(Buffer.concat(got).toString())}`));
      },
    });
    server = createApiServer({ router, log: nullLogger });
    await new Promise<void>((r) => server.listen(socket, r));
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const stdinOf = (reply: string) => {
    assert.match(reply, /^HTTP\/1.1 101 UPGRADED\r\n/);
    return JSON.parse(reply.slice(reply.indexOf('stdin=') + 6)) as string;
  };

  it('drops exactly Content-Length bytes sent with the headers; what follows in the same write is stdin', async () => {
    const body = '{"stream":true,"stdin":true}';
    assert.equal(stdinOf(await exchange(socket, [upgrade(body) + body + 'typed\n'])), 'typed\n');
  });

  it('drops a body that arrives in pieces after the headers', async () => {
    const body = '{"a":"' + 'x'.repeat(100_000) + '"}';
    assert.equal(stdinOf(await exchange(socket, [upgrade(body), body.slice(0, 10), body.slice(10, 70_000), body.slice(70_000) + 'after'])), 'after');
  });

  it('no body: everything after the headers is stdin', async () => {
    assert.equal(stdinOf(await exchange(socket, [upgrade(''), 'one', 'two'])), 'onetwo');
  });

  it('a chunked upgrade is left alone (dockerode announces chunked and then streams stdin raw)', async () => {
    assert.equal(stdinOf(await exchange(socket, [upgrade('', 'Transfer-Encoding: chunked\r\n'), 'raw input'])), 'raw input');
  });

  it('a client that ends in the middle of the body gets an error, not a hijacked stream', async () => {
    const reply = await exchange(socket, [upgrade('{"a":1}').replace(/Content-Length: \d+/, 'Content-Length: 1000') + '{"a"']);
    assert.match(reply, /^HTTP\/1.1 400 /);
  });
});
