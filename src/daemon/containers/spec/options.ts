/**
 * Docker's container configuration → the engine's spec options: Docker 20.10's
 * `createSpec` (moby daemon/oci_linux.go) as a list of `SpecOpt`s over already-gathered
 * facts — the resolved user, host devices, host sysctls, kernel and arch — so that it
 * runs without root and without touching the disk. Docker's rules and messages live
 * here; what each option does to the spec is the engine's (engine/oci/opts.ts).
 */
import * as path from 'node:path';
import { invalidArgument } from '../../../engine/errdefs';
import {
  generateSpec,
  withAllDevicesAllowed,
  withCapabilities,
  withCgroupsPath,
  withCwd,
  withDeviceRules,
  withDevices,
  withDevShmSize,
  withEnv,
  withHostname,
  withMaskedPaths,
  withMounts,
  withNamespace,
  withNetNSPath,
  withNoNewPrivileges,
  withOOMScoreAdj,
  withoutMount,
  withoutNamespace,
  withProcessArgs,
  withReadonlyMounts,
  withReadonlyPaths,
  withResources,
  withRlimits,
  withRootfs,
  withRootfsPropagation,
  withSeccomp,
  withSysctls,
  withTTY,
  withUser,
  withWritableCgroupfs,
  withWritableSysfs,
  type SpecOpt,
} from '../../../engine/oci/opts';
import { defaultSeccompProfile, toSpecSeccomp } from '../../../engine/oci/seccomp';
import type { Device, DeviceCgroup, Spec, SpecMount } from '../../../engine/oci/spec';
import type { ResolvedUser } from '../../../engine/oci/user';
import type { ContainerConfig, HostConfig, ImageRuntimeConfig, Ulimit } from '../types';
import { tweakCapabilities } from './caps';
import { mergeConfig } from './command';
import { DEFAULT_SHM_SIZE, IN_CONTAINER_INIT_PATH, WRITABLE_UNDER_READONLY_ROOTFS } from './defaults';
import { mountOptions, tmpfsOptions, type ResolvedMount } from './mounts';
import { cgroupRules, toResources, toRlimits } from './resources';
import { parseSeccompProfile } from './seccomp';
import { parseSecurityOpt } from './security-opt';

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

const isContainerMode = (m: string | undefined) => (m ?? '').startsWith('container:');

/**
 * Builds the OCI spec for a container from its configs and gathered facts.
 * Throws invalid-argument for configs Docker rejects at start.
 */
export function buildSpecFrom(input: BuildSpecInput, facts: BuildFacts): Spec {
  return generateSpec(specOpts(input, facts), { id: input.id });
}

/**
 * The spec options of a container, in the order they apply. Throws invalid-argument
 * (Docker's messages) for configs Docker rejects at start.
 */
