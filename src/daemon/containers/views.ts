/**
 * Docker-shaped JSON for containers, in one place (nerdctl's dockercompat idea):
 * `GET /containers/{id}/json` and the summaries of `GET /containers/json`.
 */
import { mountPointView } from '../volumes/mountpoints';
import * as fs from 'node:fs';
import type { ContainerRecord } from './model';
import type { ContainerPaths } from './files';
import { ZERO_TIME, humanStatus, isRunning } from './state';
import type { JoinedEndpoint } from './hooks/network';
import { initialNetworks, portKey, type EndpointConfig } from './netconfig';

export interface ViewContext {
  paths: ContainerPaths;
  /** where the merged rootfs is mounted while running */
  rootfsDir: string;
  snapshotDir?: { upper?: string; lower?: string; work?: string };
  sizeRw?: number;
  sizeRootFs?: number;
}

/** One entry of NetworkSettings.Networks: the recorded configuration, and the endpoint's addresses while running. */
function endpointView(cfg: EndpointConfig | undefined, ep: JoinedEndpoint | undefined, lastNetworkId?: string): Record<string, unknown> {
  const [ip4, len4] = (ep?.ipv4 ?? '').split('/');
  const [ip6, len6] = (ep?.ipv6 ?? '').split('/');
  const ipam = cfg?.IPAMConfig;
  return {
    IPAMConfig: ipam && (ipam.IPv4Address || ipam.IPv6Address || (ipam.LinkLocalIPs ?? []).length) ? ipam : null,
    Links: cfg?.Links?.length ? cfg.Links : null,
    Aliases: ep ? (ep.aliases.length ? ep.aliases : null) : cfg?.Aliases?.length ? cfg.Aliases : null,
    NetworkID: ep?.networkId || cfg?.NetworkID || lastNetworkId || '',
    EndpointID: ep?.endpointId ?? '',
    Gateway: ep?.gateway4 ?? '',
    IPAddress: ip4 ?? '',
    IPPrefixLen: len4 ? Number(len4) : 0,
    IPv6Gateway: ep?.gateway6 ?? '',
    GlobalIPv6Address: ip6 ?? '',
    GlobalIPv6PrefixLen: len6 ? Number(len6) : 0,
    MacAddress: ep?.mac ?? '',
    DriverOpts: cfg?.DriverOpts && Object.keys(cfg.DriverOpts).length ? cfg.DriverOpts : null,
  };
}

/** The networks of a container (recorded at create, or the mode's for records made before networking). */
function networksOf(c: ContainerRecord): Record<string, EndpointConfig> {
  return c.networks ?? initialNetworks(c.config, c.hostConfig, null);
}

/** NetworkSettings.Networks: each recorded network, with its endpoint while the container runs. */
function networksView(c: ContainerRecord): Record<string, Record<string, unknown>> {
  const rt = c.networkRuntime;
  const out: Record<string, Record<string, unknown>> = {};
  for (const [name, cfg] of Object.entries(networksOf(c))) {
    const ep = rt?.endpoints.find((e) => e.networkName === name);
    out[name] = endpointView(cfg, ep, rt?.networkIds?.[name]);
  }
  for (const ep of rt?.endpoints ?? []) if (!(ep.networkName in out)) out[ep.networkName] = endpointView(undefined, ep);
  return out;
}

/** NetworkSettings.Ports while running: each exposed port, with its bindings or null (Docker's getPortMapInfo). */
export function portsView(c: ContainerRecord): Record<string, Array<{ HostIp: string; HostPort: string }> | null> {
  const rt = c.networkRuntime;
  const out: Record<string, Array<{ HostIp: string; HostPort: string }> | null> = {};
  if (!rt || rt.endpoints.length === 0) return out;
  for (const k of Object.keys(c.config.ExposedPorts ?? {})) out[portKey(k)] = null;
  for (const p of rt.ports) (out[p.key] ??= []).push({ HostIp: p.hostIp, HostPort: String(p.hostPort) });
  return out;
}

