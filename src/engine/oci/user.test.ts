import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveUser } from './user';
import { kindOf } from '../errdefs';

const PASSWD = [
  'root:x:0:0:root:/root:/bin/sh',
  'nobody:x:65534:65534:nobody:/nonexistent:/bin/false',
  'www-data:x:33:33:www-data:/var/www:/bin/false',
  '  ',
  'dup:x:33:1::/:',
].join('\n');
const GROUP = ['root:x:0:', 'daemon:x:1:', 'www-data:x:33:', 'users:x:100:www-data,other', 'wheel:x:10:root', 'nogroup:x:65534:'].join('\n');

test('empty spec is root with groups it is a member of', () => {
  assert.deepEqual(resolveUser('', [], PASSWD, GROUP), { uid: 0, gid: 0, additionalGids: [0, 10], home: '/root' });
});

test('by name: primary gid and membership groups', () => {
  const u = resolveUser('www-data', [], PASSWD, GROUP);
  assert.deepEqual([u.uid, u.gid, u.additionalGids], [33, 33, [33, 100]]);
});

test('numeric uid matches the first entry; unknown numeric uid is allowed with gid 0', () => {
  assert.equal(resolveUser('33', [], PASSWD, GROUP).home, '/var/www');
  assert.deepEqual(resolveUser('1000', [], PASSWD, GROUP), { uid: 1000, gid: 0, additionalGids: [0] });
  assert.deepEqual(resolveUser('1000:1000', [], PASSWD, GROUP), { uid: 1000, gid: 1000, additionalGids: [1000] });
});

test('user:group by name; explicit group drops membership groups', () => {
  const u = resolveUser('www-data:daemon', [], PASSWD, GROUP);
  assert.deepEqual([u.uid, u.gid, u.additionalGids], [33, 1, [1]]);
});

test('unknown names fail with runc\'s messages', () => {
  const check = (msg: string) => (e: unknown) => kindOf(e) === 'invalid-argument' && (e as Error).message === msg;
  assert.throws(() => resolveUser('nobody2', [], PASSWD, GROUP), check('unable to find user nobody2: no matching entries in passwd file'));
  assert.throws(() => resolveUser('nobody2', [], null, null), check('unable to find user nobody2: no matching entries in passwd file'));
  assert.throws(() => resolveUser('nobody:nogroup2', [], PASSWD, GROUP), check('unable to find group nogroup2: no matching entries in group file'));
  assert.throws(() => resolveUser('', ['staff'], PASSWD, GROUP), check('Unable to find group staff'));
  assert.throws(() => resolveUser('-1', [], PASSWD, GROUP), check('uids and gids must be in range 0-2147483647'));
});

test('extra groups by name or number, after membership groups, deduplicated', () => {
  const u = resolveUser('www-data', ['daemon', '4242', '1'], PASSWD, GROUP);
  assert.deepEqual(u.additionalGids, [33, 100, 1, 4242]);
});

test('no passwd file: root by default', () => {
  assert.deepEqual(resolveUser('', [], null, null), { uid: 0, gid: 0, additionalGids: [0] });
});
