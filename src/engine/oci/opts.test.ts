import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_CAPABILITIES } from './caps';
import { DEFAULT_PATH_ENV, defaultDeviceRules, defaultSpec } from './defaults';
import {
  applyOpts,
  compose,
  generateSpec,
  orderSpecKeys,
  withAllDevicesAllowed,
  withCapabilities,
  withCgroupsPath,
  withCwd,
  withDeviceRules,
  withDevices,
  withDevShmSize,
  withEnv,
  withHostname,
  withMaskedPaths,
  withMounts,
  withNamespace,
  withNetNSPath,
  withNoNewPrivileges,
  withOOMScoreAdj,
  withoutMount,
  withoutNamespace,
  withProcessArgs,
  withReadonlyMounts,
  withReadonlyPaths,
  withResources,
  withRlimits,
  withRootfs,
  withRootfsPropagation,
  withSeccomp,
  withSysctls,
  withTmpfs,
  withTTY,
  withUser,
  withWritableCgroupfs,
  withWritableSysfs,
  type SpecOpt,
} from './opts';
import type { Spec } from './spec';

const dests = (s: Spec) => s.mounts.map((m) => m.destination);
const mount = (s: Spec, d: string) => s.mounts.find((m) => m.destination === d);

test('the default spec: root in /, default PATH, mounts, namespaces, masks, device policy, caps', () => {
  const s = generateSpec([]);
  assert.equal(s.ociVersion, '1.0.2-dev');
  assert.deepEqual(s.process.user, { uid: 0, gid: 0 });
  assert.deepEqual(s.process.env, [`PATH=${DEFAULT_PATH_ENV}`]);
  assert.equal(s.process.cwd, '/');
  assert.equal(s.process.terminal, false);
  assert.deepEqual(s.process.capabilities!.effective, [...DEFAULT_CAPABILITIES]);
  assert.deepEqual(s.root, { path: 'rootfs', readonly: false });
  assert.equal(s.hostname, undefined);
  assert.deepEqual(dests(s), ['/proc', '/dev', '/dev/pts', '/sys', '/sys/fs/cgroup', '/dev/mqueue', '/dev/shm']);
  assert.deepEqual(s.linux.namespaces.map((n) => n.type), ['mount', 'network', 'uts', 'pid', 'ipc']);
  assert.deepEqual(s.linux.resources!.devices, defaultDeviceRules());
  assert.ok(s.linux.maskedPaths!.includes('/proc/kcore'));
  assert.ok(s.linux.readonlyPaths!.includes('/proc/sys'));
  assert.equal(s.linux.seccomp, undefined);
  // every spec gets its own copies
  generateSpec([(x) => x.linux.maskedPaths!.push('/x')]);
  assert.ok(!defaultSpec().linux.maskedPaths!.includes('/x'));
});

test('process options: args, env (replace, append, unset), cwd, user, tty, oom score, nnp', () => {
  const s = generateSpec([
    withProcessArgs('sh', '-c', 'true'),
    withEnv(['A=1', 'PATH=/bin']),
    withTTY(),
    withEnv(['A=2', 'TERM']),
    withCwd('/w'),
    withUser({ uid: 1, gid: 2, additionalGids: [2, 3] }),
    withOOMScoreAdj(-5),
    withNoNewPrivileges(),
  ]);
  assert.deepEqual(s.process.args, ['sh', '-c', 'true']);
  assert.deepEqual(s.process.env, ['PATH=/bin', 'A=2']);
  assert.equal(s.process.terminal, true);
  assert.equal(s.process.cwd, '/w');
  assert.deepEqual(s.process.user, { uid: 1, gid: 2, additionalGids: [2, 3] });
  assert.equal(s.process.oomScoreAdj, -5);
  assert.equal(s.process.noNewPrivileges, true);
  assert.deepEqual(generateSpec([withTTY()]).process.env, [`PATH=${DEFAULT_PATH_ENV}`, 'TERM=xterm']);
});

