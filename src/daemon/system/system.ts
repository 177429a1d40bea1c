/**
 * `GET /version` and `GET /info` in Docker's shapes, filled from the host and from the
 * services that own containers and images.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { nowRfc3339NanoLocal } from '../../engine/clock';
import { MAX_API_VERSION, MIN_API_VERSION } from '../apiversion';
import { type HostFacts, readHostFacts, runtimeVersion, which } from './host';

export const ENGINE_VERSION = '0.1.0';

export interface Counts {
  containers: { running: number; paused: number; stopped: number };
  images: number;
}

export interface SystemOptions {
  dataRoot: string;
  execRoot: string;
  /** runtime name → binary path or name */
  runtimes: Record<string, string>;
  defaultRuntime: string;
  debug: boolean;
  liveRestore: boolean;
  labels: string[];
  insecureRegistries: string[];
  registryMirrors: string[];
  initBinary: string;
  /** counts from the container and image services (zero until they exist) */
  counts: () => Counts;
  eventListeners: () => number;
  /** the drivers that exist, for `/info`'s Plugins (default: IMPLEMENTED_PLUGINS); wired by their owners as they land */
  plugins?: Partial<PluginsInfo>;
}

/** `/info`'s Plugins: the volume, network and log drivers a client may name. */
export interface PluginsInfo {
  Volume: string[];
  Network: string[];
  Log: string[];
}

/**
 * What exists today, and only that (Docker lists its registered drivers): the `local`
 * volume driver (daemon/volumes), the `host` and `null` network drivers (the
 * default network is a private namespace with loopback only, not a bridge), and the
 * json-file log driver (`none` keeps nothing; Docker does not list it either).
 */
export const IMPLEMENTED_PLUGINS: PluginsInfo = { Volume: ['local'], Network: ['host', 'null'], Log: ['json-file'] };

export class SystemService {
  private facts: HostFacts | undefined;
  private engineId: string | undefined;
  /** runtime binary → its version; asked once (each ask starts the runtime, ~10–20 ms,
   * and clients call /info and /version before many commands) */
  private readonly runtimeVersions = new Map<string, Promise<{ version: string; commit: string }>>();

  constructor(private readonly opts: SystemOptions) {}

  /** `/info`'s Plugins: the drivers that exist, sorted as Docker lists them. */
  private plugins(): PluginsInfo & { Authorization: null } {
    const p = { ...IMPLEMENTED_PLUGINS, ...this.opts.plugins };
    return { Volume: [...p.Volume].sort(), Network: [...p.Network].sort(), Authorization: null, Log: [...p.Log].sort() };
  }

  host(): HostFacts {
    return (this.facts ??= readHostFacts());
  }

  /** A stable id for this engine, persisted in the data root (Docker shows one in `info`). */
  private id(): string {
    if (this.engineId) return this.engineId;
    const file = path.join(this.opts.dataRoot, 'engine-id');
    try {
      this.engineId = fs.readFileSync(file, 'utf8').trim();
    } catch {
      this.engineId = randomUUID();
      fs.writeFileSync(file + '.tmp', this.engineId);
      fs.renameSync(file + '.tmp', file);
    }
    return this.engineId;
  }

  private runtimeVersion(bin: string): Promise<{ version: string; commit: string }> {
    let v = this.runtimeVersions.get(bin);
    if (!v) {
      v = runtimeVersion(bin);
      this.runtimeVersions.set(bin, v);
    }
    return v;
  }

  async version(): Promise<Record<string, unknown>> {
    const h = this.host();
    const rt = this.opts.runtimes[this.opts.defaultRuntime] ?? this.opts.defaultRuntime;
    const rv = await this.runtimeVersion(rt);
    const arch = goArch(h.architecture);
    return {
      Platform: { Name: 'stevedore' },
      Components: [
        {
          Name: 'Engine',
          Version: ENGINE_VERSION,
          Details: {
            ApiVersion: MAX_API_VERSION,
            Arch: arch,
            BuildTime: '',
            Experimental: 'false',
            GitCommit: '',
            GoVersion: `node${process.versions.node}`,
            KernelVersion: h.kernelVersion,
            MinAPIVersion: MIN_API_VERSION,
            Os: 'linux',
          },
        },
        { Name: path.basename(rt), Version: rv.version, Details: { GitCommit: rv.commit } },
      ],
      Version: ENGINE_VERSION,
      ApiVersion: MAX_API_VERSION,
      MinAPIVersion: MIN_API_VERSION,
      GitCommit: '',
      GoVersion: `node${process.versions.node}`,
      Os: 'linux',
      Arch: arch,
      KernelVersion: h.kernelVersion,
      BuildTime: '',
    };
  }

