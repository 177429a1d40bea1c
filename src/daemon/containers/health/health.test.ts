import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nullLogger } from '../../../engine/log';
import { goDuration, goTime, HealthService, probeCommand, validateHealthcheck, type HealthState, type HealthStateStore } from './health';

const MS = 1_000_000;

class MemStore implements HealthStateStore {
  rows = new Map<string, HealthState>();
  load() {
    return new Map([...this.rows].map(([k, v]) => [k, structuredClone(v)]));
  }
  save(id: string, h: HealthState) {
    this.rows.set(id, structuredClone(h));
  }
  remove(id: string) {
    this.rows.delete(id);
  }
}

/**
 * A prober that answers from a script, one result per probe. Probes run only as far as
 * the test allows (`after(n)` allows n and waits until the n-th result is recorded);
 * later ones wait at the gate, so the state a test reads is stable however slow the
 * machine. `attempts` counts the probes the service started, gated or not.
 */
function scripted(results: Array<{ exitCode: number; output: string } | Error>) {
  let i = 0;
  let allowed = 0;
  const gates: Array<() => void> = [];
  const waiters: Array<() => void> = [];
  const calls: string[][] = [];
  const self = {
    calls,
    attempts: 0,
    async run(_id: string, cmd: string[]) {
      self.attempts++;
      while (calls.length >= allowed) await new Promise<void>((r) => gates.push(r));
      calls.push(cmd);
      const r = results[Math.min(i++, results.length - 1)]!;
      // runs after the service has recorded this result (its await resumes first)
      setImmediate(() => waiters.splice(0).forEach((w) => w()));
      if (r instanceof Error) throw r;
      return r;
    },
    /** lets every probe run */
    open() {
      allowed = Infinity;
      gates.splice(0).forEach((g) => g());
    },
    /** allows `n` probes in all and resolves once the n-th result is recorded */
    async after(n: number, _svc: HealthService, _id: string) {
      allowed = n;
      gates.splice(0).forEach((g) => g());
      while (calls.length < n) await new Promise<void>((r) => waiters.push(r));
      await new Promise((r) => setImmediate(r));
    },
  };
  return self;
}

function service(prober: { run: HealthService['state'] extends never ? never : (id: string, cmd: string[], t: number) => Promise<{ exitCode: number; output: string }> }, store = new MemStore(), paused = () => false) {
  const events: string[] = [];
  const svc = new HealthService({ prober, store, publish: (_id, a) => events.push(a), isPaused: paused, log: nullLogger });
  return { svc, events, store };
}

