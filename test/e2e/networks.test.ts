/**
 * User-defined networks end to end with the docker CLI and the raw API: containers on
 * `docker network create app` reach each other by name, alias and short ID; connect and
 * disconnect on a running container (interfaces and names follow); an IPv6 network;
 * `network inspect` in Docker's shape, `ls` with filters, `rm` of a network in use,
 * `prune`, errors in Docker's words. One engine with a bridge of the test's own
 * (test/helpers/network.ts); passes against Docker 20.10 (STEVEDORE_TEST_TARGET=docker).
 */
import { after, afterEach, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { type Target, startTarget } from '../helpers/target';
import { importBusybox } from '../helpers/busybox';
import { assertNoContainerLeftovers, removeAllContainers } from '../helpers/containers';
import { freeSubnet24, httpd, ifNames, linkExists, randomUla64, retrying } from '../helpers/network';

describe('user-defined networks', () => {
  let t: Target;
  const ok = async (args: string[]) => {
    const r = await t.docker(args);
    assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}\n${t.kind === 'stevedore' ? t.logs().slice(-3000) : ''}`);
    return r.stdout;
  };
  const fails = async (args: string[], re: RegExp) => {
    const r = await t.docker(args);
    assert.notEqual(r.code, 0, `docker ${args.join(' ')} should fail: ${r.stdout}`);
    assert.match(r.stderr, re);
    return r;
  };
  const api = async (method: string, p: string, body?: unknown) => {
    const r = await t.request(method, p, body === undefined ? {} : { body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } });
    return { status: r.status, json: r.body ? (JSON.parse(r.body) as any) : undefined };
  };
  /** `docker network create` on a subnet of its own (parallel test engines never collide). */
  const create = async (name: string, ...args: string[]) => (await ok(['network', 'create', '--subnet', freeSubnet24(), ...args, name])).trim();
  const rmNetworks = async () => {
    const ids = (await ok(['network', 'ls', '-q', '--filter', 'type=custom'])).split('\n').filter(Boolean);
    for (const id of ids) await t.docker(['network', 'rm', id]);
  };

  before(async () => {
    t = await startTarget({ network: true });
    await importBusybox(t);
  });
  // each test starts from no container and no custom network, whatever the last one left
  afterEach(async () => {
    await removeAllContainers(t);
    await rmNetworks();
  });
  after(async () => {
    await assertNoContainerLeftovers(t);
    await t.stop();
  });

  it('two containers on one network reach each other by name, by alias and by short ID', async () => {
    await create('app');
    const id = (await ok(['run', '-d', '--name', 'web', '--network', 'app', '--network-alias', 'webalias', 'busybox', ...httpd('hello-web')])).trim();
    for (const host of ['web', 'webalias', id.slice(0, 12)]) {
      const out = await ok(['run', '--rm', '--network', 'app', 'busybox', ...retrying(`timeout 3 wget -qO- http://${host}:8080/`)]);
      assert.equal(out.trim(), 'hello-web', `by ${host}`);
    }
    // the name answers with the address on that network, as inspect reports it
    const ip = (await ok(['inspect', '-f', '{{.NetworkSettings.Networks.app.IPAddress}}', 'web'])).trim();
    const ns = await ok(['run', '--rm', '--network', 'app', 'busybox', 'nslookup', 'web']);
    assert.match(ns, new RegExp(`Address:\\s+${ip.replace(/\./g, '\\.')}\\s*$`, 'm'));
    // a name on another network does not resolve here
    await create('other');
    const r = await t.docker(['run', '--rm', '--network', 'other', 'busybox', 'nslookup', 'web']);
    assert.notEqual(r.code, 0, `web must not resolve on another network: ${r.stdout}`);
    await ok(['rm', '-f', 'web']);
    await ok(['network', 'rm', 'app', 'other']);
  });

  it('the container sees its interface, address, MAC and default route as inspect reports them', async () => {
    await create('addr');
    await ok(['run', '-d', '--name', 'a1', '--network', 'addr', 'busybox', 'sleep', '1000']);
    const ep = JSON.parse(await ok(['inspect', '-f', '{{json .NetworkSettings.Networks.addr}}', 'a1']));
    assert.match(ep.IPAddress, /^10\.\d+\.\d+\.2$/);
    assert.equal(ep.IPPrefixLen, 24);
    assert.equal(ep.Gateway, ep.IPAddress.replace(/\.2$/, '.1'));
    // Docker's MAC: 02:42 and the four bytes of the IPv4 address
    const mac = '02:42:' + ep.IPAddress.split('.').map((b: string) => Number(b).toString(16).padStart(2, '0')).join(':');
    assert.equal(ep.MacAddress, mac);
    assert.match(ep.EndpointID, /^[0-9a-f]{64}$/);
    const inside = await ok(['exec', 'a1', 'sh', '-c', 'ip -o link; echo ---; ip -o -4 addr show eth0; echo ---; ip route']);
    const [linksOut, addrOut, routeOut] = inside.split('---\n');
    assert.deepEqual(ifNames(linksOut!).sort(), ['eth0', 'lo']);
    assert.ok(linksOut!.includes(`link/ether ${mac}`), linksOut);
    assert.ok(addrOut!.includes(`inet ${ep.IPAddress}/24`), addrOut);
    assert.match(routeOut!, new RegExp(`^default via ${ep.Gateway.replace(/\./g, '\\.')} dev eth0`, 'm'));
    // the next container gets the next address (IPAM allocates sequentially)
    await ok(['run', '-d', '--name', 'a2', '--network', 'addr', 'busybox', 'sleep', '1000']);
    assert.equal((await ok(['inspect', '-f', '{{.NetworkSettings.Networks.addr.IPAddress}}', 'a2'])).trim(), ep.IPAddress.replace(/\.2$/, '.3'));
    // a static address (--ip) is honoured
    const stat = ep.IPAddress.replace(/\.2$/, '.77');
    await ok(['run', '-d', '--name', 'a3', '--network', 'addr', '--ip', stat, 'busybox', 'sleep', '1000']);
    assert.equal((await ok(['exec', 'a3', 'ip', '-o', '-4', 'addr', 'show', 'eth0'])).includes(`inet ${stat}/24`), true);
    await ok(['rm', '-f', 'a1', 'a2', 'a3']);
    await ok(['network', 'rm', 'addr']);
  });

  it('connect and disconnect a running container: interfaces and names follow', async () => {
    await create('front');
    await create('back');
    await ok(['run', '-d', '--name', 'srv', '--network', 'front', 'busybox', ...httpd('srv-page')]);
    await ok(['run', '-d', '--name', 'cli', '--network', 'back', 'busybox', 'sleep', '1000']);
    assert.deepEqual(ifNames(await ok(['exec', 'srv', 'ip', '-o', 'link'])).sort(), ['eth0', 'lo']);
    // srv is not on back: cli cannot resolve it
    assert.notEqual((await t.docker(['exec', 'cli', 'nslookup', 'srv'])).code, 0);

    await ok(['network', 'connect', '--alias', 'api', 'back', 'srv']);
    assert.deepEqual(ifNames(await ok(['exec', 'srv', 'ip', '-o', 'link'])).sort(), ['eth0', 'eth1', 'lo']);
    const backIp = (await ok(['inspect', '-f', '{{.NetworkSettings.Networks.back.IPAddress}}', 'srv'])).trim();
    assert.ok((await ok(['exec', 'srv', 'ip', '-o', '-4', 'addr', 'show', 'eth1'])).includes(`inet ${backIp}/`));
    for (const host of ['srv', 'api']) {
      assert.equal((await ok(['exec', 'cli', ...retrying(`timeout 3 wget -qO- http://${host}:8080/`)])).trim(), 'srv-page', `by ${host} after connect`);
    }
    const inspected = (await api('GET', '/networks/back')).json;
    assert.ok(Object.values(inspected.Containers as Record<string, { Name: string }>).some((c) => c.Name === 'srv'), 'srv listed in back');

    await ok(['network', 'disconnect', 'back', 'srv']);
    assert.deepEqual(ifNames(await ok(['exec', 'srv', 'ip', '-o', 'link'])).sort(), ['eth0', 'lo']);
    assert.notEqual((await t.docker(['exec', 'cli', 'nslookup', 'api'])).code, 0, 'api must stop resolving after disconnect');
    assert.equal(JSON.parse(await ok(['inspect', '-f', '{{json .NetworkSettings.Networks}}', 'srv'])).back, undefined);
    // still served on front
    assert.equal((await ok(['run', '--rm', '--network', 'front', 'busybox', ...retrying('timeout 3 wget -qO- http://srv:8080/')])).trim(), 'srv-page');
    // disconnecting again: Docker's error
    await fails(['network', 'disconnect', 'back', 'srv'], /is not connected to (the )?network back/);
    await ok(['rm', '-f', 'srv', 'cli']);
    await ok(['network', 'rm', 'front', 'back']);
  });

  it('connect of a created container takes effect at its start; a static address through the API', async () => {
    await create('later');
    const sub = JSON.parse(await ok(['network', 'inspect', '-f', '{{json .IPAM.Config}}', 'later']))[0].Subnet as string;
    const want = sub.replace(/\.0\/24$/, '.50');
    await ok(['create', '--name', 'late', 'busybox', 'sleep', '1000']);
    const c = await api('POST', '/networks/later/connect', { Container: 'late', EndpointConfig: { IPAMConfig: { IPv4Address: want }, Aliases: ['lately'] } });
    assert.equal(c.status, 200, JSON.stringify(c.json));
    await ok(['start', 'late']);
    assert.equal((await ok(['inspect', '-f', '{{.NetworkSettings.Networks.later.IPAddress}}', 'late'])).trim(), want);
    const out = await ok(['run', '--rm', '--network', 'later', 'busybox', ...retrying('nslookup lately')]);
    assert.ok(out.includes(want), out);
    await ok(['rm', '-f', 'late']);
    await ok(['network', 'rm', 'later']);
  });

  it('a stopped container leaves its networks and joins them again at start, with its aliases', async () => {
    await create('cycle');
    await ok(['run', '-d', '--name', 'cyc', '--network', 'cycle', '--network-alias', 'cycalias', 'busybox', ...httpd('cycled')]);
    const members = async () => Object.values((await api('GET', '/networks/cycle')).json.Containers as Record<string, { Name: string }>).map((c) => c.Name);
    assert.deepEqual(await members(), ['cyc']);
    await ok(['stop', '-t', '1', 'cyc']);
    // Docker releases the endpoint (and its address) at stop; the wish stays in the container's config
    assert.deepEqual(await members(), []);
    const stopped = JSON.parse(await ok(['inspect', '-f', '{{json .NetworkSettings.Networks.cycle}}', 'cyc']));
    assert.equal(stopped.IPAddress, '');
    assert.equal(stopped.EndpointID, '');
    assert.ok(stopped.Aliases.includes('cycalias'), JSON.stringify(stopped.Aliases));
    await ok(['start', 'cyc']);
    assert.deepEqual(await members(), ['cyc']);
    assert.equal((await ok(['run', '--rm', '--network', 'cycle', 'busybox', ...retrying('timeout 3 wget -qO- http://cycalias:8080/')])).trim(), 'cycled');
  });

  const multiBody = () => ({ Image: 'busybox', Cmd: ['sleep', '1000'], HostConfig: { NetworkMode: 'm1' }, NetworkingConfig: { EndpointsConfig: { m1: { Aliases: ['one'] }, m2: { Aliases: ['two'] } } } });

  it('create with several networks in EndpointsConfig: refused at API 1.41 in Docker\'s words', async () => {
    await create('m1');
    await create('m2');
    const r41 = await api('POST', '/v1.41/containers/create?name=multi41', multiBody());
    assert.equal(r41.status, 400);
    // Docker lists them in Go's map order (random from run to run); stevedore sorts them
    assert.match(r41.json.message, /^Container cannot be connected to network endpoints: (m1, m2|m2, m1)$/);
  });

  // Docker 20.10 speaks API 1.41 at most: it answers "client version 1.44 is too new" (stevedore serves up to 1.52, issue #16).
  it('create with several networks in EndpointsConfig: joined at API 1.44 (compose v2)', async () => {
    if (t.kind === 'docker') {
      const r = await api('POST', '/v1.44/containers/create?name=multi44', multiBody());
      assert.equal(r.status, 400);
      assert.match(JSON.stringify(r.json), /client version 1\.44 is too new/);
      return;
    }
    await create('m1');
    await create('m2');
    const r44 = await api('POST', '/v1.44/containers/create?name=multi44', multiBody());
    assert.equal(r44.status, 201, JSON.stringify(r44.json));
    await ok(['start', 'multi44']);
    assert.deepEqual(ifNames(await ok(['exec', 'multi44', 'ip', '-o', 'link'])).sort(), ['eth0', 'eth1', 'lo']);
    for (const [net, alias] of [['m1', 'one'], ['m2', 'two']]) {
      const out = await ok(['run', '--rm', '--network', net!, 'busybox', ...retrying(`ping -c 1 -W 1 ${alias}`)]);
      assert.match(out, /1 packets received/, `${alias} on ${net}`);
    }
  });

  it('an IPv6 network gives containers working IPv6 addresses', async () => {
    const sub6 = randomUla64();
    await create('v6', '--ipv6', '--subnet', sub6);
    await ok(['run', '-d', '--name', 'six', '--network', 'v6', 'busybox', 'sleep', '1000']);
    const ep = JSON.parse(await ok(['inspect', '-f', '{{json .NetworkSettings.Networks.v6}}', 'six']));
    const prefix = sub6.replace('::/64', '::');
    assert.equal(ep.GlobalIPv6Address, `${prefix}2`);
    assert.equal(ep.GlobalIPv6PrefixLen, 64);
    assert.equal(ep.IPv6Gateway, `${prefix}1`);
    assert.ok((await ok(['exec', 'six', 'ip', '-o', '-6', 'addr', 'show', 'eth0'])).includes(`inet6 ${prefix}2/64`));
    const out = await ok(['run', '--rm', '--network', 'v6', 'busybox', ...retrying(`ping6 -c 1 -W 2 ${prefix}2`)]);
    assert.match(out, /1 packets received/);
    // by name, over IPv6 (the resolver's AAAA answer)
    assert.match(await ok(['run', '--rm', '--network', 'v6', 'busybox', ...retrying('ping -6 -c 1 -W 2 six')]), new RegExp(`from ${prefix}2`));
    const n = (await api('GET', '/networks/v6')).json;
    assert.equal(n.EnableIPv6, true);
    assert.deepEqual(n.IPAM.Config.map((c: { Subnet: string }) => c.Subnet).filter((s: string) => s.includes(':')), [sub6]);
    const me = Object.values(n.Containers as Record<string, { Name: string; IPv6Address: string }>).find((c) => c.Name === 'six')!;
    assert.equal(me.IPv6Address, `${prefix}2/64`);
    await ok(['rm', '-f', 'six']);
    await ok(['network', 'rm', 'v6']);
  });

  it('network inspect: Docker 20.10 shape (API 1.41), with containers, IPAM, options and labels', async () => {
    const subnet = freeSubnet24();
    const gw = subnet.replace(/\.0\/24$/, '.254');
    const range = subnet.replace(/\.0\/24$/, '.128/25');
    const cr = await api('POST', '/v1.41/networks/create', {
      Name: 'shaped',
      CheckDuplicate: true,
      Driver: 'bridge',
      Internal: false,
      Attachable: true,
      IPAM: { Driver: 'default', Config: [{ Subnet: subnet, Gateway: gw, IPRange: range }] },
      Options: { 'com.docker.network.bridge.enable_icc': 'true' },
      Labels: { team: 'net', 'com.example.x': 'y' },
    });
    assert.equal(cr.status, 201, JSON.stringify(cr.json));
    assert.match(cr.json.Id, /^[0-9a-f]{64}$/);
    assert.equal(cr.json.Warning, '');
    const cid = (await ok(['run', '-d', '--name', 'member', '--network', 'shaped', 'busybox', 'sleep', '1000'])).trim();

    const r = await api('GET', '/v1.41/networks/shaped');
    assert.equal(r.status, 200);
    const n = r.json;
    assert.deepEqual(Object.keys(n).sort(), ['Attachable', 'ConfigFrom', 'ConfigOnly', 'Containers', 'Created', 'Driver', 'EnableIPv6', 'IPAM', 'Id', 'Ingress', 'Internal', 'Labels', 'Name', 'Options', 'Scope']);
    assert.equal(n.Name, 'shaped');
    assert.equal(n.Id, cr.json.Id);
    assert.match(n.Created, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/);
    assert.equal(n.Scope, 'local');
    assert.equal(n.Driver, 'bridge');
    assert.equal(n.EnableIPv6, false);
    assert.equal(n.Internal, false);
    assert.equal(n.Attachable, true);
    assert.equal(n.Ingress, false);
    assert.deepEqual(n.ConfigFrom, { Network: '' });
    assert.equal(n.ConfigOnly, false);
    // (IPAM.Options: null when the request had none; the CLI sends {})
    assert.deepEqual(n.IPAM, { Driver: 'default', Options: null, Config: [{ Subnet: subnet, IPRange: range, Gateway: gw }] });
    assert.deepEqual(n.Options, { 'com.docker.network.bridge.enable_icc': 'true' });
    assert.deepEqual(n.Labels, { team: 'net', 'com.example.x': 'y' });
    assert.deepEqual(Object.keys(n.Containers), [cid]);
    const c = n.Containers[cid];
    assert.deepEqual(Object.keys(c).sort(), ['EndpointID', 'IPv4Address', 'IPv6Address', 'MacAddress', 'Name']);
    assert.equal(c.Name, 'member');
    assert.match(c.EndpointID, /^[0-9a-f]{64}$/);
    // the first address of the IP range
    const first = subnet.replace(/\.0\/24$/, '.128');
    assert.equal(c.IPv4Address, `${first}/24`);
    assert.equal(c.IPv6Address, '');
    assert.equal(c.MacAddress, '02:42:' + first.split('.').map((b) => Number(b).toString(16).padStart(2, '0')).join(':'));
    // the endpoint in the container's inspect agrees
    const ep = JSON.parse(await ok(['inspect', '-f', '{{json .NetworkSettings.Networks.shaped}}', 'member']));
    assert.equal(ep.NetworkID, n.Id);
    assert.equal(ep.EndpointID, c.EndpointID);
    assert.equal(ep.Gateway, gw);
    // the container's side at API 1.41: NetworkSettings and its endpoint, key by key
    const ns = (await api('GET', `/v1.41/containers/${cid}/json`)).json.NetworkSettings;
    assert.deepEqual(Object.keys(ns).sort(), ['Bridge', 'EndpointID', 'Gateway', 'GlobalIPv6Address', 'GlobalIPv6PrefixLen', 'HairpinMode', 'IPAddress', 'IPPrefixLen', 'IPv6Gateway', 'LinkLocalIPv6Address', 'LinkLocalIPv6PrefixLen', 'MacAddress', 'Networks', 'Ports', 'SandboxID', 'SandboxKey', 'SecondaryIPAddresses', 'SecondaryIPv6Addresses']);
    // not on the default bridge: the top-level (deprecated) address fields are empty
    assert.deepEqual([ns.IPAddress, ns.Gateway, ns.MacAddress, ns.EndpointID, ns.IPPrefixLen], ['', '', '', '', 0]);
    assert.match(ns.SandboxID, /^[0-9a-f]{64}$/);
    assert.deepEqual(ns.Ports, {});
    assert.deepEqual(Object.keys(ns.Networks), ['shaped']);
    const nep = ns.Networks.shaped;
    assert.deepEqual(Object.keys(nep).sort(), ['Aliases', 'DriverOpts', 'EndpointID', 'Gateway', 'GlobalIPv6Address', 'GlobalIPv6PrefixLen', 'IPAMConfig', 'IPAddress', 'IPPrefixLen', 'IPv6Gateway', 'Links', 'MacAddress', 'NetworkID']);
    assert.deepEqual([nep.IPAMConfig, nep.Links, nep.DriverOpts], [null, null, null]);
    assert.deepEqual(nep.Aliases, [cid.slice(0, 12)]);
    assert.deepEqual([nep.IPAddress, nep.IPPrefixLen, nep.MacAddress], [first, 24, c.MacAddress]);
    // the bridge is br-<12 hex of the id> and carries the gateway
    assert.ok(linkExists(`br-${n.Id.slice(0, 12)}`), 'bridge br-<id> exists');

    // the predefined networks: bridge (ours: the test's bridge), host, none
    const b = (await api('GET', '/v1.41/networks/bridge')).json;
    assert.equal(b.Driver, 'bridge');
    assert.equal(b.Options['com.docker.network.bridge.name'], t.network!.bridge.name);
    assert.equal(b.Options['com.docker.network.bridge.default_bridge'], 'true');
    assert.deepEqual(b.IPAM.Config, [{ Subnet: t.network!.bridge.subnet, Gateway: t.network!.bridge.address }]);
    assert.equal((await api('GET', '/v1.41/networks/host')).json.Driver, 'host');
    assert.equal((await api('GET', '/v1.41/networks/none')).json.Driver, 'null');
    // by ID prefix too
    assert.equal((await api('GET', `/networks/${n.Id.slice(0, 5)}`)).json.Name, 'shaped');
    await ok(['rm', '-f', 'member']);
    await ok(['network', 'rm', 'shaped']);
    assert.equal(linkExists(`br-${n.Id.slice(0, 12)}`), false, 'the bridge goes with its network');
  });

  it('network ls with filters; rm of a network in use; prune; errors in Docker\'s words', async () => {
    const a = await create('lsa', '--label', 'tier=web');
    const b = await create('lsb', '--label', 'tier=db', '--internal');
    await ok(['run', '-d', '--name', 'user', '--network', 'lsa', 'busybox', 'sleep', '1000']);
    const names = async (...f: string[]) => (await ok(['network', 'ls', '--format', '{{.Name}}', ...f.flatMap((x) => ['--filter', x])])).split('\n').filter(Boolean).sort();
    assert.deepEqual(await names(), ['bridge', 'host', 'lsa', 'lsb', 'none']);
    assert.deepEqual(await names('name=ls'), ['lsa', 'lsb']);
    assert.deepEqual(await names('label=tier=db'), ['lsb']);
    assert.deepEqual(await names('label=tier'), ['lsa', 'lsb']);
    assert.deepEqual(await names('type=custom'), ['lsa', 'lsb']);
    assert.deepEqual(await names('type=builtin'), ['bridge', 'host', 'none']);
    assert.deepEqual(await names('driver=null'), ['none']);
    assert.deepEqual(await names(`id=${a.slice(0, 10)}`), ['lsa']);
    // dangling: the API's documented meaning is "not in use by a container"; Docker 20.10
    // filters its list built without containers (GET /networks carries `Containers: {}`),
    // so it calls every custom network dangling — stevedore follows the documentation.
    assert.deepEqual(await names('dangling=true'), t.kind === 'docker' ? ['lsa', 'lsb'] : ['lsb']);
    const ls = await ok(['network', 'ls', '--no-trunc', '--format', '{{.ID}} {{.Driver}} {{.Scope}} {{.Internal}}', '--filter', 'name=lsb']);
    assert.equal(ls.trim(), `${b} bridge local true`);

    // in use: Docker 20.10 answers 403 with libnetwork's words
    const rm = await api('DELETE', '/networks/lsa');
    assert.equal(rm.status, 403);
    assert.match(rm.json.message, new RegExp(`^error while removing network: network lsa id ${a} has active endpoints$`));
    // the predefined ones cannot go
    const rb = await api('DELETE', '/networks/bridge');
    assert.equal(rb.status, 403);
    assert.equal(rb.json.message, 'bridge is a pre-defined network and cannot be removed');
    const nf = await api('GET', '/networks/nope');
    assert.equal(nf.status, 404);
    assert.equal(nf.json.message, 'network nope not found');
    assert.equal((await api('DELETE', '/networks/nope')).status, 404);
    await fails(['network', 'create', 'lsa'], /network with name lsa already exists/);
    const dup = await api('POST', '/networks/create', { Name: 'lsa', CheckDuplicate: true });
    assert.equal(dup.status, 409);
    assert.equal(dup.json.message, 'network with name lsa already exists');
    await fails(['run', '--rm', '--network', 'nope', 'busybox', 'true'], /network nope not found/);

    // prune removes the unused custom networks only
    const pr = await api('POST', '/networks/prune');
    assert.equal(pr.status, 200);
    assert.deepEqual(pr.json, { NetworksDeleted: ['lsb'] });
    assert.deepEqual(await names(), ['bridge', 'host', 'lsa', 'none']);
    await ok(['rm', '-f', 'user']);
    assert.equal((await ok(['network', 'prune', '-f'])).trim(), 'Deleted Networks:\nlsa');
    assert.deepEqual(await names(), ['bridge', 'host', 'none']);
  });

  it('a network created without a subnet gets one from the default address pools', async () => {
    const id = (await ok(['network', 'create', 'pooled'])).trim();
    const cfg = JSON.parse(await ok(['network', 'inspect', '-f', '{{json .IPAM.Config}}', 'pooled']));
    assert.equal(cfg.length, 1);
    // Docker's defaults: 172.17–31.x.0/16, then 192.168.x.0/20 — and never the test bridge's
    assert.match(cfg[0].Subnet, /^(172\.(1[7-9]|2\d|3[01])\.0\.0\/16|192\.168\.\d+\.0\/20)$/);
    assert.equal(cfg[0].Gateway, cfg[0].Subnet.replace(/0\.0\/16$|0\/20$/, (m: string) => (m === '0.0/16' ? '0.1' : '1')));
    await ok(['run', '--rm', '--network', 'pooled', 'busybox', 'true']);
    await ok(['network', 'rm', id]);
  });
});
