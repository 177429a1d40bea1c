/**
 * The honest surface of create: every field of the v1.41 create body either acts or is
 * refused, with Docker's kind of error (400) naming the field — never accepted and
 * silently dropped (`docker run -p 18111:8080` used to succeed and publish nothing).
 * `HANDLED` says where each accepted field takes effect; unsupported.test.ts walks the
 * v1.41 schema and checks that every field is in one list or the other. When a feature
 * lands (networking, volumes, health checks), its fields move from `REFUSED` to
 * `HANDLED` along with the hook that implements them.
 */
import { invalidArgument } from '../../engine/errdefs';
import type { ContainerConfig, HostConfig } from './types';

/** Where each accepted field of Config and HostConfig takes effect. */
export const HANDLED: Readonly<Record<'Config' | 'HostConfig', Readonly<Record<string, string>>>> = {
  Config: {
    Hostname: 'files.ts (/etc/hostname), spec (UTS hostname)',
    Domainname: 'spec (kernel.domainname)',
    User: 'spec (process user)',
    AttachStdin: 'recorded (the client attaches)',
    AttachStdout: 'recorded (the client attaches)',
    AttachStderr: 'recorded (the client attaches)',
    ExposedPorts: 'hooks/network.ts (published with PublishAllPorts, inspect Ports, link env)',
    Tty: 'task (pty), spec (process.terminal)',
    OpenStdin: 'task (stdin kept open)',
    StdinOnce: 'task (stdin closed after the first client)',
    Env: 'spec (process env)',
    Cmd: 'config.ts (Path/Args)',
    Healthcheck: 'health/health.ts (monitor), hooks/health.ts; validated at create',
    ArgsEscaped: 'recorded (Windows only in Docker)',
    Image: 'create (image lookup, snapshot parent)',
    Volumes: 'volumes/mountpoints.ts (anonymous volumes), hooks/volumes.ts',
    WorkingDir: 'spec (process cwd)',
    Entrypoint: 'config.ts (Path/Args)',
    NetworkDisabled: 'spec (no network namespace setup)',
    MacAddress: 'hooks/network.ts (the MAC of the network mode\'s endpoint); netconfig.ts validation',
    OnBuild: 'recorded (build only)',
    Labels: 'recorded (filters, events)',
    StopSignal: 'lifecycle.ts stop',
    StopTimeout: 'lifecycle.ts stop',
    Shell: 'recorded (build only)',
  },
  HostConfig: {
    CpuShares: 'spec resources, update',
    Memory: 'spec resources, update',
    CgroupParent: 'refused when set (see REFUSED)',
    BlkioWeight: 'spec resources, update',
    BlkioWeightDevice: 'refused when set (see REFUSED)',
    BlkioDeviceReadBps: 'refused when set (see REFUSED)',
    BlkioDeviceWriteBps: 'refused when set (see REFUSED)',
    BlkioDeviceReadIOps: 'refused when set (see REFUSED)',
    BlkioDeviceWriteIOps: 'refused when set (see REFUSED)',
    CpuPeriod: 'spec resources, update',
    CpuQuota: 'spec resources, update',
    CpuRealtimePeriod: 'spec resources, update',
    CpuRealtimeRuntime: 'spec resources, update',
    CpusetCpus: 'spec resources, update',
    CpusetMems: 'spec resources, update',
    Devices: 'spec (devices, device cgroup rules)',
    DeviceCgroupRules: 'spec (device cgroup rules)',
    DeviceRequests: 'refused when set (see REFUSED)',
    KernelMemory: 'spec resources, update',
    KernelMemoryTCP: 'spec resources',
    MemoryReservation: 'spec resources, update',
    MemorySwap: 'spec resources, update',
    MemorySwappiness: 'spec resources',
    NanoCpus: 'spec resources, update',
    OomKillDisable: 'spec resources',
    Init: 'spec (tini-static as /sbin/docker-init)',
    PidsLimit: 'spec resources, update',
    Ulimits: 'spec (rlimits)',
    CpuCount: 'refused when set (see REFUSED)',
    CpuPercent: 'refused when set (see REFUSED)',
    IOMaximumIOps: 'refused when set (see REFUSED)',
    IOMaximumBandwidth: 'refused when set (see REFUSED)',
    Binds: 'volumes/mountpoints.ts; hooks/binds.ts (host paths), hooks/volumes.ts (volumes)',
    ContainerIDFile: 'client side (the CLI writes the file)',
    LogConfig: 'task (json-file, none), hostconfig.ts validation',
    NetworkMode: 'hooks/network.ts (namespaces, networks joined), spec; netconfig.ts validation',
    PortBindings: 'hooks/network.ts (reserved host ports, firewall DNAT); netconfig.ts validation',
    RestartPolicy: 'restart.ts, monitor.ts',
    AutoRemove: 'monitor.ts, removal.ts, restore.ts',
    VolumeDriver: 'volumes/service.ts (local only; another is refused as a missing plugin when a volume is made)',
    VolumesFrom: 'volumes/mountpoints.ts, hooks/binds.ts, hooks/volumes.ts',
    Mounts: 'volumes/mountpoints.ts; hooks/binds.ts (bind, tmpfs), hooks/volumes.ts (volume)',
    CapAdd: 'spec (capabilities)',
    CapDrop: 'spec (capabilities)',
    CgroupnsMode: 'spec (cgroup namespace)',
    Dns: 'files.ts, hooks/network.ts (resolv.conf)',
    DnsOptions: 'files.ts, hooks/network.ts (resolv.conf)',
    DnsSearch: 'files.ts, hooks/network.ts (resolv.conf)',
    ExtraHosts: 'files.ts, hooks/network.ts (hosts, host-gateway)',
    GroupAdd: 'spec (additional gids)',
    IpcMode: 'spec (ipc namespace, /dev/shm)',
    Cgroup: 'refused when set (see REFUSED)',
    Links: 'service.ts (recorded as /child:/parent/alias), hooks/network.ts (hosts entries, env vars on the default bridge)',
    OomScoreAdj: 'spec (process oomScoreAdj)',
    PidMode: 'spec (pid namespace)',
    Privileged: 'spec (capabilities, devices, paths)',
    PublishAllPorts: 'hooks/network.ts (exposed ports on ephemeral host ports)',
    ReadonlyRootfs: 'spec (root.readonly), hooks/container-files.ts',
    SecurityOpt: 'spec (seccomp, no-new-privileges, apparmor)',
    StorageOpt: 'hostconfig.ts validation (refused as overlay2 without quotas)',
    Tmpfs: 'spec (tmpfs mounts)',
    UTSMode: 'spec (uts namespace)',
    UsernsMode: 'refused unless host (see REFUSED)',
    ShmSize: 'spec (/dev/shm size)',
    Sysctls: 'spec (sysctls)',
    Runtime: 'refused unless runc (see REFUSED)',
    ConsoleSize: 'ignored at create, as Docker 20.10 does on Linux',
    Isolation: 'refused unless default (see REFUSED)',
    MaskedPaths: 'spec (masked paths)',
    ReadonlyPaths: 'spec (readonly paths)',
  },
};

