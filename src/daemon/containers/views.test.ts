import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { ancestorSet, containerSizes, listSummaries, listedImage, type ImageGraph } from './list';
import type { ContainerRecord } from './model';
import { initialState } from './state';
import { parsePs, psPidsArg, validatePsArgs } from './top';
import { commandLine, configView, inspectView } from './views';
import { kindOf, notFound } from '../../engine/errdefs';

const img = (c: string) => 'sha256:' + c.repeat(64);

/** base ← child ← grandchild; other stands alone. */
const graph: ImageGraph = {
  resolve(r) {
    const refs: Record<string, string> = { 'busybox:latest': img('a'), 'child:1': img('b'), 'other:latest': img('d') };
    const named = refs[r.includes(':') ? r : `${r}:latest`];
    if (named) return named;
    const byId = [img('a'), img('b'), img('c'), img('d')].find((id) => r.length >= 4 && id.slice(7).startsWith(r));
    if (byId) return byId;
    throw notFound(`No such image: ${r}`);
  },
  children: (id) => ({ [img('a')]: [img('b')], [img('b')]: [img('c')] } as Record<string, string[]>)[id] ?? [],
  size: (id) => ({ [img('a')]: 1000, [img('b')]: 1500 } as Record<string, number>)[id] ?? 0,
};

function rec(id: string, image: string, imageRef: string, over: Partial<ContainerRecord> = {}): ContainerRecord {
  return {
    id: id.repeat(64), name: `/c${id}`, created: '2020-01-01T00:00:0' + id + 'Z', image, imageRef, parentSnapshot: undefined, snapshotKey: id, path: 'sh', args: [],
    config: {}, hostConfig: { NetworkMode: 'default' }, state: { ...initialState(), status: 'running' }, restartCount: 0, ...over,
  };
}

describe('container list as Docker builds it', () => {
  it('ancestor: resolves names as GetImage (":latest" added), IDs and prefixes, and takes descendants', () => {
    assert.deepEqual([...ancestorSet(graph, ['busybox'])].sort(), [img('a'), img('b'), img('c')]);
    assert.deepEqual([...ancestorSet(graph, ['busybox:latest'])].sort(), [img('a'), img('b'), img('c')]);
    assert.deepEqual([...ancestorSet(graph, ['child:1'])].sort(), [img('b'), img('c')]);
    assert.deepEqual([...ancestorSet(graph, ['cccc'])], [img('c')]);
    assert.deepEqual([...ancestorSet(graph, ['nosuch', 'other'])], [img('d')]);
    assert.deepEqual([...ancestorSet(graph, ['nosuch'])], []);
  });

  it('filters by ancestor, and an unknown ancestor matches nothing', async () => {
    const containers = [rec('1', img('a'), 'busybox'), rec('2', img('c'), img('c')), rec('3', img('d'), 'other')];
    const d = { containers: { list: () => containers, sizeRw: async () => 7 }, images: graph };
    const names = async (f: string[]) => (await listSummaries(d, { all: true, size: false, filters: new Map([['ancestor', f]]) })).map((c) => c.Names);
    assert.deepEqual(await names(['busybox']), [['/c2'], ['/c1']]);
    assert.deepEqual(await names(['nosuch']), []);
  });

  it('sizes: SizeRootFs is the image plus the writable layer; zero sizes are left out', async () => {
    const c = rec('1', img('a'), 'busybox');
    const d = { containers: { list: () => [c], sizeRw: async () => 7 }, images: graph };
    assert.deepEqual(await containerSizes(d, c), { rw: 7, rootFs: 1007 });
    const [s] = await listSummaries(d, { all: true, size: true, filters: new Map() });
    assert.equal(s!.SizeRw, 7);
    assert.equal(s!.SizeRootFs, 1007);
    const gone = { ...d, images: { ...graph, size: () => { throw notFound('gone'); } }, containers: { list: () => [c], sizeRw: async () => 0 } };
    const [z] = await listSummaries(gone, { all: true, size: true, filters: new Map() });
    assert.ok(!('SizeRw' in z!) && !('SizeRootFs' in z!));
  });

  it("Image: the container's reference while it still names its image, else the ID", () => {
    assert.equal(listedImage(graph, rec('1', img('a'), 'busybox')), 'busybox');
    assert.equal(listedImage(graph, rec('1', img('a'), 'child:1')), img('a'));
    assert.equal(listedImage(graph, rec('1', img('a'), 'gone:1')), img('a'));
  });

  it('Command: arguments with a space single-quoted, nothing else escaped', () => {
    assert.equal(commandLine('sh', ['-c', 'sleep 1; echo "x"']), `sh -c 'sleep 1; echo "x"'`);
    assert.equal(commandLine('sleep', ['10']), 'sleep 10');
    assert.equal(commandLine('/bin/true', []), '/bin/true');
  });
});

