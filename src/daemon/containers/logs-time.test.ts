/**
 * `docker logs --timestamps` writes moby's RFC3339NanoFixed (nine fraction digits), not the
 * json-file's trimmed RFC3339Nano (found by test/e2e/dockerode.test.ts).
 */
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { rfc3339ToNanos } from '../../engine/timeparse';
import { rfc3339NanoFixed } from './logs';

describe('rfc3339NanoFixed', () => {
  it('pads a trimmed fraction to nine digits', () => {
    assert.equal(rfc3339NanoFixed('2026-12-03T00:34:05.32557379Z'), '2026-12-03T00:34:05.325573790Z');
    assert.equal(rfc3339NanoFixed('2026-12-03T00:34:05.5Z'), '2026-12-03T00:34:05.500000000Z');
  });
  it('writes a whole second with nine zeros, keeps a zone offset', () => {
    assert.equal(rfc3339NanoFixed('2026-12-03T00:34:05Z'), '2026-12-03T00:34:05.000000000Z');
    assert.equal(rfc3339NanoFixed('2026-12-03T01:34:05.1+01:00'), '2026-12-03T01:34:05.100000000+01:00');
  });
  it('leaves a full fraction alone and names the same instant', () => {
    const t = '2026-12-03T00:34:05.123456789Z';
    assert.equal(rfc3339NanoFixed(t), t);
    const trimmed = '2026-12-03T00:34:05.12345Z';
    assert.equal(rfc3339ToNanos(rfc3339NanoFixed(trimmed)), rfc3339ToNanos(trimmed));
  });
});
