import { strict as assert } from 'node:assert';
import * as crypto from 'node:crypto';
import { describe, it } from 'node:test';
import { kindOf } from '../../engine/errdefs';
import { nullLogger } from '../../engine/log';
import { MetadataDB } from '../../engine/metadata';
import { EventBus } from '../events/bus';
import { allocate, formatIp, parseCidr, parseIp, pickSubnet } from './ipam';
import { NetworkService, type NetworkConfig } from './service';
import { NetworkStore } from './store';
import { FakeContainers, FakeFirewall, FakeLinks, FakeNameService } from './testing';

const throwsKind = async (fn: () => unknown, kind: string, message: string | RegExp) =>
  assert.rejects(
    async () => fn(),
    (e: unknown) => {
      assert.equal(kindOf(e), kind, `kind of ${(e as Error).message}`);
      if (typeof message === 'string') assert.equal((e as Error).message, message);
      else assert.match((e as Error).message, message);
      return true;
    },
  );

async function setup(config: NetworkConfig = {}, prepare?: (l: FakeLinks) => void, db = MetadataDB.open(':memory:')) {
  const links = new FakeLinks();
  prepare?.(links);
  const firewall = new FakeFirewall();
  const dns = new FakeNameService();
  const events = new EventBus();
  const containers = new FakeContainers();
  const svc = new NetworkService({ db, events, log: nullLogger, links, firewall, dns, config, random: (n) => crypto.randomBytes(n) });
  svc.setContainers(containers);
  await svc.open();
  return { svc, links, firewall, dns, events, containers, db };
}

const view = (v: Record<string, unknown>) => v as { Name: string; Id: string; Driver: string; IPAM: { Driver: string; Options: unknown; Config: Array<Record<string, string>> }; Containers: Record<string, Record<string, string>>; Options: Record<string, string>; Labels: Record<string, string> };

describe('IPAM arithmetic', () => {
  it('parses and formats IPv4 and IPv6 as Go does', () => {
    assert.equal(formatIp(6, parseIp('fd00:0:0:0:0:0:0:1')!.value), 'fd00::1');
    assert.equal(formatIp(6, parseIp('2001:db8:0:0:1:0:0:1')!.value), '2001:db8::1:0:0:1');
    assert.equal(formatIp(6, parseIp('::')!.value), '::');
    assert.equal(formatIp(4, parseIp('10.1.2.3')!.value), '10.1.2.3');
    assert.equal(parseCidr('10.1.2.3/16')!.base, parseIp('10.1.0.0')!.value);
    assert.equal(parseCidr('10.1.2.3'), undefined);
    assert.equal(parseCidr('10.1.2.3/33'), undefined);
  });
  it('picks the first default pool clear of taken subnets and host routes', () => {
    const pools = [{ base: '172.17.0.0/16', size: 16 }, { base: '172.18.0.0/16', size: 16 }, { base: '192.168.0.0/16', size: 20 }];
    const t = (s: string) => parseCidr(s)!;
    assert.equal(formatIp(4, pickSubnet(pools, []).base), '172.17.0.0');
    assert.equal(formatIp(4, pickSubnet(pools, [t('172.17.5.0/24')]).base), '172.18.0.0');
    const p = pickSubnet(pools, [t('172.17.0.0/16'), t('172.18.0.0/16'), t('192.168.0.0/20')]);
    assert.deepEqual([formatIp(4, p.base), p.bits], ['192.168.16.0', 20]);
    assert.throws(() => pickSubnet(pools.slice(0, 1), [t('172.16.0.0/12')]), (e: unknown) => kindOf(e) === 'not-found' && /could not find an available, non-overlapping IPv4 address pool/.test((e as Error).message));
  });
  it('allocates sequentially after the last one, wrapping, skipping the gateway and leases', () => {
    const pool = { subnet: '10.0.0.0/29', gateway: '10.0.0.1' };
    const used = new Set<string>();
    let cursor: bigint | undefined;
    const got: string[] = [];
    for (let i = 0; i < 5; i++) {
      const a = allocate(pool, used, cursor);
      used.add(a.address);
      cursor = a.cursor;
      got.push(a.address);
    }
    assert.deepEqual(got, ['10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6']);
    assert.throws(() => allocate(pool, used, cursor), (e: unknown) => kindOf(e) === 'internal' && (e as Error).message === 'No available addresses on this pool');
    used.delete('10.0.0.3');
    // released: not reused until the cursor wraps
    assert.equal(allocate(pool, used, cursor).address, '10.0.0.3');
    used.delete('10.0.0.6');
    assert.equal(allocate(pool, used, parseIp('10.0.0.2')!.value).address, '10.0.0.3');
  });
  it('honours IPRange and static addresses with Docker\'s errors', () => {
    const pool = { subnet: '10.0.0.0/24', gateway: '10.0.0.1', ipRange: '10.0.0.128/25' };
    assert.equal(allocate(pool, new Set(), undefined).address, '10.0.0.128');
    assert.equal(allocate(pool, new Set(), undefined, '10.0.0.200').address, '10.0.0.200');
    assert.throws(() => allocate(pool, new Set(), undefined, '10.0.0.5'), (e: unknown) => kindOf(e) === 'internal' && (e as Error).message === 'Requested address is out of range');
    assert.throws(() => allocate(pool, new Set(['10.0.0.200']), undefined, '10.0.0.200'), (e: unknown) => kindOf(e) === 'forbidden' && (e as Error).message === 'Address already in use');
    assert.equal(allocate({ subnet: 'fd00::/64', gateway: 'fd00::1' }, new Set(), undefined).address, 'fd00::2');
  });
});

