/**
 * The pure core of spec building: Docker 20.10's `createSpec` (moby daemon/oci_linux.go)
 * over already-gathered facts — the resolved user, host devices, host sysctls, kernel
 * and arch — so that it runs without root and without touching the disk.
 */
import * as path from 'node:path';
import { invalidArgument } from '../errdefs';
import { tweakCapabilities } from './caps';
import { mergeConfig, replaceOrAppendEnv } from './command';
import {
  DEFAULT_PATH_ENV,
  DEFAULT_SHM_SIZE,
  IN_CONTAINER_INIT_PATH,
  defaultDeviceRules,
  defaultMaskedPaths,
  defaultMounts,
  defaultNamespaces,
  defaultReadonlyPaths,
} from './defaults';
import { mountOptions, tmpfsOptions, type ResolvedMount } from './mounts';
import { defaultSeccompProfile, parseSeccompProfile, toSpecSeccomp } from './seccomp';
import { OCI_VERSION, type Device, type DeviceCgroup, type Namespace, type Rlimit, type Spec, type SpecMount } from './spec';
import type { ContainerConfig, HostConfig, ImageRuntimeConfig, Ulimit } from './types';
import type { ResolvedUser } from './user';

/** What the caller knows about the container. */
export interface BuildSpecInput {
  /** container id (64 hex); its first 12 characters are the default hostname */
  id: string;
  /** absolute path of the mounted root filesystem */
  rootfs: string;
  imageConfig: ImageRuntimeConfig;
  config: ContainerConfig;
  hostConfig: HostConfig;
  /** binds, volumes, tmpfs from `Binds`/`Mounts`, plus /etc/hosts, /etc/hostname, /etc/resolv.conf */
  mounts: ResolvedMount[];
  /** network namespace to join (`container:` mode, or one set up by the caller); undefined = new one */
  netnsPath?: string;
  /** IPC namespace to join, required for `IpcMode: container:<id>` */
  ipcnsPath?: string;
  /** PID namespace to join, required for `PidMode: container:<id>` */
  pidnsPath?: string;
  /** `linux.cgroupsPath`, e.g. `/docker/<id>` or `system.slice:docker:<id>` */
  cgroupsPath: string;
  /** host path of a static init (tini), needed when `HostConfig.Init` is true */
  initPath?: string;
  cgroupVersion: 1 | 2;
}

/** Facts gathered by the I/O layer (see `LinuxHost`, `buildSpec`). */
export interface BuildFacts {
  user: ResolvedUser;
  /** libseccomp arch name, e.g. amd64 */
  arch: string;
  /** host kernel [version, major revision] */
  kernel: readonly [number, number];
  /** whether /proc/sys/<name> exists on the host */
  sysctlExists(name: string): boolean;
  /** privileged: every host device; otherwise the `HostConfig.Devices` mappings */
  devices: Device[];
  /** cgroup rules for the `HostConfig.Devices` mappings (ignored when privileged) */
  deviceRules: DeviceCgroup[];
  /** the daemon's `--default-ulimit`s, merged under the container's own */
  defaultUlimits?: Ulimit[];
  /** the daemon's `--init` default, used when `HostConfig.Init` is null */
  defaultInit?: boolean;
}

const RLIMITS = new Set([
  'as', 'core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss',
  'rtprio', 'rttime', 'sigpending', 'stack',
]);

interface SecurityOpts {
  noNewPrivileges: boolean;
  seccomp: string;
}

/** Parses `SecurityOpt` (`no-new-privileges[=bool]`, `seccomp=…`, `label=…`, `apparmor=…`). */
export function parseSecurityOpt(opts: readonly string[]): SecurityOpts {
  const out: SecurityOpts = { noNewPrivileges: false, seccomp: '' };
  for (const opt of opts) {
    if (opt === 'no-new-privileges') {
      out.noNewPrivileges = true;
      continue;
    }
    if (opt === 'disable') continue;
    const sep = opt.includes('=') ? '=' : opt.includes(':') ? ':' : '';
    if (!sep) throw invalidArgument(`invalid --security-opt 1: "${opt}"`);
    const i = opt.indexOf(sep);
    const key = opt.slice(0, i);
    const value = opt.slice(i + 1);
    switch (key) {
      case 'label':
      case 'apparmor':
        break; // neither SELinux nor AppArmor is supported; accepted and ignored
      case 'seccomp':
        out.seccomp = value;
        break;
      case 'no-new-privileges':
        if (!/^(1|t|T|TRUE|true|True|0|f|F|FALSE|false|False)$/.test(value)) {
          throw invalidArgument(`invalid --security-opt 2: "${opt}"`);
        }
        out.noNewPrivileges = /^(1|t|T|TRUE|true|True)$/.test(value);
        break;
      default:
        throw invalidArgument(`invalid --security-opt 2: "${opt}"`);
    }
  }
  return out;
}

