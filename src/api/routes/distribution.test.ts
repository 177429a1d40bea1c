/**
 * `POST /images/{name}/push` and its credentials, through the real HTTP server over a
 * fake registry backend: the `X-Registry-Auth` header, or without it the body in the old
 * format (what docker-py sends), as dockerd 20.10–27 read them.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AuthConfig } from '../../engine/distribution';
import { nullLogger } from '../../engine/log';
import { Router } from '../router';
import { createApiServer } from '../server';
import { distributionRoutes, type RegistryBackend } from './distribution';

function req(socket: string, p: string, headers: Record<string, string>, body?: string) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const r = http.request({ socketPath: socket, method: 'POST', path: p, headers }, (res) => {
      const c: Buffer[] = [];
      res.on('data', (d: Buffer) => c.push(d));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(c).toString() }));
    });
    r.on('error', reject);
    r.end(body);
  });
}

describe('push credentials', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stv-distapi-'));
  const socket = path.join(dir, 's');
  let server: http.Server;
  const pushed: Array<{ name: string; tag: string | undefined; auth: AuthConfig }> = [];
  const fake: RegistryBackend = {
    pull: async () => undefined,
    push: async (name, tag, o) => {
      pushed.push({ name, tag, auth: o.auth });
      await o.onMessage({ status: 'pushed' });
    },
    login: async () => ({ status: 'Login Succeeded' }),
    inspect: async () => ({}),
  };

  before(async () => {
    server = createApiServer({ router: new Router().add(...distributionRoutes({ distribution: fake })), log: nullLogger });
    await new Promise<void>((r) => server.listen(socket, r));
  });
  after(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('takes the X-Registry-Auth header when there is one', async () => {
    pushed.length = 0;
    const h = Buffer.from(JSON.stringify({ username: 'hu', password: 'hp' })).toString('base64');
    const r = await req(socket, '/v1.41/images/reg.example/a/push?tag=v1', { 'X-Registry-Auth': h });
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(pushed, [{ name: 'reg.example/a', tag: 'v1', auth: { username: 'hu', password: 'hp' } }]);
  });

  it('without the header, reads the body in the old format: docker-py sends {}', async () => {
    pushed.length = 0;
    const r = await req(socket, '/v1.41/images/reg.example/a/push?tag=v1', { 'Content-Type': 'application/json' }, '{}');
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(pushed, [{ name: 'reg.example/a', tag: 'v1', auth: {} }]);
    const c = await req(socket, '/v1.41/images/reg.example/a/push', { 'Content-Type': 'application/json' }, JSON.stringify({ Username: 'bu', Password: 'bp' }));
    assert.equal(c.status, 200, c.body);
    assert.deepEqual(pushed[1], { name: 'reg.example/a', tag: undefined, auth: { username: 'bu', password: 'bp' } });
  });

  it('without the header, an empty or malformed body is a 400', async () => {
    pushed.length = 0;
    const e = await req(socket, '/v1.41/images/reg.example/a/push?tag=v1', {});
    assert.equal(e.status, 400, e.body);
    assert.equal(JSON.parse(e.body).message, 'Bad parameters and missing X-Registry-Auth: EOF');
    const m = await req(socket, '/v1.41/images/reg.example/a/push?tag=v1', { 'Content-Type': 'application/json' }, '[1]');
    assert.equal(m.status, 400, m.body);
    assert.match(JSON.parse(m.body).message, /^Bad parameters and missing X-Registry-Auth: /);
    assert.deepEqual(pushed, []);
  });
});