describe('NetworkService: default networks', () => {
  it('creates bridge (docker0, 172.17.0.1/16), host and none, and keeps their ids', async () => {
    const db = MetadataDB.open(':memory:');
    const { svc, links, firewall } = await setup({}, undefined, db);
    const names = svc.list(new Map(), {}).map((n) => view(n).Name).sort();
    assert.deepEqual(names, ['bridge', 'host', 'none']);
    const b = view(svc.inspect('bridge'));
    assert.equal(b.Driver, 'bridge');
    assert.deepEqual(b.IPAM, { Driver: 'default', Options: null, Config: [{ Subnet: '172.17.0.0/16', Gateway: '172.17.0.1' }] });
    assert.equal(b.Options['com.docker.network.bridge.name'], 'docker0');
    assert.equal(b.Options['com.docker.network.bridge.default_bridge'], 'true');
    assert.deepEqual(links.bridges.get('docker0'), { name: 'docker0', addresses: ['172.17.0.1/16'], mtu: 1500 });
    assert.equal(firewall.networks.get('docker0')?.masquerade, true);
    assert.equal(firewall.inits, 1);
    assert.deepEqual(view(svc.inspect('host')).IPAM, { Driver: 'default', Options: null, Config: [] });
    assert.equal(view(svc.inspect('none')).Driver, 'null');
    const again = await setup({}, undefined, db);
    assert.equal(view(again.svc.inspect('bridge')).Id, b.Id);
  });
  it('adopts an existing --bridge and its address; refuses one that is missing', async () => {
    const { svc } = await setup({ bridge: 'br-test0', fixedCidr: '10.9.0.128/25', mtu: 1400 }, (l) => l.hostLinks.set('br-test0', ['10.9.0.1/24']));
    const b = view(svc.inspect('bridge'));
    assert.deepEqual(b.IPAM.Config, [{ Subnet: '10.9.0.0/24', IPRange: '10.9.0.128/25', Gateway: '10.9.0.1' }]);
    assert.equal(b.Options['com.docker.network.driver.mtu'], '1400');
    await throwsKind(() => setup({ bridge: 'nosuchbr' }), 'invalid-argument', 'bridge device with non default name nosuchbr must be created manually');
  });
  it('has no bridge network with --bridge none', async () => {
    const { svc, links } = await setup({ bridge: 'none' });
    assert.deepEqual(svc.list(new Map(), {}).map((n) => view(n).Name).sort(), ['host', 'none']);
    assert.equal(links.bridges.size, 0);
  });
  it('keeps new subnets clear of the host routes', async () => {
    const { svc } = await setup({ bridge: 'none' }, (l) => (l.routes = ['172.17.0.0/16', '172.18.0.0/16', '0.0.0.0/0']));
    const { Id } = await svc.create({ Name: 'n1' });
    assert.deepEqual(view(svc.inspect(Id)).IPAM.Config, [{ Subnet: '172.19.0.0/16', Gateway: '172.19.0.1' }]);
  });
});

