/**
 * dockerode (npm) end to end: the Node SDK drives the engine the way Node programs do —
 * lower-case option objects turned into query strings and JSON bodies, hijacked attach
 * and exec with stdin, `modem.demuxStream` on multiplexed streams, `modem.followProgress`
 * on pull, push and build, events streamed and read between `since` and `until`, df and
 * prune, and clients that drop a following stream half way. One engine with a bridge of
 * the test's own (networks) and a real registry on 127.0.0.1 (pull). Passes against
 * stevedore and Docker 20.10 (STEVEDORE_TEST_TARGET=docker). See docs/clients.md.
 */
import { after, afterEach, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import { PassThrough, type Duplex, type Readable } from 'node:stream';
import Docker from 'dockerode';
import { type Target, startTarget } from '../helpers/target';
import { importBusybox } from '../helpers/busybox';
import { assertNoContainerLeftovers, removeAllContainers } from '../helpers/containers';
import { freeSubnet24 } from '../helpers/network';
import { startRegistry, type TestRegistry } from '../helpers/registry';
import { until } from '../helpers/wait';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const tarStream = require('tar-stream') as typeof import('tar-stream');

interface Progress {
  status?: string;
  stream?: string;
  id?: string;
  aux?: { ID?: string; Digest?: string; Tag?: string };
  error?: string;
  errorDetail?: { message: string };
}

/** Reads a JSON-message stream to its end with dockerode's `modem.followProgress`. */
function follow(docker: Docker, stream: NodeJS.ReadableStream): Promise<Progress[]> {
  const seen: Progress[] = [];
  return new Promise((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (err: Error | null, out: Progress[]) => {
        if (err) return reject(err);
        // every event also went through onProgress, in order
        assert.deepEqual(out, seen);
        resolve(out);
      },
      (ev: Progress) => seen.push(ev),
    );
  });
}

/** Collects what a readable writes, as text. */
function collect(r: Readable): { text: () => string } {
  const chunks: Buffer[] = [];
  r.on('data', (c: Buffer) => chunks.push(Buffer.from(c)));
  return { text: () => Buffer.concat(chunks).toString() };
}

/** The stdout of a multiplexed (non-tty) logs buffer: frames of an 8-byte header and a payload. */
function stdoutOf(raw: Buffer): string {
  const out: Buffer[] = [];
  for (let i = 0; i + 8 <= raw.length; ) {
    const n = raw.readUInt32BE(i + 4);
    if (raw[i] === 1) out.push(raw.subarray(i + 8, i + 8 + n));
    i += 8 + n;
  }
  return Buffer.concat(out).toString();
}

/** Reads a stream to its end. */
async function readAll(r: NodeJS.ReadableStream, binary = false): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of r as AsyncIterable<Buffer | string>) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks).toString(binary ? 'latin1' : 'utf8');
}