function networkSettings(c: ContainerRecord) {
  const rt = c.networkRuntime;
  const networks = networksView(c);
  const bridge = networks.bridge;
  return {
    Bridge: '',
    SandboxID: rt?.sandboxId ?? '',
    HairpinMode: false,
    LinkLocalIPv6Address: '',
    LinkLocalIPv6PrefixLen: 0,
    Ports: portsView(c),
    SandboxKey: rt?.sandboxKey ?? '',
    SecondaryIPAddresses: null,
    SecondaryIPv6Addresses: null,
    EndpointID: bridge?.EndpointID ?? '',
    Gateway: bridge?.Gateway ?? '',
    GlobalIPv6Address: bridge?.GlobalIPv6Address ?? '',
    GlobalIPv6PrefixLen: bridge?.GlobalIPv6PrefixLen ?? 0,
    IPAddress: bridge?.IPAddress ?? '',
    IPPrefixLen: bridge?.IPPrefixLen ?? 0,
    IPv6Gateway: bridge?.IPv6Gateway ?? '',
    MacAddress: bridge?.MacAddress ?? '',
    Networks: networks,
  };
}

/** The list's `Ports` (Docker's transformContainer): published bindings, and exposed ports without one, while running. */
export function listPorts(c: ContainerRecord): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const [key, bindings] of Object.entries(portsView(c))) {
    const [port, type] = key.split('/');
    if (!bindings || bindings.length === 0) {
      out.push({ PrivatePort: Number(port), Type: type });
      continue;
    }
    for (const b of bindings) out.push({ ...(b.HostIp ? { IP: b.HostIp } : {}), PrivatePort: Number(port), ...(Number(b.HostPort) ? { PublicPort: Number(b.HostPort) } : {}), Type: type });
  }
  return out;
}

/** Inspect's `Mounts`: the recorded mount points in Docker's shape (older records: their host-path binds). */
function mountsOf(c: ContainerRecord) {
  if (c.mountPoints) return c.mountPoints.map(mountPointView);
  return (c.hostConfig.Binds ?? []).map((b) => {
    const [src, dst, opts = ''] = b.split(':');
    return { Type: 'bind', Source: src, Destination: dst, Mode: opts, RW: !opts.split(',').includes('ro'), Propagation: 'rprivate' };
  });
}

/**
 * Config as Docker shows it: `Env` is null when neither the image nor the request gave
 * one (Docker's merge keeps the image's nil slice when the request's is empty).
 */
export function configView<T extends { Env?: string[] | null }>(config: T): T {
  return config.Env && config.Env.length > 0 ? config : { ...config, Env: null };
}

/** The inspect document's Path fields: Docker sets them when the container first starts. */
function startedPath(c: ContainerRecord, p: string): string {
  return c.state.startedAt === ZERO_TIME && c.state.status === 'created' ? '' : p;
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
      ...(c.health ? { Health: c.health } : {}),
    },
    Image: c.image,
    ResolvConfPath: startedPath(c, v.paths.resolvConf),
    HostnamePath: startedPath(c, v.paths.hostname),
    HostsPath: startedPath(c, v.paths.hosts),
    LogPath: c.hostConfig.LogConfig?.Type === 'none' ? '' : startedPath(c, v.paths.log),
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
    Config: configView(c.config),
    NetworkSettings: networkSettings(c),
  };
  if (v.sizeRw !== undefined) out.SizeRw = v.sizeRw;
  if (v.sizeRootFs !== undefined) out.SizeRootFs = v.sizeRootFs;
  return out;
}

/**
 * HostConfig with the defaults Docker fills in for inspect. A field the client did not
 * send stays Go's zero value (null, ''): the docker CLI sends `PortBindings: {}`,
 * `RestartPolicy.Name: "no"`, `Dns: []` and the like, a raw API client need not, and
 * Docker then shows null (checked by the differential suite's API-made container).
 */
function hostConfigView(c: ContainerRecord): Record<string, unknown> {
  const hc = c.hostConfig;
  return {
    Binds: null,
    ContainerIDFile: '',
    LogConfig: { Type: 'json-file', Config: {} },
    NetworkMode: 'default',
    PortBindings: null,
    RestartPolicy: { Name: '', MaximumRetryCount: 0 },
    AutoRemove: false,
    VolumeDriver: '',
    VolumesFrom: null,
    CapAdd: null,
    CapDrop: null,
    CgroupnsMode: 'host',
    Dns: null,
    DnsOptions: null,
    DnsSearch: null,
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
    ShmSize: DEFAULT_SHM_SIZE,
    Runtime: 'runc',
    ConsoleSize: [0, 0],
    Isolation: '',
    CpuShares: 0,
    Memory: 0,
    NanoCpus: 0,
    CgroupParent: '',
    BlkioWeight: 0,
    BlkioWeightDevice: null,
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
    Devices: null,
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
    MaskedPaths: DEFAULT_MASKED_PATHS,
    ReadonlyPaths: DEFAULT_READONLY_PATHS,
    ...stripUndefined(hc),
    ...createDefaults(hc),
  };
}

