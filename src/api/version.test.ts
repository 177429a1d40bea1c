import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { MAX_API_VERSION, MIN_API_VERSION, compareVersions, negotiate, PlainTextError, versionAtLeast, versionLessThan } from './version';
import { kindOf } from '../engine/errdefs';

describe('API version negotiation', () => {
  it('serves 1.24 to 1.52 (Docker 29), as Docker 20.10 serves from 1.24', () => {
    assert.equal(MAX_API_VERSION, '1.52');
    assert.equal(MIN_API_VERSION, '1.24');
  });
  it('compares numerically', () => {
    assert.ok(compareVersions('1.9', '1.10') < 0);
    assert.equal(compareVersions('1.41', '1.41'), 0);
    assert.ok(compareVersions('1.41', '1.24') > 0);
    assert.ok(compareVersions('1.52', '1.100') < 0);
    assert.ok(versionLessThan('1.44', '1.45') && !versionLessThan('1.45', '1.45'));
    assert.ok(versionAtLeast('1.45', '1.45') && !versionAtLeast('1.44', '1.45'));
  });
  it('strips the prefix and defaults to the maximum', () => {
    assert.deepEqual(negotiate('/v1.30/containers/json'), { version: '1.30', path: '/containers/json' });
    assert.deepEqual(negotiate('/v1.52/containers/json'), { version: '1.52', path: '/containers/json' });
    assert.deepEqual(negotiate('/v1.24/info'), { version: '1.24', path: '/info' });
    assert.deepEqual(negotiate('/containers/json'), { version: '1.52', path: '/containers/json' });
  });
  it('rejects versions out of range with Docker messages', () => {
    assert.throws(() => negotiate('/v1.53/info'), (e: Error) => kindOf(e) === 'invalid-argument' && e.message === 'client version 1.53 is too new. Maximum supported API version is 1.52');
    assert.throws(() => negotiate('/v1.23/info'), (e: Error) => e instanceof PlainTextError && /too old.*1\.24/.test(e.message));
  });
});