/** A tar (hand-made with tar-stream) holding `files`. */
async function tarOf(files: Record<string, string>): Promise<Buffer> {
  const pack = tarStream.pack();
  for (const [name, data] of Object.entries(files)) pack.entry({ name, mode: 0o644, mtime: new Date(0) }, data);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack as unknown as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

describe('dockerode', () => {
  let t: Target;
  let docker: Docker;
  let reg: TestRegistry | undefined;
  const diag = () => (t.kind === 'stevedore' ? `\n${t.logs().slice(-3000)}` : '');

  before(async () => {
    t = await startTarget({ network: true });
    await importBusybox(t);
    docker = new Docker({ socketPath: t.socket, ...(process.env.DOCKERODE_API_VERSION ? { version: process.env.DOCKERODE_API_VERSION } : {}) });
  });
  afterEach(async () => {
    await removeAllContainers(t);
  });
  after(async () => {
    try {
      await removeAllContainers(t);
      await assertNoContainerLeftovers(t);
    } finally {
      await t.stop();
      await reg?.stop();
    }
  });

  it('creates, starts, inspects, waits for and removes a container with lower-case options', async () => {
    const c = await docker.createContainer({
      name: 'dnode-life',
      Image: 'busybox',
      Cmd: ['sh', '-c', 'echo out; echo err >&2; exit 3'],
      Labels: { 'dockerode.test': 'life' },
      Env: ['A=1'],
      HostConfig: { AutoRemove: false },
    });
    const before = await c.inspect();
    assert.equal(before.Name, '/dnode-life');
    assert.equal(before.State.Status, 'created');
    assert.equal(before.Config.Labels['dockerode.test'], 'life');
    assert.ok(before.Config.Env.includes('A=1'));
    // a wait for next-exit made before the start: dockerode resolves only at the end of the
    // body, so the test sends the same request raw and starts once the headers are in
    // (both engines answer them when the wait is registered)
    const response = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = http.request({ socketPath: t.socket, method: 'POST', path: `/containers/${c.id}/wait?condition=next-exit` }, resolve);
      req.on('error', reject);
      req.end();
    });
    assert.equal(response.statusCode, 200);
    await c.start();
    assert.equal(JSON.parse(await readAll(response)).StatusCode, 3);
    // dockerode's own wait (condition in the query) on the exited container
    const res = (await c.wait()) as { StatusCode: number; Error?: unknown };
    assert.equal(res.StatusCode, 3);
    const afterRun = await c.inspect({ size: true } as Docker.ContainerInspectOptions) as Docker.ContainerInspectInfo & { SizeRw?: number };
    assert.equal(afterRun.State.Status, 'exited');
    assert.equal(afterRun.State.ExitCode, 3);
    assert.equal(typeof afterRun.SizeRw, 'number');
    // a wait on an exited container returns at once (condition not-running)
    assert.equal(((await c.wait({ condition: 'not-running' })) as { StatusCode: number }).StatusCode, 3);
    // logs without follow: a multiplexed buffer; demuxStream splits it
    const raw = (await c.logs({ stdout: true, stderr: true, follow: false, timestamps: false })) as unknown as Buffer;
    const so = new PassThrough();
    const se = new PassThrough();
    const sot = collect(so);
    const set = collect(se);
    const src = new PassThrough();
    docker.modem.demuxStream(src, so, se);
    src.end(raw);
    await until(() => sot.text() === 'out\n' && set.text() === 'err\n', 'demuxed logs', { tries: 50, everyMs: 20 });
    const listed = await docker.listContainers({ all: true, filters: { label: ['dockerode.test=life'] } });
    assert.deepEqual(listed.map((x) => x.Id), [c.id]);
    assert.deepEqual(listed[0]!.Names, ['/dnode-life']);
    await c.remove({ v: true, force: true });
    await assert.rejects(c.inspect(), (e: { statusCode?: number }) => e.statusCode === 404);
  });

  it('runs a container with docker.run (its create body, a plain attach, start, wait)', async () => {
    // docker.run sends Tty: true, Env: null, Volumes: {}, VolumesFrom: [] and attaches without hijack
    const out = new PassThrough();
    const text = collect(out);
    const [res, c] = (await docker.run('busybox', ['sh', '-c', 'echo "run $HOSTNAME"; exit 2'], out, { Hostname: 'dnode-run' })) as [{ StatusCode: number }, Docker.Container];
    assert.equal(res.StatusCode, 2);
    await until(() => text.text().includes('run dnode-run'), `the attached output (${JSON.stringify(text.text())})`, { tries: 50, everyMs: 20 });
    assert.equal(text.text(), 'run dnode-run\r\n');
    // non-tty with two streams: demuxed into both
    const so = new PassThrough();
    const se = new PassThrough();
    const sot = collect(so);
    const set = collect(se);
    const [res2] = (await docker.run('busybox', ['sh', '-c', 'echo o; echo e >&2'], [so, se], { Tty: false })) as [{ StatusCode: number }];
    assert.equal(res2.StatusCode, 0);
    await until(() => sot.text() === 'o\n' && set.text() === 'e\n', 'demuxed run output', { tries: 50, everyMs: 20 });
    await c.remove();
  });

  it('drives a running container: stop, restart, kill, pause, rename, update, top, stats, changes, archive, commit, export', async () => {
    const c = await docker.createContainer({ Image: 'busybox', Cmd: ['sh', '-c', 'trap "exit 0" TERM; echo started >> /tmp/starts; while true; do sleep 0.1; done'], name: 'dnode-verbs' });
    await c.start();
    await c.pause();
    assert.equal((await c.inspect()).State.Paused, true);
    await c.unpause();
    assert.equal((await c.inspect()).State.Status, 'running');
    const top = (await c.top({ ps_args: '-o pid,args' })) as { Titles: string[]; Processes: string[][] };
    assert.deepEqual(top.Titles, ['PID', 'COMMAND']);
    assert.ok(top.Processes.some((p) => p[1]!.startsWith('sh -c')), JSON.stringify(top));
    const stats = (await c.stats({ stream: false })) as { read: string; id: string; memory_stats: object; cpu_stats: object };
    assert.ok(!Number.isNaN(Date.parse(stats.read)), stats.read);
    assert.equal(stats.id, c.id);
    assert.equal(typeof stats.memory_stats, 'object');
    assert.equal(typeof stats.cpu_stats, 'object');
    await c.rename({ name: 'dnode-verbs-2' });
    assert.equal((await c.inspect()).Name, '/dnode-verbs-2');
    const upd = (await c.update({ RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 2 } })) as { Warnings: string[] | null };
    assert.ok(upd.Warnings === null || Array.isArray(upd.Warnings));
    assert.deepEqual((await c.inspect()).HostConfig.RestartPolicy, { Name: 'on-failure', MaximumRetryCount: 2 });
    await c.stop({ t: 5 });
    assert.equal((await c.inspect()).State.ExitCode, 0);
    await assert.rejects(c.stop(), (e: { statusCode?: number }) => e.statusCode === 304);
    await c.restart({ t: 1 });
    assert.equal((await c.inspect()).State.Running, true);
    // put an archive, read its stat header, get it back
    await c.putArchive(await tarOf({ 'put.txt': 'put by dockerode\n' }), { path: '/tmp' });
    const head = (await c.infoArchive({ path: '/tmp/put.txt' })) as unknown as { headers: Record<string, string> };
    const stat = JSON.parse(Buffer.from(head.headers['x-docker-container-path-stat']!, 'base64').toString()) as { name: string; size: number };
    assert.deepEqual([stat.name, stat.size], ['put.txt', 17]);
    const arch = await readAll((await c.getArchive({ path: '/tmp/put.txt' })) as unknown as NodeJS.ReadableStream);
    assert.ok(arch.includes('put by dockerode'));
    const changes = (await c.changes()) as Array<{ Path: string; Kind: number }>;
    assert.ok(changes.some((ch) => ch.Path === '/tmp/put.txt' && ch.Kind === 1), JSON.stringify(changes));
    // an exec started without hijack: a plain HTTP stream, multiplexed
    const catStarts = await (await c.exec({ Cmd: ['cat', '/tmp/starts'], AttachStdout: true })).start({});
    assert.equal(stdoutOf(Buffer.from(await readAll(catStarts as unknown as NodeJS.ReadableStream, true), 'latin1')), 'started\nstarted\n');
    const committed = (await c.commit({ repo: 'dnode-commit', tag: '1', comment: 'from dockerode', changes: 'ENV COMMITTED=yes' })) as { Id: string };
    const ci = await docker.getImage('dnode-commit:1').inspect();
    assert.equal(ci.Id, committed.Id);
    assert.equal(ci.Comment, 'from dockerode');
    assert.ok(ci.Config.Env.includes('COMMITTED=yes'));
    const exported = (await c.export()) as unknown as NodeJS.ReadableStream;
    let bytes = 0;
    for await (const chunk of exported as AsyncIterable<Buffer>) bytes += chunk.length;
    assert.ok(bytes > 100_000, `export: ${bytes} bytes`);
    await c.kill({ signal: 'SIGKILL' });
    assert.equal((await c.wait()).StatusCode, 137);
    await c.remove();
    await docker.getImage('dnode-commit:1').remove();
  });

  it('saves and loads an image (image.get and loadImage)', async () => {
    await docker.getImage('busybox').tag({ repo: 'dnode-save', tag: '1' });
    const saved = await docker.getImage('dnode-save:1').get();
    const chunks: Buffer[] = [];
    for await (const c of saved as unknown as AsyncIterable<Buffer>) chunks.push(c);
    await docker.getImage('dnode-save:1').remove();
    const src = new PassThrough();
    src.end(Buffer.concat(chunks));
    const msgs = await follow(docker, (await docker.loadImage(src, { quiet: false })) as unknown as NodeJS.ReadableStream);
    assert.ok(msgs.some((m) => m.stream === 'Loaded image: dnode-save:1\n'), JSON.stringify(msgs));
    assert.equal((await docker.getImage('dnode-save:1').inspect()).Id, (await docker.getImage('busybox').inspect()).Id);
    await docker.getImage('dnode-save:1').remove();
  });

  it('reads version and info', async () => {
    const v = (await docker.version()) as { ApiVersion: string; MinAPIVersion: string; Os: string; Arch: string; Version: string };
    assert.equal(v.Os, 'linux');
    assert.match(v.ApiVersion, /^1\.\d+$/);
    assert.match(v.MinAPIVersion, /^1\.\d+$/);
    const info = (await docker.info()) as { OSType: string; ServerVersion: string; IndexServerAddress: string; Images: number };
    assert.equal(info.OSType, 'linux');
    assert.equal(info.ServerVersion, v.Version);
    assert.equal(info.IndexServerAddress, 'https://index.docker.io/v1/');
    assert.ok(info.Images >= 1);
  });

  it('finds containers by name and short ID, filters in map and list form, logs with tail/timestamps/since, resizes', async () => {
    const c = await docker.createContainer({
      name: 'dnode-find',
      Image: 'busybox',
      Cmd: ['sh', '-c', 'for i in 1 2 3 4; do echo line$i; done; exec sleep 600'],
      Labels: { 'dockerode.find': 'yes' },
      Tty: true,
      ExposedPorts: { '8080/tcp': {} },
      HostConfig: { PortBindings: { '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] } },
    });
    await c.start();
    assert.equal((await docker.getContainer('dnode-find').inspect()).Id, c.id);
    assert.equal((await docker.getContainer(c.id.slice(0, 12)).inspect()).Id, c.id);
    // dockerode JSON-encodes `filters` as given: the list form and the map form
    const byList = await docker.listContainers({ filters: { label: ['dockerode.find=yes'], status: ['running'] } });
    const byMap = await docker.listContainers({ filters: { label: { 'dockerode.find=yes': true }, name: { 'dnode-find': true } } } as unknown as Docker.ContainerListOptions);
    assert.deepEqual(byList.map((x) => x.Id), [c.id]);
    assert.deepEqual(byMap.map((x) => x.Id), [c.id]);
    const ports = byList[0]!.Ports;
    assert.equal(ports.length, 1, JSON.stringify(ports));
    assert.equal(ports[0]!.IP, '127.0.0.1');
    assert.equal(ports[0]!.PrivatePort, 8080);
    assert.equal(ports[0]!.Type, 'tcp');
    assert.ok(ports[0]!.PublicPort > 0);
    const bound = (await c.inspect()).NetworkSettings.Ports['8080/tcp'];
    assert.deepEqual(bound, [{ HostIp: '127.0.0.1', HostPort: String(ports[0]!.PublicPort) }]);
    await until(async () => ((await c.logs({ stdout: true })) as unknown as Buffer).toString().includes('line4'), 'the four lines');
    // a tty: the log is raw, \r\n line ends
    const tail = ((await c.logs({ stdout: true, tail: 2, timestamps: true })) as unknown as Buffer).toString();
    const lines = tail.split('\n').filter(Boolean);
    assert.equal(lines.length, 2, tail);
    assert.match(lines[0]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z line3\r$/);
    assert.match(lines[1]!, / line4\r$/);
    const future = Math.ceil(Date.now() / 1000) + 60;
    assert.equal(((await c.logs({ stdout: true, since: future })) as unknown as Buffer).length, 0);
    await c.resize({ h: 40, w: 100 });
    const exec = await c.exec({ Cmd: ['sh', '-c', 'read x; stty size'], AttachStdin: true, AttachStdout: true, Tty: true });
    const stream = (await exec.start({ hijack: true, stdin: true, Tty: true })) as unknown as Duplex;
    const out = collect(stream);
    await until(async () => (await exec.inspect()).Running, 'the exec to run');
    await exec.resize({ h: 33, w: 77 });
    stream.write('go\n');
    await until(() => out.text().includes('33 77'), `stty size after the resize (${JSON.stringify(out.text())})`);
    await c.remove({ force: true });
  });

  it('follows logs with modem.demuxStream', async () => {
    const c = await docker.createContainer({ Image: 'busybox', Cmd: ['sh', '-c', 'for i in 1 2 3; do echo o$i; echo e$i >&2; done; read x'], OpenStdin: true });
    await c.start();
    const stream = (await c.logs({ follow: true, stdout: true, stderr: true })) as unknown as Readable;
    const so = new PassThrough();
    const se = new PassThrough();
    const sot = collect(so);
    const set = collect(se);
    docker.modem.demuxStream(stream, so, se);
    await until(() => sot.text() === 'o1\no2\no3\n' && set.text() === 'e1\ne2\ne3\n', `followed logs (${sot.text()}|${set.text()})`);
    const ended = new Promise<void>((r) => stream.on('end', () => r()));
    await c.kill();
    // the follow ends when the container stops
    await ended;
  });

  it('attaches with {hijack: true, stdin: true}: stdin reaches cat, the echo comes back demuxed', async () => {
    const c = await docker.createContainer({ Image: 'busybox', Cmd: ['cat'], OpenStdin: true, StdinOnce: true, AttachStdin: true, AttachStdout: true, AttachStderr: true });
    const stream = (await c.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true })) as unknown as Duplex;
    const so = new PassThrough();
    const se = new PassThrough();
    const sot = collect(so);
    const set = collect(se);
    docker.modem.demuxStream(stream, so, se);
    await c.start();
    stream.write('hello through the hijack\n');
    await until(() => sot.text() === 'hello through the hijack\n', `the echo (${JSON.stringify(sot.text())})`);
    // closing stdin (StdinOnce) ends cat: the container exits 0
    stream.end();
    const res = (await c.wait()) as { StatusCode: number };
    assert.equal(res.StatusCode, 0);
    assert.equal(set.text(), '');
  });

  it('execs with Tty on start and hijack, and inspects the exec', async () => {
    const c = await docker.createContainer({ Image: 'busybox', Cmd: ['sleep', '600'] });
    await c.start();
    const exec = await c.exec({ Cmd: ['sh', '-c', 'read x; echo "got $x"; exit 5'], AttachStdin: true, AttachStdout: true, AttachStderr: true, Tty: true });
    const stream = (await exec.start({ hijack: true, stdin: true, Tty: true })) as unknown as Duplex;
    const out = collect(stream);
    stream.write('abc\n');
    // a tty: one raw stream, no multiplexing headers; the terminal echoes the input
    await until(() => out.text().includes('got abc'), `the exec's output (${JSON.stringify(out.text())})`);
    await until(async () => !(await exec.inspect()).Running, 'the exec to end');
    const info = await exec.inspect();
    assert.equal(info.ExitCode, 5);
    assert.equal(info.ProcessConfig.tty, true);
    assert.equal(info.ContainerID, c.id);
    assert.match(out.text(), /^abc\r\ngot abc\r\n$/);
    // not a tty: multiplexed, demuxed by the modem
    const exec2 = await c.exec({ Cmd: ['sh', '-c', 'echo so; echo se >&2'], AttachStdout: true, AttachStderr: true });
    const s2 = (await exec2.start({ hijack: true, stdin: false })) as unknown as Duplex;
    const so = new PassThrough();
    const se = new PassThrough();
    const sot = collect(so);
    const set = collect(se);
    docker.modem.demuxStream(s2, so, se);
    await new Promise<void>((r) => s2.on('end', () => r()));
    await until(() => sot.text() === 'so\n' && set.text() === 'se\n', 'demuxed exec output', { tries: 50, everyMs: 20 });
    assert.equal((await exec2.inspect()).ExitCode, 0);
  });

  it('pushes to and pulls from a registry with followProgress', async () => {
    reg = await startRegistry();
    const ref = `${reg.host}/dnode/bb`;
    await docker.getImage('busybox').tag({ repo: ref, tag: '1' });
    const pushed = await follow(docker, await docker.getImage(`${ref}:1`).push({ authconfig: {} } as Docker.ImagePushOptions));
    assert.ok(!pushed.some((m) => m.error), JSON.stringify(pushed));
    const digest = pushed.find((m) => m.aux?.Digest)?.aux?.Digest;
    assert.match(digest ?? '', /^sha256:[0-9a-f]{64}$/, JSON.stringify(pushed));
    await docker.getImage(`${ref}:1`).remove();
    const pulled = await follow(docker, await docker.pull(`${ref}:1`));
    assert.ok(!pulled.some((m) => m.error), JSON.stringify(pulled));
    assert.equal(pulled[0]!.status, 'Pulling from dnode/bb');
    assert.equal(pulled.at(-1)!.status, `Status: Downloaded newer image for ${ref}:1`);
    assert.ok(pulled.some((m) => m.status === `Digest: ${digest}`), JSON.stringify(pulled));
    const img = await docker.getImage(`${ref}:1`).inspect();
    assert.deepEqual(img.RepoDigests, [`${ref}@${digest}`]);
    // a pull of a missing tag: refused with the HTTP status before any progress was written
    await assert.rejects(docker.pull(`${ref}:nope`), (e: { statusCode?: number; message?: string }) => e.statusCode === 404 && /manifest unknown|not found/.test(e.message ?? ''));
    await docker.getImage(`${ref}:1`).remove();
  });

  it('builds from a hand-made tar stream with followProgress', async () => {
    const ctx = await tarOf({ Dockerfile: 'FROM busybox\nCOPY greeting /greeting\nRUN echo built >> /greeting\nCMD ["cat", "/greeting"]\n', greeting: 'hello\n' });
    const src = new PassThrough();
    src.end(ctx);
    const msgs = await follow(docker, await docker.buildImage(src, { t: 'dnode-built:1', rm: true, labels: { 'dockerode.test': 'build' } }));
    assert.ok(!msgs.some((m) => m.error), JSON.stringify(msgs));
    assert.ok(msgs.some((m) => m.stream === 'Successfully tagged dnode-built:1\n'), JSON.stringify(msgs));
    const img = await docker.getImage('dnode-built:1').inspect();
    assert.equal(img.Config.Labels?.['dockerode.test'], 'build');
    const c = await docker.createContainer({ Image: 'dnode-built:1' });
    await c.start();
    await c.wait();
    const raw = (await c.logs({ stdout: true })) as unknown as Buffer;
    assert.equal(stdoutOf(raw), 'hello\nbuilt\n');
    await c.remove();
    // a failing build reports its error in the stream (followProgress ends normally; the
    // last message carries the error, which is how dockerode programs detect it)
    const bad = new PassThrough();
    bad.end(await tarOf({ Dockerfile: 'FROM busybox\nRUN exit 7\n' }));
    const failed = await follow(docker, await docker.buildImage(bad, { t: 'dnode-bad:1' }));
    const last = failed.at(-1)!;
    assert.match(last.error ?? '', /returned a non-zero code: 7/, JSON.stringify(failed));
    assert.equal(last.errorDetail?.message, last.error);
    await assert.rejects(docker.getImage('dnode-bad:1').inspect(), (e: { statusCode?: number }) => e.statusCode === 404);
    await docker.getImage('dnode-built:1').remove();
  });

  it('lists, inspects, tags and removes images', async () => {
    await docker.getImage('busybox').tag({ repo: 'dnode-tag', tag: 'a' });
    const bb = await docker.getImage('busybox').inspect();
    const tagged = await docker.getImage('dnode-tag:a').inspect();
    assert.equal(tagged.Id, bb.Id);
    assert.ok(tagged.RepoTags.includes('dnode-tag:a'));
    const listed = await docker.listImages({ filters: { reference: ['dnode-tag'] } });
    assert.equal(listed.length, 1);
    assert.equal(listed[0]!.Id, bb.Id);
    // with a reference filter, only the matching tags are listed (as dockerd does)
    assert.deepEqual(listed[0]!.RepoTags, ['dnode-tag:a']);
    const all = await docker.listImages({ all: true });
    assert.ok(all.some((i) => i.Id === bb.Id));
    const removed = (await docker.getImage('dnode-tag:a').remove()) as Array<{ Untagged?: string; Deleted?: string }>;
    assert.deepEqual(removed, [{ Untagged: 'dnode-tag:a' }]);
    await assert.rejects(docker.getImage('dnode-tag:a').inspect(), (e: { statusCode?: number; message?: string }) => e.statusCode === 404);
    const hist = await docker.getImage('busybox').history();
    assert.ok(Array.isArray(hist) && hist.length >= 1);
  });

  it('creates, lists, inspects and removes volumes', async () => {
    const v = await docker.createVolume({ Name: 'dnode-vol', Labels: { 'dockerode.test': 'vol' } });
    assert.equal(v.name, 'dnode-vol');
    const { Volumes } = await docker.listVolumes({ filters: { label: ['dockerode.test=vol'] } });
    assert.deepEqual(Volumes.map((x) => x.Name), ['dnode-vol']);
    const info = await docker.getVolume('dnode-vol').inspect();
    assert.equal(info.Driver, 'local');
    assert.equal(info.Labels['dockerode.test'], 'vol');
    // used by a container: data written there is kept
    const c = await docker.createContainer({ Image: 'busybox', Cmd: ['sh', '-c', 'echo kept > /v/f'], HostConfig: { Binds: ['dnode-vol:/v'] } });
    await c.start();
    await c.wait();
    await assert.rejects(docker.getVolume('dnode-vol').remove(), (e: { statusCode?: number }) => e.statusCode === 409);
    await c.remove();
    const c2 = await docker.createContainer({ Image: 'busybox', Cmd: ['cat', '/v/f'], HostConfig: { Mounts: [{ Type: 'volume', Source: 'dnode-vol', Target: '/v' }] } });
    await c2.start();
    await c2.wait();
    assert.equal(stdoutOf((await c2.logs({ stdout: true })) as unknown as Buffer), 'kept\n');
    await c2.remove();
    await docker.getVolume('dnode-vol').remove();
    await assert.rejects(docker.getVolume('dnode-vol').inspect(), (e: { statusCode?: number }) => e.statusCode === 404);
  });

  it('creates a network, connects and disconnects a running container', async () => {
    const subnet = freeSubnet24();
    const net = await docker.createNetwork({ Name: 'dnode-net', Driver: 'bridge', CheckDuplicate: true, IPAM: { Config: [{ Subnet: subnet }] }, Labels: { 'dockerode.test': 'net' } });
    try {
      const info = await net.inspect();
      assert.equal(info.Name, 'dnode-net');
      assert.equal(info.IPAM?.Config?.[0]?.Subnet, subnet);
      const listed = await docker.listNetworks({ filters: { label: ['dockerode.test=net'] } });
      assert.deepEqual(listed.map((n) => n.Id), [net.id]);
      const c = await docker.createContainer({ Image: 'busybox', Cmd: ['sleep', '600'] });
      await c.start();
      await net.connect({ Container: c.id, EndpointConfig: { Aliases: ['dnode-alias'] } });
      const ci = await c.inspect();
      const ep = ci.NetworkSettings.Networks['dnode-net'];
      assert.ok(ep, JSON.stringify(ci.NetworkSettings.Networks));
      assert.equal(ep.NetworkID, net.id);
      assert.ok(ep.Aliases?.includes('dnode-alias'));
      const prefix = subnet.split('.').slice(0, 3).join('.') + '.';
      assert.ok(ep.IPAddress.startsWith(prefix), ep.IPAddress);
      assert.ok(Object.keys((await net.inspect()).Containers ?? {}).includes(c.id));
      await net.disconnect({ Container: c.id, Force: false });
      assert.equal((await c.inspect()).NetworkSettings.Networks['dnode-net'], undefined);
      await c.remove({ force: true });
    } finally {
      await net.remove();
    }
    await assert.rejects(docker.getNetwork('dnode-net').inspect(), (e: { statusCode?: number }) => e.statusCode === 404);
  });

  it('streams events and survives the client destroying the stream mid-way', async () => {
    // `since` closes the gap between the answer's headers and the subscription (dockerd
    // flushes the headers first): what happens meanwhile is replayed
    const stream = (await docker.getEvents({ since: Math.floor(Date.now() / 1000) - 1, filters: { type: ['container'], label: ['dockerode.test=events'] } })) as unknown as Readable;
    const events: Array<{ Type: string; Action: string; Actor: { ID: string; Attributes: Record<string, string> } }> = [];
    let buf = '';
    stream.on('data', (c: Buffer) => {
      buf += c.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line.trim()) events.push(JSON.parse(line));
      }
    });
    const c = await docker.createContainer({ Image: 'busybox', Cmd: ['true'], Labels: { 'dockerode.test': 'events' } });
    await until(() => events.some((e) => e.Action === 'create' && e.Actor.ID === c.id), 'the create event');
    assert.equal(events[0]!.Type, 'container');
    assert.equal(events[0]!.Actor.Attributes['dockerode.test'], 'events');
    stream.destroy();
    await c.remove();
    // the daemon keeps serving, events included
    assert.equal(((await docker.ping()) as Buffer).toString(), 'OK');
    const again = await readAll(await docker.getEvents({ since: 0, until: Math.ceil(Date.now() / 1000) + 1, filters: { container: [c.id] } }));
    assert.ok(again.includes('"destroy"'), again);
  });

  it('reads events between since and until (the stream ends by itself)', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    const c = await docker.createContainer({ Image: 'busybox', Cmd: ['true'], Labels: { 'dockerode.test': 'since' } });
    await c.start();
    await c.wait();
    await c.remove();
    const untilS = Math.ceil(Date.now() / 1000) + 1;
    // with until, the daemon ends the stream by itself
    const body = await readAll(await docker.getEvents({ since, until: untilS, filters: { label: ['dockerode.test=since'] } }));
    const actions = body
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { Action: string; id?: string; Actor: { ID: string } })
      .filter((e) => e.Actor.ID === c.id)
      .map((e) => e.Action);
    assert.deepEqual(
      actions.filter((a) => ['create', 'start', 'die', 'destroy'].includes(a)),
      ['create', 'start', 'die', 'destroy'],
    );
  });

  it('reports disk usage and prunes', async () => {
    const c = await docker.createContainer({ Image: 'busybox', Cmd: ['true'], Labels: { 'dockerode.test': 'prune' } });
    await c.start();
    await c.wait();
    await docker.createVolume({ Name: 'dnode-prune-vol', Labels: { 'dockerode.test': 'prune' } });
    const net = await docker.createNetwork({ Name: 'dnode-prune-net', IPAM: { Config: [{ Subnet: freeSubnet24() }] }, Labels: { 'dockerode.test': 'prune' } });
    const df = await docker.df();
    assert.equal(typeof df.LayersSize, 'number');
    assert.ok(Array.isArray(df.Images) && df.Images.some((i: { RepoTags: string[] }) => i.RepoTags?.includes('busybox:latest')));
    assert.ok(df.Containers.some((x: { Id: string }) => x.Id === c.id));
    assert.ok(df.Volumes.some((v: { Name: string; UsageData: { RefCount: number; Size: number } }) => v.Name === 'dnode-prune-vol' && v.UsageData.RefCount === 0));
    const pc = await docker.pruneContainers({ filters: { label: ['dockerode.test=prune'] } });
    assert.deepEqual(pc.ContainersDeleted, [c.id]);
    assert.equal(typeof pc.SpaceReclaimed, 'number');
    // at API 1.41 volume prune takes named volumes too (from 1.42 only anonymous ones,
    // unless the `all` filter says otherwise): a client pinned to 1.41 gets that
    const pinned = new Docker({ socketPath: t.socket, version: 'v1.41' });
    const pv = await pinned.pruneVolumes({ filters: { label: ['dockerode.test=prune'] } });
    assert.deepEqual(pv.VolumesDeleted, ['dnode-prune-vol']);
    const pn = await docker.pruneNetworks({ filters: { label: ['dockerode.test=prune'] } });
    assert.deepEqual(pn.NetworksDeleted, ['dnode-prune-net']);
    await assert.rejects(net.inspect(), (e: { statusCode?: number }) => e.statusCode === 404);
    // a dangling image (a build's untagged result) goes with images prune
    const src = new PassThrough();
    src.end(await tarOf({ Dockerfile: 'FROM busybox\nLABEL dockerode.prune=dangling\nRUN echo x > /x\n' }));
    const msgs = await follow(docker, await docker.buildImage(src, {}));
    const id = msgs.find((m) => m.aux?.ID)?.aux?.ID ?? msgs.map((m) => /^Successfully built ([0-9a-f]+)/.exec(m.stream ?? '')?.[1]).find(Boolean);
    assert.ok(id, JSON.stringify(msgs));
    const pi = await docker.pruneImages({ filters: { label: ['dockerode.prune=dangling'] } });
    assert.ok((pi.ImagesDeleted ?? []).some((d) => d.Deleted && (d.Deleted === id || d.Deleted.startsWith(`sha256:${id}`) || id.startsWith(d.Deleted))), JSON.stringify(pi));
    await assert.rejects(docker.getImage(id).inspect(), (e: { statusCode?: number }) => e.statusCode === 404);
  });

  it('keeps serving after clients drop stats, events, attach and exec streams half way', async () => {
    // a client without keep-alive: every socket the daemon still holds afterwards is its own
    // (Node's default agent keeps idle connections open, and so does the daemon, as dockerd)
    const docker = new Docker({ socketPath: t.socket, agent: new http.Agent({ keepAlive: false }) } as Docker.DockerOptions);
    const c = await docker.createContainer({ Image: 'busybox', Cmd: ['sh', '-c', 'while true; do echo tick; sleep 0.05; done'], OpenStdin: true });
    await c.start();
    const fds = () => (t.kind === 'stevedore' ? fs.readdirSync(`/proc/${t.pid}/fd`).length : 0);
    await docker.ping();
    const baseline = fds();
    for (let round = 0; round < 3; round++) {
      const stats = (await c.stats({ stream: true })) as unknown as Readable;
      const st = collect(stats);
      await until(() => st.text().includes('"read"'), 'a stats sample');
      stats.destroy();
      const events = (await docker.getEvents({ since: Math.floor(Date.now() / 1000) - 1 })) as unknown as Readable;
      const ev = collect(events);
      await c.pause();
      await c.unpause();
      await until(() => ev.text().includes('"unpause"'), 'the unpause event');
      events.destroy();
      const att = (await c.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true })) as unknown as Duplex;
      const at = collect(att);
      await until(() => at.text().includes('tick'), 'attached output');
      att.destroy();
      const exec = await c.exec({ Cmd: ['cat'], AttachStdin: true, AttachStdout: true });
      const ex = (await exec.start({ hijack: true, stdin: true })) as unknown as Duplex;
      const et = collect(ex);
      ex.write('ping\n');
      await until(() => et.text().includes('ping'), 'the exec echo');
      ex.destroy();
      // a detached exec: the start answers at once, the process runs on
      const det = await c.exec({ Cmd: ['sh', '-c', `echo detached > /tmp/det${round}`] });
      assert.equal(await readAll((await det.start({ Detach: true })) as unknown as NodeJS.ReadableStream), '');
      await until(async () => !(await det.inspect()).Running && (await det.inspect()).ExitCode === 0, 'the detached exec to end');
    }
    assert.equal(((await docker.ping()) as Buffer).toString(), 'OK');
    assert.equal((await c.inspect()).State.Running, true);
    // the container is still attached to nobody and lists with its sizes
    const listed = (await docker.listContainers({ size: true, filters: { id: [c.id] } })) as Array<Docker.ContainerInfo & { SizeRw?: number; SizeRootFs?: number }>;
    assert.equal(typeof listed[0]!.SizeRw, 'number');
    assert.equal(typeof listed[0]!.SizeRootFs, 'number');
    await until(() => fds() <= baseline, `the daemon's descriptors back to ${baseline} (now ${fds()})`);
    await c.remove({ force: true });
  });

  it('keeps serving after a client destroys a following logs stream', async () => {
    const docker = new Docker({ socketPath: t.socket, agent: new http.Agent({ keepAlive: false }) } as Docker.DockerOptions);
    const c = await docker.createContainer({ Image: 'busybox', Cmd: ['sh', '-c', 'while true; do echo tick; sleep 0.05; done'] });
    await c.start();
    // stevedore: the daemon's open descriptors (each dropped follower must give its own back)
    const fds = () => (t.kind === 'stevedore' ? fs.readdirSync(`/proc/${t.pid}/fd`).length : 0);
    const warm = (await c.logs({ follow: true, stdout: true, tail: 1 })) as unknown as Readable;
    const warmText = collect(warm);
    await until(() => warmText.text().includes('tick'), 'a first tick');
    warm.destroy();
    await docker.ping();
    const baseline = fds();
    for (let round = 0; round < 5; round++) {
      const stream = (await c.logs({ follow: true, stdout: true, stderr: true, tail: 1 })) as unknown as Readable;
      const got = collect(stream);
      await until(() => got.text().includes('tick'), 'a tick');
      stream.destroy();
    }
    // the daemon answers, the container still runs, and a new follower still gets lines
    assert.equal(((await docker.ping()) as Buffer).toString(), 'OK');
    await until(() => fds() <= baseline, `the daemon's descriptors back to ${baseline} (now ${fds()})`);
    assert.equal((await c.inspect()).State.Running, true);
    const last = (await c.logs({ follow: true, stdout: true, tail: 1 })) as unknown as Readable;
    const got = collect(last);
    await until(() => got.text().split('tick').length > 3, 'more ticks');
    last.destroy();
    await c.remove({ force: true });
    const info = await docker.info();
    assert.equal(info.Containers, 0, diag());
  });
});
