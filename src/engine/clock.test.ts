import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { nowNanos, nowRfc3339Nano, rfc3339Nano } from './clock';

describe('the nanosecond wall clock', () => {
  it("formats as Go's RFC3339Nano: nine digits at most, trailing zeros dropped, none for a whole second", () => {
    assert.equal(rfc3339Nano(1_796_256_089_076_814_658n), '2026-12-03T00:01:29.076814658Z');
    assert.equal(rfc3339Nano(1_796_256_089_076_000_000n), '2026-12-03T00:01:29.076Z');
    assert.equal(rfc3339Nano(1_796_256_089_000_000_100n), '2026-12-03T00:01:29.0000001Z');
    assert.equal(rfc3339Nano(1_796_256_089_000_000_000n), '2026-12-03T00:01:29Z');
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
