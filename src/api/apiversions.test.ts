import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { ROWS, type ShapeExtras, type VersionRow, applyRequest, eventFor, execCreateConsoleSize, execStartConsoleSize, shapeFor, streamContentType } from './apiversions';
import { compareVersions } from './version';
import { kindOf } from '../engine/errdefs';

/* eslint-disable @typescript-eslint/no-explicit-any */

/** The version just before `v` ("1.44" → "1.43"). */
const before = (v: string) => `1.${Number(v.split('.')[1]) - 1}`;

const row = (id: string): VersionRow => {
  const r = ROWS.find((x) => x.id === id);
  assert.ok(r, `row ${id}`);
  return r;
};

/** The row's endpoint's answer at the version before the row and at the row's version. */
function shapes(id: string, make: () => any, extras: ShapeExtras = {}, endpoint?: string): [any, any] {
  const r = row(id);
  const ep = endpoint ?? r.endpoints[0]!;
  return [shapeFor(before(r.version), ep, make(), extras), shapeFor(r.version, ep, make(), extras)];
}

/** The row's endpoint's request handling at the version before the row and at the row's version. */
function requests(id: string, make: () => { body?: any; raw?: any; query?: URLSearchParams }, endpoint?: string): Array<{ error?: Error; body?: any; query: URLSearchParams; warnings: string[] }> {
  const r = row(id);
  const ep = endpoint ?? r.endpoints[0]!;
  return [before(r.version), r.version].map((v) => {
    const input = make();
    try {
      const out = applyRequest(v, ep, { ...input, query: input.query ?? new URLSearchParams() });
      return { body: out.body, query: out.query, warnings: out.warnings };
    } catch (error) {
      return { error: error as Error, query: new URLSearchParams(), warnings: [] };
    }
  });
}

const q = (s: string) => new URLSearchParams(s);

const CONTAINER = () => ({
  Id: 'abcdef0123456789'.repeat(4),
  Name: '/web',
  Config: { Hostname: 'abcdef012345', MacAddress: '', OnBuild: null },
  HostConfig: { KernelMemory: 0, KernelMemoryTCP: 0, ConsoleSize: [0, 0] },
  NetworkSettings: {
    Bridge: '', IPAddress: '', Gateway: '', MacAddress: '', EndpointID: '', HairpinMode: false,
    Networks: {
      app: { Aliases: ['db', 'abcdef012345'], NetworkID: 'n1' },
      bridge: { Aliases: null, NetworkID: 'n0' },
    },
  },
});

const IMAGE = () => ({
  Id: 'sha256:1', Created: '2024-01-01T00:00:00Z', Size: 10, VirtualSize: 10, Container: '', ContainerConfig: { Hostname: '' },
  Parent: '', Comment: '', DockerVersion: '', Author: '',
  Config: { Hostname: '', Domainname: '', AttachStdin: false, AttachStdout: false, AttachStderr: false, Tty: false, OpenStdin: false, StdinOnce: false, Image: '', Cmd: ['sh'], Entrypoint: null, Env: null, Labels: null, OnBuild: null, User: '', Volumes: null, WorkingDir: '' },
});

const SUMMARY = () => [{ Id: 'sha256:1', RepoTags: ['<none>:<none>'], RepoDigests: ['<none>@<none>'], Containers: -1, SharedSize: -1, Size: 10, VirtualSize: 10 }];

const DF = () => ({
  LayersSize: 10,
  Images: [{ Id: 'sha256:1', Containers: 1, Size: 10, VirtualSize: 10 }],
  Containers: [{ Id: 'c1', State: 'exited', SizeRw: 5 }],
  Volumes: [{ Name: 'v', UsageData: { RefCount: 0, Size: 3 } }],
  BuildCache: [{ ID: 'b1', Parent: 'b0', InUse: false, Size: 2 }],
  BuilderSize: 0,
});

const isInvalid = (e: Error | undefined, re: RegExp) => {
  assert.ok(e, 'expected a refusal');
  assert.equal(kindOf(e), 'invalid-argument');
  assert.match(e.message, re);
};

