/**
 * The five lifecycle races of issue #12, end to end against both targets (each loop
 * bounded): rm -f racing a start or a policy restart, stop and kill of a container in
 * restart back-off, restart policies applied after a daemon restart, and `--rm`
 * containers left behind by a daemon kill. The deterministic versions of the same races
 * are unit tests on the fake task service (src/daemon/containers/lifecycle.test.ts).
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type Target, startTarget, targetKind, waitForExit } from '../helpers/target';
import { importBusybox } from '../helpers/busybox';
import { assertNoContainerLeftovers, dockerOk, removeAllContainers } from '../helpers/containers';
import { DaemonRestart, killDaemon } from '../helpers/restart';
import { until as waitUntil } from '../helpers/wait';

/** Polls every 50 ms, `tries` times. */
const until = (cond: () => boolean | Promise<boolean>, what: string, tries = 300) => waitUntil(cond, what, { tries, everyMs: 50 });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('lifecycle races', () => {
  let t: Target;
  const ok = async (args: string[]) => (await dockerOk(t, args)).trim();
  const status = async (name: string) => (await t.docker(['inspect', '-f', '{{.State.Status}}', name])).stdout.trim();
  const exists = async (name: string) => (await t.docker(['inspect', '-f', '{{.Id}}', name])).code === 0;

  before(async () => {
    t = await startTarget();
    await importBusybox(t);
  });
  after(async () => {
    await removeAllContainers(t);
    await assertNoContainerLeftovers(t);
    await t.stop();
  });

  it('(1) rm -f racing a start removes the container', async () => {
    for (let i = 0; i < 4; i++) {
      const name = `race-start-${i}`;
      await ok(['create', '--name', name, 'busybox', 'sleep', '1000']);
      const [, rm] = await Promise.all([t.docker(['start', name]), (async () => (await sleep(i * 40), t.docker(['rm', '-f', name])))()]);
      assert.equal(rm.code, 0, `try ${i}: ${rm.stderr}`);
      assert.equal(await exists(name), false, `try ${i}: still there`);
    }
  });

  it('(1) rm -f racing a policy restart removes the container', async () => {
    for (let i = 0; i < 4; i++) {
      const name = `race-policy-${i}`;
      await ok(['run', '-d', '--name', name, '--restart', 'always', 'busybox', 'sh', '-c', 'sleep 0.05; exit 1']);
      await sleep(50 + i * 60);
      const rm = await t.docker(['rm', '-f', name]);
      assert.equal(rm.code, 0, `try ${i}: ${rm.stderr}`);
      assert.equal(await exists(name), false, `try ${i}: still there`);
    }
  });

  it('(2) stop of a container in restart back-off keeps it stopped', async () => {
    for (let i = 0; i < 3; i++) {
      const name = `race-stop-${i}`;
      await ok(['run', '-d', '--name', name, '--restart', 'always', 'busybox', 'sh', '-c', 'exit 1']);
      await until(async () => (await status(name)) === 'restarting', `${name} restarting`);
      await ok(['stop', '-t', '1', name]);
      const count = await ok(['inspect', '-f', '{{.RestartCount}}', name]);
      await sleep(1200); // longer than any back-off reached here
      assert.equal(await status(name), 'exited', `try ${i}`);
      assert.equal(await ok(['inspect', '-f', '{{.RestartCount}}', name]), count, `try ${i}: restarted after stop`);
      await ok(['rm', name]);
    }
  });

  it('(3) kill of a container in restart back-off stops the restart loop', async () => {
    const name = 'race-kill';
    await ok(['run', '-d', '--name', name, '--restart', 'always', 'busybox', 'sh', '-c', 'exit 1']);
    await until(async () => (await status(name)) === 'restarting', `${name} restarting`);
    const kill = await t.request('POST', `/containers/${name}/kill`);
    assert.equal(kill.status, 204, kill.body); // Docker 20.10: 204, and no kill event
    const count = await ok(['inspect', '-f', '{{.RestartCount}}', name]);
    await sleep(1200);
    assert.equal(await status(name), 'exited');
    assert.equal(await ok(['inspect', '-f', '{{.RestartCount}}', name]), count, 'restarted after kill');
    await ok(['rm', name]);
  });
});

