/**
 * LinkOps conformance: the same checks against the netlink implementation and the
 * iproute2 one, observed with `ip -j` (host) and `nsenter --net=<path> ip -j` (inside).
 * Every bridge, veth and namespace has a random name and is removed in `after`.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { kindOf } from '../errdefs';
import { MNT_DETACH, nativeSys } from '../sys/native';
import { IpLinkOps } from './link-ip';
import * as nl from './link-netlink';
import { NetlinkLinkOps } from './links';
import { NativeNetnsManager } from './netns';
import type { LinkOps } from './types';

const canRun = process.getuid?.() === 0 && spawnSync('ip', ['-V']).status === 0 && spawnSync('nsenter', ['--version']).status === 0;
const skip = canRun ? false : 'needs root, iproute2 and nsenter';

const hex = (n: number) => crypto.randomBytes(n).toString('hex').slice(0, n);
const ipj = (...args: string[]) => JSON.parse(execFileSync('ip', ['-j', ...args], { encoding: 'utf8' }) || '[]');
const nsj = (p: string, ...args: string[]) => JSON.parse(execFileSync('nsenter', [`--net=${p}`, 'ip', '-j', ...args], { encoding: 'utf8' }) || '[]');
const hostLinkExists = (name: string) => spawnSync('ip', ['link', 'show', 'dev', name], { stdio: 'ignore' }).status === 0;

/** A 10.x.y.0/24 and an fdxx::/64 that no host route overlaps. */
function freeSubnets(): { v4: string; v6: string } {
  const routes = execFileSync('ip', ['route'], { encoding: 'utf8' });
  for (;;) {
    const x = 100 + crypto.randomInt(150);
    const y = crypto.randomInt(256);
    const w = () => (0x1000 + crypto.randomInt(0xefff)).toString(16); // 4 digits, canonical
    if (!routes.includes(`10.${x}.`)) return { v4: `10.${x}.${y}`, v6: `fd${hex(2)}:${w()}:${w()}:${w()}` };
  }
}

let root = '';
let netns: NativeNetnsManager;
const bridges: string[] = [];
const veths: string[] = [];

before(() => {
  if (skip) return;
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'stevedore-links-'));
  netns = new NativeNetnsManager(root);
});

after(() => {
  if (!root) return;
  for (const v of veths) spawnSync('ip', ['link', 'del', 'dev', v], { stdio: 'ignore' });
  for (const b of bridges) spawnSync('ip', ['link', 'del', 'dev', b], { stdio: 'ignore' });
  for (const name of fs.existsSync(netns.dir) ? fs.readdirSync(netns.dir) : []) {
    for (;;) {
      try {
        nativeSys().umount2(path.join(netns.dir, name), MNT_DETACH);
      } catch {
        break;
      }
    }
  }
  fs.rmSync(root, { recursive: true, force: true });
});

test('errors name the operation and carry the kind; interrupted dumps are asked again (fake addon)', async () => {
  const answers: { error: number; extack: string; data: Buffer }[][] = [];
  const sent: (number | string)[] = [];
  const fake = {
    netlinkOpen: () => fs.openSync('/dev/null', 'r'),
    netlinkRequest: async (target: number | string) => {
      sent.push(target);
      return answers.shift() ?? [];
    },
  };
  const ops = new NetlinkLinkOps(fake);
  const ok = (data: Buffer = Buffer.alloc(0)) => ({ error: 0, extack: '', data });
  const fail = (error: number, extack = '') => ({ error, extack, data: Buffer.alloc(0) });
  const veth = nl.newVeth({ hostName: 'br0', master: 1, peerName: 'eth0', nsFd: 3, mac: nl.macBytes('02:42:00:00:00:01') });
  // the bridge's name taken by a veth: conflict, and nothing sent after the lookup
  answers.push([ok(veth)]);
  await assert.rejects(ops.ensureBridge({ name: 'br0', addresses: [] }), (e) => kindOf(e) === 'conflict' && /br0.*veth/.test((e as Error).message));
  assert.equal(answers.length, 0);
  // creation refused: the errno text and the kernel's explanation, the operation named
  answers.push([fail(19)], [fail(1, 'not allowed here')]);
  await assert.rejects(ops.ensureBridge({ name: 'br0', addresses: [] }), (e) => kindOf(e) === 'internal' && /^creating bridge br0: operation not permitted \(not allowed here\)$/i.test((e as Error).message));
  // ENODEV on a lookup is "no such link"
  answers.length = 0;
  answers.push([fail(19)]);
  assert.equal(await ops.linkAddresses('nolink0'), undefined);
  // EPERM: internal, with the errno text
  answers.push([fail(1)]);
  await assert.rejects(ops.deleteBridge('br1'), (e) => kindOf(e) === 'internal' && /looking up link br1: operation not permitted/i.test((e as Error).message));
  // a route dump interrupted twice, then whole
  answers.push([fail(4)], [ok(), fail(4)], [ok(), ok()]);
  assert.deepEqual(await ops.hostRoutes(), []);
  assert.equal(answers.length, 0);
  // inside a namespace: requests go to its path (the addon's thread enters it)
  answers.push([fail(19)]);
  await ops.removeInNamespace('/run/x/netns/abc', 'eth1');
  assert.equal(sent[sent.length - 1], '/run/x/netns/abc');
});

