/**
 * Upgrading in place (issue #12): a data root and running containers of the previous
 * release are taken over by this build. The previous release is built from git
 * (test/helpers/previous-release.ts; cached under os.tmpdir() between runs), its daemon
 * runs a ticking container and a stopped one, is stopped with SIGTERM while the ticker
 * runs, and the current daemon starts on the same data root, exec root and socket: the
 * ticker still runs with the same pid, its log goes on without a gap, the image is
 * listed and runs, and exec, stop, start and rm work; the new daemon logs no error.
 *
 * stevedore only by nature: Docker has no "previous stevedore release" to upgrade from,
 * so under STEVEDORE_TEST_TARGET=docker the test is skipped with that reason.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type Target, startTarget, targetKind, unmountBelow, waitForExit } from '../helpers/target';
import { importBusybox } from '../helpers/busybox';
import { assertNoContainerLeftovers, removeAllContainers } from '../helpers/containers';
import { type PreviousDaemon, type PreviousRelease, buildPreviousRelease, resolvePreviousRelease, startPreviousDaemon } from '../helpers/previous-release';
import { alive, until } from '../helpers/wait';

/** The ticker's log lines as numbers (it writes `tick <n>`). */
function ticks(stdout: string): number[] {
  return stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const m = /^tick (\d+)$/.exec(l);
      if (!m) throw new Error(`unexpected log line ${JSON.stringify(l)}`);
      return Number(m[1]);
    });
}

/** The daemon's structured log records at level error or fatal. */
function errorRecords(log: string): string[] {
  return log.split('\n').filter((l) => {
    if (!l.trim()) return false;
    try {
      const rec = JSON.parse(l) as { level?: string };
      return rec.level === 'error' || rec.level === 'fatal';
    } catch {
      return true; // anything not a log record (a stack trace) counts as an error
    }
  });
}

const previous = resolvePreviousRelease();
const skip = targetKind() === 'docker' ? 'stevedore only: upgrades a data root of the previous stevedore release' : 'skip' in previous ? previous.skip : false;

