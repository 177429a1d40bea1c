/**
 * The I/O edge of spec building: gathers facts (the container's passwd/group read
 * inside its rootfs, host devices, kernel) and hands them to the pure `buildSpecFrom`.
 */
import { LinuxHost, type HostInfo } from '../../../engine/oci/host';
import { ScopedRootfsReader, type RootfsReader } from '../../../engine/oci/rootfs-files';
import type { Device, DeviceCgroup, Spec } from '../../../engine/oci/spec';
import { resolveUser } from '../../../engine/oci/user';
import type { Ulimit } from '../types';
import { mergeConfig } from './command';
import { buildSpecFrom, type BuildFacts, type BuildSpecInput } from './options';

export interface BuildSpecOptions {
  /** defaults to `LinuxHost` */
  host?: HostInfo;
  /** defaults to a `ScopedRootfsReader` over `input.rootfs` */
  reader?: RootfsReader;
  /** the daemon's `--default-ulimit`s */
  defaultUlimits?: Ulimit[];
  /** the daemon's `--init`, used when `HostConfig.Init` is null */
  defaultInit?: boolean;
}

/**
 * Builds the OCI spec of a container the way Docker 20.10 does.
 * Throws invalid-argument for bad configs, unknown users/groups/capabilities,
 * malformed seccomp profiles or device mappings.
 */
export async function buildSpec(input: BuildSpecInput, options: BuildSpecOptions = {}): Promise<Spec> {
  return buildSpecFrom(input, await gatherFacts(input, options));
}

/** The facts `buildSpecFrom` needs, read from the rootfs and the host. */
export async function gatherFacts(input: BuildSpecInput, options: BuildSpecOptions = {}): Promise<BuildFacts> {
  const host = options.host ?? new LinuxHost();
  const reader = options.reader ?? new ScopedRootfsReader(input.rootfs);
  const merged = mergeConfig(input.imageConfig, input.config);
  const [passwd, group] = [await reader.readFile('/etc/passwd'), await reader.readFile('/etc/group')];
  const user = resolveUser(merged.user, input.hostConfig.GroupAdd ?? [], passwd, group);
  const privileged = input.hostConfig.Privileged === true;
  let devices: Device[];
  let deviceRules: DeviceCgroup[];
  if (privileged) {
    devices = host.hostDevices();
    deviceRules = [];
    for (const m of input.hostConfig.Devices ?? []) {
      if (m.PathOnHost === (m.PathInContainer || m.PathOnHost)) continue; // already there
      devices.push(...host.devicesFromPath(m.PathOnHost ?? '', m.PathInContainer, 'rwm').devices);
    }
  } else {
    const mapped = (input.hostConfig.Devices ?? []).map((m) => host.devicesFromPath(m.PathOnHost ?? '', m.PathInContainer, m.CgroupPermissions));
    devices = mapped.flatMap((x) => x.devices);
    deviceRules = mapped.flatMap((x) => x.rules);
  }
  return {
    user,
    arch: host.arch(),
    kernel: host.kernel(),
    sysctlExists: (n: string) => host.sysctlExists(n),
    devices,
    deviceRules,
    ...(options.defaultUlimits ? { defaultUlimits: options.defaultUlimits } : {}),
    ...(options.defaultInit !== undefined ? { defaultInit: options.defaultInit } : {}),
  };
}
