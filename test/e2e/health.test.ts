/**
 * Health checks (issue #16) with the docker CLI, against both engines: the state machine
 * (starting → unhealthy → healthy), inspect's State.Health, `ps` status and its health
 * filter, health_status events, probe timeouts, the image's HEALTHCHECK and
 * --no-healthcheck, Docker's create-time checks, and health over a daemon restart.
 */
import * as assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { importBusybox } from '../helpers/busybox';
import { assertNoContainerLeftovers, removeAllContainers } from '../helpers/containers';
import { DaemonRestart } from '../helpers/restart';
import { type Target, startTarget } from '../helpers/target';
import { until } from '../helpers/wait';

interface Health {
  Status: string;
  FailingStreak: number;
  Log: Array<{ Start: string; End: string; ExitCode: number; Output: string }>;
}

async function health(t: Target, name: string): Promise<Health | undefined> {
  const r = await t.docker(['inspect', '-f', '{{json .State.Health}}', name]);
  assert.equal(r.code, 0, r.stderr);
  const v = JSON.parse(r.stdout) as Health | null;
  return v ?? undefined;
}

describe('health checks', () => {
  let t: Target;
  const ok = async (args: string[]) => {
    const r = await t.docker(args);
    assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  before(async () => {
    t = await startTarget();
    await importBusybox(t);
  });
  after(async () => {
    await removeAllContainers(t);
    await t.docker(['rmi', '-f', 'hc-img']);
    await assertNoContainerLeftovers(t);
    await t.stop();
  });

  it('goes starting → unhealthy → healthy, shown in inspect, ps and events', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    await ok(['run', '-d', '--name', 'hc1', '--health-cmd', 'test -f /tmp/ok && echo fine', '--health-interval', '200ms', '--health-retries', '2', 'busybox', 'sleep', '1000']);
    const first = await health(t, 'hc1');
    assert.ok(first && ['starting', 'unhealthy'].includes(first.Status), JSON.stringify(first));
    await until(async () => (await health(t, 'hc1'))?.Status === 'unhealthy', 'unhealthy', { tries: 100 });
    const bad = (await health(t, 'hc1'))!;
    assert.ok(bad.FailingStreak >= 2);
    assert.ok(bad.Log.length >= 2 && bad.Log.length <= 5);
    assert.equal(bad.Log[0]!.ExitCode, 1);
    assert.match(bad.Log[0]!.Start, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/);
    assert.match(await ok(['ps', '--filter', 'name=hc1', '--format', '{{.Status}}']), /^Up .* \(unhealthy\)\n$/);
    assert.equal(await ok(['ps', '-q', '--filter', 'health=unhealthy']), (await ok(['ps', '-q', '--filter', 'name=hc1'])));
    assert.equal(await ok(['ps', '-q', '--filter', 'health=healthy']), '');
    await ok(['exec', 'hc1', 'touch', '/tmp/ok']);
    await until(async () => (await health(t, 'hc1'))?.Status === 'healthy', 'healthy', { tries: 100 });
    const good = (await health(t, 'hc1'))!;
    assert.equal(good.FailingStreak, 0);
    assert.deepEqual([good.Log.at(-1)!.ExitCode, good.Log.at(-1)!.Output], [0, 'fine\n']);
    assert.match(await ok(['ps', '--filter', 'name=hc1', '--format', '{{.Status}}']), /^Up .* \(healthy\)\n$/);
    // the log keeps the last five results
    await until(async () => (await health(t, 'hc1'))!.Log.length === 5 && (await health(t, 'hc1'))!.Log.every((l) => l.ExitCode === 0), 'five good results', { tries: 100 });
    const until2 = Math.floor(Date.now() / 1000) + 1;
    const ev = await ok(['events', '--since', String(since), '--until', String(until2), '--filter', 'container=hc1', '--filter', 'event=health_status', '--format', '{{.Status}}']);
    assert.deepEqual(ev.split('\n').filter(Boolean), ['health_status: unhealthy', 'health_status: healthy']);
    // a stopped container is unhealthy (Docker's CloseMonitorChannel, "for compatibility"), without an event
    await ok(['stop', '-t', '0', 'hc1']);
    assert.equal((await health(t, 'hc1'))?.Status, 'unhealthy');
    assert.equal(await ok(['ps', '-aq', '--filter', 'health=healthy']), '');
    await ok(['rm', '-f', 'hc1']);
  });

  it('a probe past its timeout is a failure with Docker\'s message; the image\'s HEALTHCHECK is used and --no-healthcheck disables it', async () => {
    await ok(['run', '-d', '--name', 'hc2', '--health-cmd', 'sleep 5', '--health-interval', '100ms', '--health-timeout', '300ms', '--health-retries', '1', 'busybox', 'sleep', '1000']);
    await until(async () => (await health(t, 'hc2'))?.Status === 'unhealthy', 'unhealthy after a timeout', { tries: 150 });
    const h = (await health(t, 'hc2'))!;
    assert.deepEqual([h.Log[0]!.ExitCode, h.Log[0]!.Output], [-1, 'Health check exceeded timeout (300ms)']);
    await ok(['rm', '-f', 'hc2']);

    await ok(['create', '--name', 'hc-src', 'busybox', 'true']);
    await ok(['commit', '--change', 'HEALTHCHECK --interval=100ms CMD ["true"]', 'hc-src', 'hc-img']);
    await ok(['rm', 'hc-src']);
    await ok(['run', '-d', '--name', 'hc3', 'hc-img', 'sleep', '1000']);
    await until(async () => (await health(t, 'hc3'))?.Status === 'healthy', 'the image health check', { tries: 100 });
    await ok(['run', '-d', '--name', 'hc4', '--no-healthcheck', 'hc-img', 'sleep', '1000']);
    assert.equal(await health(t, 'hc4'), undefined);
    assert.match(await ok(['ps', '--filter', 'name=hc4', '--format', '{{.Status}}']), /^Up [^(]*\n$/);
    assert.notEqual(await ok(['ps', '-q', '--filter', 'health=none', '--filter', 'name=hc4']), '');
    await ok(['rm', '-f', 'hc3', 'hc4']);
  });

  it('refuses durations under 1ms and negative retries, as Docker\'s create', async () => {
    const r = await t.request('POST', '/containers/create', { body: JSON.stringify({ Image: 'busybox', Healthcheck: { Test: ['CMD', 'true'], Interval: 1000 } }), headers: { 'Content-Type': 'application/json' } });
    assert.equal(r.status, 400);
    assert.match(r.body, /Interval in Healthcheck cannot be less than 1ms/);
    const n = await t.request('POST', '/containers/create', { body: JSON.stringify({ Image: 'busybox', Healthcheck: { Test: ['CMD', 'true'], Retries: -1 } }), headers: { 'Content-Type': 'application/json' } });
    assert.equal(n.status, 400);
    assert.match(n.body, /Retries in Healthcheck cannot be negative/);
  });
});

describe('health checks over a daemon restart', () => {
  const daemons = new DaemonRestart();
  before(() => daemons.start());
  after(() => daemons.cleanup());

  it('a running container keeps its health state and its monitor', async () => {
    const t = daemons.first;
    const r = await t.docker(['run', '-d', '--name', 'hr', '--health-cmd', 'test -f /tmp/ok', '--health-interval', '200ms', '--health-retries', '1', 'busybox', 'sleep', '1000']);
    assert.equal(r.code, 0, r.stderr);
    await until(async () => (await health(t, 'hr'))?.Status === 'unhealthy', 'unhealthy', { tries: 100 });
    await t.stop(); // live restore: the container keeps running
    const t2 = await daemons.restart();
    // stevedore keeps the state it had; Docker 20.10's restore starts the monitor again
    const after = (await health(t2, 'hr'))?.Status;
    if (t2.kind === 'stevedore') assert.equal(after, 'unhealthy');
    else assert.ok(after === 'starting' || after === 'unhealthy', String(after));
    assert.equal((await t2.docker(['exec', 'hr', 'touch', '/tmp/ok'])).code, 0);
    // Docker 20.10 runs no probe again after a live restore (its monitor is not restarted:
    // measured here, the status stays); stevedore resumes the monitor
    if (t2.kind === 'docker') return;
    await until(async () => (await health(t2, 'hr'))?.Status === 'healthy', 'healthy after the restart', { tries: 100 });
  });
});
