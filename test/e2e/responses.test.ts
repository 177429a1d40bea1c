/**
 * Response fixes of issue #11 item 11, each as Docker 20.10 answers: /system/df lists
 * the containers, the ancestor filter resolves names as GetImage does (and takes
 * descendants), SizeRootFs is the image plus the writable layer, top honours ps_args
 * (the container's pids passed with -q), a commit without changes adds no layer, and the
 * list's Command quotes arguments with spaces; kill errors name the container. Passes against stevedore and against
 * Docker's own engine (STEVEDORE_TEST_TARGET=docker).
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { type Target, startTarget } from '../helpers/target';
import { importBusybox } from '../helpers/busybox';
import { removeAllContainers } from '../helpers/containers';

interface Summary {
  Id: string;
  Names: string[];
  Image: string;
  Command: string;
  SizeRw?: number;
  SizeRootFs?: number;
}

describe('responses as Docker sends them', () => {
  let t: Target;
  let runId = '';
  const json = async <T>(p: string, method = 'GET'): Promise<T> => {
    const r = await t.request(method, p);
    assert.ok(r.status < 300, `${method} ${p}: ${r.status} ${r.body}`);
    return JSON.parse(r.body) as T;
  };
  const ok = async (args: string[]): Promise<string> => {
    const r = await t.docker(args);
    assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim();
  };

  before(async () => {
    t = await startTarget();
    await importBusybox(t);
    runId = await ok(['run', '-d', '--name', 'resp-run', 'busybox', 'sh', '-c', 'echo data > /data; sleep 1000; echo end']);
  });
  after(async () => {
    await removeAllContainers(t);
    await t.stop();
  });

  it('lists every container in /system/df, with sizes (docker system df)', async () => {
    await ok(['create', '--name', 'resp-df-created', 'busybox', 'true']);
    const df = await json<{ Containers: Summary[] }>('/system/df');
    const names = df.Containers.map((c) => c.Names[0]).sort();
    assert.ok(names.includes('/resp-run') && names.includes('/resp-df-created'), JSON.stringify(names));
    const run = df.Containers.find((c) => c.Names[0] === '/resp-run')!;
    assert.ok((run.SizeRw ?? 0) > 0 && (run.SizeRootFs ?? 0) > (run.SizeRw ?? 0), JSON.stringify(run));
    const out = await ok(['system', 'df', '--format', '{{.Type}} {{.TotalCount}}']);
    assert.match(out, /^Containers [1-9]\d*$/m);
    await ok(['rm', 'resp-df-created']);
  });

  it('filters ancestor=busybox (":latest" added) and takes images built on it', async () => {
    const ancestor = async (ref: string) => (await json<Summary[]>(`/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify({ ancestor: [ref] }))}`)).map((c) => c.Names[0]);
    assert.deepEqual(await ancestor('busybox'), ['/resp-run']);
    assert.deepEqual(await ancestor('busybox:latest'), ['/resp-run']);
    const child = await ok(['commit', 'resp-run', 'resp/child:1']);
    await ok(['create', '--name', 'resp-child', 'resp/child:1', 'true']);
    assert.deepEqual((await ancestor('busybox')).sort(), ['/resp-child', '/resp-run']);
    assert.deepEqual(await ancestor('resp/child:1'), ['/resp-child']);
    assert.deepEqual(await ancestor(child.replace(/^sha256:/, '').slice(0, 12)), ['/resp-child']);
    assert.deepEqual(await ancestor('nosuch'), []);
    assert.deepEqual((await ok(['ps', '-a', '-f', 'ancestor=busybox', '--format', '{{.Names}}'])).split('\n').sort(), ['resp-child', 'resp-run']);
    await ok(['rm', 'resp-child']);
    await ok(['rmi', 'resp/child:1']);
  });

  it('reports SizeRootFs as the image plus the writable layer', async () => {
    const image = await json<{ Size: number }>('/images/busybox/json');
    const [c] = await json<Summary[]>(`/containers/json?size=1&filters=${encodeURIComponent(JSON.stringify({ name: ['resp-run'] }))}`);
    assert.ok(c && c.SizeRw && c.SizeRw > 0, JSON.stringify(c));
    assert.equal(c.SizeRootFs, image.Size + c.SizeRw);
    const inspect = await json<{ SizeRw: number; SizeRootFs: number }>('/containers/resp-run/json?size=1');
    assert.equal(inspect.SizeRootFs, image.Size + inspect.SizeRw);
  });

  it('runs top with ps_args on the container\'s processes', async () => {
    const top = async (args: string) => json<{ Titles: string[]; Processes: string[][] | null }>(`/containers/resp-run/top?ps_args=${encodeURIComponent(args)}`);
    const comm = await top('-o pid,comm');
    assert.deepEqual(comm.Titles, ['PID', 'COMMAND']);
    assert.deepEqual(comm.Processes?.map((p) => p[1]).sort(), ['sh', 'sleep']);
    const x = await top('x');
    assert.equal(x.Processes?.length, 2, JSON.stringify(x));
    assert.match(x.Processes![0]!.at(-1)!, /sh -c echo data/);
    const cli = await ok(['top', 'resp-run', '-o', 'pid,comm']);
    assert.match(cli, /sleep/);
    const bad = await t.request('GET', `/containers/resp-run/top?ps_args=${encodeURIComponent('-o comm')}`);
    assert.equal(bad.status, 500);
    assert.equal((JSON.parse(bad.body) as { message: string }).message, "Couldn't find PID field in ps output");
    const renamed = await t.request('GET', `/containers/resp-run/top?ps_args=${encodeURIComponent('-o pid,ppid=PID')}`);
    assert.equal(renamed.status, 500);
    assert.equal((JSON.parse(renamed.body) as { message: string }).message, 'specifying "pid,ppid=PID" is not allowed');
  });

  it('commits a container that changed nothing without adding a layer', async () => {
    await ok(['run', '--name', 'resp-nochange', 'busybox', 'true']);
    await ok(['commit', 'resp-nochange', 'resp/nochange:1']);
    const base = await json<{ RootFS: { Layers: string[] }; Size: number }>('/images/busybox/json');
    const img = await json<{ RootFS: { Layers: string[] }; Size: number }>('/images/resp/nochange:1/json');
    assert.deepEqual(img.RootFS.Layers, base.RootFS.Layers);
    assert.equal(img.Size, base.Size);
    const history = await json<Array<{ Size: number; CreatedBy: string }>>('/images/resp/nochange:1/history');
    assert.equal(history[0]!.CreatedBy, 'true');
    assert.equal(history[0]!.Size, 0);
    // with a change: one layer more, holding the change only
    await ok(['run', '--name', 'resp-change', 'busybox', 'sh', '-c', 'echo x > /made']);
    await ok(['commit', 'resp-change', 'resp/change:1']);
    const changed = await json<{ RootFS: { Layers: string[] } }>('/images/resp/change:1/json');
    assert.equal(changed.RootFS.Layers.length, base.RootFS.Layers.length + 1);
    const h2 = await json<Array<{ Size: number }>>('/images/resp/change:1/history');
    assert.equal(h2[0]!.Size, 2);
    await ok(['rm', 'resp-nochange', 'resp-change']);
    await ok(['rmi', 'resp/nochange:1', 'resp/change:1']);
  });

  it('names the container in kill errors, as Docker\'s router wraps them', async () => {
    const missing = await t.request('POST', '/containers/nosuch/kill');
    assert.equal(missing.status, 404);
    assert.equal((JSON.parse(missing.body) as { message: string }).message, 'Cannot kill container: nosuch: No such container: nosuch');
    await ok(['create', '--name', 'resp-kill', 'busybox', 'true']);
    const stopped = await t.request('POST', '/containers/resp-kill/kill');
    assert.equal(stopped.status, 409);
    assert.match((JSON.parse(stopped.body) as { message: string }).message, /^Cannot kill container: resp-kill: Container [0-9a-f]{64} is not running$/);
    const badSignal = await t.request('POST', '/containers/resp-run/kill?signal=NOSUCH');
    assert.equal(badSignal.status, 400);
    assert.doesNotMatch((JSON.parse(badSignal.body) as { message: string }).message, /^Cannot kill/);
    await ok(['rm', 'resp-kill']);
  });

  it('quotes arguments with spaces in the list\'s Command', async () => {
    const [c] = await json<Summary[]>(`/containers/json?filters=${encodeURIComponent(JSON.stringify({ id: [runId] }))}`);
    assert.equal(c!.Command, "sh -c 'echo data > /data; sleep 1000; echo end'");
  });
});
