import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeBusyboxRootfs } from '../../../test/helpers/busybox';
import { isStevedoreError, kindOf } from '../errdefs';
import type { Seccomp } from '../oci/spec';
import { defaultSeccompProfile, toSpecSeccomp } from '../oci/seccomp';
import { DEFAULT_CAPABILITIES } from '../oci/caps';
import { nativeSys } from './native';
import {
  SCMP_ACT_ALLOW,
  SCMP_ACT_ERRNO,
  SCMP_ACT_KILL_PROCESS,
  SCMP_ACT_KILL_THREAD,
  SCMP_ACT_TRACE,
  SCMP_ARCH,
  compileSeccomp,
  toNativeSeccompProfile,
} from './seccomp';

// ---- a classic-BPF interpreter for seccomp programs ---------------------------------

interface SeccompData {
  nr: number;
  arch: number;
  args?: bigint[];
}

/** Runs a seccomp program (host-endian sock_filter[]) on one seccomp_data. */
function runBpf(prog: Buffer, data: SeccompData): number {
  const le = os.endianness() === 'LE';
  const mem = Buffer.alloc(64);
  const w32 = (v: number, off: number) => (le ? mem.writeUInt32LE(v >>> 0, off) : mem.writeUInt32BE(v >>> 0, off));
  w32(data.nr, 0);
  w32(data.arch, 4);
  (data.args ?? []).forEach((a, i) => (le ? mem.writeBigUInt64LE(a, 16 + 8 * i) : mem.writeBigUInt64BE(a, 16 + 8 * i)));
  assert.equal(prog.length % 8, 0);
  const n = prog.length / 8;
  let A = 0;
  let X = 0;
  const M = new Array<number>(16).fill(0);
  for (let pc = 0, steps = 0; pc < n; pc++, steps++) {
    assert.ok(steps <= n, 'classic BPF never loops');
    const o = pc * 8;
    const code = le ? prog.readUInt16LE(o) : prog.readUInt16BE(o);
    const jt = prog[o + 2];
    const jf = prog[o + 3];
    const k = le ? prog.readUInt32LE(o + 4) : prog.readUInt32BE(o + 4);
    const src = code & 0x08 ? X : k;
    switch (code & 0x07) {
      case 0x00: // LD
        if (code === 0x20) {
          assert.ok(k % 4 === 0 && k + 4 <= 64, `ld [${k}] outside seccomp_data`);
          A = le ? mem.readUInt32LE(k) : mem.readUInt32BE(k);
        } else if (code === 0x00) A = k;
        else if (code === 0x60) A = M[k];
        else if (code === 0x80) A = 64;
        else assert.fail(`unsupported ld 0x${code.toString(16)}`);
        break;
      case 0x01: // LDX
        if (code === 0x01) X = k;
        else if (code === 0x61) X = M[k];
        else if (code === 0x81) X = 64;
        else assert.fail(`unsupported ldx 0x${code.toString(16)}`);
        break;
      case 0x02:
        M[k] = A;
        break;
      case 0x03:
        M[k] = X;
        break;
      case 0x04: // ALU
        A = alu(code & 0xf0, A, src) >>> 0;
        break;
      case 0x05: {
        // JMP
        const op = code & 0xf0;
        if (op === 0x00) {
          pc += k;
          break;
        }
        const cond =
          op === 0x10 ? A === src : op === 0x20 ? A > src : op === 0x30 ? A >= src : op === 0x40 ? (A & src) !== 0 : null;
        assert.ok(cond !== null, `unsupported jmp 0x${code.toString(16)}`);
        pc += cond ? jt : jf;
        break;
      }
      case 0x06:
        return (code & 0x18) === 0x10 ? A : k;
      case 0x07:
        if (code === 0x07) X = A;
        else A = X;
        break;
    }
  }
  assert.fail('fell off the end of the program');
}

