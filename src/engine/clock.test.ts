import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { nowNanos, nowRfc3339Nano, nowRfc3339NanoLocal, rfc3339Nano, rfc3339NanoLocal } from './clock';

describe('the nanosecond wall clock', () => {
  it("formats as Go's RFC3339Nano: nine digits at most, trailing zeros dropped, none for a whole second", () => {
    assert.equal(rfc3339Nano(1_796_256_089_076_814_658n), '2026-12-03T00:01:29.076814658Z');
    assert.equal(rfc3339Nano(1_796_256_089_076_000_000n), '2026-12-03T00:01:29.076Z');
    assert.equal(rfc3339Nano(1_796_256_089_000_000_100n), '2026-12-03T00:01:29.0000001Z');
    assert.equal(rfc3339Nano(1_796_256_089_000_000_000n), '2026-12-03T00:01:29Z');
  });
  it("formats in the local zone as Go's time.Now().Format(RFC3339Nano): the offset, Z when zero", () => {
    const ns = 1_796_256_089_076_814_658n; // 2026-12-03T00:01:29.076814658Z
    assert.equal(rfc3339NanoLocal(ns, 0), '2026-12-03T00:01:29.076814658Z');
    assert.equal(rfc3339NanoLocal(ns, 330), '2026-12-03T05:31:29.076814658+05:30');
    assert.equal(rfc3339NanoLocal(ns, -210), '2026-12-02T20:31:29.076814658-03:30');
    assert.equal(rfc3339NanoLocal(1_796_256_089_000_000_000n, -600), '2026-12-02T14:01:29-10:00');
  });
  it('takes the local zone from TZ, as Go does (an empty or unknown TZ is UTC)', (t) => {
    const saved = process.env.TZ;
    t.after(() => {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    });
    const ns = 1_796_256_089_076_814_658n;
    process.env.TZ = 'Asia/Kolkata';
    assert.equal(rfc3339NanoLocal(ns), '2026-12-03T05:31:29.076814658+05:30');
    process.env.TZ = 'America/St_Johns'; // -03:30 in December
    assert.equal(rfc3339NanoLocal(ns), '2026-12-02T20:31:29.076814658-03:30');
    assert.match(nowRfc3339NanoLocal(), /-0[23]:30$/);
    process.env.TZ = 'Europe/Paris';
    assert.equal(rfc3339NanoLocal(1_783_072_800_000_000_000n), '2026-07-03T12:00:00+02:00', 'summer time');
    process.env.TZ = '';
    assert.equal(rfc3339NanoLocal(ns), '2026-12-03T00:01:29.076814658Z');
    process.env.TZ = 'Nowhere/Bogus';
    assert.equal(rfc3339NanoLocal(ns), '2026-12-03T00:01:29.076814658Z');
  });
  it('follows the wall clock within a millisecond, never repeating a value', () => {
    const before = BigInt(Date.now()) * 1_000_000n;
    const a = nowNanos();
    const b = nowNanos();
    const after = BigInt(Date.now() + 1) * 1_000_000n;
    assert.ok(b > a);
    assert.ok(a >= before - 1_000_000n && b <= after + 1_000_000n, `${before} ≤ ${a} < ${b} ≤ ${after}`);
    assert.equal(Date.parse(nowRfc3339Nano()) >= Number(before / 1_000_000n) - 1, true);
  });
});