describe('container inspect as Docker stores it', () => {
  const paths = { dir: '/d', hosts: '/d/hosts', hostname: '/d/hostname', resolvConf: '/d/resolv.conf', log: '/d/x-json.log' } as never;
  it('fills the create-time defaults Docker stores over the zero values clients send', () => {
    const c = rec('1', img('a'), 'busybox', { hostConfig: { NetworkMode: 'default', IpcMode: '', CgroupnsMode: '', MemorySwappiness: -1, PidsLimit: 0, MaskedPaths: null, ReadonlyPaths: null } as never });
    const hc = inspectView(c, { paths, rootfsDir: '/m' }).HostConfig as Record<string, unknown>;
    assert.equal(hc.IpcMode, 'private');
    assert.match(String(hc.CgroupnsMode), /^(host|private)$/);
    assert.equal(hc.MemorySwappiness, null);
    assert.equal(hc.PidsLimit, null);
    assert.ok(Array.isArray(hc.MaskedPaths) && (hc.MaskedPaths as string[]).includes('/proc/kcore'));
    assert.ok(Array.isArray(hc.ReadonlyPaths));
    const priv = rec('1', img('a'), 'busybox', { hostConfig: { Privileged: true, MaskedPaths: null, PidsLimit: 50, IpcMode: 'host' } as never });
    const ph = inspectView(priv, { paths, rootfsDir: '/m' }).HostConfig as Record<string, unknown>;
    assert.equal(ph.MaskedPaths, null);
    assert.equal(ph.PidsLimit, 50);
    assert.equal(ph.IpcMode, 'host');
  });
  it('shows the file paths only once the container has started, and a nil Env as null', () => {
    const created = rec('1', img('a'), 'busybox', { state: { ...initialState(), status: 'created' }, config: { Env: [] } });
    const v = inspectView(created, { paths, rootfsDir: '/m' });
    assert.deepEqual([v.ResolvConfPath, v.HostnamePath, v.HostsPath, v.LogPath], ['', '', '', '']);
    assert.equal((v.Config as { Env: unknown }).Env, null);
    const ran = rec('1', img('a'), 'busybox', { state: { ...initialState(), status: 'exited', startedAt: '2020-01-01T00:00:00Z' } });
    assert.equal(inspectView(ran, { paths, rootfsDir: '/m' }).HostsPath, '/d/hosts');
    assert.deepEqual(configView({ Env: ['A=1'] }).Env, ['A=1']);
  });
});

