/**
 * The exec spec the shim reads to start an exec process by entering the container
 * itself (native/shim/enter.c) instead of through `runtime exec`: the OCI process
 * flattened into `key=value` entries, each ended by a NUL, with names resolved to the
 * kernel's numbers (capabilities, rlimits). docs/shim.md ("Direct exec") lists the keys.
 */
import type { Capabilities, Linux, Process } from '../oci/spec';
import { invalidArgument } from '../errdefs';

/** Kernel capability numbers (linux/capability.h), 0 … 40. */
const CAP_NUMBERS: ReadonlyMap<string, number> = new Map(
  [
    'CHOWN', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID',
    'SETPCAP', 'LINUX_IMMUTABLE', 'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_ADMIN', 'NET_RAW',
    'IPC_LOCK', 'IPC_OWNER', 'SYS_MODULE', 'SYS_RAWIO', 'SYS_CHROOT', 'SYS_PTRACE', 'SYS_PACCT',
    'SYS_ADMIN', 'SYS_BOOT', 'SYS_NICE', 'SYS_RESOURCE', 'SYS_TIME', 'SYS_TTY_CONFIG', 'MKNOD',
    'LEASE', 'AUDIT_WRITE', 'AUDIT_CONTROL', 'SETFCAP', 'MAC_OVERRIDE', 'MAC_ADMIN', 'SYSLOG',
    'WAKE_ALARM', 'BLOCK_SUSPEND', 'AUDIT_READ', 'PERFMON', 'BPF', 'CHECKPOINT_RESTORE',
  ].map((c, i) => ['CAP_' + c, i]),
);

/** Resource numbers (asm-generic/resource.h, x86 and arm64 alike). */
const RLIMIT_NUMBERS: ReadonlyMap<string, number> = new Map(
  ['CPU', 'FSIZE', 'DATA', 'STACK', 'CORE', 'RSS', 'NPROC', 'NOFILE', 'MEMLOCK', 'AS', 'LOCKS', 'SIGPENDING',
    'MSGQUEUE', 'NICE', 'RTPRIO', 'RTTIME'].map((r, i) => ['RLIMIT_' + r, i]),
);

const RLIM_INFINITY = 18446744073709551615n;

/**
 * Why this container's execs must go through the runtime, or undefined when the shim
 * can start them itself. The direct path covers what stevedore's bundles use; a user
 * namespace, an AppArmor or SELinux label, or seccomp filter flags are left
 * to the runtime, which handles every case.
 */
export function directExecBlocker(linux: Linux, process: Process): string | undefined {
  if (linux.namespaces.some((n) => n.type === 'user')) return 'user namespace';
  if (process.apparmorProfile && process.apparmorProfile !== 'unconfined') return 'apparmor profile';
  if (process.selinuxLabel) return 'selinux label';
  if (linux.seccomp?.flags?.length) return 'seccomp flags'; // runc 1.1 refuses them anyway
  return undefined;
}

/** A capability list as a bit mask; names the kernel does not have are skipped, as runc skips them. */
export function capMask(names: readonly string[] | undefined): bigint {
  let m = 0n;
  for (const n of names ?? []) {
    const bit = CAP_NUMBERS.get(n.toUpperCase());
    if (bit !== undefined) m |= 1n << BigInt(bit);
  }
  return m;
}

function limit(v: number): bigint {
  return v < 0 ? RLIM_INFINITY : BigInt(v);
}

/** What else goes with the process: fields that come from the container, not the exec. */
export interface EnterSpecOptions {
  /** Session keyring to join (runc: `_ses.<container id>`); omitted with NoNewKeyring. */
  keyring?: string;
  /** The compiled seccomp filter's file, relative to the shim's state dir. */
  seccomp?: string;
}

/** Encodes the process (as `runtime exec --process` would take it) for the shim. */
export function encodeEnterSpec(p: Process, opts: EnterSpecOptions = {}): Buffer {
  const out: string[] = [];
  const put = (k: string, v: string | number | bigint) => {
    const s = String(v);
    if (s.includes('\0')) throw invalidArgument(`invalid exec ${k}: contains a NUL byte`);
    out.push(`${k}=${s}`);
  };
  for (const a of p.args) put('arg', a);
  for (const e of p.env ?? []) put('env', e);
  put('cwd', p.cwd);
  put('uid', p.user.uid);
  put('gid', p.user.gid);
  for (const g of p.user.additionalGids ?? []) put('group', g);
  if (p.user.umask !== undefined) put('umask', p.user.umask);
  const caps: Capabilities = p.capabilities ?? {};
  put('cap.bounding', '0x' + capMask(caps.bounding).toString(16));
  put('cap.effective', '0x' + capMask(caps.effective).toString(16));
  put('cap.permitted', '0x' + capMask(caps.permitted).toString(16));
  put('cap.inheritable', '0x' + capMask(caps.inheritable).toString(16));
  put('cap.ambient', '0x' + capMask(caps.ambient).toString(16));
  if (p.noNewPrivileges) put('nnp', 1);
  if (p.oomScoreAdj !== undefined) put('oom', p.oomScoreAdj);
  for (const r of p.rlimits ?? []) {
    const n = RLIMIT_NUMBERS.get(r.type);
    if (n === undefined) throw invalidArgument(`wrong rlimit value: ${r.type}`);
    put('rlimit', `${n} ${limit(r.soft)} ${limit(r.hard)}`);
  }
  if (p.terminal && p.consoleSize) {
    put('rows', p.consoleSize.height);
    put('cols', p.consoleSize.width);
  }
  if (opts.keyring) put('keyring', opts.keyring);
  if (opts.seccomp) {
    put('seccomp', opts.seccomp);
  }
  return Buffer.from(out.map((e) => e + '\0').join(''), 'utf8');
}
