/**
 * The network routes through the real HTTP server, over the real network service with
 * the data plane faked (daemon/networks/testing.ts): status codes, bodies decoded as Go
 * decodes them, Docker's shapes and errors.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { EventBus } from '../../daemon/events/bus';
import { NetworkService } from '../../daemon/networks/service';
import { FakeContainers, FakeFirewall, FakeLinks, FakeNameService } from '../../daemon/networks/testing';
import { nullLogger } from '../../engine/log';
import { MetadataDB } from '../../engine/metadata';
import { Router } from '../router';
import { createApiServer } from '../server';
import { networkRoutes } from './networks';

function req(socket: string, method: string, p: string, body?: unknown) {
  return new Promise<{ status: number; body: string; json: () => any }>((resolve, reject) => {
    const data = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const r = http.request({ socketPath: socket, method, path: p, headers: data ? { 'Content-Type': 'application/json' } : {} }, (res) => {
      const c: Buffer[] = [];
      res.on('data', (d: Buffer) => c.push(d));
      res.on('end', () => {
        const text = Buffer.concat(c).toString();
        resolve({ status: res.statusCode!, body: text, json: () => JSON.parse(text) });
      });
    });
    r.on('error', reject);
    r.end(data);
  });
}

describe('network routes', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stv-netapi-'));
  const socket = path.join(dir, 's');
  let server: http.Server;
  const containers = new FakeContainers();

  before(async () => {
    const svc = new NetworkService({ db: MetadataDB.open(':memory:'), events: new EventBus(), log: nullLogger, links: new FakeLinks(), firewall: new FakeFirewall(), dns: new FakeNameService(), config: {} });
    svc.setContainers(containers);
    await svc.open();
    server = createApiServer({ router: new Router().add(...networkRoutes(svc)), log: nullLogger });
    await new Promise<void>((r) => server.listen(socket, r));
  });
  after(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('creates (field names folded as Go does), inspects, lists and removes', async () => {
    const c = await req(socket, 'POST', '/v1.41/networks/create', { name: 'web', checkduplicate: true, LABELS: { a: 'b' }, ipam: { config: [{ subnet: '10.44.0.0/24', gateway: '10.44.0.254' }] } });
    assert.equal(c.status, 201, c.body);
    const { Id, Warning } = c.json();
    assert.match(Id, /^[0-9a-f]{64}$/);
    assert.equal(Warning, '');
    const i = await req(socket, 'GET', `/v1.41/networks/${Id.slice(0, 10)}?verbose=true`);
    assert.equal(i.status, 200);
    assert.equal(i.json().Name, 'web');
    assert.deepEqual(i.json().IPAM.Config, [{ Subnet: '10.44.0.0/24', Gateway: '10.44.0.254' }]);
    assert.deepEqual(i.json().Labels, { a: 'b' });
    const dup = await req(socket, 'POST', '/networks/create', { Name: 'web', CheckDuplicate: true });
    assert.equal(dup.status, 409);
    assert.deepEqual(dup.json(), { message: 'network with name web already exists' });
    const l = await req(socket, 'GET', `/networks?filters=${encodeURIComponent(JSON.stringify({ name: { web: true } }))}`);
    assert.deepEqual(l.json().map((n: { Name: string }) => n.Name), ['web']);
    assert.equal((await req(socket, 'DELETE', `/networks/web`)).status, 204);
    const gone = await req(socket, 'GET', '/networks/web');
    assert.equal(gone.status, 404);
    assert.deepEqual(gone.json(), { message: 'network web not found' });
  });

  it("answers Docker's errors and codes", async () => {
    assert.equal((await req(socket, 'DELETE', '/networks/bridge')).status, 403);
    const bad = await req(socket, 'POST', '/networks/create', { Name: 'x', Internal: 'yes' });
    assert.equal(bad.status, 400);
    assert.match(bad.json().message, /cannot unmarshal string into Go struct field NetworkCreateRequest.Internal of type bool/);
    const empty = await req(socket, 'POST', '/networks/create');
    assert.equal(empty.status, 400);
    assert.deepEqual(empty.json(), { message: 'got EOF while reading request body' });
    const filt = await req(socket, 'GET', `/networks?filters=${encodeURIComponent(JSON.stringify({ color: ['red'] }))}`);
    assert.equal(filt.status, 400);
    assert.deepEqual(filt.json(), { message: "Invalid filter 'color'" });
    const verbose = await req(socket, 'GET', '/networks/bridge?verbose=maybe');
    assert.equal(verbose.status, 400);
    assert.deepEqual(verbose.json(), { message: 'invalid value for verbose: maybe: strconv.ParseBool: parsing "maybe": invalid syntax' });
  });

  it('connects and disconnects with an empty 200, and prunes', async () => {
    await req(socket, 'POST', '/networks/create', { Name: 'app' });
    containers.add({ id: '3'.repeat(64), name: 'c1' });
    const con = await req(socket, 'POST', '/networks/app/connect', { container: 'c1', endpointconfig: { aliases: ['one'] } });
    assert.equal(con.status, 200, con.body);
    assert.equal(con.body, '');
    assert.deepEqual(containers.get('c1').networks.app?.Aliases, ['one']);
    const dis = await req(socket, 'POST', '/networks/app/disconnect', { Container: 'c1' });
    assert.equal(dis.status, 200, dis.body);
    const nobody = await req(socket, 'POST', '/networks/app/connect', { Container: 'nobody' });
    assert.equal(nobody.status, 404);
    const pr = await req(socket, 'POST', '/networks/prune');
    assert.equal(pr.status, 200);
    assert.deepEqual(pr.json(), { NetworksDeleted: ['app'] });
  });
});
