/**
 * Runs produced bundles with the real runc on a busybox rootfs and checks, from inside
 * the container, that Docker's semantics hold. Needs root and runc; each container
 * gets a fresh network namespace (`--network none`), and its runc state, bundle and
 * cgroups are removed afterwards.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeBundle } from '../../../engine/bundle/bundle';
import type { ContainerConfig, HostConfig } from '../types';
import { makeBusyboxRootfs } from '../../../../test/helpers/busybox';
import { buildSpec } from './build';
import type { BuildSpecInput } from './options';

const canRun = process.getuid?.() === 0 && spawnSync('runc', ['--version']).status === 0;
const skip = canRun ? false : 'needs root and runc';
const base = canRun ? fs.mkdtempSync(path.join(os.tmpdir(), 'stevedore-runc-')) : '';
const stateRoot = path.join(base, 'state');
const cgroupParent = `stevedore-bundle-test-${process.pid}`;
const cgroupVersion: 1 | 2 = fs.existsSync('/sys/fs/cgroup/cgroup.controllers') ? 2 : 1;
let seq = 0;

function cgroupDirs(rel: string): string[] {
  if (cgroupVersion === 2) return [path.join('/sys/fs/cgroup', rel)];
  return fs.readdirSync('/sys/fs/cgroup').map((c) => path.join('/sys/fs/cgroup', c, rel));
}

function rmdirQuiet(p: string): void {
  try {
    fs.rmdirSync(p);
  } catch {
    // absent, or not ours to remove
  }
}

after(() => {
  if (!canRun) return;
  for (const d of cgroupDirs(cgroupParent)) rmdirQuiet(d);
  fs.rmSync(base, { recursive: true, force: true });
});

interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Builds a bundle for `cmd` with the given configs, runs it, cleans up. */
async function run(cmd: string, config: ContainerConfig = {}, hostConfig: HostConfig = {}, extra: Partial<BuildSpecInput> = {}): Promise<RunResult> {
  const id = `bt-${process.pid}-${++seq}`;
  const dir = path.join(base, id);
  const rootfs = path.join(dir, 'rootfs');
  makeBusyboxRootfs(rootfs);
  const cgroupsPath = `/${cgroupParent}/${id}`;
  try {
    const spec = await buildSpec({
      id: id.padEnd(64, '0'),
      rootfs,
      imageConfig: { Cmd: ['sh'] },
      config: { ...config, Cmd: ['sh', '-c', cmd] },
      hostConfig: { NetworkMode: 'none', ...hostConfig },
      mounts: [],
      cgroupsPath,
      cgroupVersion,
      ...extra,
    });
    await writeBundle(dir, spec);
    const r = spawnSync('runc', ['--root', stateRoot, 'run', '--bundle', dir, id], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  } finally {
    spawnSync('runc', ['--root', stateRoot, 'delete', '--force', id], { stdio: 'ignore' });
    for (const d of cgroupDirs(cgroupsPath)) rmdirQuiet(d);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function ok(cmd: string, config?: ContainerConfig, hostConfig?: HostConfig, extra?: Partial<BuildSpecInput>): Promise<string> {
  const r = await run(cmd, config, hostConfig, extra);
  assert.equal(r.status, 0, `container failed: ${r.stderr}`);
  return r.stdout;
}

function capEff(status: string): bigint {
  return BigInt('0x' + /CapEff:\s*([0-9a-f]+)/.exec(status)![1]);
}

test('users: name, uid:gid, groups from /etc/group and GroupAdd', { skip }, async () => {
  assert.equal((await ok('id', { User: 'nobody' })).trim(), 'uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)');
  assert.equal((await ok('id -u; id -g', { User: '1000:1000' })).trim(), '1000\n1000');
  assert.equal((await ok('id -G', { User: 'www-data' }, { GroupAdd: ['daemon', '4242'] })).trim(), '33 1 100 4242'); // the kernel sorts supplementary groups
});

test('env, working dir, hostname, empty network namespace', { skip }, async () => {
  const out = await ok('env; echo "pwd=$(pwd)"; echo "host=$(hostname)"; cat /proc/net/dev', { Env: ['FOO=bar'], WorkingDir: '/tmp', Hostname: 'box' });
  assert.match(out, /^FOO=bar$/m);
  assert.match(out, /^PATH=\/usr\/local\/sbin:\/usr\/local\/bin:\/usr\/sbin:\/usr\/bin:\/sbin:\/bin$/m);
  assert.match(out, /^HOSTNAME=box$/m);
  assert.match(out, /^pwd=\/tmp$/m);
  assert.match(out, /^host=box$/m);
  const ifaces = out.split('\n').filter((l) => /^\s*\w+:/.test(l)).map((l) => l.trim().split(':')[0]);
  assert.deepEqual(ifaces, ['lo']);
});

test('capabilities: defaults, cap-drop, cap-add', { skip }, async () => {
  const CHOWN = 1n << 0n;
  const NET_RAW = 1n << 13n;
  const SYS_ADMIN = 1n << 21n;
  const def = capEff(await ok('cat /proc/self/status'));
  assert.equal(def, 0xa80425fbn);
  const tweaked = capEff(await ok('cat /proc/self/status', {}, { CapDrop: ['chown', 'CAP_NET_RAW'], CapAdd: ['sys_admin'] }));
  assert.equal(tweaked & CHOWN, 0n);
  assert.equal(tweaked & NET_RAW, 0n);
  assert.equal(tweaked & SYS_ADMIN, SYS_ADMIN);
});

test('read-only rootfs refuses writes; tmpfs stays writable', { skip }, async () => {
  const r = await run('touch /x', {}, { ReadonlyRootfs: true, Tmpfs: { '/run': '' } });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr + r.stdout, /Read-only file system/);
  assert.equal((await ok('touch /run/x && echo ok', {}, { ReadonlyRootfs: true, Tmpfs: { '/run': '' } })).trim(), 'ok');
});

test('memory limit reaches the cgroup; ulimit -n from Ulimits', { skip }, async () => {
  const file = cgroupVersion === 2 ? '/sys/fs/cgroup/memory.max' : '/sys/fs/cgroup/memory/memory.limit_in_bytes';
  const out = await ok(`cat ${file}; ulimit -n`, {}, { Memory: 64 * 1024 * 1024, Ulimits: [{ Name: 'nofile', Soft: 1234, Hard: 2345 }] });
  assert.deepEqual(out.trim().split('\n'), ['67108864', '1234']);
});

test('Init runs tini as PID 1', { skip }, async () => {
  const out = await ok('cat /proc/1/cmdline | tr "\\0" " "', {}, { Init: true }, { initPath: '/usr/bin/tini-static' });
  assert.match(out, /^\/sbin\/docker-init -- sh -c /);
});

test('masked and read-only /proc paths, seccomp on', { skip }, async () => {
  const out = await ok('cat /proc/keys | wc -c; grep Seccomp: /proc/self/status; (echo x > /proc/sys/kernel/domainname) 2>&1; test -e /proc/kcore && wc -c < /proc/kcore; true');
  const lines = out.trim().split('\n');
  assert.equal(lines[0]!.trim(), '0', 'masked /proc/keys reads empty');
  assert.match(lines[1]!, /Seccomp:\s+2/);
  assert.match(out, /Read-only file system/);
  if (fs.existsSync('/proc/kcore')) assert.equal(lines[3]?.trim(), '0', 'masked /proc/kcore');
});

test('seccomp: mount is refused without CAP_SYS_ADMIN and allowed with it', { skip }, async () => {
  const r = await run('mkdir /m && mount -t tmpfs t /m');
  assert.notEqual(r.status, 0);
  assert.equal((await ok('mkdir /m && mount -t tmpfs t /m && echo mounted', {}, { CapAdd: ['SYS_ADMIN'] })).trim(), 'mounted');
});

// Privileged asks for every capability; sandboxes that lack some in their own bounding set cannot run it.
const hostBounding = canRun ? BigInt('0x' + /CapBnd:\s*([0-9a-f]+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))![1]) : 0n;
const allCaps = (1n << 38n) - 1n;
test('privileged: all capabilities, no seccomp, /sys writable', { skip: skip || ((hostBounding & allCaps) !== allCaps && 'host lacks some capabilities') }, async () => {
  const out = await ok('cat /proc/self/status; grep " /sys " /proc/self/mounts', {}, { Privileged: true });
  assert.equal(capEff(out), allCaps);
  assert.match(out, /Seccomp:\s+0/);
  assert.match(out, / \/sys sysfs rw/);
});

test('runc sanity: an image user that does not exist fails before runc', { skip }, async () => {
  await assert.rejects(run('true', { User: 'nobody2' }), /unable to find user nobody2/);
  execFileSync('runc', ['--root', stateRoot, 'list']);
});
