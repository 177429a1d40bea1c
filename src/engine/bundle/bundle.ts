/**
 * The I/O edge of bundle building: gathers facts (the container's passwd/group read
 * inside its rootfs, host devices, kernel) and hands them to the pure `buildSpecFrom`;
 * writes `config.json` atomically.
 */
import * as fsSync from 'node:fs';
import * as path from 'node:path';
import { buildSpecFrom, type BuildSpecInput } from './build';
import { mergeConfig } from './command';
import { LinuxHost, type HostInfo } from './host';
import { ScopedRootfsReader, type RootfsReader } from './rootfs-files';
import type { Device, DeviceCgroup, Spec } from './spec';
import type { Ulimit } from './types';
import { resolveUser } from './user';

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
      devices.push(...host.devicesFromPath({ ...m, CgroupPermissions: 'rwm' }).devices);
    }
  } else {
    const mapped = (input.hostConfig.Devices ?? []).map((m) => host.devicesFromPath(m));
    devices = mapped.flatMap((x) => x.devices);
    deviceRules = mapped.flatMap((x) => x.rules);
  }
  const facts = {
    user,
    arch: host.arch(),
    kernel: host.kernel(),
    sysctlExists: (n: string) => host.sysctlExists(n),
    devices,
    deviceRules,
    ...(options.defaultUlimits ? { defaultUlimits: options.defaultUlimits } : {}),
    ...(options.defaultInit !== undefined ? { defaultInit: options.defaultInit } : {}),
  };
  return buildSpecFrom(input, facts);
}

const RLIM_INFINITY = '18446744073709551615';

/** The spec as `config.json` text; rlimits of -1 become RLIM_INFINITY. */
export function serializeSpec(spec: Spec): string {
  const marker = '"@@RLIM_INFINITY@@"';
  const json = JSON.stringify(
    spec,
    function (this: unknown, key, value: unknown) {
      if ((key === 'soft' || key === 'hard') && value === -1) return marker.slice(1, -1);
      return value;
    },
    2,
  );
  return json.split(marker).join(RLIM_INFINITY) + '\n';
}

/**
 * Writes `<dir>/config.json` atomically (temp file, fsync, rename), creating `dir`.
 */
export async function writeBundle(dir: string, spec: Spec): Promise<void> {
  // Written whole and renamed into place, but not fsync'd: the runtime reads it at once,
  // it lives in the exec root (tmpfs on a normal host), and every start writes it anew,
  // so there is nothing a power loss could leave half-done that anyone reads again.
  // (The fsync cost ~3 ms of every container start on a disk-backed exec root.)
  fsSync.mkdirSync(dir, { recursive: true, mode: 0o711 });
  const final = path.join(dir, 'config.json');
  const tmp = path.join(dir, `.config.json.${process.pid}.${Date.now()}.tmp`);
  fsSync.writeFileSync(tmp, serializeSpec(spec), { mode: 0o600, flag: 'wx' });
  try {
    fsSync.renameSync(tmp, final);
  } catch (err) {
    fsSync.rmSync(tmp, { force: true });
    throw err;
  }
}