function alu(op: number, a: number, b: number): number {
  switch (op) {
    case 0x00: return a + b;
    case 0x10: return a - b;
    case 0x20: return Math.imul(a, b);
    case 0x30: return Math.floor(a / b);
    case 0x40: return a | b;
    case 0x50: return a & b;
    case 0x60: return a << b;
    case 0x70: return a >>> b;
    case 0x80: return -a;
    case 0x90: return a % b;
    case 0xa0: return a ^ b;
  }
  assert.fail(`unsupported alu op 0x${op.toString(16)}`);
}

// ---- fixtures --------------------------------------------------------------------------

const X86_64 = SCMP_ARCH.SCMP_ARCH_X86_64;
const I386 = SCMP_ARCH.SCMP_ARCH_X86;
const AARCH64 = SCMP_ARCH.SCMP_ARCH_AARCH64;
const X32 = 0x40000000;
const NR = { read: 0, personality: 135, reboot: 169, kexec_load: 246, clone: 56, clone3: 435, i386_personality: 136 };
const EPERM = SCMP_ACT_ERRNO(1);
const ENOSYS = SCMP_ACT_ERRNO(38);
const CLONE_NEWUSER = 0x10000000n;
const onX64 = { skip: process.arch !== 'x64' ? 'syscall numbers below are x86_64 ones' : false };

/** The spec the bundle builder writes for a default `docker run` on this host. */
function defaultSpec(): Seccomp {
  const spec = toSpecSeccomp(defaultSeccompProfile(), {
    arch: 'amd64',
    capabilities: DEFAULT_CAPABILITIES,
    kernel: [6, 1],
  });
  assert.ok(spec);
  return spec;
}

function compile(spec: Seccomp, enosysStub = true): Buffer {
  const prog = compileSeccomp(spec, { enosysStub });
  assert.ok(prog);
  return prog;
}

const call = (prog: Buffer, nr: number, args: bigint[] = [], arch = X86_64) => runBpf(prog, { nr, arch, args });

// ---- Docker's default profile, evaluated ----------------------------------------------

test('default profile: allowed, denied and conditional calls on x86_64', onX64, () => {
  const prog = compile(defaultSpec());
  assert.equal(call(prog, NR.read), SCMP_ACT_ALLOW);
  assert.equal(call(prog, NR.reboot), EPERM);
  assert.equal(call(prog, NR.kexec_load), EPERM);
  assert.equal(call(prog, NR.clone3), ENOSYS, 'clone3 → ENOSYS so that libc falls back to clone');
  assert.equal(call(prog, NR.personality, [0n]), SCMP_ACT_ALLOW);
  assert.equal(call(prog, NR.personality, [0xffffffffn]), SCMP_ACT_ALLOW);
  assert.equal(call(prog, NR.personality, [0x12345n]), EPERM);
  assert.equal(call(prog, NR.personality, [0x1_00000000n]), EPERM, 'all 64 bits are compared');
  assert.equal(call(prog, NR.clone, [0x11n /* SIGCHLD */]), SCMP_ACT_ALLOW);
  assert.equal(call(prog, NR.clone, [CLONE_NEWUSER | 0x11n]), EPERM, 'namespaces need CAP_SYS_ADMIN');
});

test('default profile: a syscall newer than the profile gets ENOSYS (runc stub), EPERM without it', onX64, () => {
  const spec = defaultSpec();
  const largest = Math.max(...nativeSys().seccompResolveSyscalls(X86_64, spec.syscalls!.flatMap((c) => c.names)));
  assert.ok(largest > NR.clone3 && largest < 1000);
  assert.equal(call(compile(spec), largest + 1), ENOSYS);
  assert.equal(call(compile(spec), 0x3fffffff), ENOSYS);
  assert.equal(call(compile(spec, false), largest + 1), EPERM);
  assert.equal(call(compile(spec, false), NR.read), SCMP_ACT_ALLOW);
});

