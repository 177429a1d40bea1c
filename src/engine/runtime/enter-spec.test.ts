import assert from 'node:assert/strict';
import test from 'node:test';
import type { Process } from '../oci/spec';
import { kindOf } from '../errdefs';
import { capMask, directExecBlocker, encodeEnterSpec } from './enter-spec';

const entries = (b: Buffer) => {
  const s = b.toString('utf8');
  assert.ok(s.endsWith('\0'));
  return s.slice(0, -1).split('\0');
};

const base: Process = { args: ['sh', '-c', 'echo a=b'], env: ['PATH=/bin', 'X=multi\nline'], cwd: '/tmp', user: { uid: 65534, gid: 100, additionalGids: [100, 7] } };

test('process fields become ordered key=value entries, args and env kept verbatim', () => {
  const e = entries(encodeEnterSpec(base));
  assert.deepEqual(e.filter((x) => x.startsWith('arg=')), ['arg=sh', 'arg=-c', 'arg=echo a=b']);
  assert.deepEqual(e.filter((x) => x.startsWith('env=')), ['env=PATH=/bin', 'env=X=multi\nline']);
  assert.ok(e.includes('cwd=/tmp') && e.includes('uid=65534') && e.includes('gid=100'));
  assert.deepEqual(e.filter((x) => x.startsWith('group=')), ['group=100', 'group=7']);
  // no capabilities in the process = every set empty (runc drops them all)
  for (const set of ['bounding', 'effective', 'permitted', 'inheritable', 'ambient']) assert.ok(e.includes(`cap.${set}=0x0`));
  assert.ok(!e.some((x) => /^(nnp|oom|rlimit|rows|cols|keyring|seccomp|umask)=/.test(x)));
});

test('capabilities, rlimits, no_new_privs, oom, console size, keyring and seccomp', () => {
  const p: Process = {
    ...base,
    terminal: true,
    consoleSize: { height: 40, width: 120 },
    capabilities: { bounding: ['CAP_CHOWN', 'CAP_KILL', 'CAP_AUDIT_READ'], effective: ['CAP_KILL'], permitted: ['CAP_KILL'], ambient: [] },
    rlimits: [{ type: 'RLIMIT_NOFILE', soft: 1000, hard: 2000 }, { type: 'RLIMIT_CORE', soft: -1, hard: -1 }],
    noNewPrivileges: true,
    oomScoreAdj: -500,
    user: { uid: 0, gid: 0, umask: 0o27 },
  };
  const e = entries(encodeEnterSpec(p, { keyring: '_ses.abc', seccomp: 'seccomp.bpf' }));
  assert.ok(e.includes(`cap.bounding=0x${((1n << 37n) | (1n << 5n) | 1n).toString(16)}`));
  assert.ok(e.includes('cap.effective=0x20') && e.includes('cap.permitted=0x20') && e.includes('cap.ambient=0x0'));
  assert.ok(e.includes('rlimit=7 1000 2000'));
  assert.ok(e.includes('rlimit=4 18446744073709551615 18446744073709551615'));
  assert.ok(e.includes('nnp=1') && e.includes('oom=-500') && e.includes('umask=23'));
  assert.ok(e.includes('rows=40') && e.includes('cols=120'));
  assert.ok(e.includes('keyring=_ses.abc') && e.includes('seccomp=seccomp.bpf'));
});

test('unknown capabilities are skipped as runc skips them; names are case-insensitive', () => {
  assert.equal(capMask(['CAP_NOPE', 'cap_chown', 'CAP_CHECKPOINT_RESTORE']), 1n | (1n << 40n));
});

test('a NUL byte or an unknown rlimit is refused', () => {
  assert.equal(kindOf(captured(() => encodeEnterSpec({ ...base, args: ['a\0b'] }))), 'invalid-argument');
  assert.equal(kindOf(captured(() => encodeEnterSpec({ ...base, rlimits: [{ type: 'RLIMIT_BOGUS', soft: 1, hard: 1 }] }))), 'invalid-argument');
});

test('what the direct path leaves to the runtime', () => {
  const linux = { namespaces: [{ type: 'pid' as const }, { type: 'mount' as const }] };
  assert.equal(directExecBlocker(linux, base), undefined);
  assert.equal(directExecBlocker({ namespaces: [...linux.namespaces, { type: 'user' }] }, base), 'user namespace');
  assert.equal(directExecBlocker(linux, { ...base, apparmorProfile: 'docker-default' }), 'apparmor profile');
  assert.equal(directExecBlocker(linux, { ...base, apparmorProfile: 'unconfined' }), undefined);
  assert.equal(directExecBlocker(linux, { ...base, selinuxLabel: 'system_u:system_r:container_t:s0' }), 'selinux label');
  assert.equal(directExecBlocker({ ...linux, seccomp: { defaultAction: 'SCMP_ACT_ERRNO', flags: ['SECCOMP_FILTER_FLAG_LOG'] } }, base), 'seccomp flags');
});

function captured(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  assert.fail('expected a throw');
}
