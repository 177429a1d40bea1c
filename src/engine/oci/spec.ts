/**
 * The OCI runtime spec (`config.json`, runtime-spec 1.0.2) — the subset stevedore writes
 * and runc 1.1 reads. JSON field names are the spec's own.
 */

export const OCI_VERSION = '1.0.2-dev';

export interface SpecUser {
  uid: number;
  gid: number;
  umask?: number;
  additionalGids?: number[];
}

export interface Rlimit {
  /** `RLIMIT_NOFILE`, … */
  type: string;
  /** -1 = RLIM_INFINITY (written as 18446744073709551615) */
  soft: number;
  hard: number;
}

export interface Capabilities {
  bounding?: string[];
  effective?: string[];
  inheritable?: string[];
  permitted?: string[];
  ambient?: string[];
}

export interface Process {
  terminal?: boolean;
  consoleSize?: { height: number; width: number };
  user: SpecUser;
  args: string[];
  env?: string[];
  cwd: string;
  capabilities?: Capabilities;
  rlimits?: Rlimit[];
  noNewPrivileges?: boolean;
  apparmorProfile?: string;
  oomScoreAdj?: number;
  selinuxLabel?: string;
}

export interface SpecMount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
}

export interface Namespace {
  type: 'pid' | 'network' | 'mount' | 'ipc' | 'uts' | 'user' | 'cgroup';
  path?: string;
}

export interface Device {
  type: 'c' | 'b' | 'u' | 'p';
  path: string;
  major: number;
  minor: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
}

export interface DeviceCgroup {
  allow: boolean;
  type?: string;
  major?: number;
  minor?: number;
  access?: string;
}

export interface Memory {
  limit?: number;
  reservation?: number;
  swap?: number;
  kernel?: number;
  kernelTCP?: number;
  swappiness?: number;
  disableOOMKiller?: boolean;
}

export interface Cpu {
  shares?: number;
  quota?: number;
  period?: number;
  realtimeRuntime?: number;
  realtimePeriod?: number;
  cpus?: string;
  mems?: string;
}

export interface BlockIODevice {
  major: number;
  minor: number;
}

export interface BlockIO {
  weight?: number;
  leafWeight?: number;
  weightDevice?: (BlockIODevice & { weight?: number; leafWeight?: number })[];
  throttleReadBpsDevice?: (BlockIODevice & { rate: number })[];
  throttleWriteBpsDevice?: (BlockIODevice & { rate: number })[];
  throttleReadIOPSDevice?: (BlockIODevice & { rate: number })[];
  throttleWriteIOPSDevice?: (BlockIODevice & { rate: number })[];
}

export interface Resources {
  devices?: DeviceCgroup[];
  memory?: Memory;
  cpu?: Cpu;
  pids?: { limit: number };
  blockIO?: BlockIO;
  unified?: Record<string, string>;
}

export interface SeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: string;
}

export interface SeccompSyscall {
  names: string[];
  action: string;
  errnoRet?: number;
  args?: SeccompArg[];
}

export interface Seccomp {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  flags?: string[];
  syscalls?: SeccompSyscall[];
}

export interface Linux {
  uidMappings?: { containerID: number; hostID: number; size: number }[];
  gidMappings?: { containerID: number; hostID: number; size: number }[];
  sysctl?: Record<string, string>;
  resources?: Resources;
  cgroupsPath?: string;
  namespaces: Namespace[];
  devices?: Device[];
  seccomp?: Seccomp;
  rootfsPropagation?: string;
  maskedPaths?: string[];
  readonlyPaths?: string[];
  mountLabel?: string;
}

export interface Hook {
  path: string;
  args?: string[];
  env?: string[];
  timeout?: number;
}

/** The whole `config.json`. */
export interface Spec {
  ociVersion: string;
  process: Process;
  root: { path: string; readonly?: boolean };
  hostname?: string;
  mounts: SpecMount[];
  hooks?: Record<string, Hook[]>;
  annotations?: Record<string, string>;
  linux: Linux;
}