test('capabilities: all three sets, or bounding only', () => {
  assert.deepEqual(generateSpec([withCapabilities(['CAP_KILL'])]).process.capabilities, {
    bounding: ['CAP_KILL'], effective: ['CAP_KILL'], permitted: ['CAP_KILL'],
  });
  assert.deepEqual(generateSpec([withCapabilities(['CAP_KILL'], 'bounding')]).process.capabilities, { bounding: ['CAP_KILL'] });
});

test('rlimits: set, replaced, none leaves the field out', () => {
  const r = { type: 'RLIMIT_NOFILE', soft: 1, hard: 2 };
  assert.deepEqual(generateSpec([withRlimits([r])]).process.rlimits, [r]);
  assert.equal(generateSpec([withRlimits([r]), withRlimits([])]).process.rlimits, undefined);
});

test('root, hostname, cgroups path, rootfs propagation', () => {
  const s = generateSpec([withRootfs('/r', true), withHostname('h'), withCgroupsPath('/p/id'), withRootfsPropagation('rslave')]);
  assert.deepEqual(s.root, { path: '/r', readonly: true });
  assert.equal(s.hostname, 'h');
  assert.equal(s.linux.cgroupsPath, '/p/id');
  assert.equal(s.linux.rootfsPropagation, 'rslave');
});

test('mounts: appended, replacing a mount at the same destination; a /dev mount drops the ones below /dev', () => {
  const s = generateSpec([
    withMounts([{ destination: '/data', type: 'bind', source: '/h', options: ['rbind'] }, { destination: '/dev/mqueue', type: 'bind', source: '/q' }]),
  ]);
  assert.deepEqual(dests(s), ['/proc', '/dev', '/dev/pts', '/sys', '/sys/fs/cgroup', '/dev/shm', '/data', '/dev/mqueue']);
  assert.equal(mount(s, '/dev/mqueue')!.source, '/q');
  const dev = generateSpec([withMounts([{ destination: '/dev', type: 'bind', source: '/dev' }])]);
  assert.deepEqual(dests(dev), ['/proc', '/sys', '/sys/fs/cgroup', '/dev']);
  const t = generateSpec([withTmpfs('/run', ['size=1m']), withoutMount('/dev/mqueue')]);
  assert.deepEqual(mount(t, '/run'), { destination: '/run', type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] });
  assert.equal(mount(t, '/dev/mqueue'), undefined);
});