describe('lifecycle races across a daemon restart', () => {
  const daemons = new DaemonRestart();

  before(() => daemons.start());
  after(() => daemons.cleanup());

  it('(4) restarts always / unless-stopped containers that were exited or in back-off; (5) removes --rm leftovers', async () => {
    const d = async (t: Target, args: string[]) => {
      const r = await t.docker(args);
      assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
      return r.stdout.trim();
    };
    const status = async (t: Target, name: string) => (await t.docker(['inspect', '-f', '{{.State.Status}}', name])).stdout.trim();
    const first = daemons.first;
    // always, stopped by the user: restarted at daemon start anyway (Docker's policy)
    await d(first, ['run', '-d', '--name', 'always-stopped', '--restart', 'always', 'busybox', 'sleep', '1000']);
    await d(first, ['stop', '-t', '0', 'always-stopped']);
    // unless-stopped, stopped by the user: stays stopped
    await d(first, ['run', '-d', '--name', 'unless-stopped', '--restart', 'unless-stopped', 'busybox', 'sleep', '1000']);
    await d(first, ['stop', '-t', '0', 'unless-stopped']);
    // unless-stopped that exited by itself (not in back-off any more: on-failure keeps counting)
    await d(first, ['run', '-d', '--name', 'backoff', '--restart', 'unless-stopped', 'busybox', 'sh', '-c', 'exit 1']);
    await until(async () => (await status(first, 'backoff')) === 'restarting', 'backoff restarting');
    await sleep(300);
    const backoffStarted = await d(first, ['inspect', '-f', '{{.State.StartedAt}}', 'backoff']);
    // --rm, never started: removed by the next daemon
    const rmId = await d(first, ['create', '--rm', '--name', 'rm-created', 'busybox', 'true']);

    // Docker's containerd (a child of dockerd) goes down with it; the next dockerd can
    // only start its own once the old one is gone
    const containerdPid = first.kind === 'docker' ? Number(fs.readFileSync(path.join(first.execRoot, 'containerd', 'containerd.pid'), 'utf8')) : 0;
    await killDaemon(first);
    if (containerdPid) await waitForExit(containerdPid);
    const s = await daemons.restart();
    await until(async () => (await status(s, 'always-stopped')) === 'running', 'always-stopped running again', 200);
    await until(async () => (await d(s, ['inspect', '-f', '{{.State.StartedAt}}', 'backoff'])) !== backoffStarted && ['running', 'restarting'].includes(await status(s, 'backoff')), 'backoff restarted', 200);
    assert.equal(await status(s, 'unless-stopped'), 'exited');
    await until(async () => (await s.docker(['inspect', 'rm-created'])).code !== 0, 'rm-created removed', 200);
    const mounted = fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').filter((l) => l.includes(rmId));
    assert.deepEqual(mounted, [], 'rootfs of the removed --rm container still mounted');
  });
});

describe('honest surface', () => {
  let t: Target;
  before(async () => {
    t = await startTarget();
    await importBusybox(t);
  });
  after(async () => {
    await removeAllContainers(t);
    await assertNoContainerLeftovers(t);
    await t.stop();
  });

  it('refuses a field it does not implement at create, naming the field, and creates nothing', { skip: targetKind() === 'docker' ? 'Docker implements them' : false }, async () => {
    const ports = await t.docker(['run', '--rm', '--cgroup-parent', '/elsewhere', 'busybox', 'true']);
    assert.equal(ports.code, 125, ports.stderr);
    assert.match(ports.stderr, /cgroup parents are not supported by stevedore yet \(HostConfig\.CgroupParent\)/);
    assert.equal((await t.docker(['ps', '-aq'])).stdout.trim(), '');
  });

  it('runs tmpfs and bind mounts given with --mount', async () => {
    const r = await t.docker(['run', '--rm', '--mount', 'type=tmpfs,dst=/x,tmpfs-size=1m', '--mount', `type=bind,src=${t.dir},dst=/h,readonly`, 'busybox', 'sh', '-c', 'grep " /x " /proc/mounts; grep " /h " /proc/mounts']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^tmpfs \/x tmpfs rw,nosuid,nodev,noexec,.*size=1024k/m);
    assert.match(r.stdout, / \/h \S+ ro,/m);
  });
});
