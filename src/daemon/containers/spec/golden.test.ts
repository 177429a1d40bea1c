/**
 * The oracle for the spec-options reshape (issue #12): every case of the former
 * engine/bundle build.test.ts and runc.test.ts (with faked host facts), plus the corners
 * they missed, serialized exactly as before. Each hash is the sha256 of `serializeSpec`
 * of the spec the former `buildSpecFrom` (engine/bundle/build.ts at 98a879d) produced for
 * the same input, so the composition of options must give the same bytes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { serializeSpec } from '../../../engine/bundle/bundle';
import { buildSpecFrom, type BuildFacts, type BuildSpecInput } from './options';
import { facts, input } from './testing';

const DEV = { type: 'c' as const, path: '/dev/kmsg', major: 1, minor: 11, fileMode: 0o644, uid: 0, gid: 0 };

/** As runc.test.ts ran them: busybox image, `--network none`, `sh -c <cmd>`. */
function runcInput(config: BuildSpecInput['config'], hostConfig: BuildSpecInput['hostConfig'], extra: Partial<BuildSpecInput> = {}): BuildSpecInput {
  return input({
    imageConfig: { Cmd: ['sh'] },
    config: { ...config, Cmd: ['sh', '-c', 'true'] },
    hostConfig: { NetworkMode: 'none', ...hostConfig },
    cgroupsPath: '/stevedore-bundle-test/bt-1',
    ...extra,
  });
}

const bind = (destination: string, source: string, more: Partial<BuildSpecInput['mounts'][number]> = {}) => ({
  destination, type: 'bind' as const, source, ...more,
});

