/**
 * Exec start and attach details that clients depend on (issue #11 items 2 and 4, and
 * exec inspect's ProcessConfig.user): the framing of an exec's stream follows the
 * START request's `Tty`, not the exec's; the body of an attach upgrade request is never
 * the container's stdin (exec start takes exactly its Content-Length as the start
 * config); exec inspect reports the user an exec inherits from its container. Raw HTTP,
 * docker-py and dockerode; passes against stevedore and Docker 20.10
 * (STEVEDORE_TEST_TARGET=docker).
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import { WebSocket } from 'ws';
import Docker from 'dockerode';
import { type Target, startTarget } from '../helpers/target';
import { importBusybox } from '../helpers/busybox';
import { python } from '../helpers/process';
import { demux, frames, rawRequest, readAll } from '../helpers/hijack';
import { assertNoContainerLeftovers, removeAllContainers } from '../helpers/containers';

const PATIENCE_MS = 20_000;

async function until(what: string, cond: () => boolean): Promise<void> {
  const deadline = Date.now() + PATIENCE_MS;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('exec start framing, attach bodies, exec inspect user', () => {
  let t: Target;
  const ok = async (args: string[]) => {
    const r = await t.docker(args);
    assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}\n${t.kind === 'stevedore' ? t.logs().slice(-2000) : ''}`);
    return r.stdout;
  };
  const api = async (method: string, p: string, body?: unknown) => {
    const r = await t.request(method, p, body === undefined ? {} : { body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } });
    return { status: r.status, json: r.body ? (JSON.parse(r.body) as Record<string, unknown>) : undefined, body: r.body };
  };
  const execCreate = async (container: string, body: Record<string, unknown>): Promise<string> => {
    const r = await api('POST', `/v1.41/containers/${container}/exec`, body);
    assert.equal(r.status, 201, r.body);
    return r.json!.Id as string;
  };
  const exitCode = async (eid: string): Promise<unknown> => {
    let info = await api('GET', `/exec/${eid}/json`);
    for (let i = 0; i < 400 && info.json!.Running === true; i++) {
      await new Promise((r) => setTimeout(r, 25));
      info = await api('GET', `/exec/${eid}/json`);
    }
    return info.json!.ExitCode;
  };

  before(async () => {
    t = await startTarget();
    await importBusybox(t);
    await ok(['run', '-d', '--name', 'ea-sleep', 'busybox', 'sleep', '1000']);
  });
  after(async () => {
    await removeAllContainers(t);
    await assertNoContainerLeftovers(t);
    await t.stop();
  });

  // ---- item 2: the start request's Tty chooses the framing ----

  it('exec created without a tty, started with Tty:true: a raw stream (stdout only, as Docker)', async () => {
    const eid = await execCreate('ea-sleep', { Cmd: ['sh', '-c', 'echo out; sleep 0.1; echo err >&2; sleep 0.1; echo out2'], AttachStdout: true, AttachStderr: true, Tty: false });
    const { sock, head, rest } = await rawRequest(t.socket, 'POST', `/v1.41/exec/${eid}/start`, JSON.stringify({ Detach: false, Tty: true }));
    assert.match(head, /^HTTP\/1.1 101/);
    assert.match(head, /Content-Type: application\/vnd.docker.raw-stream/i);
    const out = (await readAll(sock, rest)).toString();
    // Docker hands the process a raw stdout and no stderr writer: stderr is not attached
    assert.equal(out, 'out\nout2\n');
    assert.equal(await exitCode(eid), 0);
    // the exec itself still has no tty
    const eid2 = await execCreate('ea-sleep', { Cmd: ['sh', '-c', 'test -t 1 && echo tty || echo notty'], AttachStdout: true, Tty: false });
    const r2 = await rawRequest(t.socket, 'POST', `/v1.41/exec/${eid2}/start`, JSON.stringify({ Tty: true }));
    assert.equal((await readAll(r2.sock, r2.rest)).toString(), 'notty\n');
  });

  it('exec created with a tty, started with Tty:false (or no Tty): stdcopy frames', async () => {
    const eid = await execCreate('ea-sleep', { Cmd: ['sh', '-c', 'test -t 1 && echo tty; echo err >&2'], AttachStdout: true, AttachStderr: true, Tty: true });
    const { sock, head, rest } = await rawRequest(t.socket, 'POST', `/v1.41/exec/${eid}/start`, JSON.stringify({ Detach: false, Tty: false }));
    assert.match(head, /^HTTP\/1.1 101/);
    const got = frames(await readAll(sock, rest));
    // the pty carries both streams: all of it is stdout
    assert.deepEqual(got.map((f) => f.stream).filter((s) => s !== 1), []);
    assert.equal(got.map((f) => f.payload).join(''), 'tty\r\nerr\r\n');
    const eid2 = await execCreate('ea-sleep', { Cmd: ['echo', 'hi'], AttachStdout: true, Tty: true });
    const r2 = await rawRequest(t.socket, 'POST', `/v1.41/exec/${eid2}/start`, JSON.stringify({ Detach: false }));
    assert.deepEqual(demux(await readAll(r2.sock, r2.rest)), { stdout: 'hi\r\n', stderr: '' });
  });

  it('an error after the hijack is framed by the start request too', async () => {
    const eid = await execCreate('ea-sleep', { Cmd: ['nosuchcmd-ea'], AttachStdout: true, AttachStderr: true, Tty: true });
    const r = await rawRequest(t.socket, 'POST', `/v1.41/exec/${eid}/start`, JSON.stringify({ Tty: false }));
    const got = demux(await readAll(r.sock, r.rest));
    assert.match(got.stdout, /executable file not found/);
    const eid2 = await execCreate('ea-sleep', { Cmd: ['nosuchcmd-ea'], AttachStdout: true, AttachStderr: true, Tty: false });
    const r2 = await rawRequest(t.socket, 'POST', `/v1.41/exec/${eid2}/start`, JSON.stringify({ Tty: true }));
    const raw = (await readAll(r2.sock, r2.rest)).toString();
    assert.match(raw, /^[^\x00-\x02]/);
    assert.match(raw, /executable file not found.*\r\n$/);
  });

  it("docker-py: exec_start(tty=...) against the exec's own tty, exec_run(tty=True) and socket=True", async () => {
    const r = await python(
      `import docker, json
cl = docker.DockerClient(base_url=${JSON.stringify('unix://' + t.socket)})
api = cl.api
c = cl.containers.get('ea-sleep')
e1 = api.exec_create('ea-sleep', ['sh', '-c', 'echo out; sleep 0.1; echo err >&2'], tty=False)
raw = api.exec_start(e1['Id'], tty=True)
e2 = api.exec_create('ea-sleep', ['sh', '-c', 'echo hi; echo there >&2'], tty=True)
dem = api.exec_start(e2['Id'], tty=False, demux=True)
run_tty = c.exec_run(['sh', '-c', 'test -t 0 && echo tty; echo err >&2'], tty=True)
s1 = c.exec_run(['sh', '-c', 'echo sock; echo sockerr >&2'], socket=True)
def drain(f):
    data = b''
    while True:
        d = f.read(65536)
        if not d: return data.decode('latin1')
        data += d
sock_plain = drain(s1.output)
s2 = c.exec_run(['sh', '-c', 'echo ttysock'], socket=True, tty=True)
sock_tty = drain(s2.output)
def s(b): return b.decode() if isinstance(b, bytes) else b
print(json.dumps([s(raw), [s(dem[0]), s(dem[1])], run_tty.exit_code, s(run_tty.output), sock_plain, sock_tty]))`,
      t.env,
    );
    assert.equal(r.code, 0, r.stderr);
    const [raw, dem, code, runTty, sockPlain, sockTty] = JSON.parse(r.stdout) as [string, unknown, number, string, string, string];
    assert.deepEqual([raw, dem, code, runTty], ['out\n', ['hi\r\nthere\r\n', null], 0, 'tty\r\nerr\r\n']);
    // socket=True hands over the connection: frames without a tty, raw bytes with one
    assert.deepEqual(demux(Buffer.from(sockPlain, 'latin1')), { stdout: 'sock\n', stderr: 'sockerr\n' });
    assert.equal(sockTty, 'ttysock\r\n');
  });

  // ---- item 4: the attach request's body is not stdin ----

  it("dockerode's attach: its JSON body does not reach the container's stdin", async () => {
    await ok(['run', '-d', '-i', '--name', 'ea-cat1', 'busybox', 'cat']);
    const docker = new Docker({ socketPath: t.socket });
    const stream = (await docker.getContainer('ea-cat1').attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true })) as unknown as net.Socket;
    const chunks: Buffer[] = [];
    stream.on('data', (d: Buffer) => chunks.push(d));
    stream.write('hello from dockerode\n');
    await until('the echo', () => demux(Buffer.concat(chunks)).stdout.includes('hello from dockerode\n'));
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(demux(Buffer.concat(chunks)), { stdout: 'hello from dockerode\n', stderr: '' });
    stream.destroy();
    await ok(['kill', 'ea-cat1']);
    const logs = await t.docker(['logs', 'ea-cat1']);
    assert.equal(logs.stdout, 'hello from dockerode\n');
  });

  it('raw attach upgrade with a body: the body is discarded, stdin starts after the upgrade', async () => {
    await ok(['run', '-d', '-i', '--name', 'ea-cat2', 'busybox', 'cat']);
    const { sock, head, rest } = await rawRequest(t.socket, 'POST', '/v1.41/containers/ea-cat2/attach?stream=1&stdin=1&stdout=1&stderr=1', JSON.stringify({ Detach: false, note: 'not stdin' }));
    assert.match(head, /^HTTP\/1.1 101/);
    const all = readAll(sock, rest);
    let seen = Buffer.alloc(0);
    sock.on('data', (d: Buffer) => (seen = Buffer.concat([seen, d])));
    sock.write('line one\n');
    await until('the echo', () => demux(Buffer.concat([rest, seen])).stdout.includes('line one\n'));
    await new Promise((r) => setTimeout(r, 200));
    await ok(['kill', 'ea-cat2']);
    assert.deepEqual(demux(await all), { stdout: 'line one\n', stderr: '' });
  });

  it('attach without an upgrade: the body is discarded and the stream stays open after it', async () => {
    await ok(['run', '-d', '-i', '--name', 'ea-read', 'busybox', 'sh', '-c', 'while read l; do echo "got $l"; done']);
    // an HTTP client (not upgraded) with a JSON body, as dockerode's attach without hijack sends
    let plain = Buffer.alloc(0);
    const req = http.request({ socketPath: t.socket, method: 'POST', path: '/v1.41/containers/ea-read/attach?stream=1&stdin=1&stdout=1&stderr=1', headers: { 'Content-Type': 'application/json' } });
    const status = new Promise<number>((resolve) => {
      req.on('response', (res) => {
        res.on('data', (d: Buffer) => (plain = Buffer.concat([plain, d])));
        res.on('error', () => {});
        resolve(res.statusCode ?? 0);
      });
    });
    req.on('error', () => {});
    req.end('{"stream":true,"stdin":true}\n');
    assert.equal(await status, 200);
    await new Promise((r) => setTimeout(r, 300));
    // another client's input: its echo reaches the first client, whose session is still live
    const other = await rawRequest(t.socket, 'POST', '/v1.41/containers/ea-read/attach?stream=1&stdin=1&stdout=1', undefined);
    let seen = other.rest;
    other.sock.on('data', (d: Buffer) => (seen = Buffer.concat([seen, d])));
    other.sock.resume();
    other.sock.write('probe\n');
    await until('the echo on the plain attach', () => plain.includes('got probe\n'));
    req.destroy();
    other.sock.destroy();
    await ok(['kill', 'ea-read']);
    assert.deepEqual(demux(plain), { stdout: 'got probe\n', stderr: '' });
    assert.equal((await t.docker(['logs', 'ea-read'])).stdout, 'got probe\n');
  });

  it('exec start over an upgrade takes exactly Content-Length bytes as its config; stdin follows', async () => {
    const eid = await execCreate('ea-sleep', { Cmd: ['sh', '-c', 'cat; echo end'], AttachStdin: true, AttachStdout: true, AttachStderr: true });
    const { sock, head, rest } = await rawRequest(t.socket, 'POST', `/v1.41/exec/${eid}/start`, JSON.stringify({ Detach: false, Tty: false }));
    assert.match(head, /^HTTP\/1.1 101/);
    const all = readAll(sock, rest);
    sock.write('exec stdin\n');
    sock.end();
    assert.deepEqual(demux(await all), { stdout: 'exec stdin\nend\n', stderr: '' });
    assert.equal(await exitCode(eid), 0);
  });

  it("dockerode's exec.start: the start body is not stdin", async () => {
    const docker = new Docker({ socketPath: t.socket });
    const exec = await docker.getContainer('ea-sleep').exec({ Cmd: ['sh', '-c', 'cat; echo end'], AttachStdin: true, AttachStdout: true, AttachStderr: true });
    const stream = (await exec.start({ hijack: true, stdin: true })) as unknown as net.Socket;
    const chunks: Buffer[] = [];
    stream.on('data', (d: Buffer) => chunks.push(d));
    const ended = new Promise<void>((resolve) => stream.on('end', () => resolve()));
    stream.end('typed\n');
    await ended;
    assert.deepEqual(demux(Buffer.concat(chunks)), { stdout: 'typed\nend\n', stderr: '' });
  });

  it('websocket attach: stdin is only what the websocket sends', async () => {
    await ok(['run', '-d', '-i', '--name', 'ea-ws', 'busybox', 'cat']);
    const ws = new WebSocket(`ws+unix://${t.socket}:/v1.41/containers/ea-ws/attach/ws?stream=1&stdin=1&stdout=1&stderr=1`);
    let got = '';
    ws.on('message', (d: Buffer) => (got += d.toString()));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    ws.send('over websocket\n');
    await until('the echo', () => got.includes('over websocket\n'));
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(got, 'over websocket\n');
    ws.close();
    await ok(['kill', 'ea-ws']);
    assert.equal((await t.docker(['logs', 'ea-ws'])).stdout, 'over websocket\n');
  });

  // ---- item 11: exec inspect's ProcessConfig.user ----

  it("exec inspect reports the container's user when the exec inherits it", async () => {
    await ok(['run', '-d', '--name', 'ea-user', '-u', 'nobody', 'busybox', 'sleep', '1000']);
    const inherit = await execCreate('ea-user', { Cmd: ['id', '-u'] });
    assert.deepEqual((await api('GET', `/exec/${inherit}/json`)).json!.ProcessConfig, { tty: false, entrypoint: 'id', arguments: ['-u'], privileged: false, user: 'nobody' });
    const own = await execCreate('ea-user', { Cmd: ['id', '-u'], User: '33' });
    assert.deepEqual((await api('GET', `/exec/${own}/json`)).json!.ProcessConfig, { tty: false, entrypoint: 'id', arguments: ['-u'], privileged: false, user: '33' });
    // no user anywhere: the key is left out (omitempty)
    const none = await execCreate('ea-sleep', { Cmd: ['true'], Tty: true, Privileged: false });
    assert.deepEqual((await api('GET', `/exec/${none}/json`)).json!.ProcessConfig, { tty: true, entrypoint: 'true', arguments: [], privileged: false });
    assert.equal(await ok(['exec', 'ea-user', 'id', '-u']), '65534\n');
  });
});