describe('NetworkService: create, inspect, list, remove', () => {
  it("creates a bridge network with Docker's shape and events", async () => {
    const { svc, links, firewall, events } = await setup({ bridge: 'none' });
    const seen: string[] = [];
    events.subscribe((e) => seen.push(`${e.Type} ${e.Action} ${e.Actor.Attributes.name} ${e.Actor.Attributes.type}`));
    const r = await svc.create({ Name: 'app', CheckDuplicate: true, Labels: { a: 'b' }, Internal: true, Attachable: true });
    assert.match(r.Id, /^[0-9a-f]{64}$/);
    assert.equal(r.Warning, '');
    const v = svc.inspect('app');
    assert.deepEqual(Object.keys(v), ['Name', 'Id', 'Created', 'Scope', 'Driver', 'EnableIPv6', 'IPAM', 'Internal', 'Attachable', 'Ingress', 'ConfigFrom', 'ConfigOnly', 'Containers', 'Options', 'Labels']);
    assert.match(String(v.Created), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/);
    assert.deepEqual({ ...v, Id: '', Created: '' }, {
      Name: 'app', Id: '', Created: '', Scope: 'local', Driver: 'bridge', EnableIPv6: false,
      IPAM: { Driver: 'default', Options: null, Config: [{ Subnet: '172.17.0.0/16', Gateway: '172.17.0.1' }] },
      Internal: true, Attachable: true, Ingress: false, ConfigFrom: { Network: '' }, ConfigOnly: false, Containers: {}, Options: {}, Labels: { a: 'b' },
    });
    const br = `br-${r.Id.slice(0, 12)}`;
    assert.ok(links.bridges.has(br));
    assert.deepEqual(firewall.networks.get(br), { bridge: br, subnets: ['172.17.0.0/16'], internal: true, masquerade: true, icc: true });
    assert.deepEqual(seen, ['network create app bridge']);
    // by id prefix and name; ambiguity and absence in Docker's words
    assert.equal(view(svc.inspect(r.Id.slice(0, 5))).Name, 'app');
    await throwsKind(() => svc.inspect('nope'), 'not-found', 'network nope not found');
    await svc.remove('app');
    assert.ok(!links.bridges.has(br));
    assert.ok(!firewall.networks.has(br));
    assert.deepEqual(seen, ['network create app bridge', 'network destroy app bridge']);
  });
  it('takes the client\'s IPAM config and shows it as given', async () => {
    const { svc, links } = await setup({ bridge: 'none' });
    await svc.create({ Name: 'n', EnableIPv6: true, IPAM: { Driver: 'default', Options: {}, Config: [{ Subnet: '10.50.0.0/16', IPRange: '10.50.1.0/24' }, { Subnet: 'fd00:50::/64', Gateway: 'fd00:50::1' }] }, Options: { 'com.docker.network.bridge.name': 'stvtest50', 'com.docker.network.driver.mtu': '1400' } });
    const v = view(svc.inspect('n'));
    assert.deepEqual(v.IPAM, { Driver: 'default', Options: {}, Config: [{ Subnet: '10.50.0.0/16', IPRange: '10.50.1.0/24' }, { Subnet: 'fd00:50::/64', Gateway: 'fd00:50::1' }] });
    assert.deepEqual(links.bridges.get('stvtest50'), { name: 'stvtest50', addresses: ['10.50.1.0/16', 'fd00:50::1/64'], mtu: 1400 });
  });
  it("refuses what Docker refuses, in Docker's words", async () => {
    const { svc } = await setup();
    await svc.create({ Name: 'dup', IPAM: { Config: [{ Subnet: '10.60.0.0/16' }] } });
    await throwsKind(() => svc.create({ Name: 'dup', CheckDuplicate: true }), 'conflict', 'network with name dup already exists');
    const w = await svc.create({ Name: 'dup' });
    assert.match(w.Warning, /^Network with name dup \(id : [0-9a-f]{64}\) already exists$/);
    await throwsKind(() => svc.inspect('dup'), 'invalid-argument', '2 matches found based on name: network dup is ambiguous');
    await throwsKind(() => svc.create({ Name: 'bridge' }), 'forbidden', 'operation is not permitted on predefined bridge network ');
    await throwsKind(() => svc.create({ Name: 'x', Driver: 'host' }), 'forbidden', 'only one instance of "host" network is allowed');
    await throwsKind(() => svc.create({ Name: 'x', Driver: 'foo' }), 'not-found', 'plugin "foo" not found');
    await throwsKind(() => svc.create({ Name: 'x', Driver: 'macvlan' }), 'not-implemented', /macvlan/);
    await throwsKind(() => svc.create({ Name: 'x', IPAM: { Config: [{ Subnet: '10.60.1.0/24' }] } }), 'forbidden', 'Pool overlaps with other one on this address space');
    await throwsKind(() => svc.create({ Name: 'x', IPAM: { Config: [{ Subnet: 'bogus' }] } }), 'internal', 'Invalid subnet bogus : invalid CIDR address: bogus');
    await throwsKind(() => svc.create({ Name: 'x', IPAM: { Config: [{ Subnet: '10.70.0.0/16', Gateway: 'zz' }] } }), 'internal', 'invalid gateway address zz in Ipam configuration');
    await throwsKind(() => svc.create({ Name: 'x', IPAM: { Config: [{ Subnet: '10.70.0.0/16' }, { Subnet: '10.71.0.0/16' }] } }), 'forbidden', "bridge driver doesn't support multiple subnets");
    await throwsKind(() => svc.create({ Name: 'x', EnableIPv6: true }), 'not-found', 'could not find an available, non-overlapping IPv6 address pool among the defaults to assign to the network');
    await throwsKind(() => svc.create({ Name: 'x', Options: { 'com.docker.network.bridge.enable_icc': 'maybe' } }), 'internal', 'failed to parse com.docker.network.bridge.enable_icc value: maybe (strconv.ParseBool: parsing "maybe": invalid syntax)');
    await throwsKind(() => svc.create({ Name: 'x', Ingress: true }), 'forbidden', 'Ingress network can only be global scope network');
    await throwsKind(() => svc.create({}), 'internal', 'invalid name: ');
    await throwsKind(() => svc.create({ Name: 'x', Driver: 'overlay' }), 'internal', /This node is not a swarm manager/);
    await throwsKind(() => svc.create({ Name: 'x', IPAM: { Config: [{ Subnet: '10.72.0.0/24', Gateway: '10.9.9.9' }] } }), 'internal', 'failed to allocate gateway (10.9.9.9): Requested address is out of range');
    await svc.create({ Name: 'b1', Options: { 'com.docker.network.bridge.name': 'stvsame' } });
    await throwsKind(() => svc.create({ Name: 'b2', Options: { 'com.docker.network.bridge.name': 'stvsame' } }), 'forbidden', /^cannot create network [0-9a-f]{64} \(stvsame\): conflicts with network [0-9a-f]{64} \(stvsame\): networks have same bridge name$/);
    await throwsKind(async () => svc.list(new Map([['type', ['bogus']]]), {}), 'internal', "invalid filter: 'type'='bogus'");
    await throwsKind(() => svc.remove('bridge'), 'forbidden', 'bridge is a pre-defined network and cannot be removed');
    await throwsKind(() => svc.remove('none'), 'forbidden', 'none is a pre-defined network and cannot be removed');
    await throwsKind(() => svc.remove('zzz'), 'not-found', 'network zzz not found');
  });
  it('filters as moby does', async () => {
    const { svc, containers } = await setup({ bridge: 'none' });
    await svc.create({ Name: 'front', Labels: { tier: 'web', env: 'prod' } });
    const back = await svc.create({ Name: 'back', Labels: { tier: 'db' } });
    const names = (f: Record<string, string[]>) => svc.list(new Map(Object.entries(f)), {}).map((n) => view(n).Name).sort();
    assert.deepEqual(names({ name: ['ro'] }), ['front']);
    assert.deepEqual(names({ id: [back.Id.slice(0, 6)] }), ['back']);
    assert.deepEqual(names({ label: ['tier'] }), ['back', 'front']);
    assert.deepEqual(names({ label: ['tier=web', 'env=prod'] }), ['front']);
    assert.deepEqual(names({ driver: ['null'] }), ['none']);
    assert.deepEqual(names({ type: ['builtin'] }), ['host', 'none']);
    assert.deepEqual(names({ type: ['custom'] }), ['back', 'front']);
    containers.add({ id: 'c'.repeat(64), name: 'web', running: true, netnsPath: '/run/netns/x' });
    await svc.join({ id: 'c'.repeat(64), name: '/web' }, 'front', '/run/netns/x', 'eth0', {}, { gateway: true });
    assert.deepEqual(names({ dangling: ['true'] }), ['back']);
    assert.deepEqual(names({ dangling: ['0'] }), ['front', 'host', 'none']);
    assert.throws(() => svc.list(new Map([['nope', ['x']]]), {}), (e: unknown) => kindOf(e) === 'invalid-argument' && (e as Error).message === "Invalid filter 'nope'");
    assert.throws(() => svc.list(new Map([['dangling', ['x']]]), {}), /invalid value for filter 'dangling'/);
    // the list shape has no endpoints (API >= 1.28); the detailed one (older clients) has
    assert.deepEqual(view(svc.list(new Map([['name', ['front']]]), {})[0]!).Containers, {});
    assert.equal(Object.keys(view(svc.list(new Map([['name', ['front']]]), { detailed: true })[0]!).Containers).length, 1);
  });
  it('prunes unused custom networks by label and until', async () => {
    const { svc, containers } = await setup({ bridge: 'none' });
    await svc.create({ Name: 'keep', Labels: { keep: '1' } });
    await svc.create({ Name: 'used' });
    await svc.create({ Name: 'gone' });
    containers.add({ id: 'd'.repeat(64), name: 'u', running: true });
    await svc.join({ id: 'd'.repeat(64), name: 'u' }, 'used', '/ns', 'eth0', {}, { gateway: true });
    assert.deepEqual(await svc.prune(new Map([['until', ['2000-01-01T00:00:00Z']]])), { NetworksDeleted: null });
    assert.deepEqual(await svc.prune(new Map([['label!', ['keep']]])), { NetworksDeleted: ['gone'] });
    assert.throws(() => svc.prune(new Map([['dangling', ['true']]])), /Invalid filter 'dangling'/);
  });
});

