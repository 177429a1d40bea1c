/**
 * Body validation for `POST /containers/create`: the JSON types Go's decoder would
 * enforce, so a wrong type is a 400 like Docker's, never a crash later.
 */
import { invalidArgument } from '../../engine/errdefs';
import type { ContainerConfig, HostConfig } from '../../engine/bundle/types';

type Kind = 'string' | 'bool' | 'number' | 'strings' | 'map' | 'object' | 'any';

const CONFIG: Record<string, Kind> = {
  Hostname: 'string', Domainname: 'string', User: 'string', AttachStdin: 'bool', AttachStdout: 'bool', AttachStderr: 'bool',
  ExposedPorts: 'object', Tty: 'bool', OpenStdin: 'bool', StdinOnce: 'bool', Env: 'strings', Cmd: 'strings', Healthcheck: 'object',
  ArgsEscaped: 'bool', Image: 'string', Volumes: 'object', WorkingDir: 'string', Entrypoint: 'strings', NetworkDisabled: 'bool',
  MacAddress: 'string', OnBuild: 'strings', Labels: 'map', StopSignal: 'string', StopTimeout: 'number', Shell: 'strings',
  HostConfig: 'object', NetworkingConfig: 'object',
};

const HOST: Record<string, Kind> = {
  Binds: 'strings', ContainerIDFile: 'string', LogConfig: 'object', NetworkMode: 'string', PortBindings: 'object', RestartPolicy: 'object',
  AutoRemove: 'bool', VolumeDriver: 'string', VolumesFrom: 'strings', Mounts: 'any', CapAdd: 'strings', CapDrop: 'strings',
  CgroupnsMode: 'string', Dns: 'strings', DnsOptions: 'strings', DnsSearch: 'strings', ExtraHosts: 'strings', GroupAdd: 'strings',
  IpcMode: 'string', Cgroup: 'string', Links: 'strings', OomScoreAdj: 'number', PidMode: 'string', Privileged: 'bool',
  PublishAllPorts: 'bool', ReadonlyRootfs: 'bool', SecurityOpt: 'strings', StorageOpt: 'map', Tmpfs: 'map', UTSMode: 'string',
  UsernsMode: 'string', ShmSize: 'number', Sysctls: 'map', Runtime: 'string', ConsoleSize: 'any', Isolation: 'string',
  CpuShares: 'number', Memory: 'number', CgroupParent: 'string', BlkioWeight: 'number', CpuPeriod: 'number', CpuQuota: 'number',
  CpuRealtimePeriod: 'number', CpuRealtimeRuntime: 'number', CpusetCpus: 'string', CpusetMems: 'string', Devices: 'any',
  DeviceCgroupRules: 'strings', KernelMemory: 'number', KernelMemoryTCP: 'number', MemoryReservation: 'number', MemorySwap: 'number',
  MemorySwappiness: 'number', NanoCpus: 'number', OomKillDisable: 'bool', Init: 'bool', PidsLimit: 'number', Ulimits: 'any',
  MaskedPaths: 'strings', ReadonlyPaths: 'strings',
};

function goType(k: Kind): string {
  return { string: 'string', bool: 'bool', number: 'int64', strings: '[]string', map: 'map[string]string', object: 'struct', any: 'value' }[k];
}

function jsType(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (v === null) return 'null';
  return typeof v === 'object' ? 'object' : typeof v;
}

function check(struct: string, field: string, kind: Kind, v: unknown): void {
  if (v === null || v === undefined || kind === 'any') return;
  const ok =
    (kind === 'string' && typeof v === 'string') ||
    (kind === 'bool' && typeof v === 'boolean') ||
    (kind === 'number' && typeof v === 'number' && Number.isFinite(v)) ||
    (kind === 'strings' && Array.isArray(v) && v.every((x) => typeof x === 'string')) ||
    (kind === 'map' && typeof v === 'object' && !Array.isArray(v) && Object.values(v as object).every((x) => typeof x === 'string')) ||
    (kind === 'object' && typeof v === 'object' && !Array.isArray(v));
  if (!ok) throw invalidArgument(`json: cannot unmarshal ${jsType(v)} into Go struct field ${struct}.${field} of type ${goType(kind)}`);
}

/** Validates and splits a create body. Throws invalid-argument. */
export function parseCreateBody(body: unknown): { config: ContainerConfig; hostConfig: HostConfig } {
  if (body === undefined || body === null) throw invalidArgument('config cannot be empty in order to create a container');
  if (typeof body !== 'object' || Array.isArray(body)) throw invalidArgument(`json: cannot unmarshal ${jsType(body)} into Go value of type container.Config`);
  const b = body as Record<string, unknown>;
  for (const [k, v] of Object.entries(b)) if (CONFIG[k]) check('ContainerConfigWrapper', k, CONFIG[k]!, v);
  const hc = (b.HostConfig ?? {}) as Record<string, unknown>;
  for (const [k, v] of Object.entries(hc)) if (HOST[k]) check('HostConfig', k, HOST[k]!, v);
  const { HostConfig: _h, NetworkingConfig: _n, ...config } = b;
  void _h;
  void _n;
  return { config: config as ContainerConfig, hostConfig: hc as HostConfig };
}

/** Validates an update body (resources and RestartPolicy). */
export function parseUpdateBody(body: unknown): HostConfig {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw invalidArgument(`json: cannot unmarshal ${jsType(body)} into Go value of type container.UpdateConfig`);
  for (const [k, v] of Object.entries(body as Record<string, unknown>)) {
    if (k === 'RestartPolicy') check('UpdateConfig', k, 'object', v);
    else if (HOST[k]) check('UpdateConfig', k, HOST[k]!, v);
  }
  return body as HostConfig;
}