test('default profile: i386 and x32 are filtered, other arches are killed', onX64, () => {
  const prog = compile(defaultSpec());
  assert.equal(call(prog, 3 /* i386 read */, [], I386), SCMP_ACT_ALLOW);
  assert.equal(call(prog, NR.i386_personality, [8n], I386), SCMP_ACT_ALLOW);
  assert.equal(call(prog, NR.i386_personality, [0x12345n], I386), EPERM);
  assert.equal(call(prog, 88 /* i386 reboot */, [], I386), EPERM);
  assert.equal(call(prog, X32 | NR.read), SCMP_ACT_ALLOW);
  assert.equal(call(prog, X32 | NR.reboot), EPERM);
  assert.equal(call(prog, X32 | 1000), ENOSYS);
  assert.equal(call(prog, NR.read, [], AARCH64), SCMP_ACT_KILL_THREAD, "libseccomp's bad-arch action");
});

test('the program is whole sock_filter structs and starts with the arch load', onX64, () => {
  const prog = compile(defaultSpec());
  assert.equal(prog.length % 8, 0);
  const le = os.endianness() === 'LE';
  assert.equal(le ? prog.readUInt16LE(0) : prog.readUInt16BE(0), 0x20); // ld [4]: seccomp_data.arch
  assert.equal(le ? prog.readUInt32LE(4) : prog.readUInt32BE(4), 4);
});

// ---- conversion rules, evaluated -------------------------------------------------------

const base = (syscalls: Seccomp['syscalls'], extra: Partial<Seccomp> = {}): Seccomp => ({
  defaultAction: 'SCMP_ACT_ERRNO',
  architectures: ['SCMP_ARCH_X86_64'],
  syscalls,
  ...extra,
});

test('conditions on distinct arguments are ANDed, a repeated index makes them ORed', onX64, () => {
  const and = compile(
    base([
      {
        names: ['personality'],
        action: 'SCMP_ACT_ALLOW',
        args: [
          { index: 0, value: 1, op: 'SCMP_CMP_EQ' },
          { index: 1, value: 2, op: 'SCMP_CMP_EQ' },
        ],
      },
    ]),
  );
  assert.equal(call(and, NR.personality, [1n, 2n]), SCMP_ACT_ALLOW);
  assert.equal(call(and, NR.personality, [1n, 3n]), EPERM);
  const or = compile(
    base([
      {
        names: ['personality'],
        action: 'SCMP_ACT_ALLOW',
        args: [
          { index: 0, value: 1, op: 'SCMP_CMP_EQ' },
          { index: 0, value: 2, op: 'SCMP_CMP_EQ' },
        ],
      },
    ]),
  );
  assert.equal(call(or, NR.personality, [1n]), SCMP_ACT_ALLOW);
  assert.equal(call(or, NR.personality, [2n]), SCMP_ACT_ALLOW);
  assert.equal(call(or, NR.personality, [3n]), EPERM);
});

test('operators: MASKED_EQ takes value as the mask and valueTwo as the result; GT, LE, NE', onX64, () => {
  const rule = (op: string, value: number, valueTwo?: number) =>
    compile(base([{ names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value, valueTwo, op }] }]));
  const masked = rule('SCMP_CMP_MASKED_EQ', 0xf0, 0x30);
  assert.equal(call(masked, NR.personality, [0x35n]), SCMP_ACT_ALLOW);
  assert.equal(call(masked, NR.personality, [0x45n]), EPERM);
  const gt = rule('SCMP_CMP_GT', 10);
  assert.equal(call(gt, NR.personality, [11n]), SCMP_ACT_ALLOW);
  assert.equal(call(gt, NR.personality, [10n]), EPERM);
  assert.equal(call(gt, NR.personality, [0x1_00000000n]), SCMP_ACT_ALLOW);
  const le = rule('SCMP_CMP_LE', 10);
  assert.equal(call(le, NR.personality, [10n]), SCMP_ACT_ALLOW);
  assert.equal(call(le, NR.personality, [11n]), EPERM);
  const ne = rule('SCMP_CMP_NE', 10);
  assert.equal(call(ne, NR.personality, [9n]), SCMP_ACT_ALLOW);
  assert.equal(call(ne, NR.personality, [10n]), EPERM);
});

