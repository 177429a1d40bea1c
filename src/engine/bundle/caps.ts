/**
 * Linux capabilities the way Docker 20.10 grants them: a default set of 14, `CapAdd` /
 * `CapDrop` with the `ALL` keyword, names accepted with or without `CAP_` in any case.
 */
import { invalidArgument } from '../errdefs';

/** Docker's default capability set, in Docker's order. */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

/**
 * Every capability Docker 20.10 knows, in kernel order (0 … 37). Docker stops at
 * CAP_AUDIT_READ even on newer kernels (no PERFMON, BPF, CHECKPOINT_RESTORE), so this
 * is also what a privileged container gets.
 */
export const ALL_CAPABILITIES: readonly string[] = [
  'CHOWN', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID',
  'SETPCAP', 'LINUX_IMMUTABLE', 'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_ADMIN', 'NET_RAW',
  'IPC_LOCK', 'IPC_OWNER', 'SYS_MODULE', 'SYS_RAWIO', 'SYS_CHROOT', 'SYS_PTRACE', 'SYS_PACCT',
  'SYS_ADMIN', 'SYS_BOOT', 'SYS_NICE', 'SYS_RESOURCE', 'SYS_TIME', 'SYS_TTY_CONFIG', 'MKNOD',
  'LEASE', 'AUDIT_WRITE', 'AUDIT_CONTROL', 'SETFCAP', 'MAC_OVERRIDE', 'MAC_ADMIN', 'SYSLOG',
  'WAKE_ALARM', 'BLOCK_SUSPEND', 'AUDIT_READ',
].map((c) => 'CAP_' + c);

const ALL = 'ALL';

/**
 * Upper-cases names, adds the `CAP_` prefix, keeps `ALL` as is.
 * Throws invalid-argument `unknown capability: "CAP_X"` for names Docker does not know.
 */
export function normalizeCapabilities(caps: readonly string[]): string[] {
  return caps.map((raw) => {
    let c = raw.toUpperCase();
    if (c === ALL) return c;
    if (!c.startsWith('CAP_')) c = 'CAP_' + c;
    if (!ALL_CAPABILITIES.includes(c)) throw invalidArgument(`unknown capability: "${c}"`);
    return c;
  });
}

/**
 * The capability set of a container: all of them when privileged; otherwise the
 * defaults minus `drops` plus `adds`, where `adds: ALL` means everything but `drops`
 * and `drops: ALL` means only `adds`.
 */
export function tweakCapabilities(
  adds: readonly string[] | null | undefined,
  drops: readonly string[] | null | undefined,
  privileged: boolean,
  basics: readonly string[] = DEFAULT_CAPABILITIES,
): string[] {
  if (privileged) return [...ALL_CAPABILITIES];
  if (!adds?.length && !drops?.length) return [...basics];
  const capDrop = normalizeCapabilities(drops ?? []);
  const capAdd = normalizeCapabilities(adds ?? []);
  let caps: string[];
  if (capAdd.includes(ALL)) {
    caps = ALL_CAPABILITIES.filter((c) => !capDrop.includes(c));
  } else if (capDrop.includes(ALL)) {
    caps = capAdd;
  } else {
    caps = [...basics.filter((c) => !capDrop.includes(c)), ...capAdd];
  }
  return [...new Set(caps)];
}
