import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { compareVersions, negotiate, PlainTextError } from './version';
import { kindOf } from '../engine/errdefs';

describe('API version negotiation', () => {
  it('compares numerically', () => {
    assert.ok(compareVersions('1.9', '1.10') < 0);
    assert.equal(compareVersions('1.41', '1.41'), 0);
    assert.ok(compareVersions('1.41', '1.24') > 0);
  });
  it('strips the prefix and defaults to the maximum', () => {
    assert.deepEqual(negotiate('/v1.30/containers/json'), { version: '1.30', path: '/containers/json' });
    assert.deepEqual(negotiate('/containers/json'), { version: '1.41', path: '/containers/json' });
  });
  it('rejects versions out of range with Docker messages', () => {
    assert.throws(() => negotiate('/v1.42/info'), (e: Error) => kindOf(e) === 'invalid-argument' && /too new/.test(e.message));
    assert.throws(() => negotiate('/v1.23/info'), (e: Error) => e instanceof PlainTextError && /too old.*1\.24/.test(e.message));
  });
});