export function specOpts(input: BuildSpecInput, facts: BuildFacts): SpecOpt[] {
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
  const opts: SpecOpt[] = [];

  // --- process, root, hostname ---
  let args = merged.args;
  const pidPrivate = pidMode !== 'host' && !isContainerMode(pidMode);
  let initMount: SpecMount | undefined;
  if (pidPrivate && (hc.Init ?? facts.defaultInit ?? false)) {
    if (!input.initPath) throw invalidArgument('init requested but no init binary is configured');
    args = [IN_CONTAINER_INIT_PATH, '--', ...args];
    initMount = { destination: IN_CONTAINER_INIT_PATH, type: 'bind', source: input.initPath, options: ['bind', 'ro'] };
  }
  const cwd = merged.workingDir || '/';
  if (!path.isAbsolute(cwd)) {
    throw invalidArgument(`the working directory '${merged.workingDir}' is invalid, it needs to be an absolute path`);
  }
  opts.push(
    withProcessArgs(...args),
    withUser(facts.user),
    withEnv([`HOSTNAME=${hostname}`]),
    ...(input.config.Tty ? [withTTY()] : []),
    withEnv(merged.env),
    withCwd(path.posix.normalize(cwd)),
    withOOMScoreAdj(oomScoreAdj),
    withRootfs(input.rootfs, hc.ReadonlyRootfs === true),
    withCgroupsPath(input.cgroupsPath),
  );
  if (hc.UTSMode !== 'host') opts.push(withHostname(hostname));

  // --- sysctls ---
  const sysctls: Record<string, string> = {};
  if (input.config.Domainname) sysctls['kernel.domainname'] = input.config.Domainname;
  if (networkMode !== 'host' && !isContainerMode(networkMode)) {
    if (facts.sysctlExists('net.ipv4.ping_group_range')) sysctls['net.ipv4.ping_group_range'] = '0 2147483647';
    if (facts.sysctlExists('net.ipv4.ip_unprivileged_port_start')) sysctls['net.ipv4.ip_unprivileged_port_start'] = '0';
  }
  opts.push(withSysctls(sysctls));

  // --- resources and devices ---
  opts.push(withResources(toResources(hc)), withSysctls(hc.Sysctls ?? {}), withDevices(facts.devices));
  if (privileged) opts.push(withAllDevicesAllowed());
  else opts.push(withDeviceRules([...facts.deviceRules, ...cgroupRules(hc.DeviceCgroupRules ?? [])]));

  // --- rlimits ---
  opts.push(withRlimits(toRlimits(hc.Ulimits ?? [], facts.defaultUlimits ?? [])));

  // --- namespaces ---
  if (!input.config.NetworkDisabled) {
    if (networkMode === 'host') opts.push(withoutNamespace('network'));
    else if (input.netnsPath) opts.push(withNetNSPath(input.netnsPath));
    else if (isContainerMode(networkMode)) throw invalidArgument(`network mode ${networkMode} needs the other container's namespace`);
    else opts.push(withNamespace('network'));
  }
  if (isContainerMode(ipcMode)) {
    if (!input.ipcnsPath) throw invalidArgument(`IPC mode ${ipcMode} needs the other container's namespace`);
    opts.push(withNamespace('ipc', input.ipcnsPath));
  } else if (ipcMode === 'host') {
    opts.push(withoutNamespace('ipc'));
  } else if (['private', 'shareable', 'none'].includes(ipcMode)) {
    opts.push(withNamespace('ipc'));
  } else {
    throw invalidArgument(`Invalid IPC mode: ${ipcMode}`);
  }
  if (isContainerMode(pidMode)) {
    if (!input.pidnsPath) throw invalidArgument(`PID mode ${pidMode} needs the other container's namespace`);
    opts.push(withNamespace('pid', input.pidnsPath));
  } else if (pidMode === 'host') {
    opts.push(withoutNamespace('pid'));
  } else {
    opts.push(withNamespace('pid'));
  }
  if (hc.UTSMode === 'host') opts.push(withoutNamespace('uts'));
  let cgroupns = hc.CgroupnsMode || '';
  if (cgroupns === '') cgroupns = input.cgroupVersion === 2 ? 'private' : 'host';
  if (cgroupns !== 'private' && cgroupns !== 'host') throw invalidArgument(`invalid cgroup namespace mode: ${cgroupns}`);
  if (cgroupns === 'private') opts.push(withNamespace('cgroup'));

  // --- capabilities and seccomp ---
  // Non-root processes get only a bounding set (Docker ≥ 20.10.14).
  const caps = tweakCapabilities(hc.CapAdd, hc.CapDrop, privileged);
  opts.push(withCapabilities(caps, facts.user.uid === 0 ? 'all' : 'bounding'));
  if (security.seccomp !== 'unconfined' && !privileged) {
    const profile = security.seccomp ? parseSeccompProfile(security.seccomp) : defaultSeccompProfile();
    opts.push(withSeccomp(toSpecSeccomp(profile, { arch: facts.arch, capabilities: caps, kernel: facts.kernel })));
  } else {
    opts.push(withSeccomp(undefined));
  }

  // --- mounts ---
  opts.push(...mountOpts(input, ipcMode, initMount));

  if (security.noNewPrivileges) opts.push(withNoNewPrivileges());
  if (privileged) opts.push(withMaskedPaths(null), withReadonlyPaths(null));
  if (hc.MaskedPaths != null) opts.push(withMaskedPaths(hc.MaskedPaths));
  if (hc.ReadonlyPaths != null) opts.push(withReadonlyPaths(hc.ReadonlyPaths));
  return opts;
}

function depth(dest: string): number {
  return (path.posix.normalize(dest).replace(/\/$/, '').match(/\//g) ?? []).length;
}

/**
 * Docker's mount order: the default mounts (with /dev/shm sized, or gone for
 * `IpcMode: none`), the init bind, then the user's mounts (`ResolvedMount`s and
 * `HostConfig.Tmpfs`) shallowest first, each replacing a default at its destination.
 */
function mountOpts(input: BuildSpecInput, ipcMode: string, initMount: SpecMount | undefined): SpecOpt[] {
  const hc = input.hostConfig;
  const opts: SpecOpt[] = [];
  if (ipcMode === 'none') opts.push(withoutMount('/dev/shm'));
  else opts.push(withDevShmSize(hc.ShmSize || DEFAULT_SHM_SIZE));
  if (initMount) opts.push(withMounts([initMount]));
  // Docker adds `ro` to the defaults (not the user's mounts) under a read-only rootfs.
  if (hc.ReadonlyRootfs === true) opts.push(withReadonlyMounts(WRITABLE_UNDER_READONLY_ROOTFS));

  const user: ResolvedMount[] = [...input.mounts];
  for (const [dest, data] of Object.entries(hc.Tmpfs ?? {})) {
    user.push({ destination: dest, type: 'tmpfs', source: 'tmpfs', options: data ? data.split(',') : [] });
  }
  // Shallow destinations first, so a mount never hides one below it; stable otherwise.
  user.sort((a, b) => depth(a.destination) - depth(b.destination));
  const specMounts: SpecMount[] = user.map((m) =>
    m.type === 'tmpfs'
      ? { destination: m.destination, type: 'tmpfs', source: 'tmpfs', options: tmpfsOptions(m.options ?? []) }
      : { destination: m.destination, type: 'bind', source: m.source, options: mountOptions(m) },
  );
  opts.push(withMounts(specMounts));

  // A shared bind needs a shared rootfs; a slave bind at least a slave one.
  const binds = user.filter((m) => m.type !== 'tmpfs');
  if (binds.some((m) => m.propagation === 'shared' || m.propagation === 'rshared')) opts.push(withRootfsPropagation('shared'));
  else if (binds.some((m) => m.propagation === 'slave' || m.propagation === 'rslave')) opts.push(withRootfsPropagation('rslave'));

  if (hc.Privileged) opts.push(withWritableSysfs(), withWritableCgroupfs());
  return opts;
}
