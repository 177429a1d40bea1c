import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultSeccompProfile, toSpecSeccomp } from './seccomp';
import { DEFAULT_CAPABILITIES } from './caps';

const names = (s: ReturnType<typeof toSpecSeccomp>) => new Set(s!.syscalls!.flatMap((c) => c.names));

test('default profile: allow-list with errno default, native arch map', () => {
  const s = toSpecSeccomp(defaultSeccompProfile(), { arch: 'amd64', capabilities: DEFAULT_CAPABILITIES, kernel: [6, 1] });
  assert.equal(s!.defaultAction, 'SCMP_ACT_ERRNO');
  assert.deepEqual(s!.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
  const n = names(s);
  for (const call of ['read', 'write', 'execve', 'clone', 'arch_prctl', 'chroot']) assert.ok(n.has(call), call);
  for (const call of ['mount', 'reboot', 'init_module', 'bpf']) assert.ok(!n.has(call), call);
  assert.ok(!n.has('sync_file_range2'), 'arm-only syscall excluded on amd64');
  assert.ok(n.has('ptrace'), 'ptrace allowed from kernel 4.8');
});

test('capability and kernel conditions', () => {
  const withAdmin = toSpecSeccomp(defaultSeccompProfile(), { arch: 'arm64', capabilities: [...DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN'], kernel: [4, 4] });
  const n = names(withAdmin);
  assert.ok(n.has('mount') && n.has('sync_file_range2'));
  assert.ok(!n.has('ptrace'), 'ptrace needs kernel >= 4.8 without CAP_SYS_PTRACE');
  const clones = withAdmin!.syscalls!.filter((c) => c.names.includes('clone'));
  assert.equal(clones.length, 1);
  assert.equal(clones[0]!.args, undefined, 'unrestricted clone with CAP_SYS_ADMIN');
});

test('a profile without default action or rules disables seccomp', () => {
  assert.equal(toSpecSeccomp({ defaultAction: '' }, { arch: 'amd64', capabilities: [], kernel: [6, 1] }), undefined);
});
