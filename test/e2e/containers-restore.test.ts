/**
 * Live restore: containers outlive a SIGKILLed daemon; the restarted daemon reattaches
 * to them (same PID, logs without a gap, stop and logs -f work) and records the exit of
 * a container that ended while it was down.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import type { Target } from '../helpers/target';
import { DaemonRestart, killDaemon } from '../helpers/restart';
import { alive, until } from '../helpers/wait';

describe('live restore', () => {
  const daemons = new DaemonRestart();

  before(() => daemons.start());
  after(() => daemons.cleanup());

  it('keeps containers running across a daemon crash and records exits that happened meanwhile', async () => {
    const d = (t: Target, args: string[]) => t.docker(args);
    const first = daemons.first;
    const tick = await d(first, ['run', '-d', '--name', 'ticker', 'busybox', 'sh', '-c', 'i=0; while true; do echo $i; i=$((i+1)); sleep 0.2; done']);
    assert.equal(tick.code, 0, tick.stderr);
    const late = await d(first, ['run', '-d', '--name', 'late', 'busybox', 'sh', '-c', 'sleep 2; exit 42']);
    assert.equal(late.code, 0, late.stderr);
    const pid = (await d(first, ['inspect', '-f', '{{.State.Pid}}', 'ticker'])).stdout.trim();
    assert.match(pid, /^[1-9]\d*$/);
    const latePid = Number((await d(first, ['inspect', '-f', '{{.State.Pid}}', 'late'])).stdout.trim());

    await killDaemon(first);
    await until(() => !alive(latePid), 'the second container to exit while the daemon is down', { tries: 600 });
    assert.ok(alive(Number(pid)), 'the container survived the daemon');

    const s = await daemons.restart();
    assert.equal((await d(s, ['inspect', '-f', '{{.State.Status}} {{.State.Pid}}', 'ticker'])).stdout.trim(), `running ${pid}`);
    assert.equal((await d(s, ['wait', 'late'])).stdout.trim(), '42');
    assert.equal((await d(s, ['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'late'])).stdout.trim(), 'exited 42');

    // Logs continue in the same file: every number, in order, without a gap.
    await until(async () => (await d(s, ['logs', '--tail', '1', 'ticker'])).stdout.trim() !== '', 'new log lines', { tries: 600 });
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
