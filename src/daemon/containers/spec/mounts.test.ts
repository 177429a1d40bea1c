import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mountOptions, tmpfsMountData, tmpfsOptions } from './mounts';
import { kindOf } from '../../../engine/errdefs';

test('tmpfs defaults and user overrides (last wins per kind)', () => {
  assert.deepEqual(tmpfsOptions([]), ['noexec', 'nosuid', 'nodev', 'rprivate']);
  assert.deepEqual(tmpfsOptions(['exec', 'size=64m', 'mode=1777', 'size=1g']), ['nosuid', 'nodev', 'rprivate', 'exec', 'mode=1777', 'size=1g']);
  assert.deepEqual(tmpfsOptions(['shared', 'ro']), ['noexec', 'nosuid', 'nodev', 'shared', 'ro']);
});

test('bad tmpfs option is invalid-argument', () => {
  assert.throws(() => tmpfsOptions(['bogus']), (e: unknown) => kindOf(e) === 'invalid-argument' && (e as Error).message === 'Invalid tmpfs option ["bogus"]');
  assert.throws(() => tmpfsOptions(['foo=1']), /Invalid tmpfs option \["foo" "1"\]/);
});

test('bind options', () => {
  assert.deepEqual(mountOptions({ destination: '/d', type: 'bind', source: '/s', propagation: 'rprivate' }), ['rbind', 'rprivate']);
  assert.deepEqual(mountOptions({ destination: '/d', type: 'volume', source: '/s', readOnly: true, nonRecursive: true }), ['bind', 'ro']);
});

test('Mount.TmpfsOptions to data', () => {
  assert.deepEqual(tmpfsMountData({ Type: 'tmpfs', ReadOnly: true, TmpfsOptions: { Mode: 0o1777, SizeBytes: 3 * 2 ** 20 } }), ['ro', 'mode=1777', 'size=3m']);
  assert.deepEqual(tmpfsMountData({ Type: 'tmpfs', TmpfsOptions: { SizeBytes: 1000 } }), ['size=1000']);
});