function setNamespace(list: Namespace[], ns: Namespace): void {
  const i = list.findIndex((n) => n.type === ns.type);
  if (i >= 0) list[i] = ns;
  else list.push(ns);
}

function removeNamespace(list: Namespace[], type: Namespace['type']): void {
  const i = list.findIndex((n) => n.type === type);
  if (i >= 0) list.splice(i, 1);
}

const isContainerMode = (m: string | undefined) => (m ?? '').startsWith('container:');

/**
 * Builds the OCI spec for a container from its configs and gathered facts.
 * Throws invalid-argument for configs Docker rejects at start.
 */
export function buildSpecFrom(input: BuildSpecInput, facts: BuildFacts): Spec {
  const hc = input.hostConfig;
  const merged = mergeConfig(input.imageConfig, input.config);
  const privileged = hc.Privileged === true;
  const networkMode = hc.NetworkMode ?? '';
  const ipcMode = hc.IpcMode || 'private';
  const pidMode = hc.PidMode ?? '';
  const hostname = input.config.Hostname || input.id.slice(0, 12);
  const security = parseSecurityOpt(hc.SecurityOpt ?? []);
  const oomScoreAdj = hc.OomScoreAdj ?? 0;
  if (oomScoreAdj < -1000 || oomScoreAdj > 1000) {
    throw invalidArgument(`Invalid value ${oomScoreAdj}, range for oom score adj is [-1000, 1000]`);
  }

  // --- process ---
  let args = merged.args;
  const mounts = defaultMounts();
  const pidPrivate = pidMode !== 'host' && !isContainerMode(pidMode);
  if (pidPrivate && (hc.Init ?? facts.defaultInit ?? false)) {
    if (!input.initPath) throw invalidArgument('init requested but no init binary is configured');
    args = [IN_CONTAINER_INIT_PATH, '--', ...args];
    mounts.push({ destination: IN_CONTAINER_INIT_PATH, type: 'bind', source: input.initPath, options: ['bind', 'ro'] });
  }
  let cwd = merged.workingDir || '/';
  if (!path.isAbsolute(cwd)) {
    throw invalidArgument(`the working directory '${merged.workingDir}' is invalid, it needs to be an absolute path`);
  }
  cwd = path.posix.normalize(cwd);
  const baseEnv = [`PATH=${DEFAULT_PATH_ENV}`, `HOSTNAME=${hostname}`];
  if (input.config.Tty) baseEnv.push('TERM=xterm');

  const spec: Spec = {
    ociVersion: OCI_VERSION,
    process: {
      terminal: input.config.Tty === true,
      user: { uid: facts.user.uid, gid: facts.user.gid, additionalGids: [...facts.user.additionalGids] },
      args,
      env: replaceOrAppendEnv(baseEnv, merged.env),
      cwd,
      oomScoreAdj,
    },
    root: { path: input.rootfs, readonly: hc.ReadonlyRootfs === true },
    hostname,
    mounts,
    linux: {
      sysctl: {},
      cgroupsPath: input.cgroupsPath,
      namespaces: defaultNamespaces(),
      devices: [],
      maskedPaths: defaultMaskedPaths(),
      readonlyPaths: defaultReadonlyPaths(),
    },
  };
  const linux = spec.linux;
  const sysctl = linux.sysctl!;
  if (input.config.Domainname) sysctl['kernel.domainname'] = input.config.Domainname;
  const netPrivate = networkMode !== 'host' && !isContainerMode(networkMode);
  if (netPrivate) {
    if (facts.sysctlExists('net.ipv4.ping_group_range')) sysctl['net.ipv4.ping_group_range'] = '0 2147483647';
    if (facts.sysctlExists('net.ipv4.ip_unprivileged_port_start')) sysctl['net.ipv4.ip_unprivileged_port_start'] = '0';
  }

  // --- resources ---
  linux.resources = buildResources(hc);
  for (const [k, v] of Object.entries(hc.Sysctls ?? {})) sysctl[k] = v;

  // --- devices ---
  if (privileged) {
    linux.devices = [...facts.devices];
    linux.resources.devices = [{ allow: true, access: 'rwm' }];
  } else {
    linux.devices = [...facts.devices];
    linux.resources.devices = [...defaultDeviceRules(), ...facts.deviceRules, ...cgroupRules(hc.DeviceCgroupRules ?? [])];
  }

  // --- rlimits ---
  const ulimits = [...(hc.Ulimits ?? [])];
  for (const d of facts.defaultUlimits ?? []) {
    if (!ulimits.some((u) => u.Name === d.Name)) ulimits.push(d);
  }
  if (ulimits.length > 0) spec.process.rlimits = ulimits.map(toRlimit);

  // --- namespaces ---
  const ns = linux.namespaces;
  if (!input.config.NetworkDisabled) {
    if (networkMode === 'host') removeNamespace(ns, 'network');
    else if (input.netnsPath) setNamespace(ns, { type: 'network', path: input.netnsPath });
    else if (isContainerMode(networkMode)) throw invalidArgument(`network mode ${networkMode} needs the other container's namespace`);
    else setNamespace(ns, { type: 'network' });
  }
  if (isContainerMode(ipcMode)) {
    if (!input.ipcnsPath) throw invalidArgument(`IPC mode ${ipcMode} needs the other container's namespace`);
    setNamespace(ns, { type: 'ipc', path: input.ipcnsPath });
  } else if (ipcMode === 'host') {
    removeNamespace(ns, 'ipc');
  } else if (['private', 'shareable', 'none'].includes(ipcMode)) {
    setNamespace(ns, { type: 'ipc' });
  } else {
    throw invalidArgument(`Invalid IPC mode: ${ipcMode}`);
  }
  if (isContainerMode(pidMode)) {
    if (!input.pidnsPath) throw invalidArgument(`PID mode ${pidMode} needs the other container's namespace`);
    setNamespace(ns, { type: 'pid', path: input.pidnsPath });
  } else if (pidMode === 'host') {
    removeNamespace(ns, 'pid');
  } else {
    setNamespace(ns, { type: 'pid' });
  }
  if (hc.UTSMode === 'host') {
    removeNamespace(ns, 'uts');
    delete spec.hostname;
  }
  let cgroupns = hc.CgroupnsMode || '';
  if (cgroupns === '') cgroupns = input.cgroupVersion === 2 ? 'private' : 'host';
  if (cgroupns !== 'private' && cgroupns !== 'host') throw invalidArgument(`invalid cgroup namespace mode: ${cgroupns}`);
  if (cgroupns === 'private') setNamespace(ns, { type: 'cgroup' });

  // --- capabilities and seccomp ---
  const caps = tweakCapabilities(hc.CapAdd, hc.CapDrop, privileged);
  spec.process.capabilities =
    facts.user.uid === 0 ? { bounding: caps, effective: [...caps], permitted: [...caps] } : { bounding: caps };
  if (security.seccomp !== 'unconfined' && !privileged) {
    const profile = security.seccomp ? parseSeccompProfile(security.seccomp) : defaultSeccompProfile();
    const seccomp = toSpecSeccomp(profile, { arch: facts.arch, capabilities: caps, kernel: facts.kernel });
    if (seccomp) linux.seccomp = seccomp;
  }

  // --- mounts ---
  spec.mounts = buildMounts(spec, input, ipcMode, hc.ShmSize || DEFAULT_SHM_SIZE);

  if (security.noNewPrivileges) spec.process.noNewPrivileges = true;
  if (privileged) {
    delete linux.maskedPaths;
    delete linux.readonlyPaths;
  }
  if (hc.MaskedPaths != null) linux.maskedPaths = [...hc.MaskedPaths];
  if (hc.ReadonlyPaths != null) linux.readonlyPaths = [...hc.ReadonlyPaths];
  return spec;
}