/** One check per row with a function: the row's difference shows between version-1 and version. */
const CASES: Record<string, () => void> = {
  'df-builder-size': () => {
    const [o, n] = shapes('df-builder-size', DF);
    assert.ok('BuilderSize' in o);
    assert.ok(!('BuilderSize' in n));
  },
  'df-type': () => {
    const [ro, rn] = requests('df-type', () => ({ query: q('type=bogus') }));
    assert.equal(ro!.error, undefined);
    isInvalid(rn!.error, /unknown object type: bogus/);
    const [o, n] = shapes('df-type', DF, { query: q('type=container&type=volume') });
    assert.equal(o.Images.length, 1);
    assert.equal(n.Images, null);
    assert.equal(n.BuildCache, null);
    assert.equal(n.Containers.length, 1);
    assert.ok(!('LayersSize' in n));
  },
  'df-build-cache-parents': () => {
    const [o, n] = shapes('df-build-cache-parents', DF);
    assert.equal(o.BuildCache[0].Parent, 'b0');
    assert.deepEqual(n.BuildCache[0].Parents, ['b0']);
    assert.ok(!('Parent' in n.BuildCache[0]));
  },
  'stop-signal': () => {
    const [o, n] = requests('stop-signal', () => ({ query: q('signal=SIGINT') }));
    assert.equal(o!.query.get('signal'), null);
    assert.equal(n!.query.get('signal'), 'SIGINT');
    // restart takes it too (moby's postContainersRestart), with the same version gate
    const [ro, rn] = requests('stop-signal', () => ({ query: q('signal=SIGINT') }), 'POST /containers/{id}/restart');
    assert.equal(ro!.query.get('signal'), null);
    assert.equal(rn!.query.get('signal'), 'SIGINT');
  },
  'images-shared-size': () => {
    const usage = new Map([['sha256:1', { Containers: 2, SharedSize: 7 }]]);
    const [o, n] = shapes('images-shared-size', SUMMARY, { query: q('shared-size=1'), imageUsage: usage });
    assert.equal(o[0].SharedSize, -1);
    assert.equal(n[0].SharedSize, 7);
  },
  'create-console-size': () => {
    const [o, n] = requests('create-console-size', () => ({ body: { HostConfig: { ConsoleSize: [30, 100] } } }));
    assert.deepEqual(applyRequest('1.52', 'POST /containers/create', { body: { HostConfig: { ConsoleSize: [30, 100] } } }).body.HostConfig.ConsoleSize, [30, 100], 'recorded as given');
    assert.deepEqual(o!.body.HostConfig.ConsoleSize, [0, 0]);
    assert.deepEqual(n!.body.HostConfig.ConsoleSize, [30, 100]);
  },
  'create-mount-options-type': () => {
    const [o, n] = requests('create-mount-options-type', () => ({ body: { HostConfig: { Mounts: [{ Type: 'bind', Source: '/x', Target: '/y', VolumeOptions: { NoCopy: true } }] } } }));
    assert.equal(o!.body.HostConfig.Mounts[0].VolumeOptions, undefined);
    isInvalid(n!.error, /VolumeOptions must not be specified on mount type "bind"/);
  },
  'create-bind-create-mountpoint': () => {
    const raw = { HostConfig: { Mounts: [{ Type: 'bind', BindOptions: { CreateMountpoint: true } }] } };
    const [o, n] = requests('create-bind-create-mountpoint', () => ({ body: {}, raw }));
    assert.equal(o!.error, undefined);
    isInvalid(n!.error, /CreateMountpoint/);
  },
  'kernel-memory-ignored': () => {
    const [o, n] = requests('kernel-memory-ignored', () => ({ body: { HostConfig: { KernelMemory: 1 << 20 } } }));
    assert.equal(o!.body.HostConfig.KernelMemory, 1 << 20);
    assert.equal(n!.body.HostConfig.KernelMemory, undefined);
    const [uo, un] = requests('kernel-memory-ignored', () => ({ body: { KernelMemory: 1 << 20 } }), 'POST /containers/{id}/update');
    assert.equal(uo!.body.KernelMemory, 1 << 20);
    assert.equal(un!.body.KernelMemory, undefined);
  },
  'inspect-kernel-memory-omitted': () => {
    const [o, n] = shapes('inspect-kernel-memory-omitted', CONTAINER);
    assert.equal(o.HostConfig.KernelMemory, 0);
    assert.ok(!('KernelMemory' in n.HostConfig) && !('KernelMemoryTCP' in n.HostConfig));
  },
  'exec-console-size': () => {
    const [o, n] = requests('exec-console-size', () => ({ body: { ConsoleSize: [10, 20], Cmd: ['sh'] } }));
    assert.equal(o!.body.ConsoleSize, undefined);
    assert.deepEqual(n!.body.ConsoleSize, [10, 20]);
    // the create's size (kept on the exec record: daemon/exec service.test.ts) from 1.42, on a tty
    assert.deepEqual(execCreateConsoleSize('1.42', { Tty: true, ConsoleSize: [10, 20] }), { height: 10, width: 20 });
    assert.equal(execCreateConsoleSize('1.41', { Tty: true, ConsoleSize: [10, 20] }), undefined);
    assert.equal(execCreateConsoleSize('1.42', { Tty: false, ConsoleSize: [10, 20] }), undefined);
    assert.throws(() => execCreateConsoleSize('1.42', { Tty: true, ConsoleSize: [10] }), /ConsoleSize must be/);
    // the start's own size: from 1.42, with the start's tty (moby: no console without a tty)
    const startOpts = (tty: boolean): { detach: boolean; tty: boolean; consoleSize?: { height: number; width: number } } => ({ detach: false, tty, consoleSize: { height: 1, width: 1 } });
    assert.deepEqual(execStartConsoleSize('1.42', startOpts(true)).consoleSize, { height: 1, width: 1 });
    assert.equal(execStartConsoleSize('1.41', startOpts(true)).consoleSize, undefined);
    assert.equal(execStartConsoleSize('1.42', startOpts(false)).consoleSize, undefined);
  },
  'stream-content-type': () => {
    assert.equal(streamContentType('1.41', false), undefined);
    assert.equal(streamContentType('1.41', false, 'application/vnd.docker.raw-stream'), 'application/vnd.docker.raw-stream');
    assert.equal(streamContentType('1.42', false), 'application/vnd.docker.multiplexed-stream');
    assert.equal(streamContentType('1.42', true), 'application/vnd.docker.raw-stream');
  },
  'attach-ws-streams': () => {
    const [o, n] = requests('attach-ws-streams', () => ({ query: q('stdout=1') }));
    assert.equal(o!.query.get('stderr'), '1');
    assert.equal(n!.query.get('stderr'), null);
  },
  'volumes-prune-anonymous': () => {
    const [o, n] = requests('volumes-prune-anonymous', () => ({ query: q('filters=' + encodeURIComponent('{"label":["a"]}')) }));
    assert.deepEqual(JSON.parse(o!.query.get('filters')!), { label: ['a'], all: ['true'] });
    assert.deepEqual(JSON.parse(n!.query.get('filters')!), { label: ['a'] });
    const [ao, an] = requests('volumes-prune-anonymous', () => ({ query: q('filters=' + encodeURIComponent('{"all":["true"]}')) }));
    isInvalid(ao!.error, /Invalid filter 'all'/);
    assert.deepEqual(JSON.parse(an!.query.get('filters')!), { all: ['true'] }, 'left for the volume service');
  },
  'network-create-duplicate': () => {
    const [o, n] = requests('network-create-duplicate', () => ({ body: { Name: 'x' } }));
    assert.equal(o!.body.CheckDuplicate, undefined);
    assert.equal(n!.body.CheckDuplicate, true);
  },
  'create-annotations': () => {
    const [o, n] = requests('create-annotations', () => ({ body: {}, raw: { hostconfig: { annotations: { a: 'b' } } } }));
    assert.equal(o!.error, undefined);
    isInvalid(n!.error, /HostConfig\.Annotations/);
  },
  'images-no-none': () => {
    const [o, n] = shapes('images-no-none', SUMMARY);
    assert.deepEqual(o[0].RepoTags, ['<none>:<none>']);
    assert.deepEqual(n[0].RepoTags, []);
    assert.deepEqual(n[0].RepoDigests, []);
  },
  'virtual-size': () => {
    for (const ep of row('virtual-size').endpoints) {
      const make = ep === 'GET /images/json' ? SUMMARY : ep === 'GET /system/df' ? DF : IMAGE;
      const [o, n] = shapes('virtual-size', make, {}, ep);
      const first = (b: any) => (Array.isArray(b) ? b[0] : b.Images ? b.Images[0] : b);
      assert.equal(first(o).VirtualSize, 10, ep);
      assert.ok(!('VirtualSize' in first(n)), ep);
    }
  },
  'image-created-omitted': () => {
    const [o, n] = shapes('image-created-omitted', () => ({ ...IMAGE(), Created: '0001-01-01T00:00:00Z' }));
    assert.equal(o.Created, '0001-01-01T00:00:00Z');
    assert.ok(!('Created' in n));
  },
  'create-multiple-networks': () => {
    const [o, n] = requests('create-multiple-networks', () => ({ body: { NetworkingConfig: { EndpointsConfig: { b: {}, a: {} } } } }));
    isInvalid(o!.error, /Container cannot be connected to network endpoints: a, b/);
    assert.equal(n!.error, undefined);
  },
  'healthcheck-start-interval': () => {
    // the decoder of the 1.41 body drops the field: the row takes it from the body as sent
    const [o, n] = requests('healthcheck-start-interval', () => ({ body: { Healthcheck: { Test: ['CMD', 'true'] } }, raw: { healthcheck: { Test: ['CMD', 'true'], StartInterval: 1e9 } } }));
    assert.equal(o!.body.Healthcheck.StartInterval, undefined);
    assert.equal(n!.body.Healthcheck.StartInterval, 1e9);
    const [, bad] = requests('healthcheck-start-interval', () => ({ body: { Healthcheck: {} }, raw: { Healthcheck: { StartInterval: '1s' } } }));
    isInvalid(bad!.error, /cannot unmarshal string into Go struct field .*StartInterval of type time\.Duration/);
  },
  'endpoint-mac-address': () => {
    const [o, n] = requests('endpoint-mac-address', () => ({ body: { NetworkingConfig: { EndpointsConfig: { app: { MacAddress: '02:42:ac:11:00:02' } } } } }));
    assert.equal(o!.body.NetworkingConfig.EndpointsConfig.app.MacAddress, undefined);
    assert.equal(n!.body.NetworkingConfig.EndpointsConfig.app.MacAddress, '02:42:ac:11:00:02');
  },
  'container-mac-address-deprecated': () => {
    const [o, n] = requests('container-mac-address-deprecated', () => ({ body: { MacAddress: '02:42:ac:11:00:02' } }));
    assert.deepEqual(o!.warnings, []);
    assert.match(n!.warnings.join(), /container-wide MacAddress field is now deprecated/);
  },
  'bind-read-only-recursive': () => {
    const raw = { HostConfig: { Mounts: [{ Type: 'bind', BindOptions: { ReadOnlyForceRecursive: true } }] } };
    const [o, n] = requests('bind-read-only-recursive', () => ({ body: {}, raw }));
    isInvalid(o!.error, /needs API v1\.44 or newer/);
    isInvalid(n!.error, /ReadOnlyForceRecursive \(API 1\.44\) is not supported/);
  },
  'inspect-dns-names': () => {
    const [o, n] = shapes('inspect-dns-names', CONTAINER);
    assert.ok(!('DNSNames' in o.NetworkSettings.Networks.app));
    assert.deepEqual(n.NetworkSettings.Networks.app.DNSNames, ['web', 'db', 'abcdef012345']);
    assert.equal(n.NetworkSettings.Networks.bridge.DNSNames, null);
  },
  'info-cdi-spec-dirs': () => {
    const [o, n] = shapes('info-cdi-spec-dirs', () => ({}));
    assert.ok(!('CDISpecDirs' in o));
    assert.deepEqual(n.CDISpecDirs, []);
  },
  'image-container-config': () => {
    const [o, n] = shapes('image-container-config', IMAGE);
    assert.ok('ContainerConfig' in o && 'Container' in o);
    assert.ok(!('ContainerConfig' in n) && !('Container' in n));
  },
  'inspect-aliases': () => {
    const [o, n] = shapes('inspect-aliases', CONTAINER);
    assert.deepEqual(o.NetworkSettings.Networks.app.Aliases, ['db', 'abcdef012345']);
    assert.deepEqual(n.NetworkSettings.Networks.app.Aliases, ['db']);
    assert.ok(n.NetworkSettings.Networks.app.DNSNames.includes('abcdef012345'), 'the short id stays in DNSNames');
  },
  'create-volume-subpath': () => {
    const raw = { HostConfig: { Mounts: [{ Type: 'volume', VolumeOptions: { Subpath: 'a' } }] } };
    const [o, n] = requests('create-volume-subpath', () => ({ body: {}, raw }));
    isInvalid(o!.error, /Subpath needs API v1\.45 or newer/);
    isInvalid(n!.error, /Subpath \(API 1\.45\) is not supported/);
  },
  'create-tmpfs-options': () => {
    const raw = { HostConfig: { Mounts: [{ Type: 'tmpfs', TmpfsOptions: { Options: [['exec']] } }] } };
    const [o, n] = requests('create-tmpfs-options', () => ({ body: {}, raw }));
    assert.equal(o!.error, undefined);
    isInvalid(n!.error, /TmpfsOptions\.Options/);
  },
  'events-image-create': () => {
    const ev = { Type: 'image', Action: 'create', Actor: { ID: 'x', Attributes: {} } };
    assert.equal(eventFor('1.45', ev), undefined);
    assert.ok(eventFor('1.46', ev));
    assert.ok(eventFor('1.45', { ...ev, Action: 'tag' }));
  },
  'push-platform': () => {
    const [o, n] = requests('push-platform', () => ({ query: q('platform=linux/amd64') }));
    assert.equal(o!.error, undefined);
    isInvalid(n!.error, /platform/);
  },
  'info-nondistributable': () => {
    const [o, n] = shapes('info-nondistributable', () => ({ RegistryConfig: { AllowNondistributableArtifactsCIDRs: [], AllowNondistributableArtifactsHostnames: [], Mirrors: [] } }));
    assert.ok('AllowNondistributableArtifactsCIDRs' in o.RegistryConfig);
    assert.deepEqual(Object.keys(n.RegistryConfig), ['Mirrors']);
  },
  'create-gw-priority': () => {
    const raw = { NetworkingConfig: { EndpointsConfig: { app: { GwPriority: 5 } } } };
    const [o, n] = requests('create-gw-priority', () => ({ body: {}, raw }));
    assert.equal(o!.error, undefined);
    isInvalid(n!.error, /GwPriority/);
    const [co, cn] = requests('create-gw-priority', () => ({ body: {}, raw: { Container: 'x', EndpointConfig: { GwPriority: 1 } } }), 'POST /networks/{id}/connect');
    assert.equal(co!.error, undefined);
    isInvalid(cn!.error, /GwPriority/);
  },
  'create-mount-image': () => {
    const [o, n] = requests('create-mount-image', () => ({ body: { HostConfig: { Mounts: [{ Type: 'image', Source: 'busybox', Target: '/i' }] } } }));
    isInvalid(o!.error, /Mount type "Image" needs API v1\.48 or newer/);
    isInvalid(n!.error, /Type=image \(API 1\.48\) is not supported/);
  },
  'create-volume-driver-warning': () => {
    const [o, n] = requests('create-volume-driver-warning', () => ({ body: { HostConfig: { VolumeDriver: 'local', Mounts: [{ Type: 'volume', Target: '/v' }] } } }));
    assert.deepEqual(o!.warnings, []);
    assert.match(n!.warnings.join(), /volume-driver configuration is ignored/);
  },
  'network-enable-ipv4': () => {
    const [o, n] = shapes('network-enable-ipv4', () => ({ Name: 'app' }), {}, 'GET /networks/{id}');
    assert.ok(!('EnableIPv4' in o));
    assert.equal(n.EnableIPv4, true);
    const [lo, ln] = shapes('network-enable-ipv4', () => [{ Name: 'app' }], {}, 'GET /networks');
    assert.ok(!('EnableIPv4' in lo[0]));
    assert.equal(ln[0].EnableIPv4, true);
    const [ro, rn] = requests('network-enable-ipv4', () => ({ body: { Name: 'x' }, raw: { Name: 'x', EnableIPv4: false } }));
    assert.equal(ro!.error, undefined);
    isInvalid(rn!.error, /EnableIPv4=false/);
  },
  'image-platform-queries': () => {
    for (const ep of row('image-platform-queries').endpoints) {
      const [o, n] = requests('image-platform-queries', () => ({ query: q('platform=' + encodeURIComponent('{"os":"linux"}')) }), ep);
      assert.equal(o!.error, undefined, ep);
      isInvalid(n!.error, /platform/);
    }
  },
  'build-prune-space': () => {
    const [o, n] = requests('build-prune-space', () => ({ query: q('reserved-space=1000') }));
    assert.equal(o!.error, undefined);
    isInvalid(n!.error, /reserved-space/);
  },
  'image-inspect-platform': () => {
    const [o, n] = requests('image-inspect-platform', () => ({ query: q('platform=' + encodeURIComponent('{"os":"linux"}')) }));
    assert.equal(o!.error, undefined);
    isInvalid(n!.error, /platform \(API 1\.49\)/);
  },
  'info-expected-commits': () => {
    const [o, n] = shapes('info-expected-commits', () => ({ RuncCommit: { ID: 'x', Expected: 'x' }, ContainerdCommit: { ID: '', Expected: '' }, InitCommit: { ID: '', Expected: '' } }));
    assert.equal(o.RuncCommit.Expected, 'x');
    assert.deepEqual(n.RuncCommit, { ID: 'x' });
  },
  'image-config-container-fields': () => {
    const [o, n] = shapes('image-config-container-fields', IMAGE);
    assert.ok('Hostname' in o.Config && 'AttachStdin' in o.Config);
    assert.ok(!('Hostname' in n.Config) && !('AttachStdin' in n.Config) && !('Image' in n.Config));
    assert.deepEqual(n.Config.Cmd, ['sh']);
  },
  'info-bridge-nf': () => {
    const [o, n] = shapes('info-bridge-nf', () => ({ BridgeNfIptables: true, BridgeNfIp6tables: true }));
    assert.equal(o.BridgeNfIptables, true);
    assert.ok(!('BridgeNfIptables' in n) && !('BridgeNfIp6tables' in n));
  },
  'image-delete-platforms': () => {
    const [o, n] = requests('image-delete-platforms', () => ({ query: q('platforms=' + encodeURIComponent('{"os":"linux"}')) }));
    assert.equal(o!.error, undefined);
    isInvalid(n!.error, /platforms/);
  },
  'images-containers-count': () => {
    const usage = new Map([['sha256:1', { Containers: 2, SharedSize: 7 }]]);
    const [o, n] = shapes('images-containers-count', SUMMARY, { imageUsage: usage });
    assert.equal(o[0].Containers, -1);
    assert.equal(n[0].Containers, 2);
  },
  'events-legacy-fields': () => {
    const ev = { Type: 'container', Action: 'start', Actor: { ID: 'c', Attributes: {} }, status: 'start', id: 'c', from: 'busybox' };
    const o = eventFor('1.51', { ...ev })!;
    const n = eventFor('1.52', ev)!;
    assert.equal(o.status, 'start');
    assert.ok(!('status' in n) && !('id' in n) && !('from' in n));
    assert.equal(ev.status, 'start', 'the bus\'s event is not changed');
  },
  'inspect-network-settings-legacy': () => {
    const [o, n] = shapes('inspect-network-settings-legacy', CONTAINER);
    assert.ok('IPAddress' in o.NetworkSettings && 'Bridge' in o.NetworkSettings);
    assert.deepEqual(Object.keys(n.NetworkSettings), ['Networks']);
  },
  'inspect-config-fields': () => {
    const [o, n] = shapes('inspect-config-fields', () => ({ ...CONTAINER(), HostConfig: { KernelMemoryTCP: 1 << 20 } }));
    assert.ok('MacAddress' in o.Config && 'OnBuild' in o.Config && 'KernelMemoryTCP' in o.HostConfig);
    assert.ok(!('MacAddress' in n.Config) && !('OnBuild' in n.Config) && !('KernelMemoryTCP' in n.HostConfig));
  },
  'container-mac-address-removed': () => {
    const [o, n] = requests('container-mac-address-removed', () => ({ body: { MacAddress: '02:42:ac:11:00:02' } }));
    assert.equal(o!.error, undefined);
    isInvalid(n!.error, /container-wide MAC address no longer supported/);
  },
  'kernel-memory-tcp-ignored': () => {
    const [o, n] = requests('kernel-memory-tcp-ignored', () => ({ body: { HostConfig: { KernelMemoryTCP: 1 << 20 } } }));
    assert.equal(o!.body.HostConfig.KernelMemoryTCP, 1 << 20);
    assert.equal(n!.body.HostConfig.KernelMemoryTCP, undefined);
  },
  'info-kernel-memory-tcp': () => {
    const [o, n] = shapes('info-kernel-memory-tcp', () => ({ KernelMemoryTCP: false }));
    assert.ok('KernelMemoryTCP' in o);
    assert.ok(!('KernelMemoryTCP' in n));
  },
  'image-omit-empty': () => {
    const [o, n] = shapes('image-omit-empty', IMAGE);
    assert.equal(o.Author, '');
    assert.ok(!('Author' in n) && !('Parent' in n) && !('Comment' in n) && !('DockerVersion' in n));
    assert.deepEqual(Object.keys(n.Config), ['Cmd']);
  },
  'list-health': () => {
    const h = (id: string) => (id === 'c1' ? { Status: 'healthy', FailingStreak: 0, Log: [] } : undefined);
    const [o, n] = shapes('list-health', () => [{ Id: 'c1' }, { Id: 'c2' }], { health: h });
    assert.ok(!('Health' in o[0]));
    assert.deepEqual(n[0].Health, { Status: 'healthy', FailingStreak: 0 });
    assert.ok(!('Health' in n[1]));
  },
  'df-usage': () => {
    const [o, n] = shapes('df-usage', DF);
    assert.ok(!('ImageUsage' in o));
    assert.deepEqual(n.ImageUsage, { ActiveCount: 1, TotalCount: 1, TotalSize: 10 });
    assert.deepEqual(n.ContainerUsage, { Reclaimable: 5, TotalCount: 1, TotalSize: 5 });
    assert.deepEqual(n.VolumeUsage, { Reclaimable: 3, TotalCount: 1, TotalSize: 3 });
    assert.equal(n.BuildCacheUsage.TotalCount, 1);
    assert.ok(Array.isArray(n.Images), 'the legacy lists stay without verbose');
    const [, v] = shapes('df-usage', DF, { query: q('verbose=1') });
    assert.ok(!('Images' in v));
    assert.equal(v.ImageUsage.Items.length, 1);
  },
  'info-execution-driver': () => {
    const info = () => ({ ID: 'x', SecurityOptions: ['name=seccomp,profile=default', 'name=cgroupns', 'apparmor'], Warnings: null });
    const [o, n] = shapes('info-execution-driver', info);
    assert.equal(o.ExecutionDriver, '<not supported>');
    assert.equal(Object.keys(o).at(-1), 'ExecutionDriver', 'after the Info fields, as Go writes the embedding struct');
    assert.deepEqual(o.SecurityOptions, ['seccomp', 'cgroupns', 'apparmor']);
    assert.deepEqual(n, info());
    assert.deepEqual(shapeFor('1.41', 'GET /info', info()), info());
    assert.throws(() => shapeFor('1.24', 'GET /info', { SecurityOptions: ['name=seccomp,profile='] }), /invalid empty security option/);
  },
  'stats-os-type': () => {
    const [o, n] = shapes('stats-os-type', () => ({ id: 'c' }));
    assert.ok(!('os_type' in o));
    assert.equal(n.os_type, 'linux');
  },
};

