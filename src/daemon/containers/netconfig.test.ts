/**
 * The create-time network checks, with the messages the reference Docker 20.10 gives
 * (`docker create` / POST /v1.41/containers/create against it), and what is recorded.
 */
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { kindOf } from '../../engine/errdefs';
import { initialNetworks, isIPv6, parseLink, validateNetworkMode, verifyNetworkingConfig, wantedPorts } from './netconfig';
import type { ContainerConfig, HostConfig } from './types';

const refused = (c: ContainerConfig, hc: HostConfig, message: string) =>
  assert.throws(() => validateNetworkMode(c, hc), (e: unknown) => kindOf(e) === 'invalid-argument' && (e as Error).message === message, message);

describe('network mode checks (runconfig)', () => {
  it('refuses what conflicts with container: and host modes, in Docker\'s words', () => {
    refused({}, { NetworkMode: 'container:' }, 'Invalid network mode: invalid container format container:<name|id>');
    refused({ Hostname: 'x' }, { NetworkMode: 'container:nope' }, 'conflicting options: hostname and the network mode');
    refused({}, { NetworkMode: 'container:x', Links: ['a:b'] }, "conflicting options: container type network can't be used with links. This would result in undefined behavior");
    refused({}, { NetworkMode: 'container:x', Dns: ['1.1.1.1'] }, 'conflicting options: dns and the network mode');
    refused({}, { NetworkMode: 'container:x', ExtraHosts: ['a:1.2.3.4'] }, 'conflicting options: custom host-to-IP mapping and the network mode');
    refused({ MacAddress: '02:42:ac:11:00:09' }, { NetworkMode: 'host' }, 'conflicting options: mac-address and the network mode');
    refused({}, { NetworkMode: 'container:x', PortBindings: { '80/tcp': [] } }, 'conflicting options: port publishing and the container type network mode');
    refused({ ExposedPorts: { '80/tcp': {} } }, { NetworkMode: 'container:x' }, 'conflicting options: port exposing and the container type network mode');
    refused({}, { NetworkMode: 'host', Links: ['a:b'] }, "conflicting options: host type networking can't be used with links. This would result in undefined behavior");
    refused({ Hostname: 'x' }, { UTSMode: 'host' }, 'conflicting options: hostname and the UTS mode');
    refused({}, { PortBindings: { '80': [{ HostPort: 'x' }] } }, 'invalid port specification: "x"');
    refused({}, { PortBindings: { '80-90/tcp': [] } }, 'invalid port specification: "80-90"');
  });

  it('accepts what Docker creates (a missing network or container fails at start)', () => {
    for (const hc of [{ NetworkMode: 'nosuch' }, { NetworkMode: 'container:nope' }, { NetworkMode: 'host', PortBindings: { '80/tcp': [{ HostPort: '80' }] } }, { NetworkMode: 'none', PortBindings: { '80/tcp': [{ HostPort: '8000-8001' }] } }]) {
      validateNetworkMode({}, hc);
    }
  });

  it('checks the endpoint configs (several networks are accepted, unlike 20.10)', () => {
    verifyNetworkingConfig({ EndpointsConfig: { a: {}, b: { IPAMConfig: { IPv4Address: '10.1.2.3', IPv6Address: 'fd00::3' } } } });
    assert.throws(() => verifyNetworkingConfig({ EndpointsConfig: { a: null } }), /no EndpointSettings for a/);
    assert.throws(() => verifyNetworkingConfig({ EndpointsConfig: { a: { IPAMConfig: { IPv4Address: '10.1.2' } } } }), /invalid IPv4 address: 10.1.2/);
    assert.throws(() => verifyNetworkingConfig({ EndpointsConfig: { a: { IPAMConfig: { IPv6Address: '10.1.2.3' } } } }), /invalid IPv6 address: 10.1.2.3/);
    assert.ok(isIPv6('::1') && isIPv6('fd00::1:2') && isIPv6('::ffff:10.0.0.1') && !isIPv6('fd00:::1') && !isIPv6('x::1'));
  });
});

describe('recorded networks (updateContainerNetworkSettings)', () => {
  it('records the mode\'s network, or the endpoint configs as given', () => {
    assert.deepEqual(initialNetworks({}, { NetworkMode: 'default' }, null), { bridge: {} });
    assert.deepEqual(initialNetworks({}, { NetworkMode: 'none' }, null), { none: {} });
    assert.deepEqual(initialNetworks({}, { NetworkMode: 'container:x' }, null), {});
    assert.deepEqual(initialNetworks({ NetworkDisabled: true }, { NetworkMode: 'bridge' }, null), {});
    assert.deepEqual(initialNetworks({}, { NetworkMode: 'app' }, { EndpointsConfig: { app: { Aliases: ['web'], IPAMConfig: { IPv4Address: '10.1.0.9' } }, other: {} } }), {
      app: { Aliases: ['web'], IPAMConfig: { IPv4Address: '10.1.0.9' } },
      other: {},
    });
    assert.deepEqual(initialNetworks({}, { NetworkMode: 'default' }, { EndpointsConfig: { default: { Links: ['a'] } } }), { bridge: { Links: ['a'] } });
  });

  it('parses links as opts.ParseLink', () => {
    assert.deepEqual(parseLink('web'), { name: 'web', alias: 'web' });
    assert.deepEqual(parseLink('/web:/w'), { name: 'web', alias: 'w' });
    assert.throws(() => parseLink('a:b:c'), /bad format for links: a:b:c/);
  });
});

describe('ports to publish', () => {
  it('each exposed port\'s bindings, ephemeral ports for -P, sorted; a binding of a port not exposed is not published', () => {
    const c: ContainerConfig = { ExposedPorts: { '80/tcp': {}, '81/udp': {}, '82/tcp': {} } };
    const hc: HostConfig = { PortBindings: { '80/tcp': [{ HostIp: '', HostPort: '18931' }], '81/udp': [{ HostIp: '127.0.0.1', HostPort: '' }], '99/tcp': [{ HostPort: '99' }] } };
    assert.deepEqual(wantedPorts(c, hc), [
      { key: '80/tcp', proto: 'tcp', containerPort: 80, hostIp: '', hostStart: 18931, hostEnd: 18931 },
      { key: '81/udp', proto: 'udp', containerPort: 81, hostIp: '127.0.0.1', hostStart: 0, hostEnd: 0 },
    ]);
    assert.deepEqual(
      wantedPorts(c, { ...hc, PublishAllPorts: true }).map((w) => `${w.key}:${w.hostStart}`),
      ['80/tcp:18931', '81/udp:0', '82/tcp:0'],
    );
    assert.deepEqual(wantedPorts({ ExposedPorts: { '80/tcp': {} } }, { PortBindings: { '80/tcp': [{ HostPort: '8000-8010' }] } })[0], { key: '80/tcp', proto: 'tcp', containerPort: 80, hostIp: '', hostStart: 8000, hostEnd: 8010 });
  });
});
