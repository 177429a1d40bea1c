import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { parseArgs, parseHost } from './config';

const noFile = () => undefined;

describe('daemon flags and daemon.json', () => {
  it('has dockerd defaults', () => {
    const p = parseArgs([], noFile);
    assert.equal(p.kind, 'run');
    if (p.kind !== 'run') return;
    assert.deepEqual(p.config.hosts, ['unix:///var/run/docker.sock']);
    assert.equal(p.config.dataRoot, '/var/lib/stevedore');
    assert.equal(p.config.defaultRuntime, 'runc');
  });
  it('parses repeated hosts, = and space forms', () => {
    const p = parseArgs(['-H', 'unix:///tmp/a.sock', '--host=tcp://127.0.0.1:2375', '--data-root', '/d', '--runtime=crun', '-D'], noFile);
    assert.equal(p.kind, 'run');
    if (p.kind !== 'run') return;
    assert.deepEqual(p.config.hosts, ['unix:///tmp/a.sock', 'tcp://127.0.0.1:2375']);
    assert.equal(p.config.dataRoot, '/d');
    assert.equal(p.config.defaultRuntime, 'crun');
    assert.equal(p.config.logLevel, 'debug');
  });
  it('reads daemon.json with Docker key names; flags win', () => {
    const file = JSON.stringify({ 'data-root': '/from-file', 'log-level': 'warn', 'insecure-registries': ['r:5000'], runtimes: { crun: { path: '/usr/bin/crun' } } });
    const p = parseArgs(['--config-file', '/x.json', '--data-root', '/from-flag'], () => file);
    assert.equal(p.kind, 'run');
    if (p.kind !== 'run') return;
    assert.equal(p.config.dataRoot, '/from-flag');
    assert.equal(p.config.logLevel, 'warn');
    assert.deepEqual(p.config.insecureRegistries, ['r:5000']);
    assert.equal(p.config.runtimes.crun, '/usr/bin/crun');
  });
  it('rejects unknown flags, bad values and bad files', () => {
    assert.throws(() => parseArgs(['--nope'], noFile), /unknown flag/);
    assert.throws(() => parseArgs(['--log-level', 'loud'], noFile), /logging level/);
    assert.throws(() => parseArgs(['-H', 'http://x'], noFile), /invalid host/);
    assert.throws(() => parseArgs(['--config-file', '/x'], () => '{bad'), /unable to configure/);
    assert.throws(() => parseArgs(['--config-file', '/missing'], noFile), /unable to read/);
  });
  it('help and version', () => {
    assert.equal(parseArgs(['--help'], noFile).kind, 'help');
    assert.equal(parseArgs(['-v'], noFile).kind, 'version');
  });
  it('parses hosts', () => {
    assert.deepEqual(parseHost('unix:///a'), { kind: 'unix', path: '/a' });
    assert.deepEqual(parseHost('tcp://127.0.0.1:2375'), { kind: 'tcp', host: '127.0.0.1', port: 2375 });
    assert.deepEqual(parseHost('tcp://[::1]:1'), { kind: 'tcp', host: '::1', port: 1 });
  });
});

describe('networking flags and daemon.json keys', () => {
  const run = (argv: string[], file?: string) => {
    const p = parseArgs(argv, () => file);
    assert.equal(p.kind, 'run');
    if (p.kind !== 'run') throw new Error('not run');
    return p.config;
  };
  it("has Docker 20.10's defaults", () => {
    const c = run([]);
    assert.equal(c.bridge, undefined);
    assert.deepEqual(
      { ...c.network },
      { fixedCidr: undefined, fixedCidrV6: undefined, ipv6: false, mtu: 0, ipForward: true, iptables: true, ip6tables: false, ipMasq: true, icc: true, ip: '0.0.0.0', defaultAddressPools: [], userlandProxy: true, dns: [], dnsSearch: [], dnsOptions: [], hostGatewayIp: undefined },
    );
  });
  it('parses the flags', () => {
    const c = run(['--bridge', 'none', '--iptables=false', '--ip-forward=false', '--ipv6', '--fixed-cidr-v6', 'fd00:1::/64', '--mtu', '1400', '--default-address-pool', 'base=10.10.0.0/16,size=24', '--dns', '1.1.1.1', '--dns-search', 'example.com', '--dns-opt', 'ndots:2', '--host-gateway-ip', '10.0.0.1', '--userland-proxy=false', '--ip', '127.0.0.1']);
    assert.equal(c.bridge, 'none');
    assert.equal(c.network.iptables, false);
    assert.equal(c.network.ipForward, false);
    assert.equal(c.network.ipv6, true);
    assert.equal(c.network.fixedCidrV6, 'fd00:1::/64');
    assert.equal(c.network.mtu, 1400);
    assert.deepEqual(c.network.defaultAddressPools, [{ base: '10.10.0.0/16', size: 24 }]);
    assert.deepEqual([c.network.dns, c.network.dnsSearch, c.network.dnsOptions], [['1.1.1.1'], ['example.com'], ['ndots:2']]);
    assert.equal(c.network.hostGatewayIp, '10.0.0.1');
    assert.equal(c.network.userlandProxy, false);
    assert.equal(c.network.ip, '127.0.0.1');
  });
  it('reads the daemon.json keys; flags win', () => {
    const file = JSON.stringify({ bip: '10.20.0.1/24', 'fixed-cidr': '10.20.0.128/25', icc: false, 'ip-masq': false, 'default-address-pools': [{ base: '10.30.0.0/16', size: 24 }], 'dns-opts': ['timeout:1'], mtu: 9000 });
    const c = run(['--config-file', '/d.json', '--mtu', '1500'], file);
    assert.equal(c.bip, '10.20.0.1/24');
    assert.equal(c.network.fixedCidr, '10.20.0.128/25');
    assert.equal(c.network.icc, false);
    assert.equal(c.network.ipMasq, false);
    assert.deepEqual(c.network.defaultAddressPools, [{ base: '10.30.0.0/16', size: 24 }]);
    assert.deepEqual(c.network.dnsOptions, ['timeout:1']);
    assert.equal(c.network.mtu, 1500);
  });
  it('refuses what dockerd refuses', () => {
    assert.throws(() => run(['-b', 'br0', '--bip', '10.0.0.1/24']), /You specified -b & --bip, mutually incompatible options/);
    assert.throws(() => run(['--iptables=false', '--icc=false']), /ICC=false uses iptables/);
    assert.throws(() => run(['--bip', '10.0.0.1']), /invalid bip/);
    assert.throws(() => run(['--default-address-pool', 'base=10.0.0.0/16,size=8']), /pool size/);
    assert.throws(() => run(['--default-address-pool', 'bogus=1']), /invalid field/);
    assert.throws(() => run(['--dns', 'nope']), /nope is not an ip address/);
    assert.throws(() => run(['--config-file', '/d.json'], JSON.stringify({ iptables: 'no' })), /iptables in \/d.json must be a boolean/);
  });
});
