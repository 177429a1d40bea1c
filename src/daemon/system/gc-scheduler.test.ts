import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EventBus } from '../events/bus';
import { type Clock, GcScheduler, collectAfterFailure } from './gc-scheduler';

/** A clock whose time moves only when the test says so. */
class FakeClock implements Clock {
  now = 0;
  private next = 1;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.next++;
    this.timers.set(id, { at: this.now + ms, fn });
    return id;
  }
  clearTimeout(h: unknown): void {
    this.timers.delete(h as number);
  }
  get pending(): number {
    return this.timers.size;
  }
  /** Moves time forward, firing due timers in order, letting promises settle after each. */
  async advance(ms: number): Promise<void> {
    const end = this.now + ms;
    for (;;) {
      const due = [...this.timers.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.now = due[1].at;
      due[1].fn();
      await settle();
    }
    this.now = end;
    await settle();
  }
}

const settle = () => new Promise<void>((r) => setImmediate(r));
const report = { removedSnapshots: [], removedContent: [], removedIngests: [], expiredLeases: [] };

function counting(hold?: Promise<void>) {
  const c = {
    calls: 0,
    async collect() {
      c.calls++;
      if (hold) await hold;
      return report;
    },
  };
  return c;
}

describe('GcScheduler', () => {
  it('collects on a schedule, one interval after the previous collection', async () => {
    const clock = new FakeClock();
    const gc = counting();
    const s = new GcScheduler(gc, { clock, intervalMs: 600_000 }).start();
    await clock.advance(599_999);
    assert.equal(gc.calls, 0);
    await clock.advance(1);
    assert.equal(gc.calls, 1);
    await clock.advance(600_000);
    assert.equal(gc.calls, 2);
    await s.stop();
    await clock.advance(10 * 600_000);
    assert.equal(gc.calls, 2);
    assert.equal(clock.pending, 0);
  });

  it('debounces deletes: a burst costs one collection, after the last delete', async () => {
    const clock = new FakeClock();
    const gc = counting();
    const s = new GcScheduler(gc, { clock, intervalMs: 600_000, debounceMs: 2000 }).start();
    s.afterDelete();
    await clock.advance(1500);
    s.afterDelete();
    await clock.advance(1500);
    s.afterDelete();
    await clock.advance(1999);
    assert.equal(gc.calls, 0);
    await clock.advance(1);
    assert.equal(gc.calls, 1);
    await s.stop();
  });

  it('watches the event bus for image deletes and container destroys only', async () => {
    const clock = new FakeClock();
    const gc = counting();
    const bus = new EventBus();
    const s = new GcScheduler(gc, { clock, debounceMs: 100 });
    const unwatch = s.watch(bus);
    bus.publish('container', 'die', 'c1');
    bus.publish('image', 'untag', 'i1');
    await clock.advance(1000);
    assert.equal(gc.calls, 0);
    bus.publish('container', 'destroy', 'c1');
    await clock.advance(100);
    assert.equal(gc.calls, 1);
    bus.publish('image', 'delete', 'i1');
    await clock.advance(100);
    assert.equal(gc.calls, 2);
    unwatch();
    await s.stop();
  });

  it('never overlaps collections, and keeps going after a failure', async () => {
    const clock = new FakeClock();
    let release!: () => void;
    const gc = counting(new Promise<void>((r) => (release = r)));
    const s = new GcScheduler(gc, { clock, intervalMs: 1000, debounceMs: 10 }).start();
    await clock.advance(1000); // scheduled run starts and holds
    s.afterDelete();
    await clock.advance(10); // joins the running one
    assert.equal(gc.calls, 1);
    release();
    await settle();
    const failing = new GcScheduler({ collect: () => Promise.reject(new Error('disk gone')) }, { clock, debounceMs: 10 });
    failing.afterDelete();
    await clock.advance(10);
    failing.afterDelete();
    await clock.advance(10);
    assert.equal(failing.runs, 2);
    await failing.stop();
    await s.stop();
  });

  it('stop waits for a running collection and cancels pending ones', async () => {
    const clock = new FakeClock();
    let release!: () => void;
    const gc = counting(new Promise<void>((r) => (release = r)));
    const s = new GcScheduler(gc, { clock, debounceMs: 10 });
    s.afterDelete();
    await clock.advance(10);
    s.afterDelete();
    let stopped = false;
    const p = s.stop().then(() => (stopped = true));
    await settle();
    assert.equal(stopped, false);
    release();
    await p;
    assert.equal(clock.pending, 0);
    s.afterDelete();
    assert.equal(clock.pending, 0);
  });

  it('collects after a failed operation (a failed pull), not after a successful one', async () => {
    const calls: string[] = [];
    const gc = { afterDelete: () => calls.push('gc') };
    const ok = collectAfterFailure(async (x: number) => x * 2, gc);
    assert.equal(await ok(2), 4);
    assert.deepEqual(calls, []);
    const bad = collectAfterFailure(async () => {
      throw new Error('manifest unknown');
    }, gc);
    await assert.rejects(bad(), /manifest unknown/);
    assert.deepEqual(calls, ['gc']);
  });
});