test('actions and return codes: errnoRet, defaultErrnoRet, kill-process, trace', onX64, () => {
  const prog = compile(
    base(
      [
        { names: ['read'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 },
        { names: ['write'], action: 'SCMP_ACT_KILL_PROCESS' },
        { names: ['reboot'], action: 'SCMP_ACT_TRACE', errnoRet: 7 },
        { names: ['close'], action: 'SCMP_ACT_ALLOW' },
      ],
      { defaultErrnoRet: 13 },
    ),
  );
  assert.equal(call(prog, NR.read), ENOSYS);
  assert.equal(call(prog, 1), SCMP_ACT_KILL_PROCESS);
  assert.equal(call(prog, NR.reboot), SCMP_ACT_TRACE(7));
  assert.equal(call(prog, 3), SCMP_ACT_ALLOW);
  assert.equal(call(prog, 100 /* times */), SCMP_ACT_ERRNO(13));
  assert.equal(call(prog, NR.kexec_load), ENOSYS, 'above the largest syscall named (reboot)');
});

test('unknown syscall names are skipped, like runc', () => {
  const known = compile(base([{ names: ['read'], action: 'SCMP_ACT_ALLOW' }]));
  const withUnknown = compile(base([{ names: ['read', 'no_such_syscall_xyz'], action: 'SCMP_ACT_ALLOW' }]));
  assert.deepEqual(withUnknown, known);
});

test('an allowing default action gets no -ENOSYS stub; the native arch is always stubbed', onX64, () => {
  const allow = base([{ names: ['reboot'], action: 'SCMP_ACT_ERRNO' }], { defaultAction: 'SCMP_ACT_ALLOW' });
  assert.deepEqual(compile(allow), compile(allow, false));
  assert.equal(call(compile(allow), 1000), SCMP_ACT_ALLOW);
  const noArches = base([{ names: ['read', 'reboot'], action: 'SCMP_ACT_ALLOW' }], { architectures: undefined });
  assert.equal(call(compile(noArches), 1000), ENOSYS);
  assert.equal(call(compile(noArches), 100), EPERM);
  assert.equal(call(compile(noArches), NR.reboot), SCMP_ACT_ALLOW);
  const onlyRead = base([{ names: ['read'], action: 'SCMP_ACT_ALLOW' }]);
  assert.deepEqual(compile(onlyRead), compile(onlyRead, false), 'largest syscall 0 counts as none, as in runc');
});

test('seccomp disabled (no default action, no syscalls) compiles to nothing', () => {
  assert.equal(compileSeccomp({ defaultAction: '' }), undefined);
});

// ---- conversion rules, as data ---------------------------------------------------------

test('conversion: actions, errnos, rule split and default-action skip', () => {
  const p = toNativeSeccompProfile(
    base([
      { names: ['read', 'write'], action: 'SCMP_ACT_ALLOW' },
      { names: ['reboot'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }, // = the default: skipped
      { names: ['mkdir'], action: 'SCMP_ACT_KILL' },
      {
        names: ['kill'],
        action: 'SCMP_ACT_ALLOW',
        args: [
          { index: 1, value: 9, op: 'SCMP_CMP_NE' },
          { index: 1, value: 15, op: 'SCMP_CMP_NE' },
        ],
      },
    ]),
  );
  assert.ok(p);
  assert.equal(p.defaultAction, EPERM);
  assert.deepEqual(p.arches, [X86_64]);
  assert.deepEqual(
    p.rules.map((r) => [r.syscall, r.action, r.args.map((a) => [a.index, a.op, a.value, a.valueTwo])]),
    [
      ['read', SCMP_ACT_ALLOW, []],
      ['write', SCMP_ACT_ALLOW, []],
      ['mkdir', SCMP_ACT_KILL_THREAD, []],
      ['kill', SCMP_ACT_ALLOW, [[1, 1, 9n, 0n]]],
      ['kill', SCMP_ACT_ALLOW, [[1, 1, 15n, 0n]]],
    ],
  );
  const kill = toNativeSeccompProfile({ defaultAction: 'SCMP_ACT_KILL', syscalls: [{ names: ['x'], action: 'SCMP_ACT_KILL_THREAD' }] });
  assert.deepEqual(kill?.rules, [], 'KILL and KILL_THREAD are the same action');
  assert.equal(toNativeSeccompProfile({ defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 0x10026 })?.defaultAction, ENOSYS);
});

test('conversion errors: what runc rejects', () => {
  const rejects = (spec: Seccomp, kind: string, re: RegExp) => {
    assert.throws(
      () => toNativeSeccompProfile(spec),
      (err: unknown) => isStevedoreError(err) && kindOf(err) === kind && re.test((err as Error).message),
    );
  };
  rejects(base([{ names: ['read'], action: 'SCMP_ACT_MAYBE' }]), 'invalid-argument', /SCMP_ACT_MAYBE is not a valid action/);
  rejects(base([], { defaultAction: 'ALLOW' }), 'invalid-argument', /ALLOW is not a valid action/);
  rejects(base([], { architectures: ['SCMP_ARCH_Z80'] }), 'invalid-argument', /SCMP_ARCH_Z80 is not a valid arch/);
  rejects(base([], { flags: ['SECCOMP_FILTER_FLAG_LOG'] }), 'invalid-argument', /flags are not yet supported/);
  rejects(
    base([{ names: ['read'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 1, op: 'SCMP_CMP_ABOUT' }] }]),
    'invalid-argument',
    /SCMP_CMP_ABOUT is not a valid operator/,
  );
  rejects(
    base([{ names: ['read'], action: 'SCMP_ACT_ALLOW', args: [{ index: 6, value: 1, op: 'SCMP_CMP_EQ' }] }]),
    'invalid-argument',
    /up to 6 arguments \(6 given\)/,
  );
  rejects(
    base([{ names: ['read'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: -1, op: 'SCMP_CMP_EQ' }] }]),
    'invalid-argument',
    /not a 64-bit unsigned integer/,
  );
  rejects(base([{ names: [''], action: 'SCMP_ACT_ALLOW' }]), 'invalid-argument', /empty string is not a valid syscall/);
  rejects(base([{ names: ['read'], action: 'SCMP_ACT_NOTIFY' }]), 'not-implemented', /SCMP_ACT_NOTIFY/);
  rejects(base([], { defaultAction: 'SCMP_ACT_NOTIFY' }), 'not-implemented', /SCMP_ACT_NOTIFY/);
});