describe('NetworkService: endpoints', () => {
  const C1 = { id: '1'.repeat(64), name: '/web', hostname: '111111111111' };
  const C2 = { id: '2'.repeat(64), name: 'db', hostname: 'dbhost' };

  it('joins with addresses, MAC, veth, route and names; leaves idempotently', async () => {
    const { svc, links, dns, events } = await setup({ bridge: 'none' });
    await svc.create({ Name: 'app' });
    const seen: string[] = [];
    events.subscribe((e) => seen.push(`${e.Action} ${e.Actor.Attributes.container}`));
    const a = await svc.join(C1, 'app', '/run/netns/a', 'eth0', { aliases: ['Www'] }, { gateway: true });
    assert.equal(a.ipv4, '172.17.0.2/16');
    assert.equal(a.gateway4, '172.17.0.1');
    assert.equal(a.mac, '02:42:ac:11:00:02');
    assert.match(a.hostIfName, /^veth[0-9a-f]{7}$/);
    assert.deepEqual(a.aliases, ['Www', '111111111111']);
    assert.deepEqual(a.dnsNames, ['web', 'www', '111111111111']);
    const spec = links.endpoints.get(a.hostIfName)!;
    assert.deepEqual({ ...spec, hostIfName: '' }, { bridge: a.bridge, hostIfName: '', netnsPath: '/run/netns/a', ifName: 'eth0', mac: '02:42:ac:11:00:02', addresses: ['172.17.0.2/16'], gateway4: '172.17.0.1' });
    const b = await svc.join(C2, 'app', '/run/netns/b', 'eth0', { ipv4: undefined }, { gateway: false });
    assert.equal(b.ipv4, '172.17.0.3/16');
    assert.equal(links.endpoints.get(b.hostIfName)!.gateway4, undefined);
    assert.deepEqual(b.aliases, ['222222222222', 'dbhost']);
    assert.deepEqual(dns.table.map((n) => n.records), [
      [
        { names: ['web', 'www', '111111111111'], ipv4: ['172.17.0.2'], ipv6: [], container: C1.id },
        { names: ['db', '222222222222', 'dbhost'], ipv4: ['172.17.0.3'], ipv6: [], container: C2.id },
      ],
    ]);
    assert.deepEqual({ ...dns.table[0]!, records: [] }, { id: svc.resolve('app').id, name: 'app', internal: false, subnets: ['172.17.0.0/16'], listen: ['172.17.0.1'], records: [] });
    await throwsKind(() => svc.join(C1, 'app', '/x', 'eth1', {}, { gateway: false }), 'forbidden', 'endpoint with name web already exists in network app');
    const cs = view(svc.inspect('app')).Containers;
    assert.deepEqual(cs[C1.id], { Name: 'web', EndpointID: a.endpointId, MacAddress: '02:42:ac:11:00:02', IPv4Address: '172.17.0.2/16', IPv6Address: '' });
    await throwsKind(() => svc.remove('app'), 'forbidden', /^error while removing network: network app id [0-9a-f]{64} has active endpoints$/);
    assert.deepEqual(svc.endpointsOf(C1.id).map((e) => e.networkName), ['app']);
    await svc.leave(C1.id, 'app');
    await svc.leave(C1.id, 'app');
    assert.ok(!links.endpoints.has(a.hostIfName));
    assert.deepEqual(svc.endpointsOf(C1.id), []);
    // the address is not reused at once (serial allocation)
    const c = await svc.join(C1, 'app', '/run/netns/a', 'eth0', {}, { gateway: true });
    assert.equal(c.ipv4, '172.17.0.4/16');
    assert.deepEqual(seen, [`connect ${C1.id}`, `connect ${C2.id}`, `disconnect ${C1.id}`, `connect ${C1.id}`]);
  });
  it('gives static addresses only where Docker does', async () => {
    const { svc } = await setup();
    await svc.create({ Name: 'auto' });
    await svc.create({ Name: 'fixed', EnableIPv6: true, IPAM: { Config: [{ Subnet: '10.80.0.0/24' }, { Subnet: 'fd00:80::/64' }] } });
    await throwsKind(() => svc.join(C1, 'bridge', '/a', 'eth0', { ipv4: '172.17.0.9' }, { gateway: true }), 'invalid-argument', 'user specified IP address is supported on user defined networks only');
    await throwsKind(() => svc.join(C1, 'bridge', '/a', 'eth0', { aliases: ['x'] }, { gateway: true }), 'invalid-argument', 'network-scoped alias is supported only for containers in user defined networks');
    await throwsKind(() => svc.join(C1, 'auto', '/a', 'eth0', { ipv4: '172.18.0.9' }, { gateway: true }), 'invalid-argument', 'user specified IP address is supported only when connecting to networks with user configured subnets');
    const e = await svc.join(C1, 'fixed', '/a', 'eth0', { ipv4: '10.80.0.50', ipv6: 'fd00:80::50' }, { gateway: true });
    assert.equal(e.ipv4, '10.80.0.50/24');
    assert.equal(e.ipv6, 'fd00:80::50/64');
    assert.equal(e.gateway6, 'fd00:80::1');
    await throwsKind(() => svc.join(C2, 'fixed', '/b', 'eth0', { ipv4: '10.80.0.50' }, { gateway: true }), 'forbidden', 'Address already in use');
    await throwsKind(() => svc.join(C2, 'fixed', '/b', 'eth0', { ipv4: '10.81.0.5' }, { gateway: true }), 'internal', 'Requested address is out of range');
    // the default bridge has no names
    const d = await svc.join(C2, 'bridge', '/b', 'eth0', {}, { gateway: true });
    assert.deepEqual([d.aliases, d.dnsNames], [[], []]);
  });
  it('releases the lease when the link cannot be made', async () => {
    const { svc, links } = await setup({ bridge: 'none' });
    await svc.create({ Name: 'n', IPAM: { Config: [{ Subnet: '10.90.0.0/30' }] } });
    links.failNextEndpoint = new Error('boom');
    await assert.rejects(svc.join(C1, 'n', '/a', 'eth0', {}, { gateway: true }), /boom/);
    assert.deepEqual(svc.endpointsOf(C1.id), []);
    assert.equal((await svc.join(C1, 'n', '/a', 'eth0', {}, { gateway: true })).ipv4, '10.90.0.2/30');
  });
  it('has no gateway on an internal network', async () => {
    const { svc, links } = await setup({ bridge: 'none' });
    await svc.create({ Name: 'int', Internal: true });
    const e = await svc.join(C1, 'int', '/a', 'eth0', {}, { gateway: true });
    assert.equal(e.gateway4, undefined);
    assert.equal(links.endpoints.get(e.hostIfName)!.gateway4, undefined);
  });
  it('reconciles endpoints of containers that are not running', async () => {
    const db = MetadataDB.open(':memory:');
    const first = await setup({ bridge: 'none' }, undefined, db);
    await first.svc.create({ Name: 'n' });
    first.containers.add({ id: C1.id, name: 'web', running: true });
    const a = await first.svc.join(C1, 'n', '/a', 'eth0', {}, { gateway: true });
    const b = await first.svc.join(C2, 'n', '/b', 'eth0', {}, { gateway: true });
    const second = await setup({ bridge: 'none' }, (l) => {
      for (const [k, v] of first.links.endpoints) l.endpoints.set(k, v);
    }, db);
    second.containers.add({ id: C1.id, name: 'web', running: true });
    await second.svc.reconcile();
    assert.deepEqual(second.svc.endpointsOf(C2.id), []);
    assert.ok(!second.links.endpoints.has(b.hostIfName));
    assert.ok(second.links.endpoints.has(a.hostIfName));
    assert.ok(second.links.bridges.has(a.bridge), 'the bridge of an existing network is ensured at start');
    assert.deepEqual(second.dns.table[0]!.records.map((r) => r.names[0]), ['web']);
  });
  it("gives the resolver the container's upstream servers and link aliases", async () => {
    const { svc, dns } = await setup({ bridge: 'none' });
    await svc.create({ Name: 'n' });
    await svc.join(C2, 'n', '/b', 'eth0', {}, { gateway: true });
    await svc.join(C1, 'n', '/a', 'eth0', { links: ['db:database', '/db:/web/other'], nameservers: ['192.0.2.53'], ndotsSet: true }, { gateway: true });
    const rec = dns.table[0]!.records.find((r) => r.names[0] === 'web') as unknown as Record<string, unknown>;
    assert.deepEqual(rec.links, { database: 'db', other: 'db' });
    assert.deepEqual(rec.nameservers, ['192.0.2.53']);
    assert.equal(rec.ndotsSet, true);
  });
  it('keeps lease-less endpoints (none, host) out of the database, and every reader still sees them', async () => {
    const db = MetadataDB.open(':memory:');
    const first = await setup({ bridge: 'none' }, undefined, db);
    const seen: string[] = [];
    first.events.subscribe((e) => seen.push(`${e.Action} ${e.Actor.Attributes.name}`));
    const rows = () => (db.raw.prepare('SELECT COUNT(*) AS n FROM endpoints').get() as { n: number }).n;
    const e = await first.svc.join(C1, 'none', '', '', {}, { gateway: true });
    const h = await first.svc.join(C2, 'host', '', '', {}, { gateway: true });
    assert.equal(rows(), 0, 'no commit for an endpoint without a lease');
    assert.deepEqual(view(first.svc.inspect('none')).Containers, { [C1.id]: { Name: 'web', EndpointID: e.endpointId, MacAddress: '', IPv4Address: '', IPv6Address: '' } });
    assert.deepEqual(Object.keys(view(first.svc.inspect('host')).Containers), [C2.id]);
    assert.deepEqual(first.svc.endpointsOf(C1.id).map((x) => [x.networkName, x.endpointId]), [['none', e.endpointId]]);
    await throwsKind(() => first.svc.join(C1, 'none', '', '', {}, { gateway: false }), 'forbidden', 'endpoint with name web already exists in network none');
    await first.svc.containerRenamed(C1.id, '/site');
    assert.equal(view(first.svc.inspect('none')).Containers[C1.id]!.Name, 'site');

    // a daemon restart: the running container's endpoint comes back from what its start recorded
    const second = await setup({ bridge: 'none' }, undefined, db);
    second.containers.add({ id: C1.id, name: 'site', running: true });
    assert.deepEqual(view(second.svc.inspect('none')).Containers, {});
    second.svc.adoptEndpoints({ id: C1.id, name: '/site' }, [e]);
    second.svc.adoptEndpoints({ id: C1.id, name: '/site' }, [e]);
    await second.svc.reconcile();
    assert.deepEqual(view(second.svc.inspect('none')).Containers[C1.id], { Name: 'site', EndpointID: e.endpointId, MacAddress: '', IPv4Address: '', IPv6Address: '' });
    await second.svc.leave(C1.id, 'none');
    await second.svc.leave(C1.id, 'none');
    assert.deepEqual(second.svc.endpointsOf(C1.id), []);
    assert.deepEqual(view(second.svc.inspect('none')).Containers, {});
    // a container that is not running loses its lease-less endpoint at reconcile, as a row would
    second.svc.adoptEndpoints({ id: C2.id, name: 'db' }, [h]);
    await second.svc.reconcile();
    assert.deepEqual(second.svc.endpointsOf(C2.id), []);
    assert.deepEqual(seen, ['connect none', 'connect host']);
  });
  it('reads and deletes a lease-less endpoint an older release wrote as a row', async () => {
    const db = MetadataDB.open(':memory:');
    const { svc } = await setup({ bridge: 'none' }, undefined, db);
    const none = svc.resolve('none');
    // what an older release's join wrote
    new NetworkStore(db).insertEndpoint({ networkId: none.id, containerId: C1.id, id: 'ep', containerName: 'web', mac: '', hostIfName: '', ifName: '', gateway: false, aliases: [], dnsNames: [], links: [] });
    assert.deepEqual(svc.endpointsOf(C1.id).map((x) => x.networkName), ['none']);
    await svc.leave(C1.id, 'none');
    assert.equal((db.raw.prepare('SELECT COUNT(*) AS n FROM endpoints').get() as { n: number }).n, 0);
  });
  it('leaves at once and deletes the veth in the background for a container whose namespace goes', async () => {
    const { svc, links } = await setup({ bridge: 'none' });
    await svc.create({ Name: 'n' });
    const a = await svc.join(C1, 'n', '/a', 'eth0', {}, { gateway: true });
    let finish!: () => void;
    const gate = new Promise<void>((r) => (finish = r));
    const remove = links.removeEndpoint.bind(links);
    links.removeEndpoint = async (name) => {
      await gate;
      return remove(name);
    };
    const seen: string[] = [];
    const { teardown } = await svc.leaveDeferred(C1.id, 'n');
    teardown.then(() => seen.push('veth gone'));
    assert.deepEqual(svc.endpointsOf(C1.id), [], 'the endpoint and its lease are released before the veth');
    assert.deepEqual(view(svc.inspect('n')).Containers, {});
    await svc.remove('n'); // no active endpoints any more
    assert.ok(links.endpoints.has(a.hostIfName));
    assert.equal(seen.length, 0);
    const closed = svc.close().then(() => seen.push('closed'));
    finish();
    await closed;
    assert.deepEqual(seen, ['veth gone', 'closed'], 'close waits for the teardown');
    assert.ok(!links.endpoints.has(a.hostIfName));
  });
  it('renames follow in the names', async () => {
    const { svc, dns } = await setup({ bridge: 'none' });
    await svc.create({ Name: 'n' });
    await svc.join(C1, 'n', '/a', 'eth0', {}, { gateway: true });
    await svc.containerRenamed(C1.id, '/site');
    assert.deepEqual(dns.table[0]!.records[0]!.names, ['site', '111111111111']);
    assert.equal(view(svc.inspect('n')).Containers[C1.id]!.Name, 'site');
  });
});

