import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyChanges } from './changes';

describe('commit/import changes: HEALTHCHECK', () => {
  it('takes the exec and shell forms with their flags, in nanoseconds', () => {
    assert.deepEqual(applyChanges({}, ['HEALTHCHECK --interval=100ms --timeout=1m30s --retries=2 CMD ["true", "x"]']).Healthcheck, {
      Test: ['CMD', 'true', 'x'],
      Interval: 100_000_000,
      Timeout: 90_000_000_000,
      Retries: 2,
    });
    assert.deepEqual(applyChanges({}, ['HEALTHCHECK --start-period=1.5s CMD wget -q localhost']).Healthcheck, { Test: ['CMD-SHELL', 'wget -q localhost'], StartPeriod: 1_500_000_000 });
    assert.deepEqual(applyChanges({ Healthcheck: { Test: ['CMD', 'x'] } }, ['healthcheck none']).Healthcheck, { Test: ['NONE'] });
  });

  it('refuses what the builder refuses', () => {
    assert.throws(() => applyChanges({}, ['HEALTHCHECK --bogus=1 CMD x']), /Unknown flag: bogus/);
    assert.throws(() => applyChanges({}, ['HEALTHCHECK RUN x']), /Unknown type "RUN" in HEALTHCHECK/);
    assert.throws(() => applyChanges({}, ['HEALTHCHECK CMD']), /Missing command after HEALTHCHECK CMD/);
    assert.throws(() => applyChanges({}, ['HEALTHCHECK --interval=5 CMD x']), /invalid duration/);
    assert.throws(() => applyChanges({}, ['HEALTHCHECK NONE x']), /takes no arguments/);
  });
});