test('addon: malformed input and libseccomp refusals are thrown as errors', () => {
  const sys = nativeSys();
  assert.throws(() => sys.seccompCompile({ defaultAction: 0x12345678, arches: [], rules: [] }), /creating the filter/);
  assert.throws(
    () => sys.seccompCompile({ defaultAction: EPERM, arches: [], rules: [{ action: EPERM, syscall: 'read', args: [] }] }),
    /adding the rule for syscall read/,
  );
  assert.throws(
    () => sys.seccompCompile({ defaultAction: EPERM, arches: [0xdead], rules: [] }),
    /adding an architecture/,
  );
  assert.throws(() => sys.seccompCompile({ defaultAction: EPERM } as never), /missing property "arches"/);
  assert.throws(
    () =>
      sys.seccompCompile({
        defaultAction: EPERM,
        arches: [],
        rules: [{ action: SCMP_ACT_ALLOW, syscall: 'read', args: [{ index: 0, op: 4, value: 1 as never, valueTwo: 0n }] }],
      }),
    /bigints/,
  );
  assert.throws(() => compileSeccomp(base([{ names: ['read'], action: 'SCMP_ACT_ALLOW' }]), {
    sys: { ...sys, seccompCompile: () => { throw new Error('boom'); } },
  }), (err: unknown) => kindOf(err) === 'invalid-argument' && /boom/.test((err as Error).message));
});

