import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { kindOf } from '../../engine/errdefs';
import { rfc3339ToNanos } from '../../engine/timeparse';
import { checkBuildPrune, keptByUntil, matchKVList, matchPruneLabels, pruneUntil, validatePruneFilters } from './prune-filters';

const f = (o: Record<string, string[]>) => new Map(Object.entries(o));
const throwsInvalid = (fn: () => unknown, message: string) =>
  assert.throws(fn, (e: unknown) => kindOf(e) === 'invalid-argument' && (e as Error).message === message, message);

describe('prune filters', () => {
  it('refuses keys outside the accepted ones with Docker\'s message', () => {
    validatePruneFilters(f({ until: ['1h'], label: ['a'] }), ['until', 'label', 'label!']);
    throwsInvalid(() => validatePruneFilters(f({ label: ['a'], dangling: ['true'] }), ['until', 'label']), "Invalid filter 'dangling'");
  });

  it('reads until as Unix seconds, RFC 3339 or a duration before now, and refuses the rest', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    assert.equal(pruneUntil(f({})), undefined);
    assert.equal(pruneUntil(f({ until: ['1700000000.5'] }), now), 1_700_000_000_500_000_000n);
    assert.equal(pruneUntil(f({ until: ['2025-12-31T23:00:00Z'] }), now), BigInt(now - 3_600_000) * 1_000_000n);
    assert.equal(pruneUntil(f({ until: ['1h'] }), now), BigInt(now - 3_600_000) * 1_000_000n);
    throwsInvalid(() => pruneUntil(f({ until: ['xyz'] })), 'failed to parse value as time or duration: "xyz"');
    throwsInvalid(() => pruneUntil(f({ until: [''] })), 'failed to parse value as time or duration: ""');
    throwsInvalid(() => pruneUntil(f({ until: ['1h', '2h'] })), 'more than one until filter specified');
  });

  it('keeps what was created after until, at nanosecond precision', () => {
    const until = rfc3339ToNanos('2026-01-01T00:00:00.000000500Z');
    assert.equal(until, BigInt(Date.parse('2026-01-01T00:00:00Z')) * 1_000_000n + 500n);
    assert.equal(keptByUntil(until, until), false);
    assert.equal(keptByUntil(until, until + 1n), true);
    assert.equal(keptByUntil(undefined, until), false);
  });

  it('matches labels as Go\'s MatchKVList, and label! only when every value matches', () => {
    assert.equal(matchKVList(undefined, null), true);
    assert.equal(matchKVList(['a'], null), false);
    assert.equal(matchKVList(['a'], { a: '' }), true);
    assert.equal(matchKVList(['a=1', 'b'], { a: '1', b: 'x' }), true);
    assert.equal(matchKVList(['a=1', 'b'], { a: '2', b: 'x' }), false);
    assert.equal(matchPruneLabels(f({ label: ['a=1'] }), { a: '1' }), true);
    assert.equal(matchPruneLabels(f({ 'label!': ['a=1'] }), { a: '1' }), false);
    assert.equal(matchPruneLabels(f({ 'label!': ['a=1'] }), null), true);
    // moby: label! excludes only when all its values match
    assert.equal(matchPruneLabels(f({ 'label!': ['a=1', 'b'] }), { a: '1' }), true);
    assert.equal(matchPruneLabels(f({ 'label!': ['a=1', 'b'] }), { a: '1', b: '' }), false);
  });

  it('checks /build/prune as Docker 20.10\'s builder does', () => {
    checkBuildPrune(f({ until: ['24h'], label: ['a'], id: ['x'] }), { keepStorage: '1000' });
    checkBuildPrune(f({ 'unused-for': ['1h30m'] }));
    throwsInvalid(() => checkBuildPrune(f({ bogus: ['1'] })), "failed to prune build cache: Invalid filter 'bogus'");
    throwsInvalid(() => checkBuildPrune(f({ until: ['1h'], 'unused-for': ['1h'] })), 'failed to prune build cache: conflicting filters: "until" and "unused-for"');
    // Go's time.ParseDuration messages, as they are (moby builder-next toBuildkitPruneInfo wraps them)
    const expects = (key: string, goMsg: string) => `failed to prune build cache: "${key}" filter expects a duration (e.g., '24h'): ${goMsg}`;
    throwsInvalid(() => checkBuildPrune(f({ until: ['1d'] })), expects('until', 'time: unknown unit "d" in duration "1d"'));
    throwsInvalid(() => checkBuildPrune(f({ until: ['10'] })), expects('until', 'time: missing unit in duration "10"'));
    throwsInvalid(() => checkBuildPrune(f({ 'unused-for': ['xx'] })), expects('unused-for', 'time: invalid duration "xx"'));
    throwsInvalid(() => checkBuildPrune(f({ until: [''] })), expects('until', 'time: invalid duration ""'));
    throwsInvalid(() => checkBuildPrune(f({ until: ['1µx\t"'] })), expects('until', String.raw`time: unknown unit "\xc2\xb5x\x09\"" in duration "1\xc2\xb5x\x09\""`));
    throwsInvalid(() => checkBuildPrune(f({ until: ['9999999999h'] })), expects('until', 'time: invalid duration "9999999999h"'));
    throwsInvalid(() => checkBuildPrune(f({ until: ['1h', '2h'] })), 'failed to prune build cache: filters expect only one value');
    throwsInvalid(() => checkBuildPrune(f({ id: ['a', 'b'] })), 'failed to prune build cache: filters expect only one value');
    throwsInvalid(() => checkBuildPrune(f({}), { keepStorage: 'abc' }), 'keep-storage is in bytes and expects an integer, got abc: strconv.Atoi: parsing "abc": invalid syntax');
  });
});
