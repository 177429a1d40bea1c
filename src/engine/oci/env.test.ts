import { test } from 'node:test';
import assert from 'node:assert/strict';
import { replaceOrAppendEnv } from './env';

test('replaceOrAppendEnv replaces, appends and unsets', () => {
  assert.deepEqual(replaceOrAppendEnv(['PATH=/bin', 'HOSTNAME=h', 'TERM=xterm'], ['PATH=/x', 'TERM', 'N=1']), ['PATH=/x', 'HOSTNAME=h', 'N=1']);
});
