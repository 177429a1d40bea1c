import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { kindOf } from '../errdefs';
import {
  enableBridgeNetfilter,
  enableHairpin,
  enableIpForward,
  enableRouteLocalnet,
  ensureSysctl,
  ephemeralPortRange,
  readSysctl,
  setDisableIpv6,
  sysctlPath,
} from './sysctl';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'stevedore-sysctl-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

function put(rel: string, value: string): void {
  fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
  fs.writeFileSync(path.join(root, rel), value);
}
const get = (rel: string) => fs.readFileSync(path.join(root, rel), 'utf8');

test('keys are path segments; a dot in an interface name needs no escaping; no escaping the root', () => {
  assert.equal(sysctlPath(['net', 'ipv4', 'conf', 'eth0.100', 'route_localnet'], '/proc/sys'), '/proc/sys/net/ipv4/conf/eth0.100/route_localnet');
  assert.throws(() => sysctlPath(['net', '..', 'x']), /invalid sysctl key/);
  assert.throws(() => sysctlPath(['net', 'a/b']), /invalid sysctl key/);
});

test('read, ensure (writes only a different value), and the bridge driver keys', async () => {
  put('net/ipv4/ip_forward', '0\n');
  assert.deepEqual(await enableIpForward(root), { wasEnabled: false });
  assert.equal(get('net/ipv4/ip_forward'), '1\n');
  assert.deepEqual(await enableIpForward(root), { wasEnabled: true });

  put('net/ipv4/conf/br-x/route_localnet', '0\n');
  await enableRouteLocalnet('br-x', root);
  assert.equal(await readSysctl(['net', 'ipv4', 'conf', 'br-x', 'route_localnet'], root), '1');

  put('net/ipv6/conf/vethabc/disable_ipv6', '0\n');
  await setDisableIpv6('vethabc', true, root);
  assert.equal(get('net/ipv6/conf/vethabc/disable_ipv6'), '1\n');

  // ensure returns the previous value
  put('net/x/y', '4\n');
  assert.equal(await ensureSysctl(['net', 'x', 'y'], '5', root), '4');
  assert.equal(get('net/x/y'), '5\n');
  assert.equal(await ensureSysctl(['net', 'x', 'y'], '5', root), '5');

  await assert.rejects(enableRouteLocalnet('nosuchif', root), (err: Error) => kindOf(err) === 'not-found' && /does not exist/.test(err.message));
  // br_netfilter not loaded: false, nothing written
  assert.equal(await enableBridgeNetfilter(false, root), false);
  put('net/bridge/bridge-nf-call-iptables', '0\n');
  assert.equal(await enableBridgeNetfilter(false, root), true);
  assert.equal(get('net/bridge/bridge-nf-call-iptables'), '1\n');
});

test('the ephemeral range, with Docker fallback', async () => {
  put('net/ipv4/ip_local_port_range', '32768\t60999\n');
  assert.deepEqual(await ephemeralPortRange(root), [32768, 60999]);
  put('net/ipv4/ip_local_port_range', 'garbage\n');
  assert.deepEqual(await ephemeralPortRange(root), [49153, 65535]);
  assert.deepEqual(await ephemeralPortRange(path.join(root, 'none')), [49153, 65535]);
});

test('hairpin mode on a bridge port (sysfs)', async () => {
  put('sys/class/net/vethabc/brport/hairpin_mode', '0\n');
  await enableHairpin('vethabc', path.join(root, 'sys'));
  assert.equal(get('sys/class/net/vethabc/brport/hairpin_mode'), '1\n');
  await assert.rejects(enableHairpin('eth9', path.join(root, 'sys')), /not a bridge port/);
});
