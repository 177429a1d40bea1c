/**
 * Foundation end to end: ping, version, info and error shapes, through the real docker
 * CLI and raw HTTP. Passes against stevedore and against Docker's own engine
 * (STEVEDORE_TEST_TARGET=docker).
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { type Target, assertClientError, startTarget } from '../helpers/target';

describe('system endpoints', () => {
  let t: Target;
  /** the engine's highest API version: 1.52 here (issue #16), 1.41 for Docker 20.10 */
  const maxApi = () => (t.kind === 'stevedore' ? '1.52' : '1.41');
  before(async () => {
    t = await startTarget();
  });
  after(async () => {
    await t.stop();
  });

  it('answers /_ping with Docker headers, on GET and HEAD, bare and versioned', async () => {
    for (const method of ['GET', 'HEAD']) {
      for (const p of ['/_ping', '/v1.41/_ping']) {
        const r = await t.request(method, p);
        assert.equal(r.status, 200, `${method} ${p}`);
        assert.equal(r.body, method === 'GET' ? 'OK' : '');
        assert.equal(r.headers['api-version'], maxApi());
        assert.equal(r.headers['ostype'], 'linux');
        assert.ok(r.headers['server'], 'Server header');
        assert.equal(r.headers['docker-experimental'], 'false');
        assert.equal(r.headers['cache-control'], 'no-cache, no-store, must-revalidate');
        assert.equal(r.headers['pragma'], 'no-cache');
      }
    }
  });

  it('docker version shows the server engine and API version', async () => {
    const r = await t.docker(['version', '--format', '{{json .Server}}']);
    assert.equal(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout) as { ApiVersion: string; MinAPIVersion: string; Os: string; Arch: string; KernelVersion: string; Components: Array<{ Name: string }> };
    assert.equal(s.ApiVersion, maxApi());
    assert.match(s.MinAPIVersion, /^1\.\d+$/);
    assert.equal(s.Os, 'linux');
    assert.equal(s.KernelVersion, require('node:os').release());
    assert.ok(s.Components.some((c) => c.Name === 'Engine'));
  });

  it('docker info shows real values from the host', async () => {
    const r = await t.docker(['info', '--format', '{{json .}}']);
    assert.equal(r.code, 0, r.stderr);
    const info = JSON.parse(r.stdout) as Record<string, unknown>;
    const os = require('node:os') as typeof import('node:os');
    assert.equal(info.NCPU, os.cpus().length);
    assert.equal(info.MemTotal, os.totalmem());
    assert.equal(info.KernelVersion, os.release());
    assert.equal(info.OSType, 'linux');
    assert.equal(info.Driver, 'overlay2');
    assert.equal(info.DockerRootDir, t.dataRoot);
    assert.equal(info.CgroupDriver, 'cgroupfs');
    assert.match(String(info.CgroupVersion), /^[12]$/);
    assert.equal((info.Swarm as { LocalNodeState: string }).LocalNodeState, 'inactive');
    assert.equal(typeof info.Containers, 'number');
    assert.equal(typeof info.Images, 'number');
    assert.ok(Object.keys(info.Runtimes as object).includes('runc'));
  });

  it('rejects API versions outside the supported range with Docker messages', async () => {
    const hi = await t.request('GET', '/v1.99/version');
    assert.equal(hi.status, 400);
    assert.match(JSON.parse(hi.body).message, new RegExp(`client version 1\\.99 is too new\\. Maximum supported API version is ${maxApi().replace('.', '\\.')}`));
    const lo = await t.request('GET', '/v1.11/version');
    assert.equal(lo.status, 400);
    // Docker answers a too-old client in plain text (clients before API 1.23 expect that).
    assert.match(String(lo.headers['content-type']), /^text\/plain/);
    assert.match(lo.body, /client version 1\.11 is too old\. Minimum supported API version is 1\.\d+, please upgrade your client to a newer version/);
  });

  it('turns malformed create bodies into a 400 JSON message and keeps serving', async () => {
    const bad = await t.request('POST', '/containers/create', { body: '{bad', headers: { 'Content-Type': 'application/json' } });
    assertClientError(t, bad.status);
    assert.equal(typeof JSON.parse(bad.body).message, 'string');
    const ct = await t.request('POST', '/containers/create', { body: '{}', headers: { 'Content-Type': 'text/plain' } });
    assert.equal(ct.status, 400);
    assert.match(JSON.parse(ct.body).message, /Content-Type specified \(text\/plain\) must be 'application\/json'/);
    const wrongType = await t.request('POST', '/containers/create', { body: '{"Image":5}', headers: { 'Content-Type': 'application/json' } });
    assertClientError(t, wrongType.status);
    assert.equal((await t.request('GET', '/_ping')).status, 200);
  });

  it('serves docker-py and docker-compose', async () => {
    const { execFileSync } = require('node:child_process') as typeof import('node:child_process');
    const py = execFileSync('python3', ['-c', 'import docker; c = docker.from_env(); print(c.ping(), c.version()["ApiVersion"], c.info()["OSType"])'], { env: t.env, encoding: 'utf8' });
    assert.equal(py.trim(), `True ${maxApi()} linux`);
    const dc = execFileSync('docker-compose', ['version'], { env: t.env, encoding: 'utf8' });
    assert.match(dc, /docker-compose version 1\.29/);
  });

  it('answers unknown routes with 404 page not found', async () => {
    const r = await t.request('GET', '/v1.41/no/such/route');
    assert.equal(r.status, 404);
    assert.equal(JSON.parse(r.body).message, 'page not found');
  });

  it('streams events with since/until and filters', async () => {
    const now = Math.floor(Date.now() / 1000);
    const r = await t.request('GET', `/events?since=${now - 60}&until=${now - 1}`);
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /application\/json/);
    // Docker ignores filter keys it does not know on /events.
    const unknown = await t.request('GET', `/events?filters=${encodeURIComponent('{"nosuchkey":["x"]}')}&until=${now - 1}`);
    assert.equal(unknown.status, 200);
    const bad = await t.request('GET', `/events?filters=${encodeURIComponent('{bad')}&until=${now - 1}`);
    assertClientError(t, bad.status);
    assert.ok(JSON.parse(bad.body).message);
  });
});