test('mount options: shm size, read-only mounts, writable sysfs and cgroupfs', () => {
  const s = generateSpec([withDevShmSize(1024), withReadonlyMounts(['/proc', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue'])]);
  assert.deepEqual(mount(s, '/dev/shm')!.options, ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=1024']);
  assert.ok(!mount(s, '/proc')!.options!.includes('ro'));
  assert.deepEqual(mount(s, '/sys')!.options, ['nosuid', 'noexec', 'nodev', 'ro']); // not twice
  const w = generateSpec([withWritableSysfs(), withWritableCgroupfs()]);
  assert.ok(!mount(w, '/sys')!.options!.includes('ro'));
  assert.ok(!mount(w, '/sys/fs/cgroup')!.options!.includes('ro'));
});

test('namespaces: new, joined in place, removed', () => {
  const s = generateSpec([withNetNSPath('/proc/1/ns/net'), withNamespace('cgroup'), withoutNamespace('uts'), withNamespace('ipc', '/proc/2/ns/ipc')]);
  assert.deepEqual(s.linux.namespaces, [
    { type: 'mount' }, { type: 'network', path: '/proc/1/ns/net' }, { type: 'pid' }, { type: 'ipc', path: '/proc/2/ns/ipc' }, { type: 'cgroup' },
  ]);
  assert.deepEqual(generateSpec([withNetNSPath('/x'), withNamespace('network')]).linux.namespaces[1], { type: 'network' });
});

test('resources: sections replaced, device rules kept and appended, or all allowed', () => {
  const s = generateSpec([
    withResources({ memory: { limit: 10 }, pids: { limit: 5 } }),
    withResources({ memory: { limit: 20 } }),
    withDeviceRules([{ allow: true, type: 'c', major: 42, minor: -1, access: 'rwm' }]),
  ]);
  assert.deepEqual(s.linux.resources!.memory, { limit: 20 });
  assert.deepEqual(s.linux.resources!.pids, { limit: 5 });
  assert.equal(s.linux.resources!.devices!.length, defaultDeviceRules().length + 1);
  assert.deepEqual(Object.keys(s.linux.resources!), ['memory', 'pids', 'devices']);
  assert.deepEqual(generateSpec([withAllDevicesAllowed()]).linux.resources!.devices, [{ allow: true, access: 'rwm' }]);
  const dev = { type: 'c' as const, path: '/dev/x', major: 1, minor: 2 };
  assert.deepEqual(generateSpec([withDevices([dev]), withDevices([dev])]).linux.devices, [dev, dev]);
});

test('security: seccomp set and removed, masked and read-only paths replaced or removed, sysctls merged', () => {
  const seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [] };
  assert.deepEqual(generateSpec([withSeccomp(seccomp)]).linux.seccomp, seccomp);
  assert.equal(generateSpec([withSeccomp(seccomp), withSeccomp(undefined)]).linux.seccomp, undefined);
  const s = generateSpec([withMaskedPaths(null), withReadonlyPaths(['/r'])]);
  assert.equal(s.linux.maskedPaths, undefined);
  assert.deepEqual(s.linux.readonlyPaths, ['/r']);
  assert.deepEqual(generateSpec([withSysctls({ a: '1', b: '1' }), withSysctls({ b: '2' })]).linux.sysctl, { a: '1', b: '2' });
  assert.deepEqual(generateSpec([withSysctls({})]).linux.sysctl, {});
});

test('key order is fixed whatever order the options ran in', () => {
  const opts: SpecOpt[] = [withHostname('h'), withSeccomp({ defaultAction: 'SCMP_ACT_ALLOW' }), withSysctls({}), withOOMScoreAdj(0), withRlimits([{ type: 'RLIMIT_CORE', soft: 0, hard: 0 }]), withCgroupsPath('/c'), withResources({ cpu: { shares: 2 }, memory: {} })];
  const a = JSON.stringify(generateSpec(opts));
  const b = JSON.stringify(generateSpec([...opts].reverse()));
  assert.equal(a, b);
  const s = JSON.parse(a) as Spec;
  assert.deepEqual(Object.keys(s), ['ociVersion', 'process', 'root', 'hostname', 'mounts', 'linux']);
  assert.deepEqual(Object.keys(s.process), ['terminal', 'user', 'args', 'env', 'cwd', 'oomScoreAdj', 'rlimits', 'capabilities']);
  assert.deepEqual(Object.keys(s.linux), ['sysctl', 'cgroupsPath', 'namespaces', 'devices', 'maskedPaths', 'readonlyPaths', 'resources', 'seccomp']);
  assert.deepEqual(Object.keys(s.linux.resources!), ['memory', 'cpu', 'devices']);
  // unknown keys keep their place after the known ones
  const odd = orderSpecKeys({ ...defaultSpec(), annotations: { a: 'b' }, extra: 1 } as Spec);
  assert.deepEqual(Object.keys(odd).slice(-3), ['annotations', 'linux', 'extra']);
});

test('compose, applyOpts and the context', () => {
  let seen = '';
  const s = applyOpts(defaultSpec(), [compose(withHostname('a'), (_s, ctx) => (seen = ctx.id))], { id: 'c1' });
  assert.equal(s.hostname, 'a');
  assert.equal(seen, 'c1');
  assert.throws(() => generateSpec([() => { throw new Error('boom'); }]), /boom/);
});