describe('network settings as Docker shows them', () => {
  const paths = { dir: '/d', hosts: '/d/hosts', hostname: '/d/hostname', resolvConf: '/d/resolv.conf', log: '/d/x-json.log' } as never;
  const EMPTY = {
    IPAMConfig: null, Links: null, Aliases: null, NetworkID: '', EndpointID: '', Gateway: '', IPAddress: '', IPPrefixLen: 0, IPv6Gateway: '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0, MacAddress: '', DriverOpts: null,
  };
  // recorded from the reference Docker 20.10: `docker run -d -p 18931:80 -p 127.0.0.1::81/udp --expose 82 busybox sleep 60`
  const running = rec('1', img('a'), 'busybox', {
    config: { ExposedPorts: { '80/tcp': {}, '81/udp': {}, '82/tcp': {} } },
    networks: { bridge: {} },
    networkRuntime: {
      sandboxId: 's'.repeat(64), sandboxKey: '/run/e/netns/1c113e9ec5db',
      endpoints: [{ networkId: 'b0dd', networkName: 'bridge', endpointId: 'b3a5', bridge: 'docker0', ipv4: '10.213.77.2/24', gateway4: '10.213.77.1', mac: '02:42:0a:d5:4d:02', hostIfName: 'veth1234567', ifName: 'eth0', aliases: [], dnsNames: [], links: [], gateway: true }],
      ports: [
        { key: '80/tcp', proto: 'tcp', hostIp: '0.0.0.0', hostPort: 18931, containerIp: '10.213.77.2', containerPort: 80, bridge: 'docker0' },
        { key: '81/udp', proto: 'udp', hostIp: '127.0.0.1', hostPort: 32768, containerIp: '10.213.77.2', containerPort: 81, bridge: 'docker0' },
      ],
    },
  });
  it('a running container: Ports, the sandbox, the bridge endpoint at the top level and in Networks', () => {
    const ns = inspectView(running, { paths, rootfsDir: '/m' }).NetworkSettings as Record<string, unknown>;
    assert.deepEqual(ns.Ports, { '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '18931' }], '81/udp': [{ HostIp: '127.0.0.1', HostPort: '32768' }], '82/tcp': null });
    assert.equal(ns.SandboxKey, '/run/e/netns/1c113e9ec5db');
    assert.deepEqual([ns.EndpointID, ns.Gateway, ns.IPAddress, ns.IPPrefixLen, ns.MacAddress], ['b3a5', '10.213.77.1', '10.213.77.2', 24, '02:42:0a:d5:4d:02']);
    assert.deepEqual(ns.Networks, { bridge: { ...EMPTY, NetworkID: 'b0dd', EndpointID: 'b3a5', Gateway: '10.213.77.1', IPAddress: '10.213.77.2', IPPrefixLen: 24, MacAddress: '02:42:0a:d5:4d:02' } });
  });
  it('the list: published ports and exposed ones without a binding', async () => {
    const d = { containers: { list: () => [running], sizeRw: async () => 0 }, images: graph };
    const [s] = await listSummaries(d, { all: true, size: false, filters: new Map() });
    assert.deepEqual(s!.Ports, [
      { IP: '0.0.0.0', PrivatePort: 80, PublicPort: 18931, Type: 'tcp' },
      { IP: '127.0.0.1', PrivatePort: 81, PublicPort: 32768, Type: 'udp' },
      { PrivatePort: 82, Type: 'tcp' },
    ]);
    // Docker's container view copies the addresses only: no aliases, links or driver options in the list
    const aliased = rec('2', img('a'), 'busybox', { state: { ...initialState(), status: 'exited' }, networks: { app: { Aliases: ['web'], Links: ['x:y'], DriverOpts: { a: 'b' }, IPAMConfig: { IPv4Address: '10.1.0.9', LinkLocalIPs: ['169.254.1.1'] } } } });
    const [a] = await listSummaries({ ...d, containers: { ...d.containers, list: () => [aliased] } }, { all: true, size: false, filters: new Map() });
    assert.deepEqual((a!.NetworkSettings as { Networks: unknown }).Networks, { app: { ...EMPTY, IPAMConfig: { IPv4Address: '10.1.0.9' } } });
    const names = async (k: string, v: string) => (await listSummaries(d, { all: true, size: false, filters: new Map([[k, [v]]]) })).length;
    assert.deepEqual([await names('publish', '18931'), await names('publish', '18931/udp'), await names('expose', '80-82'), await names('network', 'bridge'), await names('network', 'b0dd'), await names('network', 'app')], [1, 0, 1, 1, 1, 0]);
  });
  it('a stopped container: its networks with empty addresses, no ports; container: mode has none', () => {
    const stopped = rec('1', img('a'), 'busybox', { state: { ...initialState(), status: 'exited' }, networks: { app: { Aliases: ['web'], IPAMConfig: { IPv4Address: '10.1.0.9' } } } });
    const ns = inspectView(stopped, { paths, rootfsDir: '/m' }).NetworkSettings as Record<string, unknown>;
    assert.deepEqual(ns.Ports, {});
    assert.deepEqual(ns.Networks, { app: { ...EMPTY, Aliases: ['web'], IPAMConfig: { IPv4Address: '10.1.0.9' } } });
    // after a run: the sandbox and the networks' IDs stay, as Docker's
    const ran = { ...stopped, networkRuntime: { sandboxId: 's'.repeat(64), sandboxKey: '/run/e/netns/x', endpoints: [], ports: [], networkIds: { app: 'app-id' } } };
    const rs = inspectView(ran, { paths, rootfsDir: '/m' }).NetworkSettings as Record<string, unknown>;
    assert.deepEqual([rs.SandboxKey, rs.Ports, (rs.Networks as Record<string, { NetworkID: string; EndpointID: string }>).app!.NetworkID], ['/run/e/netns/x', {}, 'app-id']);
    const shared = rec('1', img('a'), 'busybox', { hostConfig: { NetworkMode: 'container:x' } });
    assert.deepEqual((inspectView(shared, { paths, rootfsDir: '/m' }).NetworkSettings as Record<string, unknown>).Networks, {});
    // records made before networking: the mode's network
    assert.deepEqual((inspectView(rec('1', img('a'), 'busybox'), { paths, rootfsDir: '/m' }).NetworkSettings as Record<string, unknown>).Networks, { bridge: EMPTY });
  });
});

describe('top as Docker runs it', () => {
  it('keeps the container rows, thread rows after them, and the last column whole', () => {
    const out = 'PID LWP CMD\n10 - sh -c x\n- 11 thread\n12 - other\n- 13 other-thread\n';
    assert.deepEqual(parsePs(out, [10]), { Titles: ['PID', 'LWP', 'CMD'], Processes: [['10', '-', 'sh -c x'], ['-', '11', 'thread']] });
    assert.deepEqual(parsePs('PID CMD\n12 x\n', [10]).Processes, null);
  });
  it("errors as Docker: no PID column, a bad PID, a renamed PID column (all 500s)", () => {
    assert.throws(() => parsePs('COMMAND\nsh\n', [1]), (e: unknown) => kindOf(e) === 'internal' && /Couldn't find PID field in ps output/.test(String(e)));
    assert.throws(() => parsePs('PID CMD\nx y\n', [1]), /Unexpected pid 'x'/);
    assert.throws(() => validatePsArgs('-o pid,ppid=PID'), /specifying "pid,ppid=PID" is not allowed/);
    assert.doesNotThrow(() => validatePsArgs('-o pid=PID'));
    assert.doesNotThrow(() => validatePsArgs('aux'));
    assert.equal(psPidsArg([1, 22, 333]), '-q1,22,333');
  });
});