for (const [label, make] of [
  ['netlink', () => new NetlinkLinkOps()],
  ['ip -batch', () => new IpLinkOps()],
] as [string, () => LinkOps][]) {
  describe(`LinkOps (${label})`, { skip }, () => {
    test('bridge: created with its addresses and MTU, up; adopted again; deleted; idempotent', async () => {
      const ops = make();
      const br = `stvlk${hex(8)}`;
      bridges.push(br);
      const { v4, v6 } = freeSubnets();
      await ops.ensureBridge({ name: br, addresses: [`${v4}.1/24`, `${v6}::1/64`], mtu: 1400 });
      const [link] = ipj('-d', 'link', 'show', 'dev', br);
      assert.equal(link.linkinfo.info_kind, 'bridge');
      assert.equal(link.mtu, 1400);
      assert.ok(link.flags.includes('UP'));
      assert.deepEqual((await ops.linkAddresses(br))?.sort(), [`${v4}.1/24`, `${v6}::1/64`].sort());
      const routes = await ops.hostRoutes();
      assert.ok(routes.includes(`${v4}.0/24`), `${v4}.0/24 in ${routes}`);
      assert.ok(routes.includes(`${v6}::/64`), `${v6}::/64 in ${routes}`);
      assert.ok(!routes.some((r) => r.endsWith('/0')), 'no default route');
      // again, with another IPv4 address: it replaces the first (libnetwork), IPv6 ones add up
      await ops.ensureBridge({ name: br, addresses: [`${v4}.254/24`, `${v6}::2/64`] });
      assert.deepEqual((await ops.linkAddresses(br))?.sort(), [`${v4}.254/24`, `${v6}::1/64`, `${v6}::2/64`].sort());
      await ops.deleteBridge(br);
      assert.ok(!hostLinkExists(br));
      assert.equal(await ops.linkAddresses(br), undefined);
      await ops.deleteBridge(br);
    });

    test('endpoints: two namespaces on a bridge reach each other; removal leaves nothing', async () => {
      const ops = make();
      const br = `stvlk${hex(8)}`;
      bridges.push(br);
      const { v4, v6 } = freeSubnets();
      await ops.ensureBridge({ name: br, addresses: [`${v4}.1/24`, `${v6}::1/64`] });
      const eps = [2, 3].map((n) => ({
        name: `t${hex(12)}`,
        hostIfName: `veth${hex(7)}`,
        ip4: `${v4}.${n}`,
        ip6: `${v6}::${n}`,
        mac: `02:42:0a:${[0, 0, n].map((b) => b.toString(16).padStart(2, '0')).join(':')}`,
      }));
      veths.push(...eps.map((e) => e.hostIfName));
      const paths: string[] = [];
      for (const e of eps) {
        const p = await netns.create(e.name);
        paths.push(p);
        await ops.addEndpoint({
          bridge: br,
          hostIfName: e.hostIfName,
          netnsPath: p,
          ifName: 'eth0',
          mac: e.mac,
          addresses: [`${e.ip4}/24`, `${e.ip6}/64`],
          gateway4: `${v4}.1`,
          gateway6: `${v6}::1`,
          mtu: 1450,
        });
      }
      for (const [i, e] of eps.entries()) {
        const [host] = ipj('-d', 'link', 'show', 'dev', e.hostIfName);
        assert.equal(host.master, br);
        assert.equal(host.linkinfo.info_kind, 'veth');
        assert.ok(host.flags.includes('UP'));
        assert.equal(host.mtu, 1450);
        const links = nsj(paths[i], 'addr') as { ifname: string; address: string; mtu: number; flags: string[]; addr_info: { local: string; prefixlen: number; broadcast?: string; scope: string }[] }[];
        assert.deepEqual(links.map((l) => l.ifname).sort(), ['eth0', 'lo']);
        const eth0 = links.find((l) => l.ifname === 'eth0')!;
        assert.equal(eth0.address, e.mac);
        assert.equal(eth0.mtu, 1450);
        assert.ok(eth0.flags.includes('UP'));
        const global = eth0.addr_info.filter((a) => a.scope === 'global');
        assert.deepEqual(global.map((a) => `${a.local}/${a.prefixlen}`).sort(), [`${e.ip4}/24`, `${e.ip6}/64`].sort());
        assert.equal(global.find((a) => a.local === e.ip4)?.broadcast, `${v4}.255`);
        const r4 = nsj(paths[i], '-4', 'route') as { dst: string; gateway?: string; dev: string }[];
        assert.deepEqual(r4.find((r) => r.dst === 'default'), { ...r4.find((r) => r.dst === 'default'), gateway: `${v4}.1`, dev: 'eth0' });
        const r6 = nsj(paths[i], '-6', 'route') as { dst: string; gateway?: string; dev: string }[];
        assert.equal(r6.find((r) => r.dst === 'default')?.gateway, `${v6}::1`);
      }
      // through the bridge, both families (busybox ping: iputils is not installed)
      const ping = (p: string, ...args: string[]) =>
        spawnSync('nsenter', [`--net=${p}`, 'busybox', 'ping', '-c', '1', '-W', '5', ...args], { encoding: 'utf8' });
      let r = ping(paths[0], eps[1].ip4);
      assert.equal(r.status, 0, r.stdout + r.stderr);
      r = ping(paths[1], `${v4}.1`);
      assert.equal(r.status, 0, r.stdout + r.stderr);
      r = ping(paths[0], eps[1].ip6);
      assert.equal(r.status, 0, r.stdout + r.stderr);

      // a second endpoint with a name in use is a conflict, and leaves the first alone
      await assert.rejects(
        ops.addEndpoint({ bridge: br, hostIfName: eps[0].hostIfName, netnsPath: paths[1], ifName: 'eth1', mac: '02:42:0a:00:00:09', addresses: [] }),
        (err) => kindOf(err) === 'conflict',
      );
      assert.ok(hostLinkExists(eps[0].hostIfName));
      assert.deepEqual((nsj(paths[1], 'link') as { ifname: string }[]).map((l) => l.ifname).sort(), ['eth0', 'lo']);
      // a missing bridge
      const stray = `veth${hex(7)}`;
      veths.push(stray);
      await assert.rejects(
        ops.addEndpoint({ bridge: `nobr${hex(8)}`, hostIfName: stray, netnsPath: paths[1], ifName: 'eth1', mac: '02:42:0a:00:00:09', addresses: [] }),
        (err) => kindOf(err) === 'not-found',
      );
      assert.ok(!hostLinkExists(stray));

      // the name inside is taken: a conflict, and no host side is left behind
      const third = `veth${hex(7)}`;
      veths.push(third);
      await assert.rejects(
        ops.addEndpoint({ bridge: br, hostIfName: third, netnsPath: paths[0], ifName: 'eth0', mac: '02:42:0a:00:00:0a', addresses: [`${v4}.10/24`] }),
        (err) => kindOf(err) === 'conflict',
      );
      assert.ok(!hostLinkExists(third));
      // a second interface in a running container (network connect), without a gateway
      await ops.addEndpoint({ bridge: br, hostIfName: third, netnsPath: paths[0], ifName: 'eth1', mac: '02:42:0a:00:00:0a', addresses: [`${v4}.10/24`] });
      const eth1 = (nsj(paths[0], 'addr', 'show', 'dev', 'eth1') as { address: string; addr_info: { local: string }[] }[])[0];
      assert.equal(eth1.address, '02:42:0a:00:00:0a');
      assert.ok(eth1.addr_info.some((a) => a.local === `${v4}.10`));
      await ops.removeInNamespace(paths[0], 'eth1');
      assert.ok(!hostLinkExists(third));

      // disconnect from inside: the host side goes with it
      await ops.removeInNamespace(paths[0], 'eth0');
      assert.ok(!hostLinkExists(eps[0].hostIfName));
      assert.deepEqual((nsj(paths[0], 'link') as { ifname: string }[]).map((l) => l.ifname), ['lo']);
      await ops.removeInNamespace(paths[0], 'eth0');
      // stop: the host side
      await ops.removeEndpoint(eps[1].hostIfName);
      assert.ok(!hostLinkExists(eps[1].hostIfName));
      assert.deepEqual((nsj(paths[1], 'link') as { ifname: string }[]).map((l) => l.ifname), ['lo']);
      await ops.removeEndpoint(eps[1].hostIfName);
      for (const e of eps) await netns.remove(e.name);
      await ops.removeInNamespace(paths[0], 'eth0');
      await ops.deleteBridge(br);
      assert.ok(!hostLinkExists(br));
      for (const p of paths) assert.ok(!fs.existsSync(p));
      assert.deepEqual(fs.readdirSync(netns.dir), []);
    });

    test('refuses to delete what is not its kind; checks its arguments', async () => {
      const ops = make();
      await assert.rejects(ops.deleteBridge('lo'), (err) => kindOf(err) === 'conflict');
      await assert.rejects(ops.removeEndpoint('lo'), (err) => label === 'netlink' ? kindOf(err) === 'conflict' : true);
      assert.ok(hostLinkExists('lo'));
      await assert.rejects(
        ops.addEndpoint({ bridge: 'x', hostIfName: 'veth-way-too-long-name', netnsPath: '/nonexistent', ifName: 'eth0', mac: '02:42:0a:00:00:02', addresses: [] }),
        (err) => kindOf(err) === 'invalid-argument',
      );
      await assert.rejects(
        ops.addEndpoint({ bridge: 'x', hostIfName: 'vethabcdefg', netnsPath: '/nonexistent', ifName: 'eth0', mac: 'zz', addresses: [] }),
        (err) => kindOf(err) === 'invalid-argument',
      );
    });
  });
}