describe('upgrade in place from the previous release', { skip }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stv-up-'));
  let prev: PreviousRelease;
  let old: PreviousDaemon | undefined;
  let current: Target | undefined;

  before(
    async () => {
      if (!('commit' in previous)) return;
      prev = await buildPreviousRelease(previous.commit);
      process.stderr.write(`previous release ${prev.commit.slice(0, 12)}: ${prev.cached ? 'cached build reused' : `built (node_modules: ${prev.nodeModules})`} in ${(prev.ms / 1000).toFixed(1)} s, at ${prev.root}\n`);
    },
    { timeout: 20 * 60_000 },
  );

  after(async () => {
    try {
      if (current) {
        const c = current;
        try {
          await removeAllContainers(c);
          await assertNoContainerLeftovers(c);
        } finally {
          await c.stop();
        }
      } else if (old) {
        // The new daemon never came up: let the previous release clean up after itself.
        await old.stop();
        const again = await startPreviousDaemon(prev, dir);
        try {
          const ids = (await again.docker(['ps', '-aq'])).stdout.trim().split('\n').filter(Boolean);
          if (ids.length) await again.docker(['rm', '-f', ...ids]);
        } finally {
          await again.stop();
        }
      }
    } finally {
      const left = unmountBelow(dir);
      fs.rmSync(dir, { recursive: true, force: true });
      assert.deepEqual(left, [], 'mounts left behind');
    }
  });

  it('keeps containers, logs and images of the previous release', { timeout: 5 * 60_000 }, async () => {
    // The previous release: a container that writes a line every 100 ms, and a stopped one.
    old = await startPreviousDaemon(prev, dir);
    const o = old;
    await importBusybox({ dir, docker: (a) => o.docker(a) });
    const tick = await o.docker(['run', '-d', '--name', 'ticker', 'busybox', 'sh', '-c', 'i=0; while true; do echo "tick $i"; i=$((i+1)); usleep 100000; done']);
    assert.equal(tick.code, 0, tick.stderr);
    const parked = await o.docker(['run', '-d', '--name', 'parked', 'busybox', 'sleep', '1000']);
    assert.equal(parked.code, 0, parked.stderr);
    const parkedStop = await o.docker(['stop', '-t', '1', 'parked']);
    assert.equal(parkedStop.code, 0, parkedStop.stderr);
    const pid = Number((await o.docker(['inspect', '-f', '{{.State.Pid}}', 'ticker'])).stdout.trim());
    assert.ok(pid > 0, 'the ticker has a pid');
    await until(async () => ticks((await o.docker(['logs', 'ticker'])).stdout).length >= 5, 'the ticker to log under the previous release');
    const beforeSwitch = ticks((await o.docker(['logs', 'ticker'])).stdout);

    // Stop the previous daemon with the ticker running (containers outlive the daemon).
    const code = await o.stop();
    assert.equal(code, 0, `the previous daemon exited with ${code}:\n${o.logs()}`);
    await waitForExit(o.pid);
    assert.ok(alive(pid), 'the ticker survived the previous daemon');
    await new Promise((r) => setTimeout(r, 500)); // lines written while no daemon runs

    // The current daemon on the same data root, exec root and socket.
    current = await startTarget({ dir, kind: 'stevedore' });
    const c = current;
    assert.equal((await c.docker(['inspect', '-f', '{{.State.Status}} {{.State.Pid}}', 'ticker'])).stdout.trim(), `running ${pid}`);
    assert.equal((await c.docker(['inspect', '-f', '{{.State.Status}}', 'parked'])).stdout.trim(), 'exited');

    // Logs continue: the lines from before the switch, then newer ones, without a gap.
    const atSwitch = ticks((await c.docker(['logs', 'ticker'])).stdout);
    assert.ok(atSwitch.length > beforeSwitch.length, 'lines written while no daemon ran are in the log');
    await until(async () => ticks((await c.docker(['logs', 'ticker'])).stdout).length >= atSwitch.length + 5, 'the ticker to log under the new daemon');
    const all = ticks((await c.docker(['logs', 'ticker'])).stdout);
    all.forEach((n, i) => assert.equal(n, i, `log line ${i}`));
    const tail = await c.docker(['logs', '--tail', '1', 'ticker']);
    assert.match(tail.stdout, /^tick \d+\n$/);

    // Images are listed and still run.
    const images = await c.docker(['images', '--format', '{{.Repository}}:{{.Tag}}']);
    assert.equal(images.code, 0, images.stderr);
    assert.ok(images.stdout.split('\n').includes('busybox:latest'), `busybox is listed: ${images.stdout}`);
    const hi = await c.docker(['run', '--rm', 'busybox', 'echo', 'hi']);
    assert.equal(hi.code, 0, hi.stderr);
    assert.equal(hi.stdout, 'hi\n');

    // exec into the container the previous release started (its shim is the previous one).
    const ex = await c.docker(['exec', 'ticker', 'sh', '-c', 'echo exec-ok; exit 3']);
    assert.equal(ex.code, 3, ex.stderr);
    assert.equal(ex.stdout, 'exec-ok\n');

    // stop, start, rm -f.
    const stop = await c.docker(['stop', '-t', '1', 'ticker']);
    assert.equal(stop.code, 0, stop.stderr);
    assert.equal((await c.docker(['inspect', '-f', '{{.State.Status}}', 'ticker'])).stdout.trim(), 'exited');
    await until(() => !alive(pid), 'the ticker process to be gone');
    const start = await c.docker(['start', 'parked']);
    assert.equal(start.code, 0, start.stderr);
    assert.equal((await c.docker(['inspect', '-f', '{{.State.Status}}', 'parked'])).stdout.trim(), 'running');
    const rm = await c.docker(['rm', '-f', 'parked', 'ticker']);
    assert.equal(rm.code, 0, rm.stderr);
    assert.equal((await c.docker(['ps', '-aq'])).stdout.trim(), '');

    assert.deepEqual(errorRecords(c.logs()), [], 'the new daemon logged errors');
  });
});