describe('NetworkService: connect and disconnect', () => {
  it('records the wish of a stopped container and joins a running one live', async () => {
    const { svc, containers, links } = await setup();
    await svc.create({ Name: 'app' });
    const stopped = containers.add({ id: 'a'.repeat(64), name: 'stopped', networks: { bridge: {} } });
    await svc.connect('app', 'stopped', { Aliases: ['s1'] });
    assert.deepEqual(stopped.networks, { bridge: {}, app: { Aliases: ['s1'], NetworkID: svc.resolve('app').id } });
    assert.deepEqual(svc.endpointsOf(stopped.id), []);
    await svc.connect('app', 'stopped', {}); // again: nothing (moby avoids the duplicate)
    await svc.disconnect('app', 'stopped', false);
    assert.deepEqual(stopped.networks, { bridge: {} });
    await throwsKind(() => svc.disconnect('app', 'stopped', false), 'internal', `container ${stopped.id} is not connected to the network app`);

    const running = containers.add({ id: 'b'.repeat(64), name: 'running', running: true, netnsPath: '/run/netns/b', networks: { bridge: {} } });
    await svc.join({ id: running.id, name: 'running' }, 'bridge', '/run/netns/b', 'eth0', {}, { gateway: true });
    await svc.connect('app', 'running', null);
    const eps = svc.endpointsOf(running.id);
    assert.deepEqual(eps.map((e) => [e.networkName, e.ifName, e.gateway]), [['bridge', 'eth0', true], ['app', 'eth1', false]]);
    assert.ok(links.endpoints.has(eps[1]!.hostIfName));
    assert.deepEqual(containers.changed, [running.id]);
    await throwsKind(() => svc.connect('app', 'running', null), 'forbidden', 'endpoint with name running already exists in network app');
    await svc.disconnect('app', 'running', false);
    assert.ok(!links.endpoints.has(eps[1]!.hostIfName));
    assert.deepEqual(Object.keys(running.networks), ['bridge']);
  });
  it("refuses the connections Docker refuses", async () => {
    const { svc, containers } = await setup();
    await svc.create({ Name: 'app' });
    containers.add({ id: 'e'.repeat(64), name: 'shared', networkMode: 'container:x' });
    containers.add({ id: 'f'.repeat(64), name: 'onhost', networkMode: 'host', networks: { host: {} } });
    containers.add({ id: '9'.repeat(64), name: 'isolated', networkMode: 'none', networks: { none: {} } });
    containers.add({ id: '8'.repeat(64), name: 'plain', networks: { bridge: {} } });
    await throwsKind(() => svc.connect('app', 'shared', {}), 'invalid-argument', 'container sharing network namespace with another container or host cannot be connected to any other network');
    await throwsKind(() => svc.connect('app', 'onhost', {}), 'invalid-argument', 'container sharing network namespace with another container or host cannot be connected to any other network');
    await throwsKind(() => svc.connect('app', 'isolated', {}), 'invalid-argument', 'container cannot be connected to multiple networks with one of the networks in private (none) mode');
    await throwsKind(() => svc.connect('host', 'plain', {}), 'invalid-argument', 'container cannot be disconnected from host network or connected to host network');
    await throwsKind(() => svc.connect('bridge', 'isolated', { Aliases: ['a'] }), 'invalid-argument', 'container cannot be connected to multiple networks with one of the networks in private (none) mode');
    await throwsKind(() => svc.connect('nope', 'plain', {}), 'not-found', 'network nope not found');
    await throwsKind(() => svc.connect('app', 'nobody', {}), 'not-found', 'No such container: nobody');
    await throwsKind(() => svc.connect('app', 'plain', { IPAMConfig: { IPv4Address: '172.18.0.5' } }), 'invalid-argument', 'user specified IP address is supported only when connecting to networks with user configured subnets');
  });
});