export const GOLDEN_CASES: { name: string; input: BuildSpecInput; facts: BuildFacts }[] = [
  // build.test.ts
  { name: 'defaults', input: input(), facts: facts() },
  { name: 'tty env hostname', input: input({ imageConfig: { Cmd: ['sh'], Env: ['A=1'] }, config: { Tty: true, Env: ['A=2'], Hostname: 'h' } }), facts: facts() },
  { name: 'non-root', input: input(), facts: facts({ user: { uid: 1000, gid: 1000, additionalGids: [1000] } }) },
  {
    name: 'resources',
    input: input({ hostConfig: { Memory: 100 << 20, MemoryReservation: 50 << 20, NanoCpus: 1.5e9, CpusetCpus: '0', PidsLimit: 0, BlkioWeight: 300, CpuShares: 512 } }),
    facts: facts(),
  },
  { name: 'resources unlimited', input: input({ hostConfig: { Memory: 1 << 30, MemorySwap: -1, PidsLimit: 50, CpuQuota: 20000, CpuPeriod: 50000 } }), facts: facts() },
  { name: 'privileged', input: input({ hostConfig: { Privileged: true } }), facts: facts({ devices: [DEV] }) },
  { name: 'host namespaces', input: input({ hostConfig: { NetworkMode: 'host', PidMode: 'host', IpcMode: 'host', UTSMode: 'host' } }), facts: facts() },
  {
    name: 'joined namespaces',
    input: input({
      hostConfig: { NetworkMode: 'container:x', IpcMode: 'container:x', PidMode: 'container:x', CgroupnsMode: 'private' },
      netnsPath: '/proc/9/ns/net', ipcnsPath: '/proc/9/ns/ipc', pidnsPath: '/proc/9/ns/pid',
    }),
    facts: facts(),
  },
  { name: 'cgroup v2', input: input({ cgroupVersion: 2 }), facts: facts() },
  { name: 'ipc none', input: input({ hostConfig: { IpcMode: 'none' } }), facts: facts() },
  {
    name: 'mounts readonly tmpfs shm',
    input: input({
      hostConfig: { ReadonlyRootfs: true, Tmpfs: { '/run': 'size=1m' }, ShmSize: 1 << 20 },
      mounts: [
        bind('/a/b/c', '/x', { propagation: 'rprivate' }),
        bind('/etc/hosts', '/h', { propagation: 'rprivate' }),
        { destination: '/dev/mqueue', type: 'volume', source: '/v', readOnly: true },
      ],
    }),
    facts: facts(),
  },
  { name: 'init', input: input({ hostConfig: { Init: true }, initPath: '/usr/bin/tini-static' }), facts: facts() },
  { name: 'init pid host', input: input({ hostConfig: { Init: true, PidMode: 'host' }, initPath: '/t' }), facts: facts() },
  { name: 'nnp unconfined', input: input({ hostConfig: { SecurityOpt: ['no-new-privileges', 'seccomp=unconfined'] } }), facts: facts() },
  {
    name: 'custom seccomp',
    input: input({ hostConfig: { SecurityOpt: ['seccomp={"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"name":"mkdir","action":"SCMP_ACT_ERRNO"}]}'] } }),
    facts: facts(),
  },
  {
    name: 'ulimits sysctls domainname oom rules masked',
    input: input({
      config: { Domainname: 'example.com' },
      hostConfig: { Ulimits: [{ Name: 'nofile', Soft: 1024, Hard: 2048 }], Sysctls: { 'net.core.somaxconn': '1024' }, OomScoreAdj: 500, DeviceCgroupRules: ['c 42:* rmw'], MaskedPaths: [] },
    }),
    facts: facts({ defaultUlimits: [{ Name: 'nofile', Soft: 1, Hard: 1 }, { Name: 'core', Soft: -1, Hard: -1 }] }),
  },
  // runc.test.ts
  { name: 'runc user nobody', input: runcInput({ User: 'nobody' }, {}), facts: facts({ user: { uid: 65534, gid: 65534, additionalGids: [65534] } }) },
  { name: 'runc groupadd', input: runcInput({ User: 'www-data' }, { GroupAdd: ['daemon', '4242'] }), facts: facts({ user: { uid: 33, gid: 33, additionalGids: [33, 100, 1, 4242] } }) },
  { name: 'runc env cwd hostname', input: runcInput({ Env: ['FOO=bar'], WorkingDir: '/tmp', Hostname: 'box' }, {}), facts: facts() },
  { name: 'runc caps', input: runcInput({}, { CapDrop: ['chown', 'CAP_NET_RAW'], CapAdd: ['sys_admin'] }), facts: facts() },
  { name: 'runc readonly tmpfs', input: runcInput({}, { ReadonlyRootfs: true, Tmpfs: { '/run': '' } }), facts: facts() },
  { name: 'runc memory ulimit', input: runcInput({}, { Memory: 64 * 1024 * 1024, Ulimits: [{ Name: 'nofile', Soft: 1234, Hard: 2345 }] }), facts: facts() },
  { name: 'runc init', input: runcInput({}, { Init: true }, { initPath: '/usr/bin/tini-static' }), facts: facts() },
  { name: 'runc privileged', input: runcInput({}, { Privileged: true }), facts: facts({ devices: [DEV] }) },
  { name: 'runc cgroup v2', input: runcInput({}, {}, { cgroupVersion: 2 }), facts: facts({ sysctlExists: (n) => n === 'net.ipv4.ping_group_range' }) },
  // corners
  {
    name: 'propagation and /dev',
    input: input({
      mounts: [
        bind('/s', '/hs', { propagation: 'rslave' }),
        bind('/dev', '/hostdev', { nonRecursive: true }),
        bind('/p/q', '/hp', { propagation: 'shared', options: ['nosuid'] }),
      ],
    }),
    facts: facts(),
  },
  { name: 'slave only', input: input({ mounts: [bind('/s', '/hs', { propagation: 'slave' })] }), facts: facts() },
  { name: 'user /dev/shm and /sbin/docker-init', input: input({ hostConfig: { Init: true, Tmpfs: { '/dev/shm': 'size=2m', '/sbin/docker-init': '' } }, initPath: '/t' }), facts: facts() },
  { name: 'network disabled', input: input({ config: { NetworkDisabled: true }, hostConfig: { NetworkMode: 'host' } }), facts: facts() },
  { name: 'uts host', input: input({ hostConfig: { UTSMode: 'host' }, config: { Hostname: 'x' } }), facts: facts({ sysctlExists: () => false }) },
  { name: 'sys_admin seccomp', input: input({ hostConfig: { CapAdd: ['ALL'], CapDrop: ['MKNOD'] } }), facts: facts({ kernel: [4, 4], arch: 'arm64' }) },
  { name: 'cgroupns host v2', input: input({ cgroupVersion: 2, hostConfig: { CgroupnsMode: 'host' } }), facts: facts() },
  {
    name: 'memory extras',
    input: input({ hostConfig: { Memory: 1 << 25, MemorySwap: 1 << 26, MemorySwappiness: 10, OomKillDisable: true, KernelMemory: 1 << 24, KernelMemoryTCP: 1 << 20, CpusetMems: '0', CpuRealtimePeriod: 1000, CpuRealtimeRuntime: 500 } }),
    facts: facts(),
  },
  {
    name: 'devices',
    input: input({ hostConfig: { DeviceCgroupRules: ['b *:* m'] } }),
    facts: facts({ devices: [{ ...DEV, path: '/dev/k' }], deviceRules: [{ allow: true, type: 'c', major: 1, minor: 11, access: 'rw' }] }),
  },
  { name: 'privileged ignores rules', input: input({ hostConfig: { Privileged: true, DeviceCgroupRules: ['bogus'], ReadonlyRootfs: true } }), facts: facts() },
  { name: 'default init', input: input({ initPath: '/t' }), facts: facts({ defaultInit: true }) },
  { name: 'explicit readonly paths', input: input({ hostConfig: { ReadonlyPaths: ['/proc/x'], MaskedPaths: ['/proc/y'] } }), facts: facts() },
  { name: 'entrypoint and workdir', input: input({ imageConfig: { Entrypoint: ['/e'], Cmd: ['c'], WorkingDir: '/a/../b/' }, config: { Env: ['PATH', 'HOSTNAME=z'] } }), facts: facts() },
];

