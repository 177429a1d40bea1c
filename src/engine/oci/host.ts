/**
 * The host facts spec building needs, read from this machine: kernel version, arch,
 * which sysctls exist, and device nodes (all of /dev, or one device path mapped into a
 * container).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { invalidArgument } from '../errdefs';
import { nativeSeccompArch, parseKernelVersion } from './seccomp';
import type { Device, DeviceCgroup } from './spec';

/** Host facts, behind an interface so tests can fake them. */
export interface HostInfo {
  arch(): string;
  kernel(): readonly [number, number];
  sysctlExists(name: string): boolean;
  /** every char/block device under /dev, as runc's HostDevices lists them */
  hostDevices(): Device[];
  /**
   * A host device path mapped into the container: the device (or every device below a
   * directory) at `containerPath`, and cgroup rules allowing `permissions` (`rwm`) on each.
   */
  devicesFromPath(hostPath: string, containerPath?: string, permissions?: string): { devices: Device[]; rules: DeviceCgroup[] };
}

const SKIP_DIRS = new Set(['pts', 'shm', 'fd', 'mqueue', '.lxc', '.lxd-mounts', '.udev']);

function major(rdev: bigint): number {
  return Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
}
function minor(rdev: bigint): number {
  return Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
}

function deviceOf(st: fs.BigIntStats, containerPath: string): Device | null {
  const type = st.isCharacterDevice() ? 'c' : st.isBlockDevice() ? 'b' : null;
  if (!type) return null;
  return {
    type,
    path: containerPath,
    major: major(st.rdev),
    minor: minor(st.rdev),
    fileMode: Number(st.mode & 0o7777n),
    uid: Number(st.uid),
    gid: Number(st.gid),
  };
}

/** `HostInfo` of the machine we run on. */
export class LinuxHost implements HostInfo {
  constructor(private readonly options: { devRoot?: string; procSys?: string } = {}) {}

  arch(): string {
    return nativeSeccompArch(process.arch);
  }

  kernel(): readonly [number, number] {
    return parseKernelVersion(os.release());
  }

  sysctlExists(name: string): boolean {
    return fs.existsSync(path.join(this.options.procSys ?? '/proc/sys', name.replace(/\./g, '/')));
  }

  hostDevices(): Device[] {
    const root = this.options.devRoot ?? '/dev';
    const out: Device[] = [];
    const walk = (dir: string) => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) {
          if (!SKIP_DIRS.has(e.name)) walk(p);
          continue;
        }
        if (e.name === 'console') continue;
        const st = fs.lstatSync(p, { bigint: true });
        const d = deviceOf(st, path.join('/dev', path.relative(root, p)));
        if (d) out.push(d);
      }
    };
    walk(root);
    return out;
  }

  devicesFromPath(hostPath: string, containerPath?: string, permissions?: string): { devices: Device[]; rules: DeviceCgroup[] } {
    const onHost = hostPath;
    const inContainer = containerPath || onHost;
    const access = permissions || 'rwm';
    const fail = (why: string) =>
      invalidArgument(`error gathering device information while adding custom device "${onHost}": ${why}`);
    if (!/^[rwm]{1,3}$/.test(access)) throw fail(`invalid cgroup permissions "${access}"`);
    let st: fs.BigIntStats;
    try {
      st = fs.statSync(onHost, { bigint: true });
    } catch (err) {
      throw fail((err as Error).message);
    }
    const devices: Device[] = [];
    if (st.isDirectory()) {
      const walk = (dir: string) => {
        for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
          const p = path.join(dir, e.name);
          if (e.isDirectory()) walk(p);
          else {
            const d = deviceOf(fs.lstatSync(p, { bigint: true }), path.join(inContainer, path.relative(onHost, p)));
            if (d) devices.push(d);
          }
        }
      };
      walk(onHost);
    } else {
      const d = deviceOf(st, inContainer);
      if (!d) throw fail('not a device node');
      devices.push(d);
    }
    return { devices, rules: devices.map((d) => ({ allow: true, type: d.type, major: d.major, minor: d.minor, access })) };
  }
}