describe('the API version table', () => {
  it('has rows from 1.42 to 1.52 (`older` rows from 1.25 to 1.41), each with a function or a reason, and unique ids', () => {
    const ids = new Set<string>();
    for (const r of ROWS) {
      assert.ok(!ids.has(r.id), `duplicate row ${r.id}`);
      ids.add(r.id);
      if (r.older) assert.ok(compareVersions(r.version, '1.25') >= 0 && compareVersions(r.version, '1.41') <= 0 && !r.response && !r.request && !r.filter, r.id);
      else assert.ok(compareVersions(r.version, '1.42') >= 0 && compareVersions(r.version, '1.52') <= 0, r.id);
      assert.ok(r.endpoints.length > 0 && r.change.length > 0, r.id);
      const fns = [r.response, r.request, r.filter, r.older].filter(Boolean).length;
      assert.ok((fns > 0) !== (r.notApplicable !== undefined), `${r.id}: a function or a reason, not both`);
    }
  });
  it('has a test for every row with a function', () => {
    const untested = ROWS.filter((r) => (r.response || r.request || r.filter || r.older) && !CASES[r.id]).map((r) => r.id);
    assert.deepEqual(untested, []);
  });
  it('leaves v1.41 answers as they are (the differential suite compares them with Docker 20.10)', () => {
    assert.deepEqual(shapeFor('1.41', 'GET /containers/{id}/json', CONTAINER()), CONTAINER());
    assert.deepEqual(shapeFor('1.41', 'GET /images/{name}/json', IMAGE()), IMAGE());
    assert.deepEqual(shapeFor('1.41', 'GET /system/df', DF(), { query: q('type=image') }), DF());
  });
  for (const r of ROWS) {
    const check = CASES[r.id];
    if (check) it(`${r.version} ${r.id}: applied at ${r.version}, not at ${before(r.version)}`, check);
  }
});
