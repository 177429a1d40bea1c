/**
 * The shim's output sinks (CRI format, none, a logging binary), per-attach framing and
 * `hello` (docs/shim.md). The CRI line splitting is tested on its own (native/shim/
 * cri_format_test.c, built here with cc) against the cases containerd's
 * pkg/cri/io/logger.go defines; the rest runs real containers with runc.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { projectRoot } from '../sys/project';
import { collect, demux, suiteFixture } from './bundle-fixture';
import { parseHello, shimHello, shimRequest } from './shim-client';
import { sinkArgs } from './shim-task-service';

const hex = (s: string) => Buffer.from(s, 'latin1').toString('hex');

describe('CRI log format (containerd pkg/cri/io/logger.go)', () => {
  let dir = '';
  let bin = '';
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stv-cri-'));
    bin = path.join(dir, 'cri_format_test');
    const src = path.join(projectRoot(), 'native', 'shim');
    execFileSync('cc', ['-O2', '-std=c11', '-Wall', '-Wextra', '-Werror', '-I', src, '-o', bin,
      path.join(src, 'cri_format_test.c'), path.join(src, 'sink_cri.c'), path.join(src, 'log.c')]);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** Entries for chunks of [stream, bytes] (then the end of output), max line `max`. */
  function format(max: number, chunks: ['o' | 'e', string][]): string[] {
    const out = execFileSync(bin, [String(max), ...chunks.map(([s, b]) => `${s}:${hex(b)}`), 'end'], { encoding: 'latin1' });
    return out.split('\n').slice(0, -1).map((l) => l.replace(/^2026-01-02T03:04:05\.12Z /, ''));
  }

  test('a line is one F entry; "\\n" and "\\r\\n" are dropped; an empty line is an empty entry', () => {
    assert.deepEqual(format(16384, [['o', 'hi\nwin\r\n\nlast\n']]), ['stdout F hi', 'stdout F win', 'stdout F ', 'stdout F last']);
  });

  test('lines across reads are joined; each stream is its own', () => {
    assert.deepEqual(format(16384, [['o', 'ab'], ['e', 'x'], ['o', 'c\nd'], ['e', 'y\n'], ['o', '\n']]), ['stdout F abc', 'stderr F xy', 'stdout F d']);
  });

  test('a tail without a newline at the end is a P entry', () => {
    assert.deepEqual(format(16384, [['o', 'done\nno newline']]), ['stdout F done', 'stdout P no newline']);
  });

  test('a line longer than the maximum is cut into P entries of exactly the maximum', () => {
    assert.deepEqual(format(4, [['o', 'abcdefghij\n']]), ['stdout P abcd', 'stdout P efgh', 'stdout F ij']);
    assert.deepEqual(format(4, [['o', 'abcd\n']]), ['stdout F abcd'], 'exactly the maximum is a full line');
    assert.deepEqual(format(4, [['o', 'abcde\n']]), ['stdout P abcd', 'stdout F e']);
  });

  test('"\\r\\n" straddling the cut is still a line end; a lone "\\r" is content', () => {
    assert.deepEqual(format(4, [['o', 'abcd\r'], ['o', '\nx\n']]), ['stdout F abcd', 'stdout F x']);
    assert.deepEqual(format(4, [['o', 'abcd\rX\n']]), ['stdout P abcd', 'stdout F \rX']);
    assert.deepEqual(format(4, [['o', 'abcd\r']]), ['stdout P abcd', 'stdout P \r']);
    assert.deepEqual(format(16384, [['o', 'a\rb\n']]), ['stdout F a\rb']);
  });

  test('sink arguments: json-file keeps the earlier spelling; others name their driver', () => {
    assert.deepEqual(sinkArgs({ kind: 'none' }), []);
    assert.deepEqual(sinkArgs({ kind: 'json-file', path: '/l/x.log', maxSize: 100, maxFiles: 3 }), ['--log', '/l/x.log', '--log-max-size', '100', '--log-max-files', '3']);
    assert.deepEqual(sinkArgs({ kind: 'cri', path: '/l/c.log', maxLineSize: 8 }), ['--log-driver', 'cri', '--log', '/l/c.log', '--log-max-line', '8']);
    assert.deepEqual(sinkArgs({ kind: 'binary', path: '/bin/lg', args: ['-x'], env: { A: '1' }, namespace: 'moby' }),
      ['--log-driver', 'binary', '--log', '/bin/lg', '--log-arg', '-x', '--log-env', 'A=1', '--namespace', 'moby']);
    assert.throws(() => sinkArgs({ kind: 'binary', path: 'relative' }), /absolute/);
    assert.throws(() => sinkArgs({ kind: 'cri', path: '/x', maxLineSize: 0 }), /max line/);
  });

  test('hello replies parse; protocol 1 is the shim that does not know hello', () => {
    assert.deepEqual(parseHello('ok v2 enter attach-fd framing sinks'), { version: 2, capabilities: ['enter', 'attach-fd', 'framing', 'sinks'] });
    assert.deepEqual(parseHello('error unknown request'), { version: 1, capabilities: [] });
    assert.throws(() => parseHello('ok'), /unexpected reply/);
  });
});

