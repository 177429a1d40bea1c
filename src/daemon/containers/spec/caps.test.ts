import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ALL_CAPABILITIES, DEFAULT_CAPABILITIES } from '../../../engine/oci/caps';
import { kindOf } from '../../../engine/errdefs';
import { tweakCapabilities } from './caps';

test('defaults: 14 capabilities', () => {
  assert.equal(DEFAULT_CAPABILITIES.length, 14);
  assert.deepEqual(tweakCapabilities(null, null, false), [...DEFAULT_CAPABILITIES]);
});

test('privileged gets all 38 (up to CAP_AUDIT_READ)', () => {
  const all = tweakCapabilities(['foo'], ['ALL'], true);
  assert.equal(all.length, 38);
  assert.equal(all[37], 'CAP_AUDIT_READ');
  assert.ok(!all.includes('CAP_BPF'));
});

test('add and drop accept any case, with or without CAP_', () => {
  const caps = tweakCapabilities(['sys_admin', 'Cap_Net_Admin'], ['chown', 'CAP_KILL'], false);
  assert.ok(caps.includes('CAP_SYS_ADMIN') && caps.includes('CAP_NET_ADMIN'));
  assert.ok(!caps.includes('CAP_CHOWN') && !caps.includes('CAP_KILL'));
  assert.equal(caps.length, 14);
});

test('drop ALL keeps only adds; add ALL keeps all but drops', () => {
  assert.deepEqual(tweakCapabilities(['net_raw'], ['all'], false), ['CAP_NET_RAW']);
  const caps = tweakCapabilities(['ALL'], ['SYS_ADMIN'], false);
  assert.equal(caps.length, ALL_CAPABILITIES.length - 1);
  assert.ok(!caps.includes('CAP_SYS_ADMIN'));
});

test('unknown capability is invalid-argument with Docker message', () => {
  assert.throws(
    () => tweakCapabilities(['FOO'], [], false),
    (e: unknown) => kindOf(e) === 'invalid-argument' && (e as Error).message === 'unknown capability: "CAP_FOO"',
  );
});