describe('health checks', () => {
  it('probe commands: CMD, CMD-SHELL with the container\'s shell, NONE and empty have none', () => {
    assert.deepEqual(probeCommand({ Test: ['CMD', 'true', 'x'] }, null), ['true', 'x']);
    assert.deepEqual(probeCommand({ Test: ['CMD-SHELL', 'exit 1'] }, null), ['/bin/sh', '-c', 'exit 1']);
    assert.deepEqual(probeCommand({ Test: ['CMD-SHELL', 'x'] }, ['/bin/ash', '-e', '-c']), ['/bin/ash', '-e', '-c', 'x']);
    assert.equal(probeCommand({ Test: ['NONE'] }, null), undefined);
    assert.equal(probeCommand({ Test: [] }, null), undefined);
    assert.equal(probeCommand(undefined, null), undefined);
    assert.equal(probeCommand({ Test: ['BOGUS', 'x'] }, null), undefined);
  });

  it('formats durations and times as Go does', () => {
    assert.equal(goDuration(30_000 * MS), '30s');
    assert.equal(goDuration(1500 * MS), '1.5s');
    assert.equal(goDuration(100 * MS), '100ms');
    assert.equal(goDuration(90_000 * MS), '1m30s');
    assert.equal(goDuration(3_600_000 * MS), '1h0m0s');
    assert.equal(goDuration(1 * MS), '1ms');
    assert.equal(goTime(new Date('2026-12-02T19:50:01.120Z')), '2026-12-02T19:50:01.12Z');
    assert.equal(goTime(new Date('2026-12-02T19:50:01.000Z')), '2026-12-02T19:50:01Z');
  });

  it('validates as Docker\'s create, in Docker\'s order', () => {
    assert.equal(validateHealthcheck({ Interval: 10 }), 'Interval in Healthcheck cannot be less than 1ms');
    assert.equal(validateHealthcheck({ Timeout: -5 }), 'Timeout in Healthcheck cannot be less than 1ms');
    assert.equal(validateHealthcheck({ Retries: -1, StartPeriod: 5 }), 'Retries in Healthcheck cannot be negative');
    assert.equal(validateHealthcheck({ StartPeriod: 5 }), 'StartPeriod in Healthcheck cannot be less than 1ms');
    assert.equal(validateHealthcheck({ Interval: 0, Timeout: 0, Retries: 0 }), undefined);
    assert.equal(validateHealthcheck(null), undefined);
  });

  it('goes starting → healthy → unhealthy after Retries failures, with events at each change and five log entries', async () => {
    const p = scripted([{ exitCode: 0, output: 'ok' }, { exitCode: 1, output: 'bad' }, { exitCode: 1, output: 'bad' }, { exitCode: 1, output: 'bad' }, { exitCode: 0, output: 'ok' }, { exitCode: 1, output: 'bad' }]);
    const { svc, events, store } = service(p);
    const id = 'c1';
    svc.begin({ id, healthcheck: { Test: ['CMD', 'probe'], Interval: 2 * MS, Retries: 3 }, startedAt: new Date() });
    assert.equal(svc.state(id)?.Status, 'starting');
    assert.equal(store.rows.get(id)?.Status, 'starting');
    await p.after(1, svc, id);
    assert.equal(svc.state(id)?.Status, 'healthy');
    await p.after(3, svc, id);
    assert.deepEqual([svc.state(id)?.Status, svc.state(id)?.FailingStreak], ['healthy', 2]);
    await p.after(4, svc, id);
    assert.deepEqual([svc.state(id)?.Status, svc.state(id)?.FailingStreak], ['unhealthy', 3]);
    await p.after(5, svc, id);
    assert.deepEqual([svc.state(id)?.Status, svc.state(id)?.FailingStreak], ['healthy', 0]);
    await p.after(6, svc, id);
    assert.equal(store.rows.get(id)?.Status, 'healthy', 'persisted at each change');
    svc.end(id);
    const h = svc.state(id)!;
    assert.equal(h.Status, 'unhealthy', 'a stopped monitor leaves the container unhealthy, as Docker');
    assert.equal(h.Log.length, 5);
    assert.deepEqual(h.Log.map((l) => l.ExitCode), [1, 1, 1, 0, 1]);
    assert.match(h.Log[0]!.Start, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    assert.deepEqual(events, ['health_status: healthy', 'health_status: unhealthy', 'health_status: healthy']);
    assert.equal(store.rows.get(id)?.Status, 'unhealthy');
    const attempts = p.attempts;
    p.open(); // a probe waiting at the gate may finish now: ignored, and no new one starts
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(p.attempts, attempts, 'no probe after end');
  });

  it('failures inside the start period do not count while starting; a probe that cannot run is exit -1 with its error', async () => {
    const p = scripted([new Error('container is not running'), { exitCode: 1, output: '' }]);
    const { svc } = service(p);
    svc.begin({ id: 'c2', healthcheck: { Test: ['CMD-SHELL', 'x'], Interval: 1 * MS, StartPeriod: 3_600_000 * MS, Retries: 1 }, startedAt: new Date() });
    await p.after(4, svc, 'c2');
    const h = svc.state('c2')!;
    svc.end('c2');
    assert.deepEqual([h.Status, h.FailingStreak], ['starting', 0]);
    assert.deepEqual(h.Log[0], { ...h.Log[0]!, ExitCode: -1, Output: 'container is not running' });
    assert.deepEqual(p.calls[0], ['/bin/sh', '-c', 'x']);
  });

  it('a start resets status and streak but keeps the log; a failed start puts the state back; forget drops it', async () => {
    const p = scripted([{ exitCode: 1, output: 'no' }]);
    const { svc, store } = service(p);
    svc.begin({ id: 'c3', healthcheck: { Test: ['CMD', 'x'], Interval: 1 * MS, Retries: 1 }, startedAt: new Date() });
    await p.after(1, svc, 'c3');
    svc.end('c3');
    assert.deepEqual([svc.state('c3')?.Status, svc.state('c3')?.FailingStreak], ['unhealthy', 1]);
    const log = svc.state('c3')!.Log.length;
    svc.begin({ id: 'c3', healthcheck: { Test: ['CMD', 'x'], Interval: 3_600_000 * MS }, startedAt: new Date() });
    assert.deepEqual([svc.state('c3')?.Status, svc.state('c3')?.FailingStreak, svc.state('c3')?.Log.length], ['starting', 0, log]);
    svc.abort('c3');
    assert.equal(svc.state('c3')?.Status, 'unhealthy');
    assert.equal(store.rows.get('c3')?.Status, 'unhealthy');
    svc.forget('c3');
    assert.equal(svc.state('c3'), undefined);
    assert.equal(store.rows.has('c3'), false);
  });

  it('a container without a probe has no health; NONE disables the image\'s', () => {
    const { svc } = service(scripted([{ exitCode: 0, output: '' }]));
    svc.begin({ id: 'c4', healthcheck: { Test: ['NONE'] }, startedAt: new Date() });
    svc.begin({ id: 'c5', healthcheck: undefined, startedAt: new Date() });
    assert.equal(svc.state('c4'), undefined);
    assert.equal(svc.state('c5'), undefined);
  });

  it('survives a restart of the service: the state is loaded, and resume runs the monitor without resetting it', async () => {
    const store = new MemStore();
    store.rows.set('c6', { Status: 'unhealthy', FailingStreak: 4, Log: [] });
    const p = scripted([{ exitCode: 0, output: 'fine' }]);
    const { svc } = service(p, store);
    assert.deepEqual(svc.state('c6'), { Status: 'unhealthy', FailingStreak: 4, Log: [] });
    svc.resume({ id: 'c6', healthcheck: { Test: ['CMD', 'x'], Interval: 1 * MS }, startedAt: new Date(0) });
    assert.equal(svc.state('c6')?.Status, 'unhealthy');
    await p.after(1, svc, 'c6');
    p.open(); // a probe held at the gate would keep close() waiting
    await svc.close();
    assert.equal(svc.state('c6')?.Status, 'healthy');
  });

  it('runs no probe while the container is paused', async () => {
    let paused = true;
    const p = scripted([{ exitCode: 0, output: '' }]);
    const { svc } = service(p, new MemStore(), () => paused);
    svc.begin({ id: 'c7', healthcheck: { Test: ['CMD', 'x'], Interval: 1 * MS }, startedAt: new Date() });
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(p.attempts, 0, 'no probe is started while paused');
    paused = false;
    await p.after(1, svc, 'c7');
    p.open(); // a probe held at the gate would keep close() waiting
    await svc.close();
    assert.equal(svc.state('c7')?.Status, 'healthy');
  });
});
