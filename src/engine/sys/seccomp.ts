/**
 * Compiles an OCI `linux.seccomp` section into the classic-BPF program the kernel
 * loads (`struct sock_filter[]`, host byte order), the way runc 1.1 does through
 * libseccomp: the same action/arch/operator tables, the same rule split, the same
 * skips, libseccomp for the filter itself, then runc's -ENOSYS stub in front of it.
 * The per-container shim loads the result with seccomp(2) when it enters a container
 * to exec a process. See docs/seccomp.md for the format and every deviation from runc.
 */
import * as os from 'node:os';
import { internal, invalidArgument, notImplemented } from '../errdefs';
import type { Seccomp } from '../oci/spec';
import { nativeSys, type NativeSys } from './native';

/** One condition as libseccomp takes it (`struct scmp_arg_cmp`). */
export interface NativeSeccompArg {
  /** argument index, 0–5 */
  index: number;
  /** SCMP_CMP_* */
  op: number;
  /** datum_a: the compared value, or the mask for SCMP_CMP_MASKED_EQ */
  value: bigint;
  /** datum_b: the masked value for SCMP_CMP_MASKED_EQ, else unused */
  valueTwo: bigint;
}

/** One `seccomp_rule_add_array` call. Its conditions are ANDed. */
export interface NativeSeccompRule {
  /** full libseccomp action (errno/trace data included), e.g. SCMP_ACT_ERRNO(1) */
  action: number;
  syscall: string;
  args: NativeSeccompArg[];
}

/** The input of the addon's `seccompCompile`: numeric libseccomp constants only. */
export interface NativeSeccompProfile {
  defaultAction: number;
  /** SCMP_ARCH_* values added to the filter; the native arch is always in it. */
  arches: number[];
  /** in runc's order; rules for syscalls libseccomp does not know are skipped in C */
  rules: NativeSeccompRule[];
}

export const SCMP_ACT_KILL_PROCESS = 0x80000000;
export const SCMP_ACT_KILL_THREAD = 0x00000000;
export const SCMP_ACT_TRAP = 0x00030000;
export const SCMP_ACT_NOTIFY = 0x7fc00000;
export const SCMP_ACT_LOG = 0x7ffc0000;
export const SCMP_ACT_ALLOW = 0x7fff0000;
export const SCMP_ACT_ERRNO = (errno: number): number => (0x00050000 | (errno & 0xffff)) >>> 0;
export const SCMP_ACT_TRACE = (msg: number): number => (0x7ff00000 | (msg & 0xffff)) >>> 0;

const EPERM = 1;
const ENOSYS = 38;

/** OCI architecture names (runc 1.1's list, riscv64 included) → SCMP_ARCH_* values. */
export const SCMP_ARCH: Readonly<Record<string, number>> = {
  SCMP_ARCH_X86: 0x40000003,
  SCMP_ARCH_X86_64: 0xc000003e,
  SCMP_ARCH_X32: 0x4000003e,
  SCMP_ARCH_ARM: 0x40000028,
  SCMP_ARCH_AARCH64: 0xc00000b7,
  SCMP_ARCH_MIPS: 0x00000008,
  SCMP_ARCH_MIPS64: 0x80000008,
  SCMP_ARCH_MIPS64N32: 0xa0000008,
  SCMP_ARCH_MIPSEL: 0x40000008,
  SCMP_ARCH_MIPSEL64: 0xc0000008,
  SCMP_ARCH_MIPSEL64N32: 0xe0000008,
  SCMP_ARCH_PPC: 0x00000014,
  SCMP_ARCH_PPC64: 0x80000015,
  SCMP_ARCH_PPC64LE: 0xc0000015,
  SCMP_ARCH_S390: 0x00000016,
  SCMP_ARCH_S390X: 0x80000016,
  SCMP_ARCH_RISCV64: 0xc00000f3,
};

const SCMP_CMP: Readonly<Record<string, number>> = {
  SCMP_CMP_NE: 1,
  SCMP_CMP_LT: 2,
  SCMP_CMP_LE: 3,
  SCMP_CMP_EQ: 4,
  SCMP_CMP_GE: 5,
  SCMP_CMP_GT: 6,
  SCMP_CMP_MASKED_EQ: 7,
};

