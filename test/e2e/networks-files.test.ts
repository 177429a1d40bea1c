/**
 * /etc/hosts, /etc/resolv.conf and /etc/hostname as Docker writes them, end to end:
 * `--hostname`, `--domainname`, `--add-host` (with `host-gateway`), `--dns`,
 * `--dns-search`, `--dns-option`, the default bridge and a user-defined network, and
 * `--link` on the default bridge (old clients). One engine with a bridge of the test's
 * own; passes against Docker 20.10 (STEVEDORE_TEST_TARGET=docker).
 *
 * One deliberate difference (docs/networking/dns.md): on user-defined networks Docker
 * writes `nameserver 127.0.0.11` (its resolver inside each container's namespace) and
 * stevedore the network's gateway (one resolver process on the host). The tests assert
 * the behaviour — names resolve, `--dns` servers are used upstream — and the exact text
 * only where both agree.
 */
import { after, afterEach, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { type Target, startTarget } from '../helpers/target';
import { importBusybox } from '../helpers/busybox';
import { assertNoContainerLeftovers, removeAllContainers } from '../helpers/containers';
import { freeSubnet24, httpd, retrying, startDnsServer } from '../helpers/network';

/** Docker's fixed head of /etc/hosts. */
const HOSTS_HEAD = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback', 'fe00::0\tip6-localnet', 'ff00::0\tip6-mcastprefix', 'ff02::1\tip6-allnodes', 'ff02::2\tip6-allrouters'];

/** The host's resolv.conf as Docker passes it to a default-bridge container: loopback nameservers dropped. */
function hostResolvConf(): { nameservers: string[]; search: string[]; options: string[] } {
  const lines = fs.readFileSync('/etc/resolv.conf', 'utf8').split('\n');
  const pick = (k: string) => lines.filter((l) => l.startsWith(`${k} `) || l.startsWith(`${k}\t`)).flatMap((l) => l.trim().split(/\s+/).slice(1));
  return { nameservers: pick('nameserver').filter((n) => !/^127\.|^::1$/.test(n)), search: pick('search'), options: pick('options') };
}

describe('/etc/hosts, /etc/resolv.conf, hostname, links', () => {
  let t: Target;
  const ok = async (args: string[]) => {
    const r = await t.docker(args);
    assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}\n${t.kind === 'stevedore' ? t.logs().slice(-3000) : ''}`);
    return r.stdout;
  };
  const lines = (s: string) => s.split('\n').filter(Boolean);

  before(async () => {
    t = await startTarget({ network: true });
    await importBusybox(t);
  });
  afterEach(async () => {
    await removeAllContainers(t);
    const nets = lines(await ok(['network', 'ls', '-q', '--filter', 'type=custom']));
    for (const n of nets) await t.docker(['network', 'rm', n]);
  });
  after(async () => {
    await assertNoContainerLeftovers(t);
    await t.stop();
  });

  it('the default bridge: the container\'s address under its short ID; the host\'s resolvers', async () => {
    const id = (await ok(['run', '-d', 'busybox', 'sleep', '1000'])).trim();
    const ip = (await ok(['inspect', '-f', '{{.NetworkSettings.IPAddress}}', id])).trim();
    assert.deepEqual(lines(await ok(['exec', id, 'cat', '/etc/hosts'])), [...HOSTS_HEAD, `${ip}\t${id.slice(0, 12)}`]);
    assert.equal((await ok(['exec', id, 'hostname'])).trim(), id.slice(0, 12));
    assert.equal(await ok(['exec', id, 'cat', '/etc/hostname']), `${id.slice(0, 12)}\n`);
    const h = hostResolvConf();
    const rc = lines(await ok(['exec', id, 'cat', '/etc/resolv.conf'])).filter((l) => !l.startsWith('#'));
    assert.deepEqual(rc.filter((l) => l.startsWith('nameserver')).map((l) => l.split(/\s+/)[1]), h.nameservers.length ? h.nameservers : ['8.8.8.8', '8.8.4.4']);
    assert.deepEqual(rc.filter((l) => l.startsWith('search')).flatMap((l) => l.split(/\s+/).slice(1)), h.search);
  });

  it('--hostname, --domainname, --add-host (and host-gateway), --dns, --dns-search, --dns-option on the default bridge', async () => {
    const id = (await ok(['run', '-d', '--hostname', 'myhost', '--domainname', 'example.org', '--add-host', 'x:1.2.3.4', '--add-host', 'h:host-gateway', '--add-host', 'six:fd00::6',
      '--dns', '10.9.9.9', '--dns-search', 'corp.example', '--dns-option', 'ndots:3', 'busybox', 'sleep', '1000'])).trim();
    const ip = (await ok(['inspect', '-f', '{{.NetworkSettings.IPAddress}}', id])).trim();
    // host-gateway: the default bridge's address (dockerd --host-gateway-ip unset)
    assert.deepEqual(lines(await ok(['exec', id, 'cat', '/etc/hosts'])), [...HOSTS_HEAD, '1.2.3.4\tx', `${t.network!.bridge.address}\th`, 'fd00::6\tsix', `${ip}\tmyhost.example.org myhost`]);
    assert.deepEqual(lines(await ok(['exec', id, 'cat', '/etc/resolv.conf'])), ['search corp.example', 'nameserver 10.9.9.9', 'options ndots:3']);
    assert.equal((await ok(['exec', id, 'hostname'])).trim(), 'myhost');
    assert.equal(await ok(['exec', id, 'cat', '/etc/hostname']), 'myhost\n');
    const hc = JSON.parse(await ok(['inspect', '-f', '{{json .HostConfig}}', id]));
    assert.deepEqual(hc.ExtraHosts, ['x:1.2.3.4', 'h:host-gateway', 'six:fd00::6']);
    assert.deepEqual([hc.Dns, hc.DnsSearch, hc.DnsOptions], [['10.9.9.9'], ['corp.example'], ['ndots:3']]);
    // the name is the container's own address
    assert.match(await ok(['exec', id, 'ping', '-c', '1', '-W', '2', 'myhost']), new RegExp(`from ${ip.replace(/\./g, '\\.')}`));
  });

  it('a user-defined network: hostname, aliases in /etc/hosts, and a resolver that answers names and uses --dns upstream', async () => {
    await ok(['network', 'create', '--subnet', freeSubnet24(), 'files']);
    const gw = JSON.parse(await ok(['network', 'inspect', '-f', '{{json .IPAM.Config}}', 'files']))[0].Gateway as string | undefined;
    const id = (await ok(['run', '-d', '--name', 'named', '--network', 'files', '--hostname', 'hh', '--add-host', 'x:1.2.3.4', '--dns-search', 'corp.example', '--dns-option', 'ndots:2', 'busybox', 'sleep', '1000'])).trim();
    const ip = (await ok(['inspect', '-f', '{{.NetworkSettings.Networks.files.IPAddress}}', id])).trim();
    assert.deepEqual(lines(await ok(['exec', id, 'cat', '/etc/hosts'])), [...HOSTS_HEAD, '1.2.3.4\tx', `${ip}\thh`]);
    const rc = lines(await ok(['exec', id, 'cat', '/etc/resolv.conf']));
    // Docker: 127.0.0.11; stevedore: the network's gateway (see the file's comment)
    const ns = t.kind === 'docker' ? '127.0.0.11' : (gw ?? ip.replace(/\.\d+$/, '.1'));
    assert.deepEqual(rc, ['search corp.example', `nameserver ${ns}`, 'options ndots:2']);
    // the resolver answers the network's names, and its own container's
    await ok(['run', '-d', '--name', 'peer', '--network', 'files', 'busybox', ...httpd('peer-page')]);
    assert.equal((await ok(['exec', id, ...retrying('timeout 3 wget -qO- http://peer:8080/')])).trim(), 'peer-page');
    assert.match(await ok(['exec', id, 'ping', '-c', '1', '-W', '2', 'named']), new RegExp(`^PING named \\(${ip.replace(/\./g, '\\.')}\\)`));
  });

  it('names the network does not know go to the --dns servers (a DNS server the test runs on its bridge)', async () => {
    const dns = await startDnsServer(t.network!.bridge.address, { 'upstream.test': '192.0.2.77' });
    try {
      await ok(['network', 'create', '--subnet', freeSubnet24(), 'fwd']);
      await ok(['run', '-d', '--name', 'local', '--network', 'fwd', 'busybox', 'sleep', '1000']);
      const out = await ok(['run', '--rm', '--network', 'fwd', '--dns', t.network!.bridge.address, 'busybox', 'sh', '-c', 'nslookup upstream.test; ping -c 1 -W 1 local | head -1']);
      assert.match(out, /Name:\s+upstream\.test\s+Address:\s+192\.0\.2\.77/);
      assert.match(out, /^PING local \(/m);
      assert.ok((dns.seen.get('upstream.test') ?? 0) > 0, 'the query reached the upstream server');
      // the network's own names are answered locally, never forwarded
      assert.equal(dns.seen.get('local') ?? 0, 0);
      // an unknown name: NXDOMAIN from upstream, passed on
      const r = await t.docker(['run', '--rm', '--network', 'fwd', '--dns', t.network!.bridge.address, 'busybox', 'nslookup', 'nothing.test']);
      assert.notEqual(r.code, 0);
      assert.match(r.stdout + r.stderr, /NXDOMAIN/);
      assert.ok((dns.seen.get('nothing.test') ?? 0) > 0);
    } finally {
      dns.close();
    }
  });

  it('--link on the default bridge: the alias and the name in /etc/hosts, the _NAME variable', async () => {
    await ok(['run', '-d', '--name', 'lweb', 'busybox', ...httpd('linked')]);
    const lid = (await ok(['inspect', '-f', '{{.Id}}', 'lweb'])).trim();
    const lip = (await ok(['inspect', '-f', '{{.NetworkSettings.IPAddress}}', 'lweb'])).trim();
    const out = await ok(['run', '--rm', '--name', 'client', '--link', 'lweb:webby', 'busybox', 'sh', '-c', 'cat /etc/hosts; echo ---; echo $WEBBY_NAME; wget -qO- http://webby:8080/; wget -qO- http://lweb:8080/']);
    const [hosts, rest] = out.split('---\n');
    assert.ok(lines(hosts!).includes(`${lip}\twebby ${lid.slice(0, 12)} lweb`), hosts);
    assert.deepEqual(lines(rest!), ['/client/webby', 'linked', 'linked']);
    // without a link, the default bridge has no names
    const r = await t.docker(['run', '--rm', 'busybox', 'nslookup', 'lweb']);
    assert.notEqual(r.code, 0);
    // a link to a container that does not exist: Docker's error
    const bad = await t.docker(['run', '--rm', '--link', 'nobody:x', 'busybox', 'true']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /could not get container for nobody|No such container: nobody/);
  });
});
