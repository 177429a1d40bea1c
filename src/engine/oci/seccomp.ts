/**
 * Seccomp profiles in the format moby and containerd share (rules with `includes` /
 * `excludes` conditions on arch, capabilities and kernel version; Docker's default
 * profile is one) and their conversion to the OCI spec's `linux.seccomp` for one
 * container, keeping only the rules whose conditions hold — what moby's
 * profiles/seccomp does when it builds a spec. Parsing a profile from a user's text
 * (and Docker's wording for it) is the daemon's.
 */
import { invalidArgument } from '../errdefs';
import type { Seccomp, SeccompArg, SeccompSyscall } from './spec';
import { DEFAULT_SECCOMP_PROFILE } from './seccomp-default.generated';

/** Conditions on a rule: all listed must hold (includes) / none may hold (excludes). */
export interface SeccompFilter {
  caps?: string[];
  /** libseccomp-style names: amd64, x86, x32, arm64, arm, ppc64le, s390x, … */
  arches?: string[];
  /** "<kernel>.<major>", e.g. "4.8" */
  minKernel?: string;
}

export interface SeccompProfileSyscall {
  name?: string;
  names?: string[];
  action: string;
  errnoRet?: number;
  args?: SeccompArg[] | null;
  comment?: string;
  includes?: SeccompFilter;
  excludes?: SeccompFilter;
}

export interface SeccompProfile {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  archMap?: { architecture: string; subArchitectures: string[] }[];
  syscalls?: SeccompProfileSyscall[] | null;
}

/** What the conversion needs to know about the host and the container. */
export interface SeccompContext {
  /** libseccomp-style name of the native arch (see `nativeSeccompArch`). */
  arch: string;
  /** The container's bounding capabilities (`CAP_…`). */
  capabilities: readonly string[];
  /** Host kernel version as [kernel, major], e.g. [6, 1]. */
  kernel: readonly [number, number];
}

/** Docker 20.10's default profile, generated from moby's profiles/seccomp/default.json. */
export function defaultSeccompProfile(): SeccompProfile {
  return structuredClone(DEFAULT_SECCOMP_PROFILE);
}

const NODE_TO_SECCOMP: Record<string, string> = {
  x64: 'amd64',
  ia32: 'x86',
  arm64: 'arm64',
  arm: 'arm',
  ppc64: 'ppc64le',
  s390x: 's390x',
  mips: 'mips',
  mipsel: 'mipsel',
};

const SECCOMP_ARCH: Record<string, string> = {
  x86: 'SCMP_ARCH_X86',
  amd64: 'SCMP_ARCH_X86_64',
  arm: 'SCMP_ARCH_ARM',
  arm64: 'SCMP_ARCH_AARCH64',
  ppc64le: 'SCMP_ARCH_PPC64LE',
  s390x: 'SCMP_ARCH_S390X',
  mipsel: 'SCMP_ARCH_MIPSEL',
};

/** The libseccomp name of a Node `process.arch`. */
export function nativeSeccompArch(nodeArch: string = process.arch): string {
  return NODE_TO_SECCOMP[nodeArch] ?? nodeArch;
}

/** Parses "a.b[.c…][-suffix]" (a kernel release or a minKernel) into [a, b]. */
export function parseKernelVersion(v: string): [number, number] {
  const m = /^(\d+)\.(\d+)/.exec(v);
  if (!m) throw invalidArgument(`invalid kernel version: "${v}", expected "<kernel>.<major>"`);
  return [Number(m[1]), Number(m[2])];
}

function kernelAtLeast(have: readonly [number, number], want: string): boolean {
  const w = parseKernelVersion(want);
  return have[0] > w[0] || (have[0] === w[0] && have[1] >= w[1]);
}

/**
 * Converts a profile to the spec's seccomp section for one container.
 * Returns undefined when the profile disables seccomp (no default action, no rules).
 */
export function toSpecSeccomp(profile: SeccompProfile, ctx: SeccompContext): Seccomp | undefined {
  const syscalls = profile.syscalls ?? [];
  if (!profile.defaultAction && syscalls.length === 0) return undefined;
  if (profile.architectures?.length && profile.archMap?.length) {
    throw invalidArgument(
      "'architectures' and 'archMap' were specified in the seccomp profile, use either 'architectures' or 'archMap'",
    );
  }
  const out: Seccomp = { defaultAction: profile.defaultAction };
  if (profile.defaultErrnoRet !== undefined) out.defaultErrnoRet = profile.defaultErrnoRet;
  if (profile.architectures?.length) out.architectures = [...profile.architectures];
  const native = SECCOMP_ARCH[ctx.arch];
  const entry = native ? profile.archMap?.find((a) => a.architecture === native) : undefined;
  if (entry) out.architectures = [entry.architecture, ...(entry.subArchitectures ?? [])];

  const rules: SeccompSyscall[] = [];
  for (const call of syscalls) {
    if (!applies(call, ctx)) continue;
    if (call.name && call.names?.length) {
      throw invalidArgument("'name' and 'names' were specified in the seccomp profile, use either 'name' or 'names'");
    }
    const rule: SeccompSyscall = { names: call.name ? [call.name] : [...(call.names ?? [])], action: call.action };
    if (call.errnoRet !== undefined) rule.errnoRet = call.errnoRet;
    if (call.args?.length) rule.args = call.args.map((a) => ({ ...a }));
    rules.push(rule);
  }
  out.syscalls = rules;
  return out;
}

function applies(call: SeccompProfileSyscall, ctx: SeccompContext): boolean {
  const ex = call.excludes ?? {};
  const inc = call.includes ?? {};
  if (ex.arches?.includes(ctx.arch)) return false;
  if (ex.caps?.some((c) => ctx.capabilities.includes(c))) return false;
  if (ex.minKernel && kernelAtLeast(ctx.kernel, ex.minKernel)) return false;
  if (inc.arches?.length && !inc.arches.includes(ctx.arch)) return false;
  if (inc.caps?.some((c) => !ctx.capabilities.includes(c))) return false;
  if (inc.minKernel && !kernelAtLeast(ctx.kernel, inc.minKernel)) return false;
  return true;
}