const NODE_ARCH: Readonly<Record<string, number>> = {
  x64: SCMP_ARCH.SCMP_ARCH_X86_64,
  ia32: SCMP_ARCH.SCMP_ARCH_X86,
  arm64: SCMP_ARCH.SCMP_ARCH_AARCH64,
  arm: SCMP_ARCH.SCMP_ARCH_ARM,
  ppc64: SCMP_ARCH.SCMP_ARCH_PPC64LE,
  s390x: SCMP_ARCH.SCMP_ARCH_S390X,
  riscv64: SCMP_ARCH.SCMP_ARCH_RISCV64,
};

type Action = 'kill' | 'kill-process' | 'trap' | 'errno' | 'trace' | 'allow' | 'log' | 'notify';

const ACTIONS: Readonly<Record<string, Action>> = {
  SCMP_ACT_KILL: 'kill',
  SCMP_ACT_KILL_THREAD: 'kill',
  SCMP_ACT_KILL_PROCESS: 'kill-process',
  SCMP_ACT_TRAP: 'trap',
  SCMP_ACT_ERRNO: 'errno',
  SCMP_ACT_TRACE: 'trace',
  SCMP_ACT_ALLOW: 'allow',
  SCMP_ACT_LOG: 'log',
  SCMP_ACT_NOTIFY: 'notify',
};

/** The addon functions the compiler needs (a fake can stand in for unit tests). */
export type SeccompNative = Pick<NativeSys, 'seccompCompile' | 'seccompResolveSyscalls'>;

export interface CompileSeccompOptions {
  /** defaults to the addon (`nativeSys()`) */
  sys?: SeccompNative;
  /** prepend runc's -ENOSYS stub (default true, as runc does) */
  enosysStub?: boolean;
}

/**
 * Compiles `spec` to a BPF program (8-byte `struct sock_filter`s, host byte order)
 * ready for `seccomp(SECCOMP_SET_MODE_FILTER, 0, …)`. Returns undefined when the
 * spec disables seccomp (no default action and no syscalls), as runc does.
 * Throws invalid-argument for what runc rejects (flags, unknown action, operator or
 * arch, argument index > 5, empty syscall name), not-implemented for SCMP_ACT_NOTIFY.
 */
export function compileSeccomp(spec: Seccomp, options: CompileSeccompOptions = {}): Buffer | undefined {
  const profile = toNativeSeccompProfile(spec);
  if (!profile) return undefined;
  const sys = options.sys ?? nativeSys();
  let filter: Buffer;
  try {
    filter = sys.seccompCompile(profile);
  } catch (err) {
    throw invalidArgument(`error loading seccomp filter: ${(err as Error).message}`, err);
  }
  if (filter.length === 0 || filter.length % 8 !== 0) {
    throw internal(`seccomp: libseccomp exported ${filter.length} bytes, not a BPF program`);
  }
  const stub = options.enosysStub === false ? [] : enosysStub(spec, profile, sys);
  const out = stub.length ? Buffer.concat([encode(stub), filter]) : filter;
  if (out.length / 8 > BPF_MAXINSNS) {
    throw invalidArgument(`seccomp filter too long: ${out.length / 8} instructions, the kernel takes ${BPF_MAXINSNS}`);
  }
  return out;
}

/**
 * The spec as the libseccomp calls runc 1.1 makes: actions with their return codes,
 * the architectures, one rule per syscall name — or one per condition when two
 * conditions share an argument index (runc's OR fallback) — and no rule whose action
 * equals the default. Pure: no addon needed. Undefined when seccomp is disabled.
 */
export function toNativeSeccompProfile(spec: Seccomp): NativeSeccompProfile | undefined {
  const syscalls = spec.syscalls ?? [];
  if (!spec.defaultAction && syscalls.length === 0) return undefined;
  if (spec.flags?.length) throw invalidArgument('seccomp flags are not yet supported by runc');
  const arches = (spec.architectures ?? []).map(archValue);
  const defaultAction = actionValue(spec.defaultAction, spec.defaultErrnoRet);
  // runc checks every action and operator string before building anything.
  for (const call of syscalls) {
    actionValue(call.action, call.errnoRet);
    for (const arg of call.args ?? []) opValue(arg.op);
  }
  if (ACTIONS[spec.defaultAction] === 'notify' || syscalls.some((c) => ACTIONS[c.action] === 'notify')) {
    throw notImplemented('seccomp: SCMP_ACT_NOTIFY (a seccomp agent) is not supported');
  }
  const rules: NativeSeccompRule[] = [];
  for (const call of syscalls) {
    const action = actionValue(call.action, call.errnoRet);
    for (const name of call.names ?? []) {
      if (typeof name !== 'string' || name === '') throw invalidArgument('empty string is not a valid syscall');
      if (action === defaultAction) continue; // libseccomp refuses it; runc skips it
      const args = (call.args ?? []).map((a) => ({
        index: argIndex(a.index, name),
        op: opValue(a.op),
        value: u64(a.value, name),
        valueTwo: a.valueTwo === undefined ? 0n : u64(a.valueTwo, name),
      }));
      const seen = new Set(args.map((a) => a.index));
      if (seen.size === args.length) rules.push({ action, syscall: name, args });
      else for (const a of args) rules.push({ action, syscall: name, args: [a] });
    }
  }
  return { defaultAction, arches, rules };
}

