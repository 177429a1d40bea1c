/**
 * The default Linux spec: what every container gets before its options run. These are
 * the runtime-level defaults that runc's template, containerd's `populateDefaultUnixSpec`
 * and moby's `oci.DefaultLinuxSpec` share (mounts, namespaces, masked and read-only
 * paths, the device policy, PATH); docs/bundle.md ("Spec options") says why each piece
 * sits here and not in the daemon. Functions, not constants, so every spec gets its own
 * copies to modify.
 */
import { DEFAULT_CAPABILITIES } from './caps';
import { OCI_VERSION, type DeviceCgroup, type Namespace, type Spec, type SpecMount } from './spec';

/** PATH when the image and container set none. */
export const DEFAULT_PATH_ENV = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * A new default spec: root 0:0 running nothing in `/` with the default PATH, rootfs
 * `rootfs` (read-write), the default mounts, namespaces (all new but user and cgroup),
 * masked and read-only paths, the default device policy and the default capabilities
 * (bounding = effective = permitted). No cgroups path, hostname, seccomp or resources
 * beyond device rules: options add those.
 */
export function defaultSpec(): Spec {
  const caps = [...DEFAULT_CAPABILITIES];
  return {
    ociVersion: OCI_VERSION,
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: [],
      env: [`PATH=${DEFAULT_PATH_ENV}`],
      cwd: '/',
      capabilities: { bounding: caps, effective: [...caps], permitted: [...caps] },
    },
    root: { path: 'rootfs', readonly: false },
    mounts: defaultMounts(),
    linux: {
      namespaces: defaultNamespaces(),
      devices: [],
      maskedPaths: defaultMaskedPaths(),
      readonlyPaths: defaultReadonlyPaths(),
      resources: { devices: defaultDeviceRules() },
    },
  };
}

export function defaultMounts(): SpecMount[] {
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['ro', 'nosuid', 'noexec', 'nodev'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777'] },
  ];
}

export function defaultMaskedPaths(): string[] {
  return [
    '/proc/asound',
    '/proc/acpi',
    '/proc/kcore',
    '/proc/keys',
    '/proc/latency_stats',
    '/proc/timer_list',
    '/proc/timer_stats',
    '/proc/sched_debug',
    '/proc/scsi',
    '/sys/firmware',
    '/sys/devices/virtual/powercap',
  ];
}

export function defaultReadonlyPaths(): string[] {
  return ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];
}

export function defaultNamespaces(): Namespace[] {
  return [{ type: 'mount' }, { type: 'network' }, { type: 'uts' }, { type: 'pid' }, { type: 'ipc' }];
}

/**
 * Deny everything, then allow null, zero, full, urandom, random, tty and console, and
 * deny tun (10:229). runc itself appends its own defaults (pts, ptmx, …).
 */
export function defaultDeviceRules(): DeviceCgroup[] {
  const allow = (major: number, minor: number): DeviceCgroup => ({ allow: true, type: 'c', major, minor, access: 'rwm' });
  return [
    { allow: false, access: 'rwm' },
    allow(1, 5),
    allow(1, 3),
    allow(1, 9),
    allow(1, 8),
    allow(5, 0),
    allow(5, 1),
    { allow: false, type: 'c', major: 10, minor: 229, access: 'rwm' },
  ];
}
