import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { Router } from './router';

const h = () => undefined;

describe('Router', () => {
  const r = new Router().add(
    { method: 'GET', path: '/containers/json', handler: h },
    { method: 'GET', path: '/containers/{id}/json', handler: h },
    { method: 'GET', path: '/images/{name*}/json', handler: h },
    { method: 'DELETE', path: '/images/{name*}', handler: h },
    { method: 'GET', path: '/_ping', handler: h },
  );

  it('matches literal and single-segment parameters', () => {
    assert.equal(r.match('GET', '/containers/json')?.route.path, '/containers/json');
    assert.deepEqual(r.match('GET', '/containers/abc/json')?.params, { id: 'abc' });
  });

  it('matches multi-segment image names, decoding them', () => {
    assert.deepEqual(r.match('GET', '/images/localhost:5000/a/b:1/json')?.params, { name: 'localhost:5000/a/b:1' });
    assert.deepEqual(r.match('DELETE', '/images/sha256%3Aabc')?.params, { name: 'sha256:abc' });
  });

  it('falls back from HEAD to GET and distinguishes methods', () => {
    assert.ok(r.match('HEAD', '/_ping'));
    assert.equal(r.match('POST', '/containers/json'), undefined);
    assert.equal(r.match('GET', '/nope'), undefined);
    assert.equal(r.match('GET', '/containers/a/b/json'), undefined);
  });

  it('lists every registered route', () => {
    assert.equal(r.routes().length, 5);
  });
});
