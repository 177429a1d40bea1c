/**
 * Docker-shaped JSON for containers, in one place (nerdctl's dockercompat idea):
 * `GET /containers/{id}/json` and the summaries of `GET /containers/json`.
 */
import type { ContainerRecord } from './model';
import type { ContainerPaths } from './files';
import { humanStatus, isRunning } from './state';

export interface ViewContext {
  paths: ContainerPaths;
  /** where the merged rootfs is mounted while running */
  rootfsDir: string;
  snapshotDir?: { upper?: string; lower?: string; work?: string };
  sizeRw?: number;
  sizeRootFs?: number;
}

function networkSettings(c: ContainerRecord) {
  const mode = c.hostConfig.NetworkMode ?? 'default';
  const netName = mode === 'default' ? 'bridge' : mode;
  const endpoint = {
    IPAMConfig: null,
    Links: null,
    Aliases: null,
    NetworkID: '',
    EndpointID: '',
    Gateway: '',
    IPAddress: '',
    IPPrefixLen: 0,
    IPv6Gateway: '',
    GlobalIPv6Address: '',
    GlobalIPv6PrefixLen: 0,
    MacAddress: '',
    DriverOpts: null,
  };
  return {
    Bridge: '',
    SandboxID: '',
    HairpinMode: false,
    LinkLocalIPv6Address: '',
    LinkLocalIPv6PrefixLen: 0,
    Ports: {},
    SandboxKey: '',
    SecondaryIPAddresses: null,
    SecondaryIPv6Addresses: null,
    EndpointID: '',
    Gateway: '',
    GlobalIPv6Address: '',
    GlobalIPv6PrefixLen: 0,
    IPAddress: '',
    IPPrefixLen: 0,
    IPv6Gateway: '',
    MacAddress: '',
    Networks: { [netName]: endpoint },
  };
}

function mountsOf(c: ContainerRecord) {
  return (c.hostConfig.Binds ?? []).map((b) => {
    const [src, dst, opts = ''] = b.split(':');
    return { Type: 'bind', Source: src, Destination: dst, Mode: opts, RW: !opts.split(',').includes('ro'), Propagation: 'rprivate' };
  });
}

/** The full inspect document. */
export function inspectView(c: ContainerRecord, v: ViewContext): Record<string, unknown> {
  const st = c.state;
  const out: Record<string, unknown> = {
    Id: c.id,
    Created: c.created,
    Path: c.path,
    Args: c.args,
    State: {
      Status: st.status,
      Running: isRunning(st.status),
      Paused: st.status === 'paused',
      Restarting: st.status === 'restarting',
      OOMKilled: st.oomKilled,
      Dead: st.status === 'dead',
      Pid: st.pid,
      ExitCode: st.exitCode,
      Error: st.error,
      StartedAt: st.startedAt,
      FinishedAt: st.finishedAt,
    },
    Image: c.image,
    ResolvConfPath: v.paths.resolvConf,
    HostnamePath: v.paths.hostname,
    HostsPath: v.paths.hosts,
    LogPath: c.hostConfig.LogConfig?.Type === 'none' ? '' : v.paths.log,
    Name: c.name,
    RestartCount: c.restartCount,
    Driver: 'overlay2',
    Platform: 'linux',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    ExecIDs: null,
    HostConfig: hostConfigView(c),
    GraphDriver: {
      Data: v.snapshotDir
        ? { LowerDir: v.snapshotDir.lower ?? '', MergedDir: v.rootfsDir, UpperDir: v.snapshotDir.upper ?? '', WorkDir: v.snapshotDir.work ?? '' }
        : { MergedDir: v.rootfsDir },
      Name: 'overlay2',
    },
    Mounts: mountsOf(c),
    Config: c.config,
    NetworkSettings: networkSettings(c),
  };
  if (v.sizeRw !== undefined) out.SizeRw = v.sizeRw;
  if (v.sizeRootFs !== undefined) out.SizeRootFs = v.sizeRootFs;
  return out;
}

/** HostConfig with the defaults Docker fills in for inspect. */
function hostConfigView(c: ContainerRecord): Record<string, unknown> {
  const hc = c.hostConfig;
  return {
    Binds: null,
    ContainerIDFile: '',
    LogConfig: { Type: 'json-file', Config: {} },
    NetworkMode: 'default',
    PortBindings: {},
    RestartPolicy: { Name: 'no', MaximumRetryCount: 0 },
    AutoRemove: false,
    VolumeDriver: '',
    VolumesFrom: null,
    CapAdd: null,
    CapDrop: null,
    CgroupnsMode: 'host',
    Dns: [],
    DnsOptions: [],
    DnsSearch: [],
    ExtraHosts: null,
    GroupAdd: null,
    IpcMode: 'private',
    Cgroup: '',
    Links: null,
    OomScoreAdj: 0,
    PidMode: '',
    Privileged: false,
    PublishAllPorts: false,
    ReadonlyRootfs: false,
    SecurityOpt: null,
    UTSMode: '',
    UsernsMode: '',
    ShmSize: 67108864,
    Runtime: 'runc',
    ConsoleSize: [0, 0],
    Isolation: '',
    CpuShares: 0,
    Memory: 0,
    NanoCpus: 0,
    CgroupParent: '',
    BlkioWeight: 0,
    BlkioWeightDevice: [],
    BlkioDeviceReadBps: null,
    BlkioDeviceWriteBps: null,
    BlkioDeviceReadIOps: null,
    BlkioDeviceWriteIOps: null,
    CpuPeriod: 0,
    CpuQuota: 0,
    CpuRealtimePeriod: 0,
    CpuRealtimeRuntime: 0,
    CpusetCpus: '',
    CpusetMems: '',
    Devices: [],
    DeviceCgroupRules: null,
    DeviceRequests: null,
    KernelMemory: 0,
    KernelMemoryTCP: 0,
    MemoryReservation: 0,
    MemorySwap: 0,
    MemorySwappiness: null,
    OomKillDisable: false,
    PidsLimit: null,
    Ulimits: null,
    CpuCount: 0,
    CpuPercent: 0,
    IOMaximumIOps: 0,
    IOMaximumBandwidth: 0,
    MaskedPaths: [
      '/proc/asound', '/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
      '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware',
    ],
    ReadonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    ...stripUndefined(hc),
  };
}

function stripUndefined(o: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

/** One entry of `GET /containers/json`. */
export function summaryView(c: ContainerRecord, sizes?: { rw: number; rootFs: number }): Record<string, unknown> {
  const cmd = [c.path, ...c.args].map((a) => (/\s/.test(a) ? a : a)).join(' ');
  const mode = c.hostConfig.NetworkMode ?? 'default';
  const out: Record<string, unknown> = {
    Id: c.id,
    Names: [c.name],
    Image: c.imageRef,
    ImageID: c.image,
    Command: cmd,
    Created: Math.floor(Date.parse(c.created) / 1000),
    Ports: [],
    Labels: c.config.Labels ?? {},
    State: c.state.status,
    Status: humanStatus(c.state),
    HostConfig: { NetworkMode: mode },
    NetworkSettings: { Networks: networkSettings(c).Networks },
    Mounts: mountsOf(c),
  };
  if (sizes) {
    out.SizeRw = sizes.rw;
    out.SizeRootFs = sizes.rootFs;
  }
  return out;
}
