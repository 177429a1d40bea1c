import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { nullLogger } from '../engine/log';
import { conflict } from '../engine/errdefs';
import { Router } from './router';
import { createApiServer } from './server';
import { MAX_API_VERSION } from './version';

function req(socket: string, method: string, p: string, body?: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
    const r = http.request({ socketPath: socket, method, path: p, headers }, (res) => {
      const c: Buffer[] = [];
      res.on('data', (d: Buffer) => c.push(d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(c).toString() }));
    });
    r.on('error', reject);
    r.end(body);
  });
}

describe('API server', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stv-api-'));
  const socket = path.join(dir, 's');
  let server: http.Server;

  before(async () => {
    const router = new Router().add(
      { method: 'POST', path: '/echo', handler: async (ctx) => ctx.send(200, { got: await ctx.json(1024), v: ctx.version }) },
      { method: 'GET', path: '/boom', handler: () => { throw new Error('kaboom'); } },
      { method: 'GET', path: '/conflict', handler: () => { throw conflict('already there'); } },
      {
        method: 'POST',
        path: '/hijack',
        hijack: true,
        handler: async (ctx) => {
          const body = await ctx.json();
          const s = ctx.hijack();
          s.write(JSON.stringify(body) + '|');
          s.on('data', (d: Buffer) => s.write(d.toString().toUpperCase()));
          s.on('end', () => s.end());
        },
      },
    );
    server = createApiServer({ router, log: nullLogger });
    await new Promise<void>((r) => server.listen(socket, r));
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('parses JSON bodies and exposes the negotiated version', async () => {
    const r = await req(socket, 'POST', '/v1.30/echo', '{"a":1}', { 'Content-Type': 'application/json' });
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body), { got: { a: 1 }, v: '1.30' });
    assert.equal(r.headers['api-version'], MAX_API_VERSION); // Docker's header is the daemon's version, not the request's
  });

  it('turns malformed input into 400 with a JSON message and keeps serving', async () => {
    for (const [body, ct] of [['{bad', 'application/json'], ['{}', 'text/plain'], ['x'.repeat(5000), 'application/json']] as const) {
      const r = await req(socket, 'POST', '/echo', body, { 'Content-Type': ct });
      assert.equal(r.status, 400, body.slice(0, 10));
      assert.equal(typeof JSON.parse(r.body).message, 'string');
    }
    const ok = await req(socket, 'POST', '/echo', '[1]', { 'Content-Type': 'application/json' });
    assert.equal(ok.status, 200);
  });

  it('maps error kinds to status codes; unknown errors are 500', async () => {
    assert.equal((await req(socket, 'GET', '/conflict')).status, 409);
    const b = await req(socket, 'GET', '/boom');
    assert.equal(b.status, 500);
    assert.equal(JSON.parse(b.body).message, 'kaboom');
    assert.equal((await req(socket, 'GET', '/nope')).status, 404);
  });

  it('hijacks Upgrade: tcp requests with 101 UPGRADED, reading the body that came with them', async () => {
    const out = await new Promise<string>((resolve, reject) => {
      const s = net.connect(socket);
      let data = '';
      s.on('data', (d) => {
        data += d.toString();
        if (data.includes('|') && !data.includes('HELLO')) s.end('hello');
      });
      s.on('end', () => resolve(data));
      s.on('error', reject);
      const body = '{"Detach":false}';
      s.write(`POST /v1.41/hijack HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    });
    assert.match(out, /^HTTP\/1\.1 101 UPGRADED\r\n/);
    assert.match(out, /Content-Type: application\/vnd\.docker\.raw-stream\r\n/);
    assert.match(out, /Upgrade: tcp\r\n/);
    assert.match(out, /\r\n\r\n\{"Detach":false\}\|HELLO$/);
  });

  it('answers a hijack route without Upgrade as a 200 raw stream', async () => {
    const r = await req(socket, 'POST', '/hijack', '{"x":1}', { 'Content-Type': 'application/json' });
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'application/vnd.docker.raw-stream');
    assert.equal(r.body, '{"x":1}|');
  });
});