function actionValue(name: string, errnoRet: number | undefined): number {
  const act = ACTIONS[name];
  if (!act) throw invalidArgument(`string ${name} is not a valid action for seccomp`);
  const ret = errnoRet === undefined ? EPERM : u16(errnoRet);
  switch (act) {
    case 'kill':
      return SCMP_ACT_KILL_THREAD;
    case 'kill-process':
      return SCMP_ACT_KILL_PROCESS;
    case 'trap':
      return SCMP_ACT_TRAP;
    case 'errno':
      return SCMP_ACT_ERRNO(ret);
    case 'trace':
      return SCMP_ACT_TRACE(ret);
    case 'allow':
      return SCMP_ACT_ALLOW;
    case 'log':
      return SCMP_ACT_LOG;
    case 'notify':
      return SCMP_ACT_NOTIFY;
  }
}

function archValue(name: string): number {
  const v = Object.hasOwn(SCMP_ARCH, name) ? SCMP_ARCH[name] : undefined;
  if (v === undefined) throw invalidArgument(`string ${name} is not a valid arch for seccomp`);
  return v;
}

function opValue(name: string): number {
  const v = Object.hasOwn(SCMP_CMP, name) ? SCMP_CMP[name] : undefined;
  if (v === undefined) throw invalidArgument(`string ${name} is not a valid operator for seccomp`);
  return v;
}

function argIndex(index: number, name: string): number {
  if (!Number.isInteger(index) || index < 0) {
    throw invalidArgument(`seccomp: argument index of syscall ${name} must be an integer ≥ 0`);
  }
  if (index > 5) {
    throw invalidArgument(
      `error creating seccomp syscall condition for syscall ${name}: syscalls only have up to 6 arguments (${index} given)`,
    );
  }
  return index;
}

/** An errnoRet: Go's uint, cast to int16 by runc, i.e. its low 16 bits. */
function u16(v: number): number {
  if (!Number.isInteger(v) || v < 0) throw invalidArgument(`seccomp: errnoRet must be an integer ≥ 0, not ${v}`);
  return Number(BigInt(v) & 0xffffn);
}

function u64(v: number | bigint, name: string): bigint {
  const ok = typeof v === 'bigint' || (typeof v === 'number' && Number.isInteger(v));
  const b = ok ? BigInt(v) : -1n;
  if (b < 0n || b > 0xffffffffffffffffn) {
    throw invalidArgument(`seccomp: argument value ${String(v)} of syscall ${name} is not a 64-bit unsigned integer`);
  }
  return b;
}

// ---- runc's -ENOSYS stub (libcontainer/seccomp/patchbpf) ----------------------------

const BPF_MAXINSNS = 4096;
const LD_W_ABS = 0x20;
const JMP_JA = 0x05;
const JMP_JEQ_K = 0x15;
const JMP_JGT_K = 0x25;
const JMP_JSET_K = 0x45;
const RET_K = 0x06;
const X32_SYSCALL_BIT = 0x40000000;
const AUDIT_X86_64 = SCMP_ARCH.SCMP_ARCH_X86_64;

/** An instruction whose jumps name labels; FILTER is the first one after the stub. */
interface Insn {
  code: number;
  k?: number;
  jt?: string;
  jf?: string;
  label?: string;
}
const FILTER = 'filter';
const ENOSYS_LABEL = 'enosys';

/**
 * runc's stub: for each architecture in the profile (plus the native one), a syscall
 * number above the largest one any rule names for that arch returns ERRNO(ENOSYS)
 * instead of the default action, so that callers fall back from syscalls newer than
 * the profile (clone3, faccessat2, …) the way they do on an older kernel. Skipped when
 * the default action lets calls through (allow, log, trace).
 */