function toRlimit(u: Ulimit): Rlimit {
  const name = (u.Name ?? '').toLowerCase();
  if (!RLIMITS.has(name)) throw invalidArgument(`invalid ulimit type: ${u.Name ?? ''}`);
  const soft = u.Soft ?? 0;
  const hard = u.Hard ?? 0;
  if (hard >= 0 && (soft < 0 || soft > hard)) throw invalidArgument(`ulimit soft limit must be less than or equal to hard limit: ${soft} > ${hard}`);
  // -1 ("unlimited") stays -1 here; serializeSpec writes it as RLIM_INFINITY (2^64-1).
  const conv = (n: number) => (n < 0 ? -1 : n);
  return { type: 'RLIMIT_' + name.toUpperCase(), soft: conv(soft), hard: conv(hard) };
}

function buildResources(hc: HostConfig): NonNullable<Spec['linux']['resources']> {
  const memory: NonNullable<NonNullable<Spec['linux']['resources']>['memory']> = {};
  const mem = hc.Memory ?? 0;
  let swap = hc.MemorySwap ?? 0;
  if (mem > 0 && swap === 0) swap = mem * 2; // Docker's default: swap as large as memory
  if (mem > 0) memory.limit = mem;
  if ((hc.MemoryReservation ?? 0) > 0) memory.reservation = hc.MemoryReservation!;
  if (swap > 0) memory.swap = swap;
  if (hc.MemorySwappiness != null && hc.MemorySwappiness >= 0) memory.swappiness = hc.MemorySwappiness;
  memory.disableOOMKiller = hc.OomKillDisable === true;
  if (hc.KernelMemory) memory.kernel = hc.KernelMemory;
  if (hc.KernelMemoryTCP) memory.kernelTCP = hc.KernelMemoryTCP;

  const shares = hc.CpuShares ?? 0;
  if (shares < 0) throw invalidArgument('shares: invalid argument');
  const cpu: NonNullable<NonNullable<Spec['linux']['resources']>['cpu']> = { shares };
  if (hc.CpusetCpus) cpu.cpus = hc.CpusetCpus;
  if (hc.CpusetMems) cpu.mems = hc.CpusetMems;
  if ((hc.NanoCpus ?? 0) > 0) {
    cpu.period = 100000;
    cpu.quota = Math.floor((hc.NanoCpus! * 100000) / 1e9);
  }
  if (hc.CpuPeriod) cpu.period = hc.CpuPeriod;
  if (hc.CpuQuota) cpu.quota = hc.CpuQuota;
  if (hc.CpuRealtimePeriod) cpu.realtimePeriod = hc.CpuRealtimePeriod;
  if (hc.CpuRealtimeRuntime) cpu.realtimeRuntime = hc.CpuRealtimeRuntime;

  const res: NonNullable<Spec['linux']['resources']> = { memory, cpu, blockIO: { weight: hc.BlkioWeight ?? 0 } };
  if (hc.PidsLimit != null) res.pids = { limit: hc.PidsLimit <= 0 ? -1 : hc.PidsLimit };
  return res;
}

