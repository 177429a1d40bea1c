import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kindOf } from '../../../engine/errdefs';
import { buildSpecFrom } from './options';
import { ID, facts, input } from './testing';


test('defaults: args, env, cwd, hostname, namespaces, caps, masks, shm', () => {
  const s = buildSpecFrom(input(), facts());
  assert.deepEqual(s.process.args, ['sh']);
  assert.deepEqual(s.process.env, ['PATH=/img/bin', 'HOSTNAME=0123456789ab', 'X=1']);
  assert.equal(s.process.cwd, '/');
  assert.equal(s.hostname, '0123456789ab');
  assert.deepEqual(s.linux.namespaces.map((n) => n.type), ['mount', 'network', 'uts', 'pid', 'ipc']);
  assert.equal(s.process.capabilities!.effective!.length, 14);
  assert.ok(s.linux.maskedPaths!.includes('/proc/kcore'));
  assert.deepEqual(s.linux.readonlyPaths, ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger']);
  const shm = s.mounts.find((m) => m.destination === '/dev/shm')!;
  assert.deepEqual(shm.options, ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=67108864']);
  assert.equal(s.linux.sysctl!['net.ipv4.ip_unprivileged_port_start'], '0');
  assert.equal(s.process.oomScoreAdj, 0);
  assert.equal(s.linux.cgroupsPath, '/docker/' + ID);
  assert.equal(s.linux.seccomp!.defaultAction, 'SCMP_ACT_ERRNO');
  assert.deepEqual(s.linux.resources!.devices![0], { allow: false, access: 'rwm' });
});

test('PATH default when the image sets none; TERM with a tty; container env wins', () => {
  const s = buildSpecFrom(input({ imageConfig: { Cmd: ['sh'], Env: ['A=1'] }, config: { Tty: true, Env: ['A=2'], Hostname: 'h' } }), facts());
  assert.deepEqual(s.process.env, ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOSTNAME=h', 'TERM=xterm', 'A=2']);
  assert.equal(s.process.terminal, true);
});

test('non-root user gets only bounding capabilities', () => {
  const s = buildSpecFrom(input(), facts({ user: { uid: 1000, gid: 1000, additionalGids: [1000] } }));
  assert.deepEqual(Object.keys(s.process.capabilities!), ['bounding']);
  assert.deepEqual(s.process.user, { uid: 1000, gid: 1000, additionalGids: [1000] });
});

test('resources: memory, default swap, cpus, pids, blkio', () => {
  const s = buildSpecFrom(
    input({ hostConfig: { Memory: 100 << 20, MemoryReservation: 50 << 20, NanoCpus: 1.5e9, CpusetCpus: '0', PidsLimit: 0, BlkioWeight: 300, CpuShares: 512 } }),
    facts(),
  );
  const r = s.linux.resources!;
  assert.deepEqual(r.memory, { limit: 100 << 20, reservation: 50 << 20, swap: 200 << 20, disableOOMKiller: false });
  assert.deepEqual(r.cpu, { shares: 512, cpus: '0', period: 100000, quota: 150000 });
  assert.deepEqual(r.pids, { limit: -1 });
  assert.deepEqual(r.blockIO, { weight: 300 });
  const unl = buildSpecFrom(input({ hostConfig: { Memory: 1 << 30, MemorySwap: -1, PidsLimit: 50, CpuQuota: 20000, CpuPeriod: 50000 } }), facts());
  assert.equal(unl.linux.resources!.memory!.swap, undefined);
  assert.deepEqual(unl.linux.resources!.pids, { limit: 50 });
  assert.deepEqual([unl.linux.resources!.cpu!.quota, unl.linux.resources!.cpu!.period], [20000, 50000]);
});

test('privileged: all caps and devices, no masks, no seccomp, rw /sys', () => {
  const dev = { type: 'c' as const, path: '/dev/kmsg', major: 1, minor: 11, fileMode: 0o644, uid: 0, gid: 0 };
  const s = buildSpecFrom(input({ hostConfig: { Privileged: true } }), facts({ devices: [dev] }));
  assert.equal(s.process.capabilities!.bounding!.length, 38);
  assert.deepEqual(s.linux.devices, [dev]);
  assert.deepEqual(s.linux.resources!.devices, [{ allow: true, access: 'rwm' }]);
  assert.equal(s.linux.maskedPaths, undefined);
  assert.equal(s.linux.readonlyPaths, undefined);
  assert.equal(s.linux.seccomp, undefined);
  assert.ok(!s.mounts.find((m) => m.destination === '/sys')!.options!.includes('ro'));
  assert.ok(!s.mounts.find((m) => m.destination === '/sys/fs/cgroup')!.options!.includes('ro'));
});

test('namespace modes', () => {
  const host = buildSpecFrom(input({ hostConfig: { NetworkMode: 'host', PidMode: 'host', IpcMode: 'host', UTSMode: 'host' } }), facts());
  assert.deepEqual(host.linux.namespaces.map((n) => n.type), ['mount']);
  assert.equal(host.hostname, undefined);
  assert.equal(host.linux.sysctl!['net.ipv4.ip_unprivileged_port_start'], undefined);
  const joined = buildSpecFrom(
    input({ hostConfig: { NetworkMode: 'container:x', IpcMode: 'container:x', PidMode: 'container:x', CgroupnsMode: 'private' }, netnsPath: '/proc/9/ns/net', ipcnsPath: '/proc/9/ns/ipc', pidnsPath: '/proc/9/ns/pid' }),
    facts(),
  );
  assert.deepEqual(joined.linux.namespaces, [
    { type: 'mount' }, { type: 'network', path: '/proc/9/ns/net' }, { type: 'uts' }, { type: 'pid', path: '/proc/9/ns/pid' }, { type: 'ipc', path: '/proc/9/ns/ipc' }, { type: 'cgroup' },
  ]);
  assert.ok(buildSpecFrom(input({ cgroupVersion: 2 }), facts()).linux.namespaces.some((n) => n.type === 'cgroup'));
  assert.throws(() => buildSpecFrom(input({ hostConfig: { IpcMode: 'weird' } }), facts()), /Invalid IPC mode: weird/);
  const none = buildSpecFrom(input({ hostConfig: { IpcMode: 'none' } }), facts());
  assert.ok(!none.mounts.some((m) => m.destination === '/dev/shm'));
});

test('mounts: user mounts override defaults, sorted by depth, tmpfs defaults, readonly rootfs', () => {
  const s = buildSpecFrom(
    input({
      hostConfig: { ReadonlyRootfs: true, Tmpfs: { '/run': 'size=1m' }, ShmSize: 1 << 20 },
      mounts: [
        { destination: '/a/b/c', type: 'bind', source: '/x', propagation: 'rprivate' },
        { destination: '/etc/hosts', type: 'bind', source: '/h', propagation: 'rprivate' },
        { destination: '/dev/mqueue', type: 'volume', source: '/v', readOnly: true },
      ],
    }),
    facts(),
  );
  const dests = s.mounts.map((m) => m.destination);
  assert.deepEqual(dests, ['/proc', '/dev', '/dev/pts', '/sys', '/sys/fs/cgroup', '/dev/shm', '/run', '/etc/hosts', '/dev/mqueue', '/a/b/c']);
  assert.deepEqual(s.mounts[6]!.options, ['noexec', 'nosuid', 'nodev', 'rprivate', 'size=1m']);
  assert.deepEqual(s.mounts[7]!.options, ['rbind', 'rprivate']);
  assert.deepEqual(s.mounts[8]!.options, ['rbind', 'ro']);
  assert.equal(s.root.readonly, true);
  assert.ok(s.mounts[5]!.options!.includes('size=1048576') && !s.mounts[5]!.options!.includes('ro'));
});

test('init: tini bind-mounted and prefixed', () => {
  const s = buildSpecFrom(input({ hostConfig: { Init: true }, initPath: '/usr/bin/tini-static' }), facts());
  assert.deepEqual(s.process.args, ['/sbin/docker-init', '--', 'sh']);
  assert.deepEqual(s.mounts.find((m) => m.destination === '/sbin/docker-init'), {
    destination: '/sbin/docker-init', type: 'bind', source: '/usr/bin/tini-static', options: ['bind', 'ro'],
  });
  assert.deepEqual(buildSpecFrom(input({ hostConfig: { Init: true, PidMode: 'host' }, initPath: '/t' }), facts()).process.args, ['sh']);
});

test('security options', () => {
  const s = buildSpecFrom(input({ hostConfig: { SecurityOpt: ['no-new-privileges', 'seccomp=unconfined'] } }), facts());
  assert.equal(s.process.noNewPrivileges, true);
  assert.equal(s.linux.seccomp, undefined);
  const custom = buildSpecFrom(input({ hostConfig: { SecurityOpt: ['seccomp={"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"name":"mkdir","action":"SCMP_ACT_ERRNO"}]}'] } }), facts());
  assert.deepEqual(custom.linux.seccomp, { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }] });
  assert.throws(() => buildSpecFrom(input({ hostConfig: { SecurityOpt: ['bogus'] } }), facts()), (e: unknown) => kindOf(e) === 'invalid-argument');
  assert.throws(() => buildSpecFrom(input({ hostConfig: { SecurityOpt: ['seccomp={'] } }), facts()), /Decoding seccomp profile failed/);
});

test('ulimits, sysctls, domainname, oom score, device rules, explicit masked paths', () => {
  const s = buildSpecFrom(
    input({
      config: { Domainname: 'example.com' },
      hostConfig: { Ulimits: [{ Name: 'nofile', Soft: 1024, Hard: 2048 }], Sysctls: { 'net.core.somaxconn': '1024' }, OomScoreAdj: 500, DeviceCgroupRules: ['c 42:* rmw'], MaskedPaths: [] },
    }),
    facts({ defaultUlimits: [{ Name: 'nofile', Soft: 1, Hard: 1 }, { Name: 'core', Soft: -1, Hard: -1 }] }),
  );
  assert.deepEqual(s.process.rlimits, [{ type: 'RLIMIT_NOFILE', soft: 1024, hard: 2048 }, { type: 'RLIMIT_CORE', soft: -1, hard: -1 }]);
  assert.equal(s.linux.sysctl!['net.core.somaxconn'], '1024');
  assert.equal(s.linux.sysctl!['kernel.domainname'], 'example.com');
  assert.equal(s.process.oomScoreAdj, 500);
  assert.deepEqual(s.linux.resources!.devices!.at(-1), { allow: true, type: 'c', major: 42, minor: -1, access: 'rmw' });
  assert.deepEqual(s.linux.maskedPaths, []);
  assert.throws(() => buildSpecFrom(input({ hostConfig: { OomScoreAdj: 1001 } }), facts()), /range for oom score adj/);
  assert.throws(() => buildSpecFrom(input({ hostConfig: { Ulimits: [{ Name: 'bogus', Soft: 1, Hard: 1 }] } }), facts()), /invalid ulimit type/);
  assert.throws(() => buildSpecFrom(input({ hostConfig: { DeviceCgroupRules: ['x'] } }), facts()), /invalid device cgroup rule format/);
  assert.throws(() => buildSpecFrom(input({ config: { WorkingDir: 'rel' } }), facts()), /needs to be an absolute path/);
});
