/**
 * The default bridge, published ports and network modes end to end: `-p` on 127.0.0.1
 * and on the bridge's address (from the host, and from another container through the
 * host address), udp, ranges, `-P` with an image's EXPOSE, `docker port`, the PORTS
 * column and `Ports` of /containers/json, a port already in use; outbound traffic to a
 * server on the host; `--network none`, `host`, `container:<x>`. One engine with a
 * bridge of the test's own; passes against Docker 20.10 (STEVEDORE_TEST_TARGET=docker).
 */
import { after, afterEach, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as dgram from 'node:dgram';
import * as http from 'node:http';
import * as net from 'node:net';
import { type Target, startTarget } from '../helpers/target';
import { importBusybox } from '../helpers/busybox';
import { assertNoContainerLeftovers, removeAllContainers } from '../helpers/containers';
import * as fs from 'node:fs';
import { freePort, httpGet, httpd, ifNames, links, portsOf, retrying, rulesMentioning } from '../helpers/network';
import { until } from '../helpers/wait';

describe('the default bridge, published ports, network modes', () => {
  let t: Target;
  const ok = async (args: string[]) => {
    const r = await t.docker(args);
    assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}\n${t.kind === 'stevedore' ? t.logs().slice(-3000) : ''}`);
    return r.stdout;
  };
  const api = async (method: string, p: string) => {
    const r = await t.request(method, p);
    return { status: r.status, json: r.body ? (JSON.parse(r.body) as any) : undefined };
  };
  const gw = () => t.network!.bridge.address;

  before(async () => {
    t = await startTarget({ network: true });
    await importBusybox(t);
    // an image with EXPOSE (busybox has none)
    await ok(['create', '--name', 'base', 'busybox', 'true']);
    await ok(['commit', '--change', 'EXPOSE 8080', '--change', 'EXPOSE 9090/udp', 'base', 'exposed']);
    await ok(['rm', 'base']);
  });
  afterEach(() => removeAllContainers(t));
  after(async () => {
    await removeAllContainers(t);
    await t.docker(['rmi', '-f', 'exposed']);
    await assertNoContainerLeftovers(t);
    await t.stop();
  });

  it('a container on the default bridge gets an address of the bridge\'s subnet and reaches a server on the host', async () => {
    await ok(['run', '-d', '--name', 'plain', 'busybox', 'sleep', '1000']);
    const ep = JSON.parse(await ok(['inspect', '-f', '{{json .NetworkSettings}}', 'plain']));
    const prefix = gw().replace(/\.1$/, '.');
    assert.ok(ep.IPAddress.startsWith(prefix), ep.IPAddress);
    assert.equal(ep.Gateway, gw());
    assert.equal(ep.IPPrefixLen, 24);
    assert.equal(ep.Networks.bridge.IPAddress, ep.IPAddress);
    assert.match(ep.SandboxKey, /^\/.+\/netns\/[0-9a-f]{12}$/);
    // the host end of its veth is on the test's bridge
    assert.ok(links().some((l) => l.master === t.network!.bridge.name), 'a port on the test bridge');

    // outbound: a server the test runs on the bridge's (host) address
    const server = http.createServer((_req, res) => res.end('from-the-host\n'));
    await new Promise<void>((r) => server.listen(0, gw(), r));
    try {
      const port = (server.address() as net.AddressInfo).port;
      assert.equal((await ok(['exec', 'plain', ...retrying(`timeout 3 wget -qO- http://${gw()}:${port}/`)])).trim(), 'from-the-host');
    } finally {
      server.close();
    }
  });

  it('-p 127.0.0.1:<port>:8080 serves the host; ps, port and /containers/json report it', async () => {
    const port = await freePort();
    const id = (await ok(['run', '-d', '--name', 'pub', '-p', `127.0.0.1:${port}:8080`, 'busybox', ...httpd('published')])).trim();
    assert.equal((await httpGet(`http://127.0.0.1:${port}/`)).trim(), 'published');
    assert.equal((await ok(['port', 'pub'])).trim(), `8080/tcp -> 127.0.0.1:${port}`);
    assert.equal((await ok(['port', 'pub', '8080'])).trim(), `127.0.0.1:${port}`);
    assert.equal((await ok(['ps', '--filter', 'name=pub', '--format', '{{.Ports}}'])).trim(), `127.0.0.1:${port}->8080/tcp`);
    const list = (await api('GET', '/containers/json')).json as Array<{ Id: string; Ports: unknown }>;
    assert.deepEqual(list.find((c) => c.Id === id)!.Ports, [{ IP: '127.0.0.1', PrivatePort: 8080, PublicPort: port, Type: 'tcp' }]);
    const ins = (await api('GET', `/containers/${id}/json`)).json;
    assert.deepEqual(ins.NetworkSettings.Ports, { '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: String(port) }] });
    assert.deepEqual(ins.HostConfig.PortBindings, { '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: String(port) }] });
    // stopped: the port is released (nothing listens, the mapping is gone from inspect)
    await ok(['stop', '-t', '1', 'pub']);
    const stopped = (await api('GET', `/containers/${id}/json`)).json;
    assert.deepEqual(stopped.NetworkSettings.Ports, {});
    assert.equal((await ok(['port', 'pub'])).trim(), '');
    const probe = net.createServer();
    await new Promise<void>((resolve, reject) => probe.once('error', reject).listen(port, '127.0.0.1', resolve));
    probe.close();
  });

  it('a port published on the bridge address is reached from the host and from another container (hairpin); udp; a range', async () => {
    const port = await freePort(gw());
    await ok(['run', '-d', '--name', 'hp', '-p', `${gw()}:${port}:8080`, 'busybox', ...httpd('hairpin')]);
    assert.equal((await httpGet(`http://${gw()}:${port}/`)).trim(), 'hairpin');
    assert.equal((await ok(['run', '--rm', 'busybox', ...retrying(`timeout 3 wget -qO- http://${gw()}:${port}/`)])).trim(), 'hairpin');
    // the container itself, through its own published port (the bridge port in hairpin mode)
    assert.equal((await ok(['exec', 'hp', ...retrying(`timeout 3 wget -qO- http://${gw()}:${port}/`)])).trim(), 'hairpin');

    // udp (Debian's busybox has no udp server to answer): the mapping is reported and the
    // host port is held, so nothing else on the host can take it
    const uport = await freePort();
    await ok(['run', '-d', '--name', 'udp', '-p', `127.0.0.1:${uport}:9090/udp`, 'busybox', 'sleep', '1000']);
    assert.equal((await ok(['port', 'udp'])).trim(), `9090/udp -> 127.0.0.1:${uport}`);
    const bindErr = await new Promise<string>((resolve) => {
      const s = dgram.createSocket('udp4');
      s.once('error', (e: NodeJS.ErrnoException) => (s.close(), resolve(e.code ?? String(e))));
      s.bind(uport, '127.0.0.1', () => (s.close(), resolve('bound')));
    });
    assert.equal(bindErr, 'EADDRINUSE');

    // a range: each container port to its host port
    const a = await freePort();
    const b = a + 1;
    await ok(['run', '-d', '--name', 'range', '-p', `127.0.0.1:${a}-${b}:8080-8081`, 'busybox', 'sh', '-c', 'httpd -p 8081 -h /; exec sleep 1000']);
    assert.equal((await ok(['port', 'range'])).trim().split('\n').sort().join('\n'), [`8080/tcp -> 127.0.0.1:${a}`, `8081/tcp -> 127.0.0.1:${b}`].join('\n'));
  });

  it('-P publishes the image\'s EXPOSEd ports on ephemeral ports; docker port reports them', async () => {
    const id = (await ok(['run', '-d', '--name', 'auto', '-P', 'exposed', ...httpd('exposed-page')])).trim();
    const ports = (await api('GET', `/containers/${id}/json`)).json.NetworkSettings.Ports as Record<string, Array<{ HostIp: string; HostPort: string }>>;
    assert.deepEqual(Object.keys(ports).sort(), ['8080/tcp', '9090/udp']);
    const tcp = ports['8080/tcp']!;
    // Docker 20.10 binds 0.0.0.0 and ::, both on the same port
    assert.deepEqual(tcp.map((p) => p.HostIp).sort(), ['0.0.0.0', '::']);
    const hostPort = Number(tcp[0]!.HostPort);
    assert.equal(tcp[1]!.HostPort, String(hostPort));
    const [lo, hi] = (await import('node:fs')).readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    assert.ok(hostPort >= lo! && hostPort <= hi!, `${hostPort} in the ephemeral range ${lo}-${hi}`);
    assert.equal((await httpGet(`http://127.0.0.1:${hostPort}/`)).trim(), 'exposed-page');
    const portOut = (await ok(['port', 'auto', '8080/tcp'])).trim().split('\n').sort();
    assert.deepEqual(portOut, [`0.0.0.0:${hostPort}`, `[::]:${hostPort}`]);
    const ps = (await ok(['ps', '--filter', 'name=auto', '--format', '{{.Ports}}'])).trim();
    assert.ok(ps.includes(`0.0.0.0:${hostPort}->8080/tcp`), ps);
    assert.ok(ps.includes('->9090/udp'), ps);
    const summary = ((await api('GET', '/containers/json')).json as Array<{ Id: string; Ports: Array<{ IP: string; PrivatePort: number; PublicPort: number; Type: string }> }>).find((c) => c.Id === id)!;
    assert.ok(summary.Ports.some((p) => p.IP === '0.0.0.0' && p.PrivatePort === 8080 && p.PublicPort === hostPort && p.Type === 'tcp'), JSON.stringify(summary.Ports));
  });

  it('a host port in use: Docker\'s error, and the container does not start', async () => {
    const holder = net.createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
    const port = (holder.address() as net.AddressInfo).port;
    try {
      const r = await t.docker(['run', '-d', '--name', 'busy', '-p', `127.0.0.1:${port}:8080`, 'busybox', 'sleep', '1000']);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, new RegExp(`127\\.0\\.0\\.1:${port}: bind: address already in use`));
      assert.equal((await ok(['inspect', '-f', '{{.State.Status}} {{.State.Running}}', 'busy'])).trim(), 'created false');
      assert.match((await ok(['inspect', '-f', '{{.State.Error}}', 'busy'])).trim(), /address already in use/);
      // once the port is free, the same container starts
      await new Promise<void>((r) => holder.close(() => r()));
      await ok(['start', 'busy']);
      assert.equal((await ok(['port', 'busy'])).trim(), `8080/tcp -> 127.0.0.1:${port}`);
    } finally {
      holder.close();
    }
  });

  it('removing a container leaves nothing of its network: veth, DNAT rules, namespace', async () => {
    const port = await freePort();
    const id = (await ok(['run', '-d', '-p', `127.0.0.1:${port}:8080`, 'busybox', ...httpd('gone')])).trim();
    const ip = (await ok(['inspect', '-f', '{{.NetworkSettings.IPAddress}}', id])).trim();
    const sandbox = (await ok(['inspect', '-f', '{{.NetworkSettings.SandboxKey}}', id])).trim();
    assert.equal((await httpGet(`http://127.0.0.1:${port}/`)).trim(), 'gone');
    assert.ok(rulesMentioning([], [`${ip}/32`]).length > 0, 'the published port has rules naming the container');
    await ok(['rm', '-f', id]);
    // the engines may finish the teardown just after rm returns (bounded wait)
    await until(() => portsOf([t.network!.bridge.name]).length === 0, 'the veth to go', { tries: 100 });
    await until(() => rulesMentioning([], [`${ip}/32`]).length === 0, 'the rules naming the container to go', { tries: 100 });
    // the namespace: stevedore removes it with the container; dockerd unmounts and
    // deletes namespace files lazily (libnetwork's osl garbage collection, every 60 s)
    if (t.kind === 'stevedore') await until(() => !fs.existsSync(sandbox), `the namespace ${sandbox} to go`, { tries: 100 });
    // and the host port is free again
    const probe = net.createServer();
    await new Promise<void>((resolve, reject) => probe.once('error', reject).listen(port, '127.0.0.1', resolve));
    probe.close();
  });

  it('--network none has only lo; host sees the host\'s interfaces; container:<x> shares x\'s', async () => {
    assert.deepEqual(ifNames(await ok(['run', '--rm', '--network', 'none', 'busybox', 'ip', '-o', 'link'])), ['lo']);
    const none = JSON.parse(await ok(['run', '-d', '--network', 'none', 'busybox', 'sleep', '1000']).then((id) => ok(['inspect', '-f', '{{json .NetworkSettings.Networks}}', id.trim()])));
    assert.deepEqual(Object.keys(none), ['none']);
    assert.equal(none.none.IPAddress, '');

    const hostIfs = ifNames(await ok(['run', '--rm', '--network', 'host', 'busybox', 'ip', '-o', 'link']));
    assert.ok(hostIfs.includes(t.network!.bridge.name), `the host's links (${hostIfs.join(' ')}) include the test bridge`);
    assert.ok(hostIfs.includes('lo'));
    // host: the host's hostname, no /etc/hosts entry for a container address
    assert.equal((await ok(['run', '--rm', '--network', 'host', 'busybox', 'hostname'])).trim(), (await import('node:os')).hostname());

    await ok(['run', '-d', '--name', 'owner', 'busybox', ...httpd('owner-page')]);
    const ownerIp = (await ok(['inspect', '-f', '{{.NetworkSettings.IPAddress}}', 'owner'])).trim();
    const shared = await ok(['run', '--rm', '--network', 'container:owner', 'busybox', 'sh', '-c', 'ip -o -4 addr show eth0; wget -qO- http://127.0.0.1:8080/']);
    assert.ok(shared.includes(`inet ${ownerIp}/24`), shared);
    assert.ok(shared.includes('owner-page'), shared);
    const joined = JSON.parse(await ok(['run', '-d', '--network', 'container:owner', 'busybox', 'sleep', '1000']).then((id) => ok(['inspect', '-f', '{{json .HostConfig.NetworkMode}} {{json .NetworkSettings.Networks}}', id.trim()]).then((s) => `[${s.trim().replace(' ', ',')}]`)));
    assert.match(joined[0], /^container:[0-9a-f]{64}$/);
    assert.deepEqual(joined[1], {});
    // joining a container that is not running: Docker's error
    await ok(['create', '--name', 'sleeper', 'busybox', 'true']);
    const r = await t.docker(['run', '--rm', '--network', 'container:sleeper', 'busybox', 'true']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /cannot join network of a non running container|is not running/);
  });
});