/** sha256 of serializeSpec(old buildSpecFrom(case)), by case name. */
const GOLDEN: Record<string, string> = {
  defaults: '9ec15a1f345e6c12185a0b6d5ec18773b178ab1ed538211f009d2132e9ce5e8b',
  "tty env hostname": '45ded477cc036f3ae7e301d2113c421c9c00d30cbe7f944f04e3f121a601826b',
  "non-root": 'e7c7116261000f4b99906f176c5a6a1ed8871b53ae7633e121d3fe8e8e120bd4',
  resources: 'f0dbce122bfb8a4a7e3991be1e5dad6efc6ec37c298f101838432a5257ea525e',
  "resources unlimited": '2a8e96b264bc8d644c7aa876d93a6eae752e1f71beb39615637ff5d014f53706',
  privileged: '5dd3486ef691876c2deed6a93d73321a7e4ef2575b9e87b94ba57d4a6837ae09',
  "host namespaces": '72b0932c414076478428b7c1ab3791f242d67b4b322cbd19ca51810586a2193b',
  "joined namespaces": 'cca9e811a6f2e89bb443020b6420a498731f041f5f66930e8ce43a50811eed66',
  "cgroup v2": 'b4669357cdea7da87967d7c2d5532978bbd716a39ef6452e93408369da3b5dc0',
  "ipc none": 'abb1b9b6d977d04af47279304d9d1ec31b062c384850ba24ce1678e99466bc93',
  "mounts readonly tmpfs shm": 'b71d18e34b2337ccf8359c8902d75092e7e375e72fda3f323a31d19829836f47',
  init: '50e9a373759ac9e90ab4144b21fde7f1068680bf26d830a32557b4169fa3d11e',
  "init pid host": '42efb023d96a15d5407e90c1e53caa13f744f0d8192aadd2f8d3c221307dc598',
  "nnp unconfined": '1ec8073ddee75d3c69d2b62cb0997a572ea3a25c566d0766191f0953bfbafb79',
  "custom seccomp": 'd67babe81e980abccabb57b9e5807aecb57ac50d63575cde38e21d83c507ce8c',
  "ulimits sysctls domainname oom rules masked": '2001af8451f2d11abdd976491e75ef7f56270a7b8d4b1e9d3e9da1eed02f9301',
  "runc user nobody": '5c3fd83daa3860a1f34c989e1266482bd854c38f3d59b2be610c66a649d8c133',
  "runc groupadd": '186ea63c5662df9df5a6f6a9f4765e6344bc495afbe7654ee67e9238a191fe17',
  "runc env cwd hostname": '925e7807bd394a33ccdda80d56cf7d48e82bb30d1e540034124fa7b404bc2793',
  "runc caps": 'f177fa634c1db54f95d374e6afd356470bb61f5683f850da6704223f42952730',
  "runc readonly tmpfs": '24efaae62ccd45df71d6f17639c9938f56e164b56efad539bf4cfdd0a867805a',
  "runc memory ulimit": '9d98459457dae8704ca75e1c9b464e2f3ad50edc191b86a158bdb7ec9fdddafc',
  "runc init": 'd2d49d0188765e9f3f9e2fa0a3562549ba106260de017eed91546f91aa742ba9',
  "runc privileged": '5b1d632a04a4c8a9d20e198b23cce6a385733005c673e988455b707dc5891436',
  "runc cgroup v2": 'fe101c01c29123a14fc4f23b67cf8711d1e135dfc55c515ca888f01ca8e6cbd6',
  "propagation and /dev": '34c25c11aed130b4be2ccef28d241bb02acc7fa7e6e0b14de8c0570d23e7b9a9',
  "slave only": '989dcf44ab5602a254e9a38e900b55a6f403be126ad169c9a90a6d3f9249ca73',
  "user /dev/shm and /sbin/docker-init": 'd83865256dd16a35065847726712b1a3556de0ebece7fa7ec84f36cad0387fe1',
  "network disabled": '8914675dafd14b81a932a6fa8ca45769341e6887d864196d200d3a7273f9a8cf',
  "uts host": '90d0e811a147ad95fd300195b4adf805be6b0836743b37f4829e3a5d45901dd4',
  "sys_admin seccomp": 'e8cd4122118e76f1303cd00f748d29c164f53bf73fba108505fc2a221c58d82b',
  "cgroupns host v2": '9ec15a1f345e6c12185a0b6d5ec18773b178ab1ed538211f009d2132e9ce5e8b',
  "memory extras": '274ae1050eca491e70b21fbff5d6868e717e59ddaacae3eeb81e658557b474a3',
  devices: '70d9b39e36d14d2ca11514e9e86d402d864688e305440fa7b3ce28f2b094eee8',
  "privileged ignores rules": 'c3f0fcf607c3ad0463e1aa1effccc5dce92e45b67acf33ecb2c4a870e65db9da',
  "default init": '41a9ae4a0c4dfcf8b4189f3f2dd0effc15b0d0fb90844860fc31ccf749ff9925',
  "explicit readonly paths": '8e334555291986f0317860cf6bf383c1d86efb8a48ae8db37e769e731da749d0',
  "entrypoint and workdir": 'cd9e9bb9fcbe84604fc942491ee47561f6eae36d1af706b423c62eea2a670cfe',
};

test('spec options reproduce the former specs byte for byte', () => {
  for (const c of GOLDEN_CASES) {
    const text = serializeSpec(buildSpecFrom(c.input, c.facts));
    assert.equal(createHash('sha256').update(text).digest('hex'), GOLDEN[c.name], c.name);
  }
});

test('privileged with explicit masked/readonly paths: same spec, keys in the fixed order', () => {
  const s = buildSpecFrom(input({ hostConfig: { Privileged: true, MaskedPaths: ['/m'], ReadonlyPaths: ['/r'] } }), facts());
  assert.deepEqual(s.linux.maskedPaths, ['/m']);
  assert.deepEqual(s.linux.readonlyPaths, ['/r']);
  // The former builder appended them after `seccomp`; the options write them in their usual place.
  assert.deepEqual(Object.keys(s.linux), ['sysctl', 'cgroupsPath', 'namespaces', 'devices', 'maskedPaths', 'readonlyPaths', 'resources']);
});
