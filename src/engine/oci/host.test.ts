import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LinuxHost } from './host';
import { kindOf } from '../errdefs';

test('devicesFromPath: /dev/null as a custom device with its cgroup rule', () => {
  const h = new LinuxHost();
  const { devices, rules } = h.devicesFromPath('/dev/null', '/dev/mynull', 'rw');
  assert.deepEqual(devices.map((d) => [d.type, d.path, d.major, d.minor]), [['c', '/dev/mynull', 1, 3]]);
  assert.deepEqual(rules, [{ allow: true, type: 'c', major: 1, minor: 3, access: 'rw' }]);
  assert.throws(() => h.devicesFromPath('/etc/hostname'), (e: unknown) => kindOf(e) === 'invalid-argument');
  assert.throws(() => h.devicesFromPath('/nonexistent-dev'), /error gathering device information/);
});

test('kernel, arch and sysctls of this host', () => {
  const h = new LinuxHost();
  assert.ok(h.kernel()[0] >= 3);
  assert.equal(typeof h.arch(), 'string');
  assert.equal(h.sysctlExists('kernel.hostname'), true);
  assert.equal(h.sysctlExists('kernel.no_such_thing'), false);
  assert.ok(h.hostDevices().some((d) => d.path === '/dev/null' && d.major === 1 && d.minor === 3));
});