  async info(): Promise<Record<string, unknown>> {
    const h = this.host();
    const c = this.opts.counts();
    const total = c.containers.running + c.containers.paused + c.containers.stopped;
    const runtimes: Record<string, { path: string }> = {};
    for (const [name, bin] of Object.entries(this.opts.runtimes)) if (which(bin)) runtimes[name] = { path: bin };
    const rtBin = this.opts.runtimes[this.opts.defaultRuntime] ?? this.opts.defaultRuntime;
    const rv = await this.runtimeVersion(rtBin);
    const v1 = h.cgroupVersion === '1';
    const bridgeNf = (f: string) => readFlag(`/proc/sys/net/bridge/${f}`);
    const bridgeNfIptables = bridgeNf('bridge-nf-call-iptables');
    const bridgeNfIp6tables = bridgeNf('bridge-nf-call-ip6tables');
    // Docker's fillPlatformInfo warnings, in its order, for what this host can lack
    const warnings: string[] = [];
    if (!h.memoryLimit) warnings.push('WARNING: No memory limit support');
    if (!h.swapLimit) warnings.push('WARNING: No swap limit support');
    if (!h.ipv4Forwarding) warnings.push('WARNING: IPv4 forwarding is disabled');
    if (!bridgeNfIptables) warnings.push('WARNING: bridge-nf-call-iptables is disabled');
    if (!bridgeNfIp6tables) warnings.push('WARNING: bridge-nf-call-ip6tables is disabled');
    return {
      ID: this.id(),
      Containers: total,
      ContainersRunning: c.containers.running,
      ContainersPaused: c.containers.paused,
      ContainersStopped: c.containers.stopped,
      Images: c.images,
      Driver: 'overlay2',
      DriverStatus: [
        ['Backing Filesystem', backingFs(this.opts.dataRoot)],
        ['Supports d_type', 'true'],
        ['Native Overlay Diff', 'true'],
        ['userxattr', 'false'],
      ],
      DockerRootDir: this.opts.dataRoot,
      Plugins: this.plugins(),
      MemoryLimit: h.memoryLimit,
      SwapLimit: h.swapLimit,
      KernelMemory: v1,
      KernelMemoryTCP: v1,
      CpuCfsPeriod: true,
      CpuCfsQuota: true,
      CPUShares: true,
      CPUSet: true,
      PidsLimit: true,
      OomKillDisable: v1,
      IPv4Forwarding: h.ipv4Forwarding,
      BridgeNfIptables: bridgeNfIptables,
      BridgeNfIp6tables: bridgeNfIp6tables,
      Debug: this.opts.debug,
      NFd: countFds(),
      NGoroutines: 0,
      SystemTime: nowRfc3339NanoLocal(), // Go's time.Now() in the local zone (moby daemon/info.go)
      LoggingDriver: 'json-file',
      CgroupDriver: 'cgroupfs',
      CgroupVersion: h.cgroupVersion,
      NEventsListener: this.opts.eventListeners(),
      KernelVersion: h.kernelVersion,
      OperatingSystem: h.operatingSystem,
      OSVersion: h.osVersion,
      OSType: 'linux',
      Architecture: h.architecture,
      IndexServerAddress: 'https://index.docker.io/v1/',
      RegistryConfig: {
        AllowNondistributableArtifactsCIDRs: [],
        AllowNondistributableArtifactsHostnames: [],
        InsecureRegistryCIDRs: ['127.0.0.0/8', ...this.opts.insecureRegistries.filter((r) => r.includes('/'))],
        IndexConfigs: {
          'docker.io': { Name: 'docker.io', Mirrors: this.opts.registryMirrors, Secure: true, Official: true },
        },
        Mirrors: this.opts.registryMirrors,
      },
      NCPU: h.ncpu,
      MemTotal: h.memTotal,
      GenericResources: null,
      HttpProxy: process.env.HTTP_PROXY ?? process.env.http_proxy ?? '',
      HttpsProxy: process.env.HTTPS_PROXY ?? process.env.https_proxy ?? '',
      NoProxy: process.env.NO_PROXY ?? process.env.no_proxy ?? '',
      Name: h.hostname,
      Labels: this.opts.labels,
      ExperimentalBuild: false,
      ServerVersion: ENGINE_VERSION,
      Runtimes: runtimes,
      DefaultRuntime: this.opts.defaultRuntime,
      Swarm: {
        NodeID: '',
        NodeAddr: '',
        LocalNodeState: 'inactive',
        ControlAvailable: false,
        Error: '',
        RemoteManagers: null,
      },
      LiveRestoreEnabled: this.opts.liveRestore,
      Isolation: '',
      InitBinary: this.opts.initBinary,
      ContainerdCommit: { ID: '', Expected: '' },
      RuncCommit: { ID: rv.commit, Expected: rv.commit },
      InitCommit: { ID: '', Expected: '' },
      SecurityOptions: ['name=seccomp,profile=default', ...(v1 ? [] : ['name=cgroupns'])],
      Warnings: warnings.length ? warnings : null, // Go: a nil slice when there is none
    };
  }
}

/** Go's GOARCH names, which `docker version` shows. */
export function goArch(machine: string): string {
  return ({ x86_64: 'amd64', aarch64: 'arm64', armv7l: 'arm', i686: '386', ppc64le: 'ppc64le', s390x: 's390x' } as Record<string, string>)[machine] ?? machine;
}

/** A sysctl flag: true when the file reads 1 (false when absent), as Docker's readProcBool. */
function readFlag(p: string): boolean {
  try {
    return fs.readFileSync(p, 'utf8').trim() === '1';
  } catch {
    return false;
  }
}

function countFds(): number {
  try {
    return fs.readdirSync('/proc/self/fd').length;
  } catch {
    return 0;
  }
}

/** The filesystem type under the data root, named as Docker names it ("extfs", "xfs", …). */
function backingFs(dir: string): string {
  try {
    const mounts = fs.readFileSync('/proc/self/mounts', 'utf8').split('\n');
    let best = '';
    let type = '';
    const real = fs.realpathSync(dir);
    for (const line of mounts) {
      const [, mp, fstype] = line.split(' ');
      if (!mp || !fstype) continue;
      if ((real === mp || real.startsWith(mp.endsWith('/') ? mp : mp + '/')) && mp.length >= best.length) {
        best = mp;
        type = fstype;
      }
    }
    return ({ ext2: 'extfs', ext3: 'extfs', ext4: 'extfs' } as Record<string, string>)[type] ?? type;
  } catch {
    return 'unknown';
  }
}
