/**
 * Docker Engine API v1.41 container configuration types (`ContainerConfig`, `HostConfig`,
 * `Resources`, `Mount`, …) with the API's own field names and JSON casing, so the same
 * objects can be decoded from `POST /containers/create` and returned by inspect.
 *
 * Every field is optional, as in the API: a missing field means "Docker's default".
 * Fields that are nullable in the API (`Init`, `PidsLimit`, `MemorySwappiness`, …)
 * accept `null` as well.
 */

/** `ContainerConfig.Healthcheck`: durations are in nanoseconds. */
export interface HealthConfig {
  /** `[]` inherit, `["NONE"]` disable, `["CMD", …]` exec, `["CMD-SHELL", cmd]` shell. */
  Test?: string[];
  Interval?: number;
  Timeout?: number;
  Retries?: number;
  StartPeriod?: number;
}

/** Configuration of a container that is portable between hosts (`ContainerConfig`). */
export interface ContainerConfig {
  Hostname?: string;
  Domainname?: string;
  /** `user`, `uid`, `user:group`, `uid:gid` (names resolved in the container's files). */
  User?: string;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  /** `{"80/tcp": {}}` */
  ExposedPorts?: Record<string, Record<string, never>> | null;
  Tty?: boolean;
  OpenStdin?: boolean;
  StdinOnce?: boolean;
  /** `KEY=value` entries. */
  Env?: string[] | null;
  Cmd?: string[] | null;
  Healthcheck?: HealthConfig | null;
  ArgsEscaped?: boolean | null;
  Image?: string;
  Volumes?: Record<string, Record<string, never>> | null;
  WorkingDir?: string;
  /** `null`/absent: the image's; `[]`: none but keep the image's Cmd; `[""]`: none. */
  Entrypoint?: string[] | null;
  NetworkDisabled?: boolean | null;
  MacAddress?: string | null;
  OnBuild?: string[] | null;
  Labels?: Record<string, string> | null;
  StopSignal?: string | null;
  /** seconds */
  StopTimeout?: number | null;
  Shell?: string[] | null;
}

/** The runtime part of an image config (`config` in the OCI image config JSON). */
export interface ImageRuntimeConfig {
  User?: string;
  Env?: string[] | null;
  Cmd?: string[] | null;
  Entrypoint?: string[] | null;
  WorkingDir?: string;
  StopSignal?: string;
  Labels?: Record<string, string> | null;
  ExposedPorts?: Record<string, Record<string, never>> | null;
  Volumes?: Record<string, Record<string, never>> | null;
  Healthcheck?: HealthConfig | null;
  OnBuild?: string[] | null;
  Shell?: string[] | null;
  ArgsEscaped?: boolean;
}

export interface ThrottleDevice {
  Path?: string;
  /** bytes or IO operations per second */
  Rate?: number;
}

export interface WeightDevice {
  Path?: string;
  Weight?: number;
}

export interface DeviceMapping {
  PathOnHost?: string;
  PathInContainer?: string;
  /** `r`, `w`, `m` or a combination; default `rwm`. */
  CgroupPermissions?: string;
}

export interface DeviceRequest {
  Driver?: string;
  Count?: number;
  DeviceIDs?: string[];
  Capabilities?: string[][];
  Options?: Record<string, string>;
}

/** `Ulimits` entry: `Name` without the `RLIMIT_` prefix (`nofile`, `nproc`, …). */
export interface Ulimit {
  Name?: string;
  Soft?: number;
  Hard?: number;
}

