/**
 * The network start hook with fakes of the namespaces, the network service, the port
 * allocator and the firewall: what prepare sets up and in which order, what release
 * undoes (also from the state file alone, as after a daemon restart), and that a failure
 * half-way gives back everything done so far.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { conflict, kindOf } from '../../../engine/errdefs';
import { nullLogger } from '../../../engine/log';
import type { Firewall, NetnsManager, PortAllocator, PortMapping, Proto } from '../../../engine/network/types';
import { containerPaths } from '../files';
import type { ContainerRecord } from '../model';
import { linkEnv, NetworkHook, type JoinedEndpoint, type LinkedContainer, type NetworkHookDeps, type NetworkJoiner } from './network';
import type { StartContext } from './types';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stv-nethook-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const HOST_RESOLV = 'nameserver 10.0.0.53\nsearch corp\n';

function fakes(o: { busy?: number[]; failJoin?: string; v6?: boolean } = {}) {
  const log: string[] = [];
  const held = new Set<string>();
  const netns: NetnsManager = {
    create: async (n) => (log.push(`netns create ${n}`), `/run/netns/${n}`),
    remove: async (n) => void log.push(`netns remove ${n}`),
    list: async () => [],
    pathOf: (n) => `/run/netns/${n}`,
  };
  const subnets: Record<string, [string, string]> = { bridge: ['172.17.0', 'docker0'], app: ['10.9.0', 'br-app'], loop: ['127.0.0', 'br-loop'] };
  const joined = new Map<string, JoinedEndpoint[]>();
  const networks: NetworkJoiner = {
    resolve: (n) => ({ id: `${n}-id`, name: n }),
    async join(c, network, netnsPath, ifName, req, opts) {
      log.push(`join ${network} ${ifName} gw=${opts.gateway}${req.aliases ? ` aliases=${req.aliases.join(',')}` : ''}${req.macAddress ? ` mac=${req.macAddress}` : ''} in ${netnsPath}`);
      if (network === o.failJoin) throw conflict(`cannot join ${network}`);
      if (network === 'none' || network === 'host') {
        const ep: JoinedEndpoint = { networkId: `${network}-id`, networkName: network, endpointId: `ep-${network}`, bridge: '', mac: '', hostIfName: '', ifName: '', aliases: [], dnsNames: [], links: [], gateway: false };
        joined.set(c.id, [...(joined.get(c.id) ?? []), ep]);
        return ep;
      }
      const [net, bridge] = subnets[network] ?? ['10.99.0', 'br-x'];
      const ep: JoinedEndpoint = {
        networkId: `${network}-id`, networkName: network, endpointId: `ep-${network}`, bridge, ipv4: `${net}.2/16`, gateway4: `${net}.1`, mac: '02:42:00:00:00:02', hostIfName: 'vethabc', ifName,
        aliases: req.aliases ?? [], dnsNames: [c.name], gateway: opts.gateway, links: [],
      };
      joined.set(c.id, [...(joined.get(c.id) ?? []), ep]);
      return ep;
    },
    async leave(id, network) {
      log.push(`leave ${network}`);
      joined.set(id, (joined.get(id) ?? []).filter((e) => e.networkName !== network));
    },
    endpointsOf: (id) => joined.get(id) ?? [],
  };
  const ports: PortAllocator = {
    async reserve(proto: Proto, hostIp: string, port?: number) {
      const p = port ?? 32768 + held.size;
      const key = `${hostIp}:${p}/${proto}`;
      if (o.busy?.includes(p) || held.has(key)) throw conflict(`listen ${proto}4 ${hostIp}:${p}: bind: address already in use`);
      held.add(key);
      log.push(`reserve ${key}`);
      return { proto, hostIp, port: p, release: async () => void (held.delete(key), log.push(`free ${key}`)) };
    },
  };
  const show = (p: PortMapping) => `${p.hostIp}:${p.hostPort}->${p.containerIp}:${p.containerPort}/${p.proto} on ${p.bridge}`;
  const firewall: Firewall & Record<string, unknown> = {
    allowLink: async (l: { parentIp: string; childIp: string; ports: { port: number }[] }) => void log.push(`allow link ${l.parentIp} -> ${l.childIp}:${l.ports.map((p) => p.port).join(',')}`),
    removeLink: async (l: { parentIp: string; childIp: string }) => void log.push(`remove link ${l.parentIp} -> ${l.childIp}`),
    init: async () => {},
    setupNetwork: async () => {},
    teardownNetwork: async () => {},
    publish: async (p) => void log.push(`publish ${show(p)}`),
    unpublish: async (p) => void log.push(`unpublish ${show(p)}`),
  };
  const others = new Map<string, LinkedContainer>();
  const deps: NetworkHookDeps = {
    netns, networks, ports, firewall, log: nullLogger,
    settings: () => ({ hostGatewayIp: '172.17.0.1', dns: {}, v6: o.v6 ?? false }),
    lookup: (ref) => {
      const c = others.get(ref);
      if (!c) throw new Error(`No such container: ${ref}`);
      return c;
    },
    hostResolvConf: () => HOST_RESOLV,
    hostHosts: () => '127.0.0.1 localhost host-file\n',
  };
  return { deps, log, held, others, joined };
}

let n = 0;
function ctx(over: Partial<ContainerRecord> & { hc?: ContainerRecord['hostConfig'] } = {}): StartContext {
  const id = (++n).toString(16).padStart(2, '0').repeat(32);
  const paths = containerPaths(tmp, id);
  fs.mkdirSync(paths.dir, { recursive: true });
  const container = { id, name: `/c${n}`, config: { Hostname: id.slice(0, 12) }, hostConfig: over.hc ?? { NetworkMode: 'default' }, state: {}, ...over } as unknown as ContainerRecord;
  return { container, bundle: tmp, rootfs: tmp, paths };
}

describe('network hook', () => {
  it('bridge and a user network: namespace, joins in order, ports on the first endpoint, files; release undoes all', async () => {
    const f = fakes();
    const hook = new NetworkHook(f.deps);
    const c = ctx({
      hc: { NetworkMode: 'default', PortBindings: { '80/tcp': [{ HostIp: '', HostPort: '8080' }] }, PublishAllPorts: true, ExtraHosts: ['gw:host-gateway'] },
      config: { Hostname: 'web', ExposedPorts: { '80/tcp': {}, '53/udp': {} }, MacAddress: '02:42:ac:11:00:99' },
      networks: { app: { Aliases: ['api'] }, bridge: {} },
    });
    const prepared = await hook.prepare(c);
    const ns = c.container.id.slice(0, 12);
    assert.deepEqual(prepared, { netnsPath: `/run/netns/${ns}` });
    assert.deepEqual(f.log, [
      `netns create ${ns}`,
      `join bridge eth0 gw=true mac=02:42:ac:11:00:99 in /run/netns/${ns}`,
      `join app eth1 gw=false aliases=api in /run/netns/${ns}`,
      'reserve 0.0.0.0:32768/udp',
      'publish 0.0.0.0:32768->172.17.0.2:53/udp on docker0',
      'reserve 0.0.0.0:8080/tcp',
      'publish 0.0.0.0:8080->172.17.0.2:80/tcp on docker0',
    ]);
    assert.equal(fs.readFileSync(c.paths.hosts, 'utf8').split('\n').slice(6).join('\n'), '172.17.0.1\tgw\n172.17.0.2\tweb\n10.9.0.2\tweb\n');
    // on a user-defined network: the resolver on its gateway
    assert.equal(fs.readFileSync(c.paths.resolvConf, 'utf8'), 'search corp\nnameserver 10.9.0.1\noptions ndots:0\n');
    const rt = hook.runtimeOf(c.container.id)!;
    assert.deepEqual(rt.endpoints.map((e) => e.networkName), ['bridge', 'app']);
    assert.deepEqual(rt.ports.map((p) => `${p.key} ${p.hostIp}:${p.hostPort}`), ['53/udp 0.0.0.0:32768', '80/tcp 0.0.0.0:8080']);

    f.log.length = 0;
    await hook.release(c, 'exit');
    assert.deepEqual(f.log, [
      'free 0.0.0.0:32768/udp',
      'free 0.0.0.0:8080/tcp',
      'unpublish 0.0.0.0:32768->172.17.0.2:53/udp on docker0',
      'unpublish 0.0.0.0:8080->172.17.0.2:80/tcp on docker0',
      'leave bridge',
      'leave app',
      `netns remove ${ns}`,
    ]);
    // only the sandbox's name and key and the networks' IDs stay (Docker's inspect keeps them after an exit)
    assert.deepEqual(hook.runtimeOf(c.container.id), { sandboxId: rt.sandboxId, sandboxKey: `/run/netns/${ns}`, endpoints: [], ports: [], networkIds: { bridge: 'bridge-id', app: 'app-id' } });
    assert.equal(f.held.size, 0);
    f.log.length = 0;
    await hook.release(c, 'remove'); // idempotent: nothing left to undo
    assert.deepEqual(f.log, []);
  });

  it('release: records now, veths and the namespace in the background; a new start of the container and drain wait for them', async () => {
    const f = fakes();
    const gates: Array<() => void> = [];
    const gated = (what: string) =>
      new Promise<void>((r) =>
        gates.push(() => {
          f.log.push(what);
          r();
        }),
      );
    f.deps.networks!.leaveDeferred = async (id, network) => {
      await f.deps.networks!.leave(id, network);
      return { teardown: gated(`veth gone ${network}`) };
    };
    f.deps.netns.remove = (name) => gated(`netns gone ${name}`);
    const hook = new NetworkHook(f.deps);
    const c = ctx({ networks: { bridge: {} } });
    const ns = c.container.id.slice(0, 12);
    await hook.prepare(c);
    f.log.length = 0;
    await hook.release(c, 'exit');
    assert.deepEqual(f.log, ['leave bridge'], 'the endpoint is left before the release returns; the kernel objects are not');
    assert.deepEqual(hook.runtimeOf(c.container.id)!.endpoints, []);
    let restarted = false;
    const again = hook.prepare(c).then(() => (restarted = true));
    let drained = false;
    const drain = hook.drain().then(() => (drained = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(restarted, false, 'a new start waits for the last teardown (the namespace has the same name)');
    assert.equal(drained, false);
    for (const g of gates.splice(0)) g();
    await again;
    assert.deepEqual(f.log.slice(0, 4), ['leave bridge', 'veth gone bridge', `netns gone ${ns}`, `netns create ${ns}`]);
    await hook.release(c, 'exit');
    for (const g of gates.splice(0)) g();
    await drain;
    assert.equal(drained, true);
  });

  it('reconcile removes the namespaces no running container owns (what a crash left)', async () => {
    const f = fakes();
    const removed: string[] = [];
    f.deps.netns.list = async () => ['aaaaaaaaaaaa', 'bbbbbbbbbbbb', 'default', 'not-ours'];
    f.deps.netns.remove = async (name) => void removed.push(name);
    const hook = new NetworkHook(f.deps);
    await hook.reconcile(new Set(['a'.repeat(64)]));
    assert.deepEqual(removed, ['bbbbbbbbbbbb']);
  });

  it('a port in use fails the start with Docker\'s words, and what was done is undone', async () => {
    const f = fakes({ busy: [8081] });
    const hook = new NetworkHook(f.deps);
    const c = ctx({ hc: { NetworkMode: 'default', PortBindings: { '80/tcp': [{ HostPort: '8080' }], '81/tcp': [{ HostPort: '8081' }] } }, config: { ExposedPorts: { '80/tcp': {}, '81/tcp': {} } } });
    await assert.rejects(hook.prepare(c), (e: unknown) => {
      assert.equal(kindOf(e), 'internal'); // libnetwork's InternalErrorf: Docker answers 500
      assert.match((e as Error).message, /^driver failed programming external connectivity on endpoint c\d+ \(ep-bridge\): listen tcp4 0.0.0.0:8081: bind: address already in use$/);
      return true;
    });
    const ns = c.container.id.slice(0, 12);
    assert.deepEqual(f.log.slice(-4), ['free 0.0.0.0:8080/tcp', 'unpublish 0.0.0.0:8080->172.17.0.2:80/tcp on docker0', 'leave bridge', `netns remove ${ns}`]);
    assert.equal(f.held.size, 0);
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(c.paths.dir, 'network.json'), 'utf8')).endpoints, []);
  });

  it('a port on every address is also bound on [::] (Docker 20.10 with its userland proxy): TCP carried to the IPv4 address', async () => {
    const f = fakes({ v6: true });
    const hook = new NetworkHook(f.deps);
    // the "container": a server on 127.0.0.2 (the fake network `loop` gives that address)
    const server = net.createServer((s) => s.end('from the container'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.2', r));
    const cport = (server.address() as net.AddressInfo).port;
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen({ port: 0, host: '::1', ipv6Only: true }, r));
    const hport = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const c = ctx({ hc: { NetworkMode: 'loop', PortBindings: { [`${cport}/tcp`]: [{ HostPort: String(hport) }] } }, config: { ExposedPorts: { [`${cport}/tcp`]: {} } }, networks: { loop: {} } });
    try {
      await hook.prepare(c);
      const rt = hook.runtimeOf(c.container.id)!;
      assert.deepEqual(rt.ports.map((p) => [p.hostIp, p.hostPort, p.via ?? 'dnat']), [['0.0.0.0', hport, 'dnat'], ['::', hport, 'proxy']]);
      assert.ok(!f.log.some((l) => l.startsWith('publish ::')), 'no IPv6 DNAT to an IPv4 address');
      const got = await new Promise<string>((resolve, reject) => {
        const s = net.connect({ host: '::1', port: hport });
        let buf = '';
        s.on('data', (d) => (buf += d)).on('end', () => resolve(buf)).on('error', reject);
      });
      assert.equal(got, 'from the container');
    } finally {
      await hook.release(c, 'exit');
      server.close();
    }
    // released: the port is free again
    const again = net.createServer();
    await new Promise<void>((r, j) => again.once('error', j).listen({ port: hport, host: '::', ipv6Only: true }, r));
    again.close();
  });

  it('a failing join releases the namespace and the endpoints joined before it', async () => {
    const f = fakes({ failJoin: 'app' });
    const c = ctx({ networks: { bridge: {}, app: {} } });
    await assert.rejects(new NetworkHook(f.deps).prepare(c), /cannot join app/);
    assert.deepEqual(f.log.slice(-2), ['leave bridge', `netns remove ${c.container.id.slice(0, 12)}`]);
  });

  it('releases from the state file alone (after a daemon restart), and adopt reserves the ports again', async () => {
    const f = fakes();
    const c = ctx({ hc: { NetworkMode: 'default', PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '8080' }] } }, config: { ExposedPorts: { '80/tcp': {} } } });
    await new NetworkHook(f.deps).prepare(c);
    f.held.clear(); // the old daemon's sockets died with it
    const after = new NetworkHook(f.deps);
    f.log.length = 0;
    await after.adopt(c);
    assert.deepEqual(f.log, ['reserve 127.0.0.1:8080/tcp', 'publish 127.0.0.1:8080->172.17.0.2:80/tcp on docker0']);
    const again = new NetworkHook(f.deps);
    f.log.length = 0;
    await again.release(c, 'exit');
    assert.deepEqual(f.log, ['unpublish 127.0.0.1:8080->172.17.0.2:80/tcp on docker0', 'leave bridge', `netns remove ${c.container.id.slice(0, 12)}`]);
  });

  it('an exit that a removal follows keeps network.json as the start wrote it; a release from that file after a crash releases again, harmlessly', async () => {
    const f = fakes();
    const hook = new NetworkHook(f.deps);
    const c = ctx({ hc: { NetworkMode: 'default', AutoRemove: true } });
    await hook.prepare(c);
    const file = path.join(c.paths.dir, 'network.json');
    const written = fs.readFileSync(file, 'utf8');
    f.log.length = 0;
    await hook.release({ ...c, removalFollows: true }, 'exit');
    assert.deepEqual(f.log, ['leave bridge', `netns remove ${c.container.id.slice(0, 12)}`]);
    assert.equal(fs.readFileSync(file, 'utf8'), written, 'not rewritten');
    assert.deepEqual(hook.runtimeOf(c.container.id)!.endpoints, [], 'released in memory');
    f.log.length = 0;
    await hook.release(c, 'remove');
    assert.deepEqual(f.log, [], 'the removal that follows releases nothing again');
    // a daemon killed before the removal: the next one releases from the file again
    f.log.length = 0;
    await new NetworkHook(f.deps).release(c, 'exit');
    assert.deepEqual(f.log, ['leave bridge', `netns remove ${c.container.id.slice(0, 12)}`]);
    // any other exit rewrites it: an AutoRemove container stopped by `docker restart` starts again
    const kept = ctx({ hc: { NetworkMode: 'default', AutoRemove: true } });
    await hook.prepare(kept);
    await hook.release(kept, 'exit');
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(kept.paths.dir, 'network.json'), 'utf8')).endpoints, []);
  });

  it('none, a disabled bridge, host, container:<x>', async () => {
    const f = fakes();
    const hook = new NetworkHook(f.deps);
    const none = ctx({ hc: { NetworkMode: 'none' } });
    assert.deepEqual(await hook.prepare(none), { netnsPath: `/run/netns/${none.container.id.slice(0, 12)}` });
    assert.deepEqual(f.log.slice(-1), [`join none eth0 gw=true in /run/netns/${none.container.id.slice(0, 12)}`]);
    assert.equal(fs.readFileSync(none.paths.resolvConf, 'utf8'), 'nameserver 10.0.0.53\nsearch corp\n');
    assert.deepEqual(hook.runtimeOf(none.container.id)!.endpoints.map((p) => [p.networkName, p.networkId]), [['none', 'none-id']]);

    const disabled = new NetworkHook({ ...f.deps, networks: { ...f.deps.networks!, resolve: (n) => { if (n === 'bridge') throw new Error('network bridge not found'); return { id: n, name: n }; } } });
    f.log.length = 0;
    const d = ctx();
    await disabled.prepare(d);
    assert.deepEqual(f.log, [`netns create ${d.container.id.slice(0, 12)}`]);

    const host = ctx({ hc: { NetworkMode: 'host' } });
    f.log.length = 0;
    assert.deepEqual(await hook.prepare(host), {});
    assert.deepEqual(f.log, ['join host eth0 gw=true in ']);
    assert.equal(fs.readFileSync(host.paths.hosts, 'utf8'), '127.0.0.1 localhost host-file\n');
    assert.equal(fs.readFileSync(host.paths.resolvConf, 'utf8'), HOST_RESOLV);

    const web = ctx();
    await hook.prepare(web);
    f.others.set('web', { id: web.container.id, name: '/web', running: false, hostname: 'web', env: [], exposedPorts: [], networkMode: 'default' });
    const joiner = ctx({ hc: { NetworkMode: 'container:web' } });
    await assert.rejects(hook.prepare(joiner), (e: unknown) => kindOf(e) === 'conflict' && (e as Error).message === `cannot join network of a non running container: ${web.container.id}`);
    f.others.get('web')!.running = true;
    assert.deepEqual(await hook.prepare(joiner), { netnsPath: `/run/netns/${web.container.id.slice(0, 12)}` });
    assert.equal(fs.readFileSync(joiner.paths.hosts, 'utf8'), fs.readFileSync(web.paths.hosts, 'utf8'));
    f.log.length = 0;
    await hook.release(joiner, 'exit'); // not its namespace: nothing removed
    assert.deepEqual(f.log, []);
  });

  it('links on the default bridge: hosts records and env vars', async () => {
    const f = fakes();
    const hook = new NetworkHook(f.deps);
    const child = ctx();
    await hook.prepare(child);
    f.others.set('web2', { id: child.container.id, name: '/web2', running: true, hostname: 'webhost', env: ['FOO=bar', 'PATH=/bin'], exposedPorts: ['90/tcp'], networkMode: 'default' });
    const c = ctx({ hc: { NetworkMode: 'default', Links: ['/web2:/me/w'] }, name: '/me' });
    const p = await hook.prepare(c);
    assert.deepEqual(p.env, linkEnv('w', '/me/w', '172.17.0.2', { env: ['FOO=bar', 'PATH=/bin'], exposedPorts: ['90/tcp'] }));
    assert.match(fs.readFileSync(c.paths.hosts, 'utf8'), /\n172\.17\.0\.2\tw webhost web2\n/);
    assert.ok(f.log.includes('allow link 172.17.0.2 -> 172.17.0.2:90'), f.log.join('\n'));
    await hook.release(c, 'exit');
    assert.ok(f.log.includes('remove link 172.17.0.2 -> 172.17.0.2'));
  });

  it('link env vars as Docker 20.10 sets them (recorded from the reference daemon)', () => {
    const env = linkEnv('web1', '/crazy_galois/web1', '10.213.77.2', { env: [], exposedPorts: ['80/tcp', '81/udp', '82/tcp'] });
    assert.deepEqual([...env].sort(), [
      'WEB1_NAME=/crazy_galois/web1',
      'WEB1_PORT=tcp://10.213.77.2:80',
      'WEB1_PORT_80_TCP=tcp://10.213.77.2:80',
      'WEB1_PORT_80_TCP_ADDR=10.213.77.2',
      'WEB1_PORT_80_TCP_END=tcp://10.213.77.2:82',
      'WEB1_PORT_80_TCP_PORT=80',
      'WEB1_PORT_80_TCP_PORT_END=82',
      'WEB1_PORT_80_TCP_PORT_START=80',
      'WEB1_PORT_80_TCP_PROTO=tcp',
      'WEB1_PORT_80_TCP_START=tcp://10.213.77.2:80',
      'WEB1_PORT_81_UDP=udp://10.213.77.2:81',
      'WEB1_PORT_81_UDP_ADDR=10.213.77.2',
      'WEB1_PORT_81_UDP_PORT=81',
      'WEB1_PORT_81_UDP_PROTO=udp',
      'WEB1_PORT_82_TCP=tcp://10.213.77.2:82',
      'WEB1_PORT_82_TCP_ADDR=10.213.77.2',
      'WEB1_PORT_82_TCP_PORT=82',
      'WEB1_PORT_82_TCP_PROTO=tcp',
    ]);
    assert.deepEqual(linkEnv('w', '/crazy_galois/w', '10.213.77.3', { env: ['FOO=bar'], exposedPorts: ['90/tcp'] }), [
      'W_PORT=tcp://10.213.77.3:90',
      'W_PORT_90_TCP=tcp://10.213.77.3:90',
      'W_PORT_90_TCP_ADDR=10.213.77.3',
      'W_PORT_90_TCP_PORT=90',
      'W_PORT_90_TCP_PROTO=tcp',
      'W_NAME=/crazy_galois/w',
      'W_ENV_FOO=bar',
    ]);
  });
});
