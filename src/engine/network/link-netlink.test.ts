import assert from 'node:assert/strict';
import { test } from 'node:test';
import { kindOf } from '../errdefs';
import * as nl from './link-netlink';

test('addresses: text ↔ bytes, both families', () => {
  for (const [ip, canon] of [
    ['172.17.0.2', '172.17.0.2'],
    ['fd00::2', 'fd00::2'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['::', '::'],
    ['::1', '::1'],
    ['fe80::42:acff:fe11:2', 'fe80::42:acff:fe11:2'],
    ['::ffff:10.0.0.1', '::ffff:a00:1'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
  ]) {
    const { bytes } = nl.ipBytes(ip);
    assert.equal(nl.ipString(bytes), canon, ip);
  }
  assert.deepEqual([...nl.ipBytes('10.1.2.3').bytes], [10, 1, 2, 3]);
  assert.equal(nl.ipBytes('fd00::2').bytes.readUInt16BE(0), 0xfd00);
  assert.equal(nl.ipBytes('fd00::2').bytes.readUInt16BE(14), 2);
});

test('CIDR, MAC and interface names are checked before anything is sent', () => {
  assert.deepEqual(
    { p: nl.parseCidr('10.0.0.1/24').prefixLen, f: nl.parseCidr('10.0.0.1/24').family },
    { p: 24, f: nl.AF_INET },
  );
  assert.equal(nl.parseCidr('fd00::1/64').family, nl.AF_INET6);
  for (const bad of ['10.0.0.1', '10.0.0.1/33', 'fd00::1/129', 'x/8', '10.0.0.1/-1', '10.0.0.1/']) {
    assert.throws(() => nl.parseCidr(bad), (e) => kindOf(e) === 'invalid-argument', bad);
  }
  assert.deepEqual([...nl.macBytes('02:42:ac:11:00:02')], [2, 0x42, 0xac, 0x11, 0, 2]);
  assert.throws(() => nl.macBytes('02:42:ac:11:00'), (e) => kindOf(e) === 'invalid-argument');
  nl.checkIfName('veth1234567');
  for (const bad of ['', 'a-name-that-is-too-long', 'a/b', 'a b', 'eth0:1']) {
    assert.throws(() => nl.checkIfName(bad), (e) => kindOf(e) === 'invalid-argument', bad);
  }
});

test('messages: header, 4-byte aligned attributes, nested veth peer', () => {
  const m = nl.newVeth({ hostName: 'vethabc', master: 7, peerName: 'eth0', nsFd: 33, mac: nl.macBytes('02:42:0a:00:00:02'), mtu: 1400 });
  assert.equal(m.readUInt32LE(0), m.length);
  assert.equal(m.length % 4, 0);
  assert.equal(m.readUInt16LE(4), nl.RTM_NEWLINK);
  const flags = m.readUInt16LE(6);
  assert.equal(flags & (nl.NLM_F_REQUEST | nl.NLM_F_ACK | nl.NLM_F_CREATE | nl.NLM_F_EXCL), nl.NLM_F_REQUEST | nl.NLM_F_ACK | nl.NLM_F_CREATE | nl.NLM_F_EXCL);
  // the answer parser reads what the request encodes (a NEWLINK is a NEWLINK)
  const [link] = nl.parseLinks(m);
  assert.deepEqual({ name: link.name, mtu: link.mtu, master: link.master, kind: link.kind, up: link.flags & nl.IFF_UP }, { name: 'vethabc', mtu: 1400, master: 7, kind: 'veth', up: nl.IFF_UP });
  const b = nl.newBridge('br-test', { mtu: 1500, mac: nl.macBytes('02:42:01:02:03:04') });
  assert.deepEqual(
    nl.parseLinks(b).map((l) => [l.name, l.kind, l.mac]),
    [['br-test', 'bridge', '02:42:01:02:03:04']],
  );
});

test('an IPv4 address carries its broadcast; an IPv6 one is added without DAD', () => {
  const v4 = nl.newAddr(3, '10.1.2.3/24');
  const [a] = nl.parseAddrs(v4);
  assert.deepEqual(a, { family: nl.AF_INET, scope: 0, index: 3, cidr: '10.1.2.3/24' });
  assert.ok(v4.includes(Buffer.from([10, 1, 2, 255])), 'broadcast 10.1.2.255');
  const v6 = nl.newAddr(3, 'fd00::3/64');
  assert.equal(v6.readUInt8(16 + 2), nl.IFA_F_NODAD);
  assert.equal(nl.parseAddrs(v6)[0].cidr, 'fd00::3/64');
  const r = nl.newDefaultRoute(3, 'fd00::1');
  assert.deepEqual(nl.parseRoutes(r).map((x) => [x.dst, x.gateway, x.oif, x.table]), [['::/0', 'fd00::1', 3, nl.RT_TABLE_MAIN]]);
});