/** Cgroup resources (embedded in `HostConfig`, also the body of `POST /containers/{id}/update`). */
export interface Resources {
  CpuShares?: number;
  /** bytes; 0 = unlimited */
  Memory?: number;
  CgroupParent?: string;
  BlkioWeight?: number;
  BlkioWeightDevice?: WeightDevice[] | null;
  BlkioDeviceReadBps?: ThrottleDevice[] | null;
  BlkioDeviceWriteBps?: ThrottleDevice[] | null;
  BlkioDeviceReadIOps?: ThrottleDevice[] | null;
  BlkioDeviceWriteIOps?: ThrottleDevice[] | null;
  /** microseconds */
  CpuPeriod?: number;
  /** microseconds per CpuPeriod */
  CpuQuota?: number;
  CpuRealtimePeriod?: number;
  CpuRealtimeRuntime?: number;
  CpusetCpus?: string;
  CpusetMems?: string;
  Devices?: DeviceMapping[] | null;
  /** `c 1:3 rwm`, `b *:* m`, … */
  DeviceCgroupRules?: string[] | null;
  DeviceRequests?: DeviceRequest[] | null;
  KernelMemory?: number;
  KernelMemoryTCP?: number;
  MemoryReservation?: number;
  /** memory + swap in bytes; -1 = unlimited swap; 0 with Memory set = 2 × Memory */
  MemorySwap?: number;
  MemorySwappiness?: number | null;
  /** CPUs in units of 1e-9 */
  NanoCpus?: number;
  OomKillDisable?: boolean | null;
  /** run an init (tini) as PID 1; null = daemon default */
  Init?: boolean | null;
  /** 0 or -1 = unlimited; null = unchanged */
  PidsLimit?: number | null;
  Ulimits?: Ulimit[] | null;
  CpuCount?: number;
  CpuPercent?: number;
  IOMaximumIOps?: number;
  IOMaximumBandwidth?: number;
}

export type MountType = 'bind' | 'volume' | 'tmpfs' | 'npipe';
export type Propagation = 'private' | 'rprivate' | 'shared' | 'rshared' | 'slave' | 'rslave';

/** `HostConfig.Mounts` entry (the `--mount` flag). */
export interface Mount {
  Target?: string;
  Source?: string;
  Type?: MountType;
  ReadOnly?: boolean;
  Consistency?: string;
  BindOptions?: { Propagation?: Propagation; NonRecursive?: boolean } | null;
  VolumeOptions?: {
    NoCopy?: boolean;
    Labels?: Record<string, string>;
    DriverConfig?: { Name?: string; Options?: Record<string, string> };
  } | null;
  TmpfsOptions?: { SizeBytes?: number; Mode?: number } | null;
}

export interface RestartPolicy {
  Name?: '' | 'no' | 'always' | 'unless-stopped' | 'on-failure';
  MaximumRetryCount?: number;
}

export interface PortBinding {
  HostIp?: string;
  HostPort?: string;
}

/** `{"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}` */
export type PortMap = Record<string, PortBinding[] | null>;

export interface LogConfig {
  Type?: string;
  Config?: Record<string, string>;
}

/** Non-portable configuration of a container (`HostConfig`, API v1.41). */
export interface HostConfig extends Resources {
  /** `src:dest[:opts]` */
  Binds?: string[] | null;
  ContainerIDFile?: string;
  LogConfig?: LogConfig;
  /** `default`, `bridge`, `host`, `none`, `container:<id>` or a network name */
  NetworkMode?: string;
  PortBindings?: PortMap | null;
  RestartPolicy?: RestartPolicy;
  AutoRemove?: boolean;
  VolumeDriver?: string;
  VolumesFrom?: string[] | null;
  Mounts?: Mount[] | null;
  CapAdd?: string[] | null;
  CapDrop?: string[] | null;
  CgroupnsMode?: 'private' | 'host' | '';
  Dns?: string[] | null;
  DnsOptions?: string[] | null;
  DnsSearch?: string[] | null;
  /** `host:ip` */
  ExtraHosts?: string[] | null;
  GroupAdd?: string[] | null;
  /** `none`, `private`, `shareable`, `container:<id>`, `host` */
  IpcMode?: string;
  Cgroup?: string;
  Links?: string[] | null;
  OomScoreAdj?: number;
  /** `''`, `host` or `container:<id>` */
  PidMode?: string;
  Privileged?: boolean;
  PublishAllPorts?: boolean;
  ReadonlyRootfs?: boolean;
  SecurityOpt?: string[] | null;
  StorageOpt?: Record<string, string> | null;
  /** `{"/run": "rw,size=64m"}` */
  Tmpfs?: Record<string, string> | null;
  /** `''` or `host` */
  UTSMode?: string;
  UsernsMode?: string;
  /** bytes; 0 = 64 MiB */
  ShmSize?: number;
  Sysctls?: Record<string, string> | null;
  Runtime?: string;
  ConsoleSize?: [number, number] | number[] | null;
  Isolation?: 'default' | 'process' | 'hyperv' | '';
  /** null = Docker's default list */
  MaskedPaths?: string[] | null;
  /** null = Docker's default list */
  ReadonlyPaths?: string[] | null;
}