// ---- against the real runc ---------------------------------------------------------------

/** Reads a process's seccomp filter with ptrace(PTRACE_SECCOMP_GET_FILTER) (python ctypes). */
const DUMP_FILTER_PY = `
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
libc.ptrace.restype = ctypes.c_long
pid = int(sys.argv[1])
if libc.ptrace(16, pid, None, None) < 0: raise OSError(ctypes.get_errno(), "PTRACE_ATTACH")
os.waitpid(pid, 0x40000000)
try:
    n = libc.ptrace(0x420c, pid, None, None)
    if n <= 0: raise OSError(ctypes.get_errno(), "PTRACE_SECCOMP_GET_FILTER")
    buf = ctypes.create_string_buffer(n * 8)
    libc.ptrace(0x420c, pid, None, buf)
    sys.stdout.buffer.write(buf.raw)
finally:
    libc.ptrace(17, pid, None, None)
`;

const canRunc =
  process.arch === 'x64' && process.getuid?.() === 0 && spawnSync('runc', ['--version']).status === 0 &&
  spawnSync('python3', ['--version']).status === 0;

test('default profile: the same program as the one runc loads into a container', { skip: canRunc ? false : 'needs x86_64, root, runc, python3' }, () => {
  const spec = defaultSpec();
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'stevedore-seccomp-'));
  const id = `stevedore-seccomp-test-${process.pid}`;
  const root = path.join(base, 'state');
  const bundle = path.join(base, 'bundle');
  const cgroupsPath = `/${id}`;
  let started = false;
  try {
    makeBusyboxRootfs(path.join(bundle, 'rootfs'));
    execFileSync('runc', ['spec', '--bundle', bundle]);
    const config = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8'));
    config.process.args = ['/bin/busybox', 'sleep', '600'];
    config.process.terminal = false;
    config.linux.seccomp = spec;
    config.linux.cgroupsPath = cgroupsPath;
    fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(config));
    execFileSync('runc', ['--root', root, 'run', '--detach', '--bundle', bundle, id], { stdio: 'ignore' });
    started = true;
    const state = JSON.parse(execFileSync('runc', ['--root', root, 'state', id], { encoding: 'utf8' }));
    const loaded = execFileSync('python3', ['-c', DUMP_FILTER_PY, String(state.pid)]);

    const ours = compile(spec);
    const libseccompPart = compile(spec, false);
    assert.equal(loaded.length, ours.length);
    // runc's stub orders its arches by Go map iteration (random); libseccomp's part is fixed.
    assert.deepEqual(loaded.subarray(loaded.length - libseccompPart.length), libseccompPart);
    const nrs = [...Array(1100).keys()];
    for (const arch of [X86_64, I386, AARCH64]) {
      for (const nr of [...nrs, ...nrs.map((n) => X32 | n), 0x3fffffff, 0xffffffff]) {
        for (const args of [[0n], [0x7e020000n], [0x12345n, 0x7e020000n], [0xffffffffn, 0xffffffffn]]) {
          assert.equal(call(ours, nr, args, arch), call(loaded, nr, args, arch), `arch ${arch.toString(16)} nr ${nr}`);
        }
      }
    }
  } finally {
    if (started) spawnSync('runc', ['--root', root, 'delete', '--force', id], { stdio: 'ignore' });
    fs.rmSync(base, { recursive: true, force: true });
    for (const dir of ['/sys/fs/cgroup', ...listCgroupV1Controllers()]) {
      try {
        fs.rmdirSync(path.join(dir, cgroupsPath));
      } catch {
        // removed by runc, or never created
      }
    }
  }
});

function listCgroupV1Controllers(): string[] {
  if (fs.existsSync('/sys/fs/cgroup/cgroup.controllers')) return [];
  return fs.readdirSync('/sys/fs/cgroup').map((c) => path.join('/sys/fs/cgroup', c));
}
