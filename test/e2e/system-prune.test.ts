/**
 * `docker system` and friends end to end: GET /system/df with sizes, the five prune
 * endpoints (filters `until`, `label`, `label!`, `dangling`, `all`; answers in Docker's
 * shapes; Docker's error for an unknown filter in both filter forms), `docker system df`
 * and `docker system prune` through the CLI, and the events these and other commands
 * emit (`top`, `commit`'s imageRef, labels on `tag`/`untag`, `prune` with `reclaimed`,
 * `die`'s exitCode, `kill`'s signal, network connect/disconnect, volume events).
 * Passes against stevedore and against Docker 20.10 (STEVEDORE_TEST_TARGET=docker).
 *
 * The CLI negotiates the highest API version the engine serves, and volume prune
 * changed at 1.42; CLI commands here are pinned to 1.41 (DOCKER_API_VERSION) so that
 * both engines are asked the same thing, and 1.42's behaviour is checked over raw HTTP
 * when the engine serves it.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { type Target, assertClientError, startTarget } from '../helpers/target';
import { importBusybox } from '../helpers/busybox';
import { assertNoContainerLeftovers, removeAllContainers } from '../helpers/containers';

interface Ev {
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  status?: string;
  id?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const unixNow = () => (Date.now() / 1000).toFixed(3);

describe('system df, prune and events', () => {
  let t: Target;
  let maxApi = '1.41';
  const env141 = { DOCKER_API_VERSION: '1.41' };
  const ok = async (args: string[]) => {
    const r = await t.docker(args, { env: env141 });
    assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}\n${t.kind === 'stevedore' ? t.logs().slice(-2000) : ''}`);
    return r.stdout;
  };
  const api = async (method: string, p: string) => {
    const r = await t.request(method, p);
    return { status: r.status, body: r.body ? (JSON.parse(r.body) as Record<string, unknown>) : {} };
  };
  const q = (filters: unknown) => `?filters=${encodeURIComponent(JSON.stringify(filters))}`;
  /** The events between `since` and now, as `docker events` prints them. */
  const eventsSince = async (since: string): Promise<Ev[]> => {
    await sleep(20); // the last event's timestamp must fall before `until`
    const out = await ok(['events', '--since', since, '--until', unixNow(), '--format', '{{json .}}']);
    return out
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Ev);
  };
  const ids = (out: string) => out.split('\n').filter(Boolean).sort();

  before(async () => {
    t = await startTarget();
    await importBusybox(t);
    const v = (await api('GET', '/version')).body as { ApiVersion: string };
    maxApi = v.ApiVersion;
  });
  after(async () => {
    await removeAllContainers(t);
    const vols = ids((await t.docker(['volume', 'ls', '-q'])).stdout);
    if (vols.length) await t.docker(['volume', 'rm', '-f', ...vols]);
    const nets = ids((await t.docker(['network', 'ls', '-q', '--filter', 'type=custom'])).stdout);
    if (nets.length) await t.docker(['network', 'rm', ...nets]);
    await assertNoContainerLeftovers(t);
    await t.stop();
  });

  it('refuses an unknown filter on every prune endpoint with Docker\'s message, in list and map form', async () => {
    for (const p of ['/containers/prune', '/images/prune', '/networks/prune', '/volumes/prune']) {
      for (const f of [{ bogus: ['1'] }, { bogus: { '1': true } }]) {
        const r = await api('POST', `/v1.41${p}${q(f)}`);
        assert.equal(r.status, 400, `${p} ${JSON.stringify(f)}`);
        assert.equal(r.body.message, "Invalid filter 'bogus'");
      }
    }
    const b = await api('POST', `/v1.41/build/prune${q({ bogus: ['1'] })}`);
    assert.equal(b.status, 400);
    assert.equal(b.body.message, "failed to prune build cache: Invalid filter 'bogus'");
    // `until` is no volume prune filter; `all` only exists from API 1.42
    for (const k of ['until', 'all']) {
      const v = await api('POST', `/v1.41/volumes/prune${q({ [k]: ['1'] })}`);
      assert.equal(v.status, 400);
      assert.equal(v.body.message, `Invalid filter '${k}'`);
    }
  });

  it('refuses a bad until with Docker\'s messages', async () => {
    for (const p of ['/containers/prune', '/images/prune', '/networks/prune']) {
      const bad = await api('POST', `/v1.41${p}${q({ until: ['xyz'] })}`);
      assertClientError(t, bad.status);
      assert.equal(bad.body.message, 'failed to parse value as time or duration: "xyz"', p);
      const two = await api('POST', `/v1.41${p}${q({ until: ['1h', '2h'] })}`);
      assertClientError(t, two.status);
      assert.equal(two.body.message, 'more than one until filter specified', p);
    }
    const d = await api('POST', `/v1.41/images/prune${q({ dangling: ['maybe'] })}`);
    assert.equal(d.status, 400);
    assert.equal(d.body.message, "Invalid filter 'dangling=[maybe]'");
    const bu = await api('POST', `/v1.41/build/prune${q({ until: ['xx'] })}`);
    assertClientError(t, bu.status);
    assert.equal(bu.body.message, `failed to prune build cache: "until" filter expects a duration (e.g., '24h'): time: invalid duration "xx"`);
    // Go's other time.ParseDuration messages, as they are
    for (const [v, goMsg] of [['1d', 'time: unknown unit "d" in duration "1d"'], ['10', 'time: missing unit in duration "10"'], ['1h\u00b5', String.raw`time: unknown unit "h\xc2\xb5" in duration "1h\xc2\xb5"`]]) {
      const r = await api('POST', `/v1.41/build/prune${q({ 'unused-for': [v!] })}`);
      assertClientError(t, r.status);
      assert.equal(r.body.message, `failed to prune build cache: "unused-for" filter expects a duration (e.g., '24h'): ${goMsg}`);
    }
    const both = await api('POST', `/v1.41/build/prune${q({ until: ['1h'], 'unused-for': ['1h'] })}`);
    assert.equal(both.status, 400);
    assert.equal(both.body.message, 'failed to prune build cache: conflicting filters: "until" and "unused-for"');
  });

  it('answers empty prunes in Docker\'s shapes and publishes a prune event for each', async () => {
    const since = unixNow();
    assert.deepEqual((await api('POST', '/v1.41/containers/prune')).body, { ContainersDeleted: null, SpaceReclaimed: 0 });
    assert.deepEqual((await api('POST', '/v1.41/images/prune')).body, { ImagesDeleted: null, SpaceReclaimed: 0 });
    assert.deepEqual((await api('POST', '/v1.41/networks/prune')).body, { NetworksDeleted: null });
    assert.deepEqual((await api('POST', '/v1.41/volumes/prune')).body, { VolumesDeleted: [], SpaceReclaimed: 0 });
    assert.deepEqual((await api('POST', `/v1.41/build/prune${q({ until: ['24h'] })}`)).body, { CachesDeleted: null, SpaceReclaimed: 0 });
    const prunes = (await eventsSince(since)).filter((e) => e.Action === 'prune');
    assert.deepEqual(prunes.map((e) => e.Type), ['container', 'image', 'network', 'volume', 'builder']);
    for (const e of prunes) assert.deepEqual(e.Actor, { ID: '', Attributes: { reclaimed: '0' } });
    // container and image events carry the legacy status; prune's id is empty
    assert.equal(prunes[0]!.status, 'prune');
    assert.equal(prunes[2]!.status, undefined);
  });

  it('prunes stopped containers by until, label and label!, never running ones', async () => {
    await ok(['create', '--name', 'old', '--label', 'grp=a', 'busybox', 'true']);
    await sleep(50);
    const cut = unixNow();
    await sleep(50);
    await ok(['create', '--name', 'new', '--label', 'grp=a', 'busybox', 'true']);
    await ok(['create', '--name', 'other', '--label', 'grp=b', 'busybox', 'true']);
    await ok(['run', '-d', '--name', 'runner', '--label', 'grp=a', 'busybox', 'sleep', '60']);
    const id = async (n: string) => (await ok(['inspect', '--format', '{{.Id}}', n])).trim();
    const oldId = await id('old');
    const newId = await id('new');
    const otherId = await id('other');
    const since = unixNow();
    // until keeps what was created after it
    let r = await api('POST', `/v1.41/containers/prune${q({ until: [cut], label: ['grp=a'] })}`);
    assert.deepEqual(r.body, { ContainersDeleted: [oldId], SpaceReclaimed: 0 });
    // label! keeps the matching ones; the running container stays whatever the filters
    r = await api('POST', `/v1.41/containers/prune${q({ 'label!': { 'grp=b': true } })}`);
    assert.deepEqual(r.body, { ContainersDeleted: [newId], SpaceReclaimed: 0 });
    r = await api('POST', `/v1.41/containers/prune${q({ label: ['grp'] })}`);
    assert.deepEqual(r.body, { ContainersDeleted: [otherId], SpaceReclaimed: 0 });
    assert.equal((await ok(['ps', '-aq', '--filter', 'name=runner'])).trim().length > 0, true);
    const ev = await eventsSince(since);
    const destroyed = ev.filter((e) => e.Action === 'destroy').map((e) => e.Actor.ID);
    assert.deepEqual(destroyed, [oldId, newId, otherId]);
    assert.equal(ev.filter((e) => e.Type === 'container' && e.Action === 'prune').length, 3);
    await ok(['rm', '-f', 'runner']);
  });

  it('reports the bytes a pruned container wrote as SpaceReclaimed', async () => {
    await ok(['run', '--name', 'writer', '--label', 'w=1', 'busybox', 'sh', '-c', 'printf 12345 > /f']);
    const since = unixNow();
    const r = await api('POST', `/v1.41/containers/prune${q({ label: ['w=1'] })}`);
    const body = r.body as { ContainersDeleted: string[]; SpaceReclaimed: number };
    assert.equal(body.ContainersDeleted.length, 1);
    assert.equal(body.SpaceReclaimed, 5);
    const ev = (await eventsSince(since)).filter((e) => e.Action === 'prune');
    assert.deepEqual(ev.map((e) => e.Actor.Attributes), [{ reclaimed: '5' }]);
  });

  it('prunes dangling images by default, unused ones with dangling=false, by label and until', async () => {
    await ok(['create', '--name', 'src', 'busybox', 'true']);
    const first = (await ok(['commit', '--change', 'LABEL kind=pr', 'src', 'pr:1'])).trim();
    await sleep(1100); // a second commit with the same config must differ by its time
    const second = (await ok(['commit', '--change', 'LABEL kind=pr', 'src', 'pr:1'])).trim();
    assert.notEqual(first, second);
    const keep = (await ok(['commit', '--change', 'LABEL kind=keep', 'src', 'keep:1'])).trim();
    await ok(['rm', 'src']);
    // the first image lost its tag: dangling, and the only one the default prune takes
    let r = await api('POST', '/v1.41/images/prune');
    assert.deepEqual(r.body, { ImagesDeleted: [{ Deleted: first }], SpaceReclaimed: 0 });
    // until before everything keeps everything
    r = await api('POST', `/v1.41/images/prune${q({ dangling: ['false'], until: ['2000-01-01T00:00:00Z'] })}`);
    assert.deepEqual(r.body, { ImagesDeleted: null, SpaceReclaimed: 0 });
    // an image a container uses stays
    await ok(['create', '--name', 'user', 'pr:1', 'true']);
    r = await api('POST', `/v1.41/images/prune${q({ dangling: ['false'], label: ['kind=pr'] })}`);
    assert.deepEqual(r.body, { ImagesDeleted: null, SpaceReclaimed: 0 });
    await ok(['rm', 'user']);
    const since = unixNow();
    r = await api('POST', `/v1.41/images/prune${q({ dangling: ['false'], label: ['kind=pr'] })}`);
    assert.deepEqual(r.body, { ImagesDeleted: [{ Untagged: 'pr:1' }, { Deleted: second }], SpaceReclaimed: 0 });
    // label! leaves the labelled image; busybox (no labels) is untagged but stays, as the
    // parent of the image kept (moby deletes an untagged image only once it is dangling)
    r = await api('POST', `/v1.41/images/prune${q({ dangling: ['false'], 'label!': ['kind=keep'] })}`);
    assert.deepEqual(r.body, { ImagesDeleted: [{ Untagged: 'busybox:latest' }], SpaceReclaimed: 0 });
    assert.deepEqual(ids(await ok(['images', '-q', '--no-trunc'])), [keep]);
    const ev = await eventsSince(since);
    const untag = ev.find((e) => e.Action === 'untag' && e.Actor.ID === second)!;
    assert.deepEqual(untag.Actor.Attributes, { kind: 'pr', name: second });
    const del = ev.find((e) => e.Action === 'delete' && e.Actor.ID === second)!;
    assert.deepEqual(del.Actor.Attributes, { name: second });
    assert.deepEqual(ev.filter((e) => e.Type === 'image' && e.Action === 'prune').map((e) => e.Actor.Attributes), [{ reclaimed: '0' }, { reclaimed: '0' }]);
    // the untagged parent goes with its last child
    const rmi = await ok(['rmi', 'keep:1']);
    assert.match(rmi, new RegExp(`^Untagged: keep:1\nDeleted: ${keep}\nDeleted: sha256:`));
    await importBusybox(t);
  });

  it('prunes unused custom networks by until, label and label!', async () => {
    await ok(['network', 'create', '--label', 'n=a', 'pn-old']);
    await sleep(50);
    const cut = unixNow();
    await sleep(50);
    await ok(['network', 'create', '--label', 'n=a', 'pn-new']);
    await ok(['network', 'create', '--label', 'n=b', 'pn-other']);
    await ok(['network', 'create', '--label', 'n=a', 'pn-used']);
    await ok(['run', '-d', '--name', 'netuser', '--network', 'pn-used', 'busybox', 'sleep', '60']);
    let r = await api('POST', `/v1.41/networks/prune${q({ until: [cut], label: ['n=a'] })}`);
    assert.deepEqual(r.body, { NetworksDeleted: ['pn-old'] });
    r = await api('POST', `/v1.41/networks/prune${q({ 'label!': ['n=b'] })}`);
    assert.deepEqual(r.body, { NetworksDeleted: ['pn-new'] });
    r = await api('POST', `/v1.41/networks/prune${q({ label: ['n'] })}`);
    assert.deepEqual(r.body, { NetworksDeleted: ['pn-other'] });
    await ok(['rm', '-f', 'netuser']);
    r = await api('POST', '/v1.41/networks/prune');
    assert.deepEqual(r.body, { NetworksDeleted: ['pn-used'] });
  });

  it('prunes every unused local volume at API 1.41, by label and label!', async () => {
    await ok(['volume', 'create', '--label', 'v=a', 'va']);
    await ok(['volume', 'create', '--label', 'v=b', 'vb']);
    await ok(['volume', 'create', 'vused']);
    await ok(['create', '--name', 'voluser', '-v', 'vused:/d', '-v', '/anon', 'busybox', 'true']);
    const anon = (await ok(['inspect', '--format', '{{range .Mounts}}{{if eq .Destination "/anon"}}{{.Name}}{{end}}{{end}}', 'voluser'])).trim();
    let r = await api('POST', `/v1.41/volumes/prune${q({ label: ['v=a'] })}`);
    assert.deepEqual(r.body, { VolumesDeleted: ['va'], SpaceReclaimed: 0 });
    r = await api('POST', `/v1.41/volumes/prune${q({ 'label!': { 'v=b': true } })}`);
    assert.deepEqual(r.body, { VolumesDeleted: [], SpaceReclaimed: 0 });
    await ok(['rm', 'voluser']);
    await ok(['run', '--rm', '-v', 'vb:/d', 'busybox', 'sh', '-c', 'printf abc > /d/f']);
    r = await api('POST', '/v1.41/volumes/prune');
    const body = r.body as { VolumesDeleted: string[]; SpaceReclaimed: number };
    assert.deepEqual([...body.VolumesDeleted].sort(), [anon, 'vb', 'vused'].sort());
    assert.equal(body.SpaceReclaimed, 3);
  });

  it('prunes only anonymous volumes from API 1.42 unless all=true (when the engine serves 1.42)', async (ctx) => {
    if (Number(maxApi.split('.')[1]) < 42) return ctx.skip(`the engine serves API ${maxApi}`);
    await ok(['volume', 'create', 'named42']);
    await ok(['create', '--name', 'anonuser', '-v', '/anon', 'busybox', 'true']);
    const anon = (await ok(['inspect', '--format', '{{range .Mounts}}{{.Name}}{{end}}', 'anonuser'])).trim();
    await ok(['rm', 'anonuser']);
    let r = await api('POST', '/v1.42/volumes/prune');
    assert.deepEqual(r.body, { VolumesDeleted: [anon], SpaceReclaimed: 0 });
    r = await api('POST', `/v1.42/volumes/prune${q({ all: ['true'] })}`);
    assert.deepEqual(r.body, { VolumesDeleted: ['named42'], SpaceReclaimed: 0 });
  });

  it('fills /system/df: images, containers with sizes, volumes with usage, no build cache', async () => {
    await ok(['volume', 'create', 'dfvol']);
    await ok(['run', '--name', 'dfc', '-v', 'dfvol:/d', 'busybox', 'sh', '-c', 'printf 1234567 > /f; printf xy > /d/g']);
    const r = await api('GET', '/v1.41/system/df');
    assert.equal(r.status, 200);
    const df = r.body as {
      LayersSize: number;
      Images: Array<Record<string, unknown>>;
      Containers: Array<Record<string, unknown>>;
      Volumes: Array<{ Name: string; UsageData: { Size: number; RefCount: number } }>;
      BuildCache: unknown;
      BuilderSize: number;
    };
    assert.deepEqual(Object.keys(df).sort(), ['BuildCache', 'BuilderSize', 'Containers', 'Images', 'LayersSize', 'Volumes']);
    assert.ok(df.LayersSize > 1_000_000);
    assert.equal(df.BuildCache, null);
    assert.equal(df.BuilderSize, 0);
    const img = df.Images.find((i) => (i.RepoTags as string[] | null)?.includes('busybox:latest'))!;
    assert.equal(img.Containers, 1);
    assert.equal(img.Size, df.LayersSize);
    assert.equal(img.VirtualSize, img.Size);
    assert.equal(img.SharedSize, 0);
    const c = df.Containers.find((x) => (x.Names as string[])[0] === '/dfc')!;
    assert.equal(c.SizeRw, 7);
    assert.equal(c.SizeRootFs, df.LayersSize + 7);
    const v = df.Volumes.find((x) => x.Name === 'dfvol')!;
    assert.deepEqual(v.UsageData, { RefCount: 1, Size: 2 });
    // the CLI's table and verbose view
    const table = await ok(['system', 'df']);
    assert.match(table, /^TYPE\s+TOTAL\s+ACTIVE\s+SIZE\s+RECLAIMABLE\n/);
    assert.match(table, /\nImages\s+1\s+1\s+/);
    assert.match(table, /\nContainers\s+1\s+0\s+7B\s+7B \(100%\)\n/);
    assert.match(table, /\nLocal Volumes\s+1\s+1\s+2B\s+0B \(0%\)\n/);
    assert.match(table, /\nBuild Cache\s+0\s+0\s+0B\s+0B\n/);
    const verbose = await ok(['system', 'df', '-v']);
    for (const h of ['Images space usage:', 'Containers space usage:', 'Local Volumes space usage:', 'Build cache usage: 0B']) assert.ok(verbose.includes(h), h);
    assert.match(verbose, /\ndfvol\s+1\s+2B\n/);
    await ok(['rm', 'dfc']);
    await ok(['volume', 'rm', 'dfvol']);
  });

  it('docker system prune: containers and networks, then --volumes, then --all; filters by label and until', async () => {
    await ok(['network', 'create', '--label', 'sp=1', 'spnet']);
    await ok(['volume', 'create', 'spvol']);
    await ok(['create', '--name', 'sp1', '--label', 'sp=1', 'busybox', 'true']);
    await ok(['create', '--name', 'sp2', 'busybox', 'true']);
    const sp1 = (await ok(['inspect', '--format', '{{.Id}}', 'sp1'])).trim();
    const sp2 = (await ok(['inspect', '--format', '{{.Id}}', 'sp2'])).trim();
    // until long ago (a duration: the build-cache prune takes only those): nothing goes
    let out = await ok(['system', 'prune', '-f', '--filter', 'until=100000h']);
    assert.equal(out, 'Total reclaimed space: 0B\n');
    out = await ok(['system', 'prune', '-f', '--filter', 'label=sp=1']);
    assert.equal(out, `Deleted Containers:\n${sp1}\n\nDeleted Networks:\nspnet\n\nTotal reclaimed space: 0B\n`);
    out = await ok(['system', 'prune', '-f', '--volumes']);
    assert.equal(out, `Deleted Containers:\n${sp2}\n\nDeleted Volumes:\nspvol\n\nTotal reclaimed space: 0B\n`);
    const bb = (await ok(['inspect', '--format', '{{.Id}}', 'busybox'])).trim();
    out = await ok(['system', 'prune', '-f', '--all']);
    assert.match(out, new RegExp(`^Deleted Images:\\nuntagged: busybox:latest\\ndeleted: ${bb}\\ndeleted: sha256:[0-9a-f]{64}\\n\\nTotal reclaimed space: 1\\.\\d+MB\\n$`));
    assert.equal(await ok(['images', '-q']), '');
    await importBusybox(t);
  });

  it('publishes the events Docker does for top, commit, tag/untag, die, kill, networks and volumes', async () => {
    await ok(['network', 'create', 'evnet']);
    const since = unixNow();
    await ok(['volume', 'create', 'evvol']);
    const runId = (await t.docker(['run', '--name', 'ev1', '-v', 'evvol:/v', '--network', 'evnet', 'busybox', 'sh', '-c', 'exit 3'], { env: env141 })).code;
    assert.equal(runId, 3);
    await ok(['run', '-d', '--name', 'ev2', 'busybox', 'sleep', '60']);
    await ok(['top', 'ev2']);
    await ok(['kill', '-s', 'USR1', 'ev2']);
    await ok(['network', 'connect', 'evnet', 'ev2']);
    await ok(['network', 'disconnect', 'evnet', 'ev2']);
    const img = (await ok(['commit', '--change', 'LABEL ev=yes', 'ev2', 'evimg:1'])).trim();
    await ok(['tag', 'evimg:1', 'evimg:2']);
    await ok(['rmi', 'evimg:2']);
    await ok(['kill', 'ev2']);
    await ok(['rm', 'ev1', 'ev2']);
    await ok(['volume', 'rm', 'evvol']);
    await ok(['rmi', 'evimg:1']);
    const imp = (await ok(['import', path.join(t.dir, 'busybox.tar'), 'evimp:1'])).trim();
    await ok(['rmi', 'evimp:1']);
    const ev = await eventsSince(since);
    const id1 = ev.find((e) => e.Type === 'container' && e.Actor.Attributes.name === 'ev1')!.Actor.ID;
    const id2 = ev.find((e) => e.Type === 'container' && e.Actor.Attributes.name === 'ev2')!.Actor.ID;
    const find = (type: string, action: string, pred: (e: Ev) => boolean = () => true) => ev.filter((e) => e.Type === type && e.Action === action && pred(e));
    // `run -v evvol:…` publishes `create` again for the existing volume, as moby does
    assert.deepEqual(new Set(find('volume', 'create').map((e) => JSON.stringify(e.Actor))), new Set([JSON.stringify({ ID: 'evvol', Attributes: { driver: 'local' } })]));
    assert.deepEqual(find('volume', 'mount')[0]!.Actor.Attributes, { container: id1, destination: '/v', driver: 'local', propagation: '', 'read/write': 'true' });
    assert.deepEqual(find('volume', 'unmount')[0]!.Actor.Attributes, { container: id1, driver: 'local' });
    assert.deepEqual(find('volume', 'destroy').map((e) => e.Actor), [{ ID: 'evvol', Attributes: { driver: 'local' } }]);
    assert.deepEqual(find('container', 'die', (e) => e.Actor.ID === id1)[0]!.Actor.Attributes, { exitCode: '3', image: 'busybox', name: 'ev1' });
    assert.equal(find('container', 'die', (e) => e.Actor.ID === id2)[0]!.Actor.Attributes.exitCode, '137');
    assert.deepEqual(find('container', 'top').map((e) => [e.Actor.ID, e.status, e.Actor.Attributes]), [[id2, 'top', { image: 'busybox', name: 'ev2' }]]);
    assert.deepEqual(find('container', 'kill').map((e) => e.Actor.Attributes.signal), ['10', '9']);
    const net = find('network', 'connect').concat(find('network', 'disconnect')).filter((e) => e.Actor.Attributes.name === 'evnet');
    const seen = new Set(net.map((e) => `${e.Action} ${e.Actor.Attributes.container === id1 ? 'ev1' : e.Actor.Attributes.container === id2 ? 'ev2' : '?'} ${e.Actor.Attributes.type}`));
    assert.deepEqual([...seen].sort(), ['connect ev1 bridge', 'connect ev2 bridge', 'disconnect ev1 bridge', 'disconnect ev2 bridge']);
    assert.deepEqual(find('container', 'commit')[0]!.Actor.Attributes, { comment: '', image: 'busybox', imageID: img, imageRef: 'evimg:1', name: 'ev2' });
    assert.deepEqual(find('image', 'tag', (e) => e.Actor.ID === img).map((e) => e.Actor.Attributes), [{ ev: 'yes', name: 'evimg:1' }, { ev: 'yes', name: 'evimg:2' }]);
    assert.deepEqual(find('image', 'untag', (e) => e.Actor.ID === img).map((e) => e.Actor.Attributes), [{ ev: 'yes', name: img }, { ev: 'yes', name: img }]);
    assert.deepEqual(find('image', 'delete', (e) => e.Actor.ID === img).map((e) => e.Actor.Attributes), [{ name: img }]);
    // `docker import` with a reference: tag first, then import
    assert.deepEqual(ev.filter((e) => e.Type === 'image' && e.Actor.ID === imp).map((e) => `${e.Action} ${e.Actor.Attributes.name === imp ? 'ID' : e.Actor.Attributes.name}`), ['tag evimp:1', 'import ID', 'untag ID', 'delete ID']);
    await ok(['network', 'rm', 'evnet']);
  });
});
