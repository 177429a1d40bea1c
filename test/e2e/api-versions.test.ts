/**
 * API versions end to end (issue #16): the daemon driven at 1.41, 1.44, 1.45, 1.50 and 1.52
 * over raw HTTP, and the docker CLI's negotiation. The shapes of each version come from
 * src/api/apiversions.ts (docs/api-versions.md). Against Docker 20.10
 * (STEVEDORE_TEST_TARGET=docker) every request above 1.41 is answered "client version …
 * is too new", which is what these tests assert there.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { type Target, startTarget } from '../helpers/target';
import { importBusybox } from '../helpers/busybox';
import { assertNoContainerLeftovers, dockerOk, removeAllContainers } from '../helpers/containers';
import { freeSubnet24 } from '../helpers/network';

/* eslint-disable @typescript-eslint/no-explicit-any */

describe('API versions 1.24 to 1.52', () => {
  let t: Target;
  const net = `apiv${Math.random().toString(16).slice(2, 8)}`;
  const ok = (args: string[]) => dockerOk(t, args);
  const get = async (p: string) => {
    const r = await t.request('GET', p);
    return { status: r.status, headers: r.headers, body: r.body, json: /^\s*[[{]/.test(r.body) && !r.body.trim().includes('\n') ? (JSON.parse(r.body) as any) : undefined };
  };
  const stevedore = () => t.kind === 'stevedore';
  /** Docker 20.10's answer to a version above 1.41 */
  const tooNew = async (p: string) => {
    const r = await get(p);
    assert.equal(r.status, 400, p);
    assert.match(r.json.message, /client version 1\.\d+ is too new\. Maximum supported API version is 1\.41/);
  };

  before(async () => {
    t = await startTarget({ network: true });
    await importBusybox(t);
    await ok(['network', 'create', '--subnet', freeSubnet24(), net]);
    await ok(['run', '-d', '--name', 'apiv-web', '--network', net, '--network-alias', 'db', 'busybox', 'sleep', '1000']);
  });
  after(async () => {
    try {
      await removeAllContainers(t);
      await t.docker(['network', 'rm', net]);
      await assertNoContainerLeftovers(t);
    } finally {
      await t.stop();
    }
  });

  it('advertises its own highest version in Api-Version, and 1.24 as the minimum', async () => {
    const max = stevedore() ? '1.52' : '1.41';
    for (const p of ['/_ping', '/v1.41/_ping', '/v1.30/version']) {
      const r = await get(p);
      assert.equal(r.status, 200, p);
      assert.equal(r.headers['api-version'], max, p);
    }
    const v = (await get('/version')).json;
    assert.equal(v.ApiVersion, max);
    if (stevedore()) assert.equal(v.MinAPIVersion, '1.24');
    const hi = await get('/v1.53/version');
    assert.equal(hi.status, 400);
    assert.match(hi.json.message, new RegExp(`client version 1\\.53 is too new\\. Maximum supported API version is ${max.replace('.', '\\.')}`));
  });

  it('the docker CLI 28 negotiates 1.50 (Docker 20.10: 1.41)', async () => {
    const out = (await ok(['version', '--format', '{{.Client.APIVersion}} {{.Server.APIVersion}}'])).trim();
    assert.equal(out, stevedore() ? '1.50 1.52' : '1.41 1.41');
  });

  it('image inspect: VirtualSize to 1.43, ContainerConfig to 1.44, container fields of Config to 1.49', async () => {
    const at = async (v: string) => (await get(`/v${v}/images/busybox/json`)).json;
    const v41 = await at('1.41');
    assert.equal(typeof v41.VirtualSize, 'number');
    assert.ok('ContainerConfig' in v41 && 'Container' in v41);
    assert.ok('Hostname' in v41.Config);
    if (!stevedore()) return tooNew('/v1.44/images/busybox/json');
    const v44 = await at('1.44');
    assert.ok(!('VirtualSize' in v44));
    assert.ok('ContainerConfig' in v44);
    const v45 = await at('1.45');
    assert.ok(!('ContainerConfig' in v45) && !('Container' in v45));
    assert.ok('Hostname' in v45.Config);
    const v50 = await at('1.50');
    assert.ok(!('Hostname' in v50.Config) && !('AttachStdin' in v50.Config));
    assert.deepEqual(v50.Config.Cmd, ['sh']);
    const v52 = await at('1.52');
    for (const k of ['Parent', 'Comment', 'DockerVersion', 'Author']) assert.equal(k in v52, v41[k] !== '', `${k} omitted only when empty`);
    assert.equal(v52.Size, v41.Size);
  });

  it('image list: <none> tags and VirtualSize to 1.43, Containers counted from 1.51', async () => {
    const busybox = (b: any[]) => b.find((i) => (i.RepoTags ?? []).includes('busybox:latest'));
    const v41 = busybox((await get('/v1.41/images/json')).json);
    assert.equal(v41.Containers, -1);
    assert.equal(typeof v41.VirtualSize, 'number');
    if (!stevedore()) return tooNew('/v1.44/images/json');
    assert.ok(!('VirtualSize' in busybox((await get('/v1.44/images/json')).json)));
    assert.equal(busybox((await get('/v1.50/images/json')).json).Containers, -1);
    assert.equal(busybox((await get('/v1.52/images/json')).json).Containers, 1);
  });

  it('container inspect: Aliases with the short id to 1.44, DNSNames from 1.44, legacy NetworkSettings to 1.51', async () => {
    const at = async (v: string) => (await get(`/v${v}/containers/apiv-web/json`)).json;
    const v41 = await at('1.41');
    const short = String(v41.Id).slice(0, 12);
    assert.deepEqual(v41.NetworkSettings.Networks[net].Aliases, ['db', short]);
    assert.ok(!('DNSNames' in v41.NetworkSettings.Networks[net]));
    assert.ok('IPAddress' in v41.NetworkSettings);
    if (!stevedore()) return tooNew('/v1.44/containers/apiv-web/json');
    const v44 = await at('1.44');
    assert.deepEqual(v44.NetworkSettings.Networks[net].Aliases, ['db', short]);
    assert.deepEqual(v44.NetworkSettings.Networks[net].DNSNames, ['apiv-web', 'db', short]);
    const v45 = await at('1.45');
    assert.deepEqual(v45.NetworkSettings.Networks[net].Aliases, ['db']);
    assert.deepEqual(v45.NetworkSettings.Networks[net].DNSNames, ['apiv-web', 'db', short]);
    assert.ok('IPAddress' in (await at('1.50')).NetworkSettings);
    const v52 = await at('1.52');
    assert.ok(!('IPAddress' in v52.NetworkSettings) && !('Bridge' in v52.NetworkSettings));
    assert.ok(v52.NetworkSettings.Networks[net].IPAddress, 'the per-network address stays');
  });

  it('events: status/id/from up to 1.51, gone at 1.52', async () => {
    const since = Math.floor(Date.now() / 1000) - 600;
    const until = Math.floor(Date.now() / 1000) + 1;
    const events = async (v: string) =>
      (await get(`/v${v}/events?since=${since}&until=${until}&filters=${encodeURIComponent(JSON.stringify({ container: ['apiv-web'], event: ['start'] }))}`)).body
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l));
    const e41 = await events('1.41');
    assert.equal(e41.length, 1);
    assert.equal(e41[0].status, 'start');
    assert.equal(e41[0].from, 'busybox');
    if (!stevedore()) return tooNew('/v1.52/events?until=1');
    const e52 = await events('1.52');
    assert.equal(e52.length, 1);
    assert.ok(!('status' in e52[0]) && !('id' in e52[0]) && !('from' in e52[0]));
    assert.equal(e52[0].Action, 'start');
    assert.equal((await events('1.50'))[0].status, 'start');
  });

  it('create: several networks and Healthcheck.StartInterval from 1.44, container-wide MacAddress refused at 1.52', async () => {
    const body = (extra: object) => JSON.stringify({ Image: 'busybox', Cmd: ['true'], ...extra });
    const post = (p: string, b: string) => t.request('POST', p, { body: b, headers: { 'Content-Type': 'application/json' } });
    const two = { NetworkingConfig: { EndpointsConfig: { [net]: {}, bridge: {} } } };
    const r41 = await post('/v1.41/containers/create?name=apiv-two41', body(two));
    assert.equal(r41.status, 400);
    assert.match(JSON.parse(r41.body).message, /Container cannot be connected to network endpoints/);
    if (!stevedore()) return tooNew('/v1.44/containers/json');
    const r44 = await post('/v1.44/containers/create?name=apiv-two44', body({ HostConfig: { NetworkMode: net }, NetworkingConfig: { EndpointsConfig: { [net]: {}, bridge: {} } } }));
    assert.equal(r44.status, 201, r44.body);
    const hc = { Healthcheck: { Test: ['CMD', 'true'], Interval: 30e9, StartPeriod: 10e9, StartInterval: 1e9 } };
    for (const [v, want] of [['1.43', undefined], ['1.44', 1e9]] as const) {
      const r = await post(`/v${v}/containers/create?name=apiv-hc${v.replace('.', '')}`, body(hc));
      assert.equal(r.status, 201, r.body);
      assert.equal((await get(`/v1.52/containers/apiv-hc${v.replace('.', '')}/json`)).json.Config.Healthcheck.StartInterval, want, v);
    }
    const mac = { MacAddress: '02:42:ac:11:00:09' };
    const r51 = await post('/v1.51/containers/create?name=apiv-mac51', body(mac));
    assert.equal(r51.status, 201, r51.body);
    assert.match(JSON.parse(r51.body).Warnings.join(), /container-wide MacAddress field is now deprecated/);
    const r52 = await post('/v1.52/containers/create?name=apiv-mac52', body(mac));
    assert.equal(r52.status, 400);
    assert.match(JSON.parse(r52.body).message, /container-wide MAC address no longer supported/);
  });

  it('volume prune: every unused volume to 1.41, only anonymous ones from 1.42 unless all=true', async () => {
    const label = `apiv=${Math.random().toString(16).slice(2, 8)}`;
    const make = async () => {
      await ok(['volume', 'create', '--label', label, 'apiv-named']);
      return (await ok(['volume', 'create', '--label', label])).trim();
    };
    const prune = async (v: string, extra: Record<string, string[]> = {}) => {
      const r = await t.request('POST', `/v${v}/volumes/prune?filters=${encodeURIComponent(JSON.stringify({ label: [label], ...extra }))}`);
      assert.equal(r.status, 200, r.body);
      return (JSON.parse(r.body).VolumesDeleted as string[]).sort();
    };
    const anon = await make();
    assert.deepEqual(await prune('1.41'), [anon, 'apiv-named'].sort());
    if (!stevedore()) return tooNew('/v1.42/volumes');
    const anon2 = await make();
    assert.deepEqual(await prune('1.42'), [anon2]);
    assert.deepEqual(await prune('1.52', { all: ['true'] }), ['apiv-named']);
  });

  it('create: HostConfig.ConsoleSize sizes the tty at a start from 1.42; recorded as given at every version', async () => {
    const body = JSON.stringify({ Image: 'busybox', Cmd: ['sleep', '1000'], Tty: true, OpenStdin: true, HostConfig: { ConsoleSize: [30, 100] } });
    const post = (p: string) => t.request('POST', p, { body, headers: { 'Content-Type': 'application/json' } });
    assert.equal((await post('/v1.41/containers/create?name=apiv-cs41')).status, 201);
    assert.deepEqual((await get('/v1.41/containers/apiv-cs41/json')).json.HostConfig.ConsoleSize, [30, 100]);
    assert.equal((await t.request('POST', '/v1.41/containers/apiv-cs41/start')).status, 204);
    assert.notEqual((await ok(['exec', 'apiv-cs41', 'stty', '-F', '/proc/1/fd/0', 'size'])).trim(), '30 100', 'not sized at 1.41 (Docker 20.10 ignores it on Linux)');
    if (!stevedore()) return tooNew('/v1.42/containers/json');
    const r = await post('/v1.44/containers/create?name=apiv-cs44');
    assert.equal(r.status, 201, r.body);
    assert.deepEqual((await get('/v1.44/containers/apiv-cs44/json')).json.HostConfig.ConsoleSize, [30, 100]);
    assert.equal((await t.request('POST', '/v1.44/containers/apiv-cs44/start')).status, 204);
    assert.equal((await ok(['exec', 'apiv-cs44', 'stty', '-F', '/proc/1/fd/0', 'size'])).trim(), '30 100');
  });

  it('exec: ConsoleSize of the create sizes the tty from 1.42, ignored before', async () => {
    const run = async (v: string) => {
      const c = await t.request('POST', `/v${v}/containers/apiv-web/exec`, { body: JSON.stringify({ Cmd: ['stty', 'size'], Tty: true, AttachStdout: true, ConsoleSize: [20, 60] }), headers: { 'Content-Type': 'application/json' } });
      assert.equal(c.status, 201, c.body);
      const r = await t.request('POST', `/v${v}/exec/${JSON.parse(c.body).Id}/start`, { body: JSON.stringify({ Detach: false, Tty: true }), headers: { 'Content-Type': 'application/json' } });
      assert.equal(r.status, 200);
      return r.body.trim();
    };
    assert.notEqual(await run('1.41'), '20 60');
    if (!stevedore()) return tooNew('/v1.42/containers/json');
    assert.equal(await run('1.42'), '20 60');
  });

  it('stop and restart: the signal query overrides StopSignal from 1.42, ignored before', async () => {
    // pid 1 ignores signals it has no handler for: the traps report which one came
    const name = `apiv-sig${Math.random().toString(16).slice(2, 8)}`;
    const script = "trap 'exit 7' INT; trap 'exit 8' TERM; while :; do sleep 1 & wait $!; done";
    const since = Math.floor(Date.now() / 1000) - 1;
    /** pid 1 catches SIGINT (bit 1) and SIGTERM (bit 14) */
    const ready = async () => {
      for (let i = 0; i < 100; i++) {
        const m = /SigCgt:\s*([0-9a-f]+)/.exec((await t.docker(['exec', name, 'cat', '/proc/1/status'])).stdout);
        if (m && (BigInt('0x' + m[1]) & 0x4002n) === 0x4002n) return;
      }
      assert.fail(`${name} never set its traps`);
    };
    const kills = async () => {
      const f = encodeURIComponent(JSON.stringify({ container: [name], event: ['kill'] }));
      const r = await get(`/v1.41/events?since=${since}&until=${Math.floor(Date.now() / 1000) + 1}&filters=${f}`);
      return r.body.split('\n').filter(Boolean).map((l) => JSON.parse(l).Actor.Attributes.signal as string);
    };
    const exitCode = async () => (await get(`/v1.41/containers/${name}/json`)).json.State.ExitCode;
    await ok(['run', '-d', '--name', name, 'busybox', 'sh', '-c', script]);
    await ready();
    assert.equal((await t.request('POST', `/v1.41/containers/${name}/stop?t=30&signal=SIGINT`)).status, 204);
    assert.equal(await exitCode(), 8, 'the signal query is ignored at 1.41: StopSignal (SIGTERM) went');
    await ok(['start', name]);
    await ready();
    assert.equal((await t.request('POST', `/v1.41/containers/${name}/restart?t=30&signal=BOGUS`)).status, 204, 'ignored at 1.41, even when bad');
    await ready();
    assert.deepEqual(await kills(), ['15', '15']);
    if (!stevedore()) {
      await ok(['rm', '-f', name]);
      return tooNew('/v1.42/containers/json');
    }
    const bad = await t.request('POST', `/v1.42/containers/${name}/stop?t=30&signal=BOGUS`);
    assert.equal(bad.status, 500);
    assert.equal(JSON.parse(bad.body).message, `cannot stop container: ${name}: invalid signal: BOGUS`);
    const badRestart = await t.request('POST', `/v1.42/containers/${name}/restart?t=30&signal=BOGUS`);
    assert.equal(badRestart.status, 500);
    assert.equal(JSON.parse(badRestart.body).message, `Cannot restart container ${name}: invalid signal: BOGUS`);
    assert.equal((await t.request('POST', `/v1.42/containers/${name}/restart?t=30&signal=SIGINT`)).status, 204);
    await ready();
    assert.equal((await t.request('POST', `/v1.44/containers/${name}/stop?t=30&signal=INT`)).status, 204);
    assert.equal(await exitCode(), 7, 'SIGINT went instead of StopSignal');
    assert.deepEqual(await kills(), ['15', '15', '2', '2']);
    assert.equal((await t.request('POST', `/v1.44/containers/${name}/stop?signal=BOGUS`)).status, 304, 'a stopped container: 304 before the signal is read');
    await ok(['rm', '-f', name]);
  });

  it('info: ExecutionDriver and name-only SecurityOptions below 1.25 (both targets)', async () => {
    const v24 = (await get('/v1.24/info')).json;
    assert.equal(v24.ExecutionDriver, '<not supported>');
    assert.ok(v24.SecurityOptions.length > 0 && v24.SecurityOptions.every((o: string) => !o.includes('=')), JSON.stringify(v24.SecurityOptions));
    const v25 = (await get('/v1.25/info')).json;
    assert.ok(!('ExecutionDriver' in v25));
    assert.ok(v25.SecurityOptions.every((o: string) => o.startsWith('name=')), JSON.stringify(v25.SecurityOptions));
    assert.deepEqual(v24.SecurityOptions, v25.SecurityOptions.map((o: string) => /^name=([^,]*)/.exec(o)![1]));
    const v41 = (await get('/v1.41/info')).json;
    assert.ok(!('ExecutionDriver' in v41));
    // Go's time.Now().Format(RFC3339Nano): the daemon's local zone, `Z` when its offset is 0
    assert.match(v41.SystemTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$/);
  });

  it('system df: BuilderSize to 1.41, type filter from 1.42, usage summaries at 1.52', async () => {
    const v41 = (await get('/v1.41/system/df?type=volume')).json;
    assert.ok('BuilderSize' in v41);
    assert.ok(Array.isArray(v41.Images), 'type is ignored before 1.42');
    if (!stevedore()) return tooNew('/v1.42/system/df');
    const v44 = (await get('/v1.44/system/df?type=volume')).json;
    assert.ok(!('BuilderSize' in v44));
    assert.equal(v44.Images, null);
    assert.ok(Array.isArray(v44.Volumes));
    assert.equal((await get('/v1.44/system/df?type=bogus')).status, 400);
    const v52 = (await get('/v1.52/system/df')).json;
    assert.ok(v52.ImageUsage.TotalCount >= 1);
    assert.ok(Array.isArray(v52.Images), 'the legacy lists stay without verbose');
  });
});