/** Fields refused when set, with what "set" means for each. */
export const REFUSED: Readonly<Record<string, { what: string; set: (request: ContainerConfig, hc: HostConfig, merged: ContainerConfig) => boolean }>> = {
  'HostConfig.CgroupParent': { what: 'cgroup parents', set: (_c, hc) => !!hc.CgroupParent },
  'HostConfig.Cgroup': { what: 'joining another cgroup', set: (_c, hc) => !!hc.Cgroup },
  'HostConfig.BlkioWeightDevice': { what: 'per-device block I/O weights', set: (_c, hc) => (hc.BlkioWeightDevice ?? []).length > 0 },
  'HostConfig.BlkioDeviceReadBps': { what: 'per-device block I/O limits', set: (_c, hc) => (hc.BlkioDeviceReadBps ?? []).length > 0 },
  'HostConfig.BlkioDeviceWriteBps': { what: 'per-device block I/O limits', set: (_c, hc) => (hc.BlkioDeviceWriteBps ?? []).length > 0 },
  'HostConfig.BlkioDeviceReadIOps': { what: 'per-device block I/O limits', set: (_c, hc) => (hc.BlkioDeviceReadIOps ?? []).length > 0 },
  'HostConfig.BlkioDeviceWriteIOps': { what: 'per-device block I/O limits', set: (_c, hc) => (hc.BlkioDeviceWriteIOps ?? []).length > 0 },
  'HostConfig.DeviceRequests': { what: 'device requests (GPUs)', set: (_c, hc) => (hc.DeviceRequests ?? []).length > 0 },
  'HostConfig.CpuCount': { what: 'CPU counts (Windows only)', set: (_c, hc) => (hc.CpuCount ?? 0) > 0 },
  'HostConfig.CpuPercent': { what: 'CPU percentages (Windows only)', set: (_c, hc) => (hc.CpuPercent ?? 0) > 0 },
  'HostConfig.IOMaximumIOps': { what: 'I/O maximums (Windows only)', set: (_c, hc) => (hc.IOMaximumIOps ?? 0) > 0 },
  'HostConfig.IOMaximumBandwidth': { what: 'I/O maximums (Windows only)', set: (_c, hc) => (hc.IOMaximumBandwidth ?? 0) > 0 },
  'HostConfig.UsernsMode': { what: 'user namespaces', set: (_c, hc) => !!hc.UsernsMode && hc.UsernsMode !== 'host' },
  'HostConfig.Runtime': { what: 'per-container runtimes', set: (_c, hc) => !!hc.Runtime && hc.Runtime !== 'runc' },
  'HostConfig.Isolation': { what: 'isolation technologies', set: (_c, hc) => !!hc.Isolation && hc.Isolation !== 'default' },
};

/**
 * Throws invalid-argument (400) for the first field of the request that is set and has
 * no implementation: `published ports are not supported by stevedore yet
 * (HostConfig.PortBindings)`. `request` is the config as the client sent it (an image's
 * own VOLUME and HEALTHCHECK are recorded, not refused), `merged` the one with the image's
 * values (its exposed ports count for PublishAllPorts), `hc` the normalized host config.
 */
export function refuseUnsupported(request: ContainerConfig, hc: HostConfig, merged: ContainerConfig = request): void {
  for (const [field, r] of Object.entries(REFUSED)) {
    if (r.set(request, hc, merged)) throw invalidArgument(`${r.what} are not supported by stevedore yet (${field})`);
  }
}