/** Waits until `cond` holds (a logging binary finishes after the container). */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await sleep(25);
  assert.ok(cond(), `gave up waiting for ${what}`);
}

describe('sinks, framing and hello with a real shim (runc)', () => {
  const fixture = suiteFixture();
  const file = (name: string) => path.join(fixture().dir, name);

  test('hello: protocol 2 and its capabilities, recorded in shim.json at the first request that needs it', async () => {
    const fx = fixture();
    const id = 'hello';
    await fx.svc.start({ id, bundle: fx.bundle(id, ['sleep', '30']), tty: false, openStdin: false, stdinOnce: false });
    const sock = path.join(fx.execRoot, 'shims', id, 'shim.sock');
    assert.deepEqual(await shimHello(sock), { version: 2, capabilities: ['enter', 'attach-fd', 'framing', 'sinks'] });
    const shimJson = () => JSON.parse(fs.readFileSync(path.join(fx.execRoot, 'shims', id, 'shim.json'), 'utf8')) as { protocol?: unknown };
    assert.equal(shimJson().protocol, undefined);
    const s = await fx.svc.attach(id, { stdin: false, stdout: true, stderr: true });
    s.destroy();
    assert.deepEqual(shimJson().protocol, { version: 2, capabilities: ['enter', 'attach-fd', 'framing', 'sinks'] });
    // the next shim of the same binary has the answer in its shim.json from its create on:
    // its first attach needs no round trip
    const next = 'hello2';
    await fx.svc.start({ id: next, bundle: fx.bundle(next, ['sleep', '30']), tty: false, openStdin: false, stdinOnce: false });
    const nextJson = JSON.parse(fs.readFileSync(path.join(fx.execRoot, 'shims', next, 'shim.json'), 'utf8')) as { protocol?: unknown };
    assert.deepEqual(nextJson.protocol, { version: 2, capabilities: ['enter', 'attach-fd', 'framing', 'sinks'] });
    for (const x of [id, next]) {
      await fx.svc.kill(x, 'KILL');
      await fx.svc.wait(x);
      await fx.svc.delete(x);
    }
  });

  test('cri: entries as containerd writes them, long lines cut at 16 KiB, the tail a P entry', async () => {
    const fx = fixture();
    const id = 'cri';
    const log = file('cri.log');
    const script = 'echo hi; echo oops >&2; head -c 20000 /dev/zero | tr "\\0" a; echo; printf tail';
    await fx.svc.start({ id, bundle: fx.bundle(id, ['sh', '-c', script]), log: { kind: 'cri', path: log }, tty: false, openStdin: false, stdinOnce: false });
    assert.equal((await fx.svc.wait(id)).exitCode, 0);
    const lines = fs.readFileSync(log, 'latin1').split('\n').slice(0, -1);
    for (const l of lines) assert.match(l, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z (stdout|stderr) [FP] /);
    const body = lines.map((l) => l.replace(/^\S+ /, ''));
    // in order within each stream (the two pipes are read as they come)
    assert.deepEqual(body.filter((l) => l.startsWith('stdout')), ['stdout F hi', `stdout P ${'a'.repeat(16384)}`, `stdout F ${'a'.repeat(20000 - 16384)}`, 'stdout P tail']);
    assert.deepEqual(body.filter((l) => l.startsWith('stderr')), ['stderr F oops']);
    await fx.svc.delete(id);
  });

  test('none: nothing is written; attach clients still get the output', async () => {
    const fx = fixture();
    const id = 'none';
    await fx.svc.create({ id, bundle: fx.bundle(id, ['echo', 'quiet']), log: { kind: 'none' }, tty: false, openStdin: false, stdinOnce: false });
    const s = await fx.svc.attach(id, { stdin: false, stdout: true, stderr: true });
    const out = collect(s);
    await fx.svc.startCreated(id);
    assert.equal(demux(await out).stdout, 'quiet\n');
    assert.equal((await fx.svc.wait(id)).exitCode, 0);
    assert.deepEqual(fs.readdirSync(path.join(fx.execRoot, 'shims', id)).filter((f) => f.endsWith('.log') && f !== 'shim.log' && f !== 'runtime.log'), []);
    await fx.svc.delete(id);
  });

  test("binary: the program gets stdout on fd 3, stderr on fd 4, signals ready on fd 5, and the container's id", async () => {
    const fx = fixture();
    const id = 'binary';
    const prefix = file('bin-out');
    const logger = file('logger.sh');
    // copies fd 3 and 4 to files (the copies must not hold the ready pipe), then says ready
    fs.writeFileSync(logger, [
      '#!/bin/sh',
      'cat <&3 5>&- >"$1.stdout" &',
      'cat <&4 5>&- >"$1.stderr" &',
      'echo "$CONTAINER_ID $CONTAINER_NAMESPACE $EXTRA" >"$1.env"',
      'printf r >&5',
      'exec 5>&-',
      'wait',
      'echo done >"$1.done"',
      '',
    ].join('\n'), { mode: 0o755 });
    const script = 'echo out1; echo err1 >&2; echo out2';
    await fx.svc.start({ id, bundle: fx.bundle(id, ['sh', '-c', script]), log: { kind: 'binary', path: logger, args: [prefix], env: { EXTRA: 'x' }, namespace: 'moby' }, tty: false, openStdin: false, stdinOnce: false });
    assert.equal((await fx.svc.wait(id)).exitCode, 0);
    await until(() => fs.existsSync(`${prefix}.done`), 'the logger to finish');
    assert.equal(fs.readFileSync(`${prefix}.stdout`, 'utf8'), 'out1\nout2\n');
    assert.equal(fs.readFileSync(`${prefix}.stderr`, 'utf8'), 'err1\n');
    assert.equal(fs.readFileSync(`${prefix}.env`, 'utf8'), `${id} moby x\n`);
    await fx.svc.delete(id);
  });

  test('binary: a logger that stops reading holds the container, not the shim; delete stops it', async () => {
    const fx = fixture();
    const id = 'binary-stuck';
    const logger = file('stuck.sh');
    const pidFile = file('stuck.pid');
    fs.writeFileSync(logger, `#!/bin/sh\necho $$ >${pidFile}\nprintf r >&5\nexec 5>&-\nexec sleep 60\n`, { mode: 0o755 });
    await fx.svc.start({ id, bundle: fx.bundle(id, ['sh', '-c', 'head -c 8388608 /dev/zero; echo done']), log: { kind: 'binary', path: logger }, tty: false, openStdin: false, stdinOnce: false });
    await sleep(300);
    const sock = path.join(fx.execRoot, 'shims', id, 'shim.sock');
    const t0 = Date.now();
    assert.match(await shimRequest(sock, 'state'), /^ok running \d+$/, 'the shim still answers');
    assert.ok(Date.now() - t0 < 1000);
    assert.equal(await fx.svc.state(id), 'running', 'the writer waits for the logger');
    await fx.svc.kill(id, 'KILL');
    assert.equal((await fx.svc.wait(id)).exitCode, 137);
    const loggerPid = Number(fs.readFileSync(pidFile, 'utf8'));
    assert.ok(loggerPid > 0);
    await fx.svc.delete(id);
    assert.throws(() => process.kill(loggerPid, 0), 'the logger was stopped at delete');
  });

  test('binary: a program that cannot start fails the create', async () => {
    const fx = fixture();
    const id = 'binary-missing';
    await assert.rejects(
      fx.svc.start({ id, bundle: fx.bundle(id, ['true']), log: { kind: 'binary', path: file('no-such-logger') }, tty: false, openStdin: false, stdinOnce: false }),
      /cannot start the logging binary/,
    );
    assert.ok(!(await fx.svc.list()).includes(id), 'nothing is left of the task');
  });

  test('framing is per attach: raw bytes from a container without a tty when asked', async () => {
    const fx = fixture();
    const id = 'framing';
    await fx.svc.create({ id, bundle: fx.bundle(id, ['sh', '-c', 'echo raw']), tty: false, openStdin: false, stdinOnce: false });
    const raw = collect(await fx.svc.attach(id, { stdin: false, stdout: true, stderr: true, framing: 'raw' }));
    const framed = collect(await fx.svc.attach(id, { stdin: false, stdout: true, stderr: true }));
    await fx.svc.startCreated(id);
    assert.equal((await raw).toString(), 'raw\n');
    assert.equal(demux(await framed).stdout, 'raw\n');
    assert.equal((await fx.svc.wait(id)).exitCode, 0);
    await fx.svc.delete(id);
  });
});
