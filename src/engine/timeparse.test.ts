import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { rfc3339Nano } from './clock';
import { rfc3339ToNanos } from './timeparse';

describe('rfc3339ToNanos', () => {
  const base = BigInt(Date.parse('2026-12-03T00:34:05Z')) * 1_000_000n;
  it('keeps every fraction digit up to nine, drops the rest', () => {
    assert.equal(rfc3339ToNanos('2026-12-03T00:34:05Z'), base);
    assert.equal(rfc3339ToNanos('2026-12-03T00:34:05.5Z'), base + 500_000_000n);
    assert.equal(rfc3339ToNanos('2026-12-03T00:34:05.000000500Z'), base + 500n);
    assert.equal(rfc3339ToNanos('2026-12-03T00:34:05.1234567891Z'), base + 123_456_789n);
  });
  it('honours a zone offset', () => {
    assert.equal(rfc3339ToNanos('2026-12-03T01:34:05.25+01:00'), base + 250_000_000n);
    assert.equal(rfc3339ToNanos('2026-12-02T23:34:05-01:00'), base);
  });
  it('reads back what rfc3339Nano writes', () => {
    for (const ns of [base, base + 1n, base + 120_000_000n, base + 999_999_999n]) assert.equal(rfc3339ToNanos(rfc3339Nano(ns)), ns);
  });
  it('gives 0 for what is not an RFC 3339 time', () => {
    for (const t of ['', 'yesterday', '2026-12-03', '2026-12-03 00:34:05Z', '2026-12-03T00:34:05']) assert.equal(rfc3339ToNanos(t), 0n);
  });
});