/** `DeviceCgroupRules` entries: `<a|b|c> <major|*>:<minor|*> <rwm>`. */
export function cgroupRules(rules: readonly string[]): DeviceCgroup[] {
  return rules.map((rule) => {
    const m = /^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$/.exec(rule);
    if (!m) throw invalidArgument(`invalid device cgroup rule format: '${rule}'`);
    const num = (s: string) => (s === '*' ? -1 : Number(s));
    return { allow: true, type: m[1]!, major: num(m[2]!), minor: num(m[3]!), access: m[4]! };
  });
}

function depth(dest: string): number {
  return (path.posix.normalize(dest).replace(/\/$/, '').match(/\//g) ?? []).length;
}

function buildMounts(spec: Spec, input: BuildSpecInput, ipcMode: string, shmSize: number): SpecMount[] {
  const hc = input.hostConfig;
  const user: ResolvedMount[] = [...input.mounts];
  for (const [dest, data] of Object.entries(hc.Tmpfs ?? {})) {
    user.push({ destination: dest, type: 'tmpfs', source: 'tmpfs', options: data ? data.split(',') : [] });
  }
  // Shallow destinations first, so a mount never hides one below it; stable otherwise.
  user.sort((a, b) => depth(a.destination) - depth(b.destination));
  const userDest = new Set(user.map((m) => m.destination));
  const ownDev = userDest.has('/dev');

  const out: SpecMount[] = [];
  for (const m of spec.mounts) {
    if (userDest.has(m.destination)) continue;
    if (ownDev && m.destination.startsWith('/dev/')) continue;
    if (m.destination === '/dev/shm') {
      if (ipcMode === 'none') continue;
      m.options = [...(m.options ?? []), `size=${shmSize}`];
    }
    out.push(m);
  }
  const firstUser = out.length;
  for (const m of user) {
    if (m.type === 'tmpfs') {
      out.push({ destination: m.destination, type: 'tmpfs', source: 'tmpfs', options: tmpfsOptions(m.options ?? []) });
      continue;
    }
    out.push({ destination: m.destination, type: 'bind', source: m.source, options: mountOptions(m) });
    if (m.propagation === 'shared' || m.propagation === 'rshared') {
      const rp = spec.linux.rootfsPropagation;
      if (rp !== 'shared' && rp !== 'rshared') spec.linux.rootfsPropagation = 'shared';
    } else if (m.propagation === 'slave' || m.propagation === 'rslave') {
      const rp = spec.linux.rootfsPropagation ?? '';
      if (!['shared', 'rshared', 'slave', 'rslave'].includes(rp)) spec.linux.rootfsPropagation = 'rslave';
    }
  }

  if (spec.root.readonly) {
    const keepRw = new Set(['/proc', '/dev/pts', '/dev/shm', '/dev/mqueue', '/dev']);
    for (const m of out.slice(0, firstUser)) {
      if (!keepRw.has(m.destination) && !m.options?.includes('ro')) m.options = [...(m.options ?? []), 'ro'];
    }
  }
  if (hc.Privileged) {
    for (const m of out) {
      if (m.destination === '/sys' || m.type === 'cgroup') m.options = m.options?.filter((o) => o !== 'ro');
    }
  }
  return out;
}