/** Whether the host runs the unified (v2) cgroup hierarchy only. */
function cgroupV2(): boolean {
  return (cgroupV2Cache ??= fs.existsSync('/sys/fs/cgroup/cgroup.controllers'));
}
let cgroupV2Cache: boolean | undefined;

/**
 * What Docker 20.10 stores in place of the zero values a client sends at create: the
 * default /dev/shm size, IPC and cgroup namespace modes (daemon_unix.go adaptContainerSettings), the
 * default masked and read-only paths unless privileged (create_unix.go), no swappiness
 * for -1 (daemon.go fixMemorySwappiness) and no pids limit for ≤ 0 (the create route).
 */
function createDefaults(hc: ContainerRecord['hostConfig']): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const h = hc as Record<string, unknown>;
  if (!h.ShmSize) out.ShmSize = DEFAULT_SHM_SIZE;
  if (!h.IpcMode) out.IpcMode = 'private';
  if (!h.CgroupnsMode) out.CgroupnsMode = cgroupV2() ? 'private' : 'host';
  if (typeof h.MemorySwappiness === 'number' && h.MemorySwappiness === -1) out.MemorySwappiness = null;
  if (typeof h.PidsLimit === 'number' && h.PidsLimit <= 0) out.PidsLimit = null;
  if (h.MaskedPaths == null) out.MaskedPaths = h.Privileged ? null : DEFAULT_MASKED_PATHS;
  if (h.ReadonlyPaths == null) out.ReadonlyPaths = h.Privileged ? null : DEFAULT_READONLY_PATHS;
  return out;
}

/** Docker's DefaultShmSize (64 MiB). */
const DEFAULT_SHM_SIZE = 67108864;
const DEFAULT_MASKED_PATHS = [
  '/proc/asound', '/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
  '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware',
];
const DEFAULT_READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

function stripUndefined(o: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

/**
 * The list's `NetworkSettings.Networks`: Docker's container view copies only the
 * addresses, ids and MAC of each endpoint, and of `IPAMConfig` only the two addresses
 * (container/view.go), so `Aliases`, `Links` and `DriverOpts` are null there even where
 * inspect shows them.
 */
function summaryNetworks(c: ContainerRecord): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [name, n] of Object.entries(networksView(c))) {
    const ipam = n.IPAMConfig as { IPv4Address?: string; IPv6Address?: string } | null;
    out[name] = {
      ...n,
      IPAMConfig: ipam ? { ...(ipam.IPv4Address ? { IPv4Address: ipam.IPv4Address } : {}), ...(ipam.IPv6Address ? { IPv6Address: ipam.IPv6Address } : {}) } : null,
      Links: null,
      Aliases: null,
      DriverOpts: null,
    };
  }
  return out;
}

/** One entry of `GET /containers/json`. */
export function summaryView(c: ContainerRecord, sizes?: { rw: number; rootFs: number }, image?: string): Record<string, unknown> {
  const mode = c.hostConfig.NetworkMode ?? 'default';
  const out: Record<string, unknown> = {
    Id: c.id,
    Names: [c.name],
    Image: image ?? c.imageRef,
    ImageID: c.image,
    Command: commandLine(c.path, c.args),
    Created: Math.floor(Date.parse(c.created) / 1000),
    Ports: listPorts(c),
    Labels: c.config.Labels ?? {},
    State: c.state.status,
    Status: humanStatus(c.state, Date.now(), c.health?.Status),
    HostConfig: { NetworkMode: mode },
    NetworkSettings: { Networks: summaryNetworks(c) },
    Mounts: mountsOf(c),
  };
  // omitempty in Docker's types.Container
  if (sizes?.rw) out.SizeRw = sizes.rw;
  if (sizes?.rootFs) out.SizeRootFs = sizes.rootFs;
  return out;
}

/**
 * The list's `Command`, as Docker's container view builds it: the path, then each
 * argument, single-quoted when it holds a space (and only then: no escaping).
 */
export function commandLine(p: string, args: string[]): string {
  if (args.length === 0) return p;
  return `${p} ${args.map((a) => (a.includes(' ') ? `'${a}'` : a)).join(' ')}`;
}
