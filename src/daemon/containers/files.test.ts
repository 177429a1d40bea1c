/**
 * /etc/hosts and /etc/resolv.conf against Docker 20.10's exact output (recorded from the
 * reference daemon: `docker run --rm busybox cat /etc/resolv.conf` with the host's
 * resolv.conf bind-mounted to the content given here).
 */
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { kindOf } from '../../engine/errdefs';
import { buildHosts, dnsSettings, extraHostRecords, ownHostNames, resolvConf } from './files';

const BASE = '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n';
const HOST = 'nameserver 127.0.0.1\nsearch x\noptions ndots:2\n';

describe('/etc/hosts', () => {
  it('is the default content, the extra hosts, then the links, then the container', () => {
    // docker run --network ctrnet -h web --domainname example.com --add-host a:1.2.3.4
    assert.equal(buildHosts(extraHostRecords(['a:1.2.3.4']), [{ ip: '10.213.78.2', names: ownHostNames('web', 'example.com') }]), `${BASE}1.2.3.4\ta\n10.213.78.2\tweb.example.com web\n`);
    // --link web2:w --link web1 on the default bridge
    const links = [{ ip: '10.213.77.3', names: 'w webhost web2' }, { ip: '10.213.77.2', names: 'web1 e40f1df009d4' }];
    assert.equal(buildHosts(links, [{ ip: '10.213.77.4', names: ownHostNames('26cf9b616b63') }]), `${BASE}10.213.77.3\tw webhost web2\n10.213.77.2\tweb1 e40f1df009d4\n10.213.77.4\t26cf9b616b63\n`);
    assert.equal(buildHosts([]), BASE);
  });

  it('names a FQDN hostname with its short form, and resolves host-gateway', () => {
    assert.equal(ownHostNames('a.b.c'), 'a.b.c a');
    assert.equal(ownHostNames('a'), 'a');
    assert.deepEqual(extraHostRecords(['gw:host-gateway'], '172.17.0.1'), [{ ip: '172.17.0.1', names: 'gw' }]);
    assert.throws(() => extraHostRecords(['gw:host-gateway']), (e: unknown) => kindOf(e) === 'invalid-argument' && /unable to derive the IP value for host-gateway/.test(String(e)));
  });
});

describe('/etc/resolv.conf', () => {
  it('the default bridge and none: loopback servers dropped, Google\'s added after a blank line', () => {
    assert.equal(resolvConf({}, HOST), 'search x\noptions ndots:2\n\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n');
    assert.equal(resolvConf({ NetworkMode: 'none' }, HOST), 'search x\noptions ndots:2\n\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n');
    assert.equal(resolvConf({}, 'nameserver 10.0.0.1\n'), 'nameserver 10.0.0.1\n');
    // a network with IPv6 keeps IPv6 servers
    assert.equal(resolvConf({}, 'nameserver 2001:db8::1\n', { ipv6: true }), 'nameserver 2001:db8::1\n');
    assert.equal(resolvConf({}, 'nameserver 2001:db8::1\n', { ipv6: false }), '\nnameserver 8.8.8.8\nnameserver 8.8.4.4');
  });

  it('--dns, --dns-search, --dns-opt rebuild it, the host filling what is not given (loopback included)', () => {
    assert.equal(resolvConf({ DnsSearch: ['y'] }, HOST), 'search y\nnameserver 127.0.0.1\noptions ndots:2\n');
    assert.equal(resolvConf({ Dns: ['1.1.1.1'] }, HOST), 'search x\nnameserver 1.1.1.1\noptions ndots:2\n');
    assert.equal(resolvConf({ NetworkMode: 'none', DnsOptions: ['a:1'] }, HOST), 'search x\nnameserver 127.0.0.1\noptions a:1\n');
    // the daemon's settings when the container has none
    assert.deepEqual(dnsSettings({ Dns: [] }, { dns: ['9.9.9.9'] }), { dns: ['9.9.9.9'], search: [], options: [] });
  });

  it('the host network: the host\'s file unless DNS settings are given', () => {
    assert.equal(resolvConf({ NetworkMode: 'host' }, HOST), HOST);
    assert.equal(resolvConf({ NetworkMode: 'host', Dns: ['1.1.1.1'] }, HOST), 'search x\nnameserver 1.1.1.1\noptions ndots:2\n');
  });

  it('user-defined networks: the resolver (Docker: 127.0.0.11; here the gateway), ndots:0 unless set', () => {
    assert.equal(resolvConf({}, HOST, { nameserver: '127.0.0.11' }), 'search x\nnameserver 127.0.0.11\noptions ndots:2\n');
    assert.equal(resolvConf({ Dns: ['1.1.1.1'], DnsSearch: ['y'], DnsOptions: ['ndots:3'] }, HOST, { nameserver: '127.0.0.11' }), 'search y\nnameserver 127.0.0.11\noptions ndots:3\n');
    assert.equal(resolvConf({}, 'nameserver 10.0.0.1\nnameserver 2001:db8::1\n', { nameserver: '10.9.0.1', ipv6: true }), 'nameserver 10.9.0.1\nnameserver 2001:db8::1\noptions ndots:0\n');
  });
});
