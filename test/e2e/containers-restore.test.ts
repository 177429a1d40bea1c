/**
 * Live restore: containers outlive a SIGKILLed daemon; the restarted daemon reattaches
 * to them (same PID, logs without a gap, stop and logs -f work) and records the exit of
 * a container that ended while it was down.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type Target, startTarget, targetKind, unmountBelow } from '../helpers/target';
import { importBusybox } from '../helpers/busybox';
import { assertNoContainerLeftovers, removeAllContainers } from '../helpers/containers';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(cond: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`gave up waiting for ${what}`);
}

describe('live restore', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stv-e2e-'));
  let first: Target;
  let second: Target | undefined;

  before(async () => {
    // Docker needs live-restore switched on; stevedore always live-restores.
    fs.writeFileSync(path.join(dir, 'daemon.json'), JSON.stringify({ 'live-restore': true }));
    first = await startTarget({ dir, kind: targetKind() });
    await importBusybox(first);
  });

  after(async () => {
    const t = second ?? first;
    await removeAllContainers(t);
    await assertNoContainerLeftovers(t);
    await second?.stop();
    await first.stop();
    const left = unmountBelow(dir);
    fs.rmSync(dir, { recursive: true, force: true });
    // A SIGKILLed dockerd leaves its data root's own bind mount behind; stevedore must leave nothing.
    if (first.kind === 'stevedore') assert.deepEqual(left, [], 'mounts left behind');
  });

  it('keeps containers running across a daemon crash and records exits that happened meanwhile', async () => {
    const d = (t: Target, args: string[]) => t.docker(args);
    const tick = await d(first, ['run', '-d', '--name', 'ticker', 'busybox', 'sh', '-c', 'i=0; while true; do echo $i; i=$((i+1)); sleep 0.2; done']);
    assert.equal(tick.code, 0, tick.stderr);
    const late = await d(first, ['run', '-d', '--name', 'late', 'busybox', 'sh', '-c', 'sleep 2; exit 42']);
    assert.equal(late.code, 0, late.stderr);
    const pid = (await d(first, ['inspect', '-f', '{{.State.Pid}}', 'ticker'])).stdout.trim();
    assert.match(pid, /^[1-9]\d*$/);
    const latePid = Number((await d(first, ['inspect', '-f', '{{.State.Pid}}', 'late'])).stdout.trim());

    process.kill(first.pid, 'SIGKILL');
    await until(() => !alive(first.pid), 'the daemon to die');
    await until(() => !alive(latePid), 'the second container to exit while the daemon is down');
    assert.ok(alive(Number(pid)), 'the container survived the daemon');

    second = await startTarget({ dir, kind: targetKind() });
    const s = second;
    assert.equal((await d(s, ['inspect', '-f', '{{.State.Status}} {{.State.Pid}}', 'ticker'])).stdout.trim(), `running ${pid}`);
    assert.equal((await d(s, ['wait', 'late'])).stdout.trim(), '42');
    assert.equal((await d(s, ['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'late'])).stdout.trim(), 'exited 42');

    // Logs continue in the same file: every number, in order, without a gap.
    await until(async () => (await d(s, ['logs', '--tail', '1', 'ticker'])).stdout.trim() !== '', 'new log lines');
    const follow = d(s, ['logs', '-f', 'ticker']);
    const stop = await d(s, ['stop', '-t', '1', 'ticker']);
    assert.equal(stop.code, 0, stop.stderr);
    const followed = await follow;
    assert.equal(followed.code, 0, followed.stderr);
    const lines = followed.stdout.trim().split('\n').map(Number);
    assert.ok(lines.length > 5);
    lines.forEach((n, i) => assert.equal(n, i, `log line ${i}`));
    assert.match((await d(s, ['inspect', '-f', '{{.State.Status}}', 'ticker'])).stdout.trim(), /^exited$/);
    assert.equal(alive(Number(pid)), false);
  });
});
