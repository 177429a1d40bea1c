import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { collect, type RuntimeFixture, suiteFixture } from './bundle-fixture';
import { ShimTaskService } from './shim-task-service';

/** Runs daemon-fixture in a child, waits for its pid line, SIGKILLs it; returns the task pid. */
async function startInDoomedDaemon(fx: RuntimeFixture, id: string, args: string[], attach: boolean): Promise<number> {
  const child = spawn(process.execPath, [path.join(__dirname, 'daemon-fixture.js'), fx.execRoot, id, fx.bundle(id, args), fx.logPath(id), attach ? 'attach' : ''], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  let out = '';
  for await (const chunk of child.stdout) {
    out += String(chunk);
    if (out.includes('\n')) break;
  }
  child.kill('SIGKILL');
  await exited;
  return (JSON.parse(out) as { pid: number }).pid;
}

/** Polls until `cond` holds; fails after `tries` × 50 ms (a bound, not a timing assertion). */
async function until(cond: () => boolean, what: string, tries = 400): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (cond()) return;
    await sleep(50);
  }
  assert.fail(`gave up waiting for ${what}`);
}

function logLines(file: string): string[] {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { log: string }).log);
  } catch {
    return [];
  }
}

describe('tasks outlive the daemon (runc)', () => {
  const fixture = suiteFixture();

  test('a running task survives the daemon being SIGKILLed, with no gap in its log', async () => {
    const id = 'survivor';
    const script = 'i=0; while true; do echo "line $i"; i=$((i+1)); usleep 100000; done';
    const pid = await startInDoomedDaemon(fixture(), id, ['sh', '-c', script], true);
    const log = fixture().logPath(id);
    const before = logLines(log).length;
    await until(() => logLines(log).length >= before + 5, 'log lines after the daemon died');

    const fresh = new ShimTaskService({ execRoot: fixture().execRoot });
    assert.deepEqual(await fresh.list(), [id]);
    assert.equal(await fresh.state(id), 'running');
    assert.ok((await fresh.ps(id)).includes(pid));
    const a = await fresh.attach(id, { stdin: false, stdout: true, stderr: false });
    const live = collect(a);
    await fresh.kill(id, 'KILL');
    const st = await fresh.wait(id);
    assert.equal(st.exitCode, 137);
    await live; // the attach stream ends when the task exits
    const lines = logLines(log);
    assert.ok(lines.length >= before + 5);
    lines.forEach((l, i) => assert.equal(l, `line ${i}\n`));
    await fresh.delete(id);
  });

  test('a task that exits while no daemon is connected has its status recorded', async () => {
    const id = 'orphan';
    await startInDoomedDaemon(fixture(), id, ['sh', '-c', 'echo bye; usleep 300000; exit 7'], false);
    const exitFile = path.join(fixture().execRoot, 'shims', id, 'exit.json');
    await until(() => fs.existsSync(exitFile), 'exit.json');
    const fresh = new ShimTaskService({ execRoot: fixture().execRoot });
    assert.deepEqual(await fresh.list(), [id]);
    assert.equal(await fresh.state(id), 'stopped');
    const st = await fresh.wait(id);
    assert.equal(st.exitCode, 7);
    assert.ok(st.finishedAt.getTime() > Date.now() - 3600_000);
    assert.deepEqual(logLines(fixture().logPath(id)), ['bye\n']);
    await fresh.delete(id);
    assert.deepEqual(await fresh.list(), []);
  });

  test('a task whose shim died: wait reports 255, delete still cleans up', async () => {
    const id = 'lostshim';
    await fixture().svc.start({ id, bundle: fixture().bundle(id, ['sleep', '1000']), tty: false, openStdin: false, stdinOnce: false });
    const shimPid = Number(fs.readFileSync(path.join(fixture().execRoot, 'shims', id, 'shim.pid'), 'utf8'));
    process.kill(shimPid, 'SIGKILL');
    await until(() => !fs.existsSync(`/proc/${shimPid}/cmdline`) || fs.readFileSync(`/proc/${shimPid}/cmdline`, 'utf8') === '', 'the shim to die');
    assert.deepEqual(await fixture().svc.list(), [id]);
    assert.equal((await fixture().svc.wait(id)).exitCode, 255);
    assert.equal(await fixture().svc.state(id), 'running'); // the container itself lives on
    await fixture().svc.delete(id);
    assert.deepEqual(await fixture().svc.list(), []);
  });

  test('log rotation keeps max-file files of about max-size bytes', async () => {
    const id = 'rotate';
    const script = 'i=0; while [ $i -lt 300 ]; do echo "line $i ........................................................................"; i=$((i+1)); done';
    await fixture().svc.start({ id, bundle: fixture().bundle(id, ['sh', '-c', script]), logPath: fixture().logPath(id), logMaxSize: 4000, logMaxFiles: 3, tty: false, openStdin: false, stdinOnce: false });
    assert.equal((await fixture().svc.wait(id)).exitCode, 0);
    const log = fixture().logPath(id);
    assert.ok(fs.existsSync(log + '.1') && fs.existsSync(log + '.2'));
    assert.equal(fs.existsSync(log + '.3'), false);
    for (const f of [log, log + '.1', log + '.2']) assert.ok(fs.statSync(f).size <= 4000 + 200, f);
    const lines = [...logLines(log + '.2'), ...logLines(log + '.1'), ...logLines(log)];
    const first = Number(/^line (\d+) /.exec(lines[0])![1]);
    assert.ok(first > 0);
    lines.forEach((l, i) => assert.match(l, new RegExp(`^line ${first + i} \\.+\\n$`)));
    assert.equal(first + lines.length, 300);
    await fixture().svc.delete(id);
  });

  test('tty: resize before start, raw output, stdin echoed by the terminal', async () => {
    const id = 'tty';
    await fixture().svc.create({ id, bundle: fixture().bundle(id, ['sh', '-c', 'stty size; read x; echo "got $x"'], { tty: true }), logPath: fixture().logPath(id), tty: true, openStdin: true, stdinOnce: true });
    await fixture().svc.resize(id, 30, 100);
    const a = await fixture().svc.attach(id, { stdin: true, stdout: true, stderr: true });
    const out = collect(a);
    let seen = '';
    const sized = new Promise<void>((resolve) => a.on('data', (b: Buffer) => (seen += b.toString()).includes('\n') && resolve()));
    await fixture().svc.startCreated(id);
    await sized; // the shell has printed its size and is about to read
    a.write('abc\n');
    assert.equal((await fixture().svc.wait(id)).exitCode, 0);
    const text = (await out).toString('utf8');
    assert.match(text, /^30 100\r\n/); // raw: no stdcopy header
    assert.match(text, /got abc\r\n/);
    assert.ok(logLines(fixture().logPath(id)).includes('got abc\r\n'));
    await fixture().svc.delete(id);
  });

  test('an OOM kill is recorded', async () => {
    const id = 'oom';
    const b = fixture().bundle(id, ['sh', '-c', 'x=$(head -c 100000000 /dev/zero | tr "\\0" a); echo survived']);
    const spec = JSON.parse(fs.readFileSync(path.join(b, 'config.json'), 'utf8'));
    spec.linux.resources = { ...spec.linux.resources, memory: { limit: 16 * 1024 * 1024, swap: 16 * 1024 * 1024 } };
    fs.writeFileSync(path.join(b, 'config.json'), JSON.stringify(spec));
    await fixture().svc.start({ id, bundle: b, logPath: fixture().logPath(id), tty: false, openStdin: false, stdinOnce: false });
    const st = await fixture().svc.wait(id);
    assert.equal(st.oomKilled, true);
    assert.notEqual(st.exitCode, 0);
    assert.equal(logLines(fixture().logPath(id)).includes('survived\n'), false);
    await fixture().svc.delete(id);
  });

  test('pause, resume and update go through the runtime', async () => {
    const id = 'pause';
    await fixture().svc.start({ id, bundle: fixture().bundle(id, ['sleep', '1000']), tty: false, openStdin: false, stdinOnce: false });
    await fixture().svc.pause(id);
    assert.equal(await fixture().svc.state(id), 'paused');
    await fixture().svc.resume(id);
    assert.equal(await fixture().svc.state(id), 'running');
    await fixture().svc.update(id, { pids: { limit: 50 } });
    assert.equal(fs.readFileSync(`/sys/fs/cgroup/pids/stevedore-rt-test-${id}/pids.max`, 'utf8').trim(), '50');
    await fixture().svc.delete(id); // force-deletes a running task
    assert.deepEqual(await fixture().svc.list(), []);
  });
});