function enosysStub(spec: Seccomp, profile: NativeSeccompProfile, sys: SeccompNative): Insn[] {
  const def = ACTIONS[spec.defaultAction];
  if (def === 'allow' || def === 'log' || def === 'trace') return [];
  // runc compares defaultErrnoRet with the whole ERRNO(ENOSYS) action value, not 38.
  if (spec.defaultErrnoRet === SCMP_ACT_ERRNO(ENOSYS)) return [];
  const names = [...new Set((spec.syscalls ?? []).flatMap((c) => c.names ?? []))];
  const native = NODE_ARCH[process.arch];
  const arches = [...new Set([...(native === undefined ? [] : [native]), ...profile.arches])];
  // audit arch → (scmp arch → largest syscall number); x32 shares x86_64's audit arch.
  const groups = new Map<number, Map<number, number>>();
  for (const arch of arches) {
    const audit = arch === SCMP_ARCH.SCMP_ARCH_X32 ? AUDIT_X86_64 : arch;
    const largest = Math.max(0, ...sys.seccompResolveSyscalls(arch, names));
    if (largest === 0) continue;
    if (!groups.has(audit)) groups.set(audit, new Map());
    groups.get(audit)!.set(arch, largest);
  }
  if (groups.size === 0) return [];

  const head: Insn[] = [{ code: LD_W_ABS, k: 4 }];
  const body: Insn[] = [];
  for (const [audit, max] of groups) {
    const label = `arch-${audit}`;
    head.push({ code: JMP_JEQ_K, k: audit, jt: label });
    body.push({ code: LD_W_ABS, k: 0, label });
    if (audit === SCMP_ARCH.SCMP_ARCH_S390 || audit === SCMP_ARCH.SCMP_ARCH_S390X) {
      body.push({ code: JMP_JEQ_K, k: 0, jt: ENOSYS_LABEL }); // s390 multiplexes unknown calls on 0
    }
    if (audit !== AUDIT_X86_64) {
      body.push({ code: JMP_JGT_K, k: max.get(audit)!, jt: ENOSYS_LABEL }, { code: JMP_JA, jt: FILTER });
      continue;
    }
    const m64 = max.get(AUDIT_X86_64);
    const m32 = max.get(SCMP_ARCH.SCMP_ARCH_X32);
    const x32 = `x32-${audit}`;
    body.push({ code: JMP_JSET_K, k: X32_SYSCALL_BIT, jt: m32 === undefined ? FILTER : x32 });
    if (m64 !== undefined) body.push({ code: JMP_JGT_K, k: m64, jt: ENOSYS_LABEL });
    body.push({ code: JMP_JA, jt: FILTER });
    if (m32 !== undefined) body.push({ code: JMP_JGT_K, k: m32, jt: ENOSYS_LABEL, label: x32 }, { code: JMP_JA, jt: FILTER });
  }
  head.push({ code: JMP_JA, jt: FILTER });
  return [...head, ...body, { code: RET_K, k: SCMP_ACT_ERRNO(ENOSYS), label: ENOSYS_LABEL }];
}

/** Lays out the stub: label jumps become offsets, FILTER is the end of the stub. */
function encode(insns: Insn[]): Buffer {
  const at = new Map<string, number>([[FILTER, insns.length]]);
  insns.forEach((ins, i) => ins.label && at.set(ins.label, i));
  const out = Buffer.alloc(insns.length * 8);
  const le = os.endianness() === 'LE';
  insns.forEach((ins, i) => {
    const off = (label: string | undefined): number => {
      if (label === undefined) return 0;
      const d = at.get(label)! - (i + 1);
      if (d < 0 || (ins.code !== JMP_JA && d > 255)) throw internal(`seccomp stub: jump to ${label} out of range`);
      return d;
    };
    const ja = ins.code === JMP_JA;
    const k = ja ? off(ins.jt) : (ins.k ?? 0);
    if (le) out.writeUInt16LE(ins.code, i * 8);
    else out.writeUInt16BE(ins.code, i * 8);
    out.writeUInt8(ja ? 0 : off(ins.jt), i * 8 + 2);
    out.writeUInt8(ja ? 0 : off(ins.jf), i * 8 + 3);
    if (le) out.writeUInt32LE(k >>> 0, i * 8 + 4);
    else out.writeUInt32BE(k >>> 0, i * 8 + 4);
  });
  return out;
}
