import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { EventBus, eventJson, eventSeq } from './bus';
import { eventMatches, parseEventTime } from './filter';

describe('event bus and filters', () => {
  it('fills legacy fields and strictly increasing times', () => {
    const bus = new EventBus(2);
    const a = bus.publish('container', 'start', 'c1', { name: 'web', image: 'busybox' });
    const b = bus.publish('image', 'tag', 'sha256:1', { name: 'busybox:latest' });
    bus.publish('volume', 'create', 'v', {});
    assert.equal(a.status, 'start');
    assert.equal(a.from, 'busybox');
    assert.equal(b.id, 'sha256:1');
    assert.ok(b.timeNano >= a.timeNano);
    assert.ok(eventSeq(b) > eventSeq(a));
    assert.ok(!eventJson(a).includes('seq'));
    // timeNano is the exact int64 (a double would round it to a multiple of 256), and time its seconds
    const j = eventJson(a);
    const digits = /"timeNano":(\d+)[,}]/.exec(j)![1]!;
    assert.equal(BigInt(digits), a.timeNano);
    assert.equal(String(a.time), digits.slice(0, -9));
    assert.equal((JSON.parse(j) as { Actor: unknown }).Actor !== undefined, true);
    assert.equal(bus.recent().length, 2, 'ring is bounded');
  });
  it('matches Docker filters', () => {
    const bus = new EventBus();
    const ev = bus.publish('container', 'exec_start: sh', 'abc123', { name: 'web', image: 'busybox', 'com.x': '1' });
    const m = (f: Record<string, string[]>) => eventMatches(new Map(Object.entries(f)), ev);
    assert.ok(m({}));
    assert.ok(m({ type: ['container'] }));
    assert.ok(!m({ type: ['image'] }));
    assert.ok(m({ event: ['exec_start'] }));
    assert.ok(m({ container: ['web'] }));
    assert.ok(m({ container: ['abc'] }));
    assert.ok(!m({ container: ['other'] }));
    assert.ok(m({ container: ['we'] }), 'a name prefix matches (FuzzyMatch)');
    assert.ok(m({ container: ['other', 'abc1'] }));
    const img = bus.publish('image', 'tag', 'sha256:feed', { name: 'webapp:1' });
    assert.ok(eventMatches(new Map([['container', ['web']]]), img), 'no type restriction, as in moby');
    assert.ok(!eventMatches(new Map([['event', ['exec']]]), ev), 'actions match exactly');
    assert.ok(eventMatches(new Map([['event', ['exec_start', 'exec']]]), ev));
    assert.ok(m({ image: ['busybox:latest'] }));
    assert.ok(m({ label: ['com.x=1'] }));
    assert.ok(m({ label: ['com.x'] }));
    assert.ok(!m({ label: ['com.x=2'] }));
  });
  it('parses since/until forms', () => {
    assert.equal(parseEventTime('1700000000'), 1700000000n * 1_000_000_000n);
    assert.equal(parseEventTime('1700000000.5'), 1700000000n * 1_000_000_000n + 500_000_000n);
    assert.equal(parseEventTime('10m', 600_000), 0n);
    assert.equal(parseEventTime('2023-11-14T22:13:20Z'), 1700000000n * 1_000_000_000n);
    assert.equal(parseEventTime('2023-11-14T23:13:20.123456789+01:00'), 1700000000n * 1_000_000_000n + 123_456_789n, 'to the nanosecond');
    assert.throws(() => parseEventTime('soon'), /invalid timestamp/);
  });
  it('takes every Go duration as moby\'s GetTimestamp does, but "0"', () => {
    const now = 7_200_000; // 2h after the epoch, in ms
    const ns = (ms: number) => BigInt(ms) * 1_000_000n;
    assert.equal(parseEventTime('1h30m', now), ns(1_800_000));
    assert.equal(parseEventTime('.5h', now), ns(5_400_000));
    assert.equal(parseEventTime('1.5h', now), ns(1_800_000));
    assert.equal(parseEventTime('+1h', now), ns(3_600_000));
    assert.equal(parseEventTime('-1h', now), ns(10_800_000), 'a negative duration is after now');
    // whole seconds (GetTimestamp: reference.Add(-d).Unix()), rounded down
    assert.equal(parseEventTime('1500us', now), ns(now) - 1_000_000_000n);
    assert.equal(parseEventTime('2μs', now + 500), ns(now));
    assert.equal(parseEventTime('1ms', 0), -1_000_000_000n, 'before the epoch: down, as Unix()');
    assert.equal(parseEventTime('0', now), 0n, '"0" is the epoch, not now');
    assert.throws(() => parseEventTime('1d', now), /invalid timestamp: 1d/);
    assert.throws(() => parseEventTime('h', now), /invalid timestamp: h/);
  });
});
