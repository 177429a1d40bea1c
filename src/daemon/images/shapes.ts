/** Docker-shaped JSON of images (inspect, list, history), in one place. */
import type { DockerImageConfig } from '../../engine/images/types';
import type { ContainerConfig } from '../containers/types';

/** Every field Docker's container.Config always shows, with its zero value. */
export function fullContainerConfig(c: ContainerConfig | undefined): ContainerConfig {
  const x = c ?? {};
  const out: ContainerConfig = {
    Hostname: x.Hostname ?? '',
    Domainname: x.Domainname ?? '',
    User: x.User ?? '',
    AttachStdin: x.AttachStdin ?? false,
    AttachStdout: x.AttachStdout ?? false,
    AttachStderr: x.AttachStderr ?? false,
  };
  if (x.ExposedPorts) out.ExposedPorts = x.ExposedPorts;
  Object.assign(out, { Tty: x.Tty ?? false, OpenStdin: x.OpenStdin ?? false, StdinOnce: x.StdinOnce ?? false, Env: x.Env ?? null, Cmd: x.Cmd ?? null });
  if (x.Healthcheck) out.Healthcheck = x.Healthcheck;
  if (x.ArgsEscaped) out.ArgsEscaped = x.ArgsEscaped;
  Object.assign(out, { Image: x.Image ?? '', Volumes: x.Volumes ?? null, WorkingDir: x.WorkingDir ?? '', Entrypoint: x.Entrypoint ?? null });
  if (x.NetworkDisabled) out.NetworkDisabled = x.NetworkDisabled;
  if (x.MacAddress) out.MacAddress = x.MacAddress;
  Object.assign(out, { OnBuild: x.OnBuild ?? null, Labels: x.Labels ?? null });
  if (x.StopSignal) out.StopSignal = x.StopSignal;
  if (x.StopTimeout !== undefined) out.StopTimeout = x.StopTimeout;
  if (x.Shell) out.Shell = x.Shell;
  return out;
}

/** Go's zero time, which Docker prints for times never set. */
export const ZERO_TIME = '0001-01-01T00:00:00Z';

/** Seconds since the epoch of an RFC 3339 time (0 if absent or invalid). */
export function unixSeconds(t: string | undefined): number {
  if (!t) return 0;
  const ms = Date.parse(t);
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : 0;
}

/** GET /images/{name}/json. */
export interface ImageInspect {
  Id: string;
  RepoTags: string[];
  RepoDigests: string[];
  Parent: string;
  Comment: string;
  Created: string;
  Container: string;
  ContainerConfig: ContainerConfig;
  DockerVersion: string;
  Author: string;
  Config: ContainerConfig | null;
  Architecture: string;
  Variant?: string;
  Os: string;
  OsVersion?: string;
  Size: number;
  VirtualSize: number;
  GraphDriver: { Data: Record<string, string> | null; Name: string };
  RootFS: { Type: string; Layers?: string[] };
  Metadata: { LastTagTime: string };
}

export function inspectShape(a: {
  id: string;
  config: DockerImageConfig;
  repoTags: string[];
  repoDigests: string[];
  parent?: string;
  size: number;
  graphDriver: Record<string, string> | null;
  lastTagTime?: number;
}): ImageInspect {
  const c = a.config;
  const out: ImageInspect = {
    Id: a.id,
    RepoTags: a.repoTags,
    RepoDigests: a.repoDigests,
    Parent: a.parent ?? '',
    Comment: c.comment ?? '',
    Created: c.created ?? ZERO_TIME,
    Container: c.container ?? '',
    ContainerConfig: fullContainerConfig(c.container_config),
    DockerVersion: c.docker_version ?? '',
    Author: c.author ?? '',
    Config: c.config ? fullContainerConfig(c.config) : null,
    Architecture: c.architecture ?? '',
    Os: c.os ?? '',
    Size: a.size,
    VirtualSize: a.size,
    GraphDriver: { Data: a.graphDriver, Name: 'overlay2' },
    RootFS: { Type: c.rootfs?.type ?? 'layers' },
    Metadata: { LastTagTime: a.lastTagTime ? new Date(a.lastTagTime).toISOString() : ZERO_TIME },
  };
  if (c.variant) out.Variant = c.variant;
  if (c['os.version']) out.OsVersion = c['os.version'];
  const layers = c.rootfs?.diff_ids ?? [];
  if (layers.length) out.RootFS.Layers = layers;
  // keep Docker's key order: Variant/OsVersion sit after Architecture/Os
  return out;
}

/** One entry of GET /images/json. */
export interface ImageSummary {
  Containers: number;
  Created: number;
  Id: string;
  Labels: Record<string, string> | null;
  ParentId: string;
  RepoDigests: string[] | null;
  RepoTags: string[] | null;
  SharedSize: number;
  Size: number;
  VirtualSize: number;
}

/** One entry of GET /images/{name}/history. */
export interface HistoryItem {
  Comment: string;
  Created: number;
  CreatedBy: string;
  Id: string;
  Size: number;
  Tags: string[] | null;
}
