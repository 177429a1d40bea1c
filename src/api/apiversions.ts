/**
 * Every version-dependent difference of the Engine API from v1.42 to v1.52 that concerns
 * an endpoint we serve, and those below v1.41 that Docker 20.10 still applied (`older`
 * rows), in ONE table (Docker's version history,
 * /work/shared/reference/engine-api-version-history.md; moby's routers apply the same
 * differences with `versions.LessThan`). docs/api-versions.md explains it in prose.
 *
 * The views of src/daemon produce the v1.41 shapes (Docker 20.10's, which the
 * differential suite compares). A row says what changed at `version` and either:
 *
 * - `response`: turns a v1.41-shaped answer into the row's version's shape; `shapeFor`
 *   applies, in version order, every row of the endpoint with `version <= requested`;
 * - `request`: checks or adjusts a request at every version; it is told whether the
 *   request is at the row's version or newer (`newer`) or older: an older request gets
 *   the old behaviour (a field ignored, an old default), a newer one the new behaviour,
 *   and a field we cannot act on is refused by name;
 * - `older` (rows at 1.41 or below, what Docker 20.10 did for older clients): turns a
 *   v1.41-shaped answer into the shape of the versions BEFORE the row's; `shapeFor`
 *   applies, newest first, every such row of the endpoint with `version > requested`;
 * - `notApplicable`: why the difference has nothing to do here (swarm, plugins, a
 *   multi-platform image store we do not have, ...).
 */
import { internal, invalidArgument } from '../engine/errdefs';
import { type RequestContext, parseFilters, queryBool } from './context';
import { goDecode, type GoType } from './jsonfold';
import { type ApiVersion, compareVersions, versionAtLeast } from './version';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Json = any;

/** What a response row may need beyond the body: the request's query, the container record. */
export interface ShapeExtras {
  query?: URLSearchParams;
  /** GET /containers/json: container id → its health, when it has a health check */
  health?: (id: string) => { Status: string; FailingStreak: number } | undefined;
  /** GET /images/json: image id → its container count and shared size (from the disk usage) */
  imageUsage?: Map<string, { Containers: number; SharedSize: number }>;
}

/** What a request row sees: the decoded body, the body as sent, the query, and where warnings go. */
export interface RequestInput {
  /** the body decoded as Docker decodes it (canonical field names; unknown fields dropped) */
  body?: Json;
  /** the body as sent, parsed as plain JSON (fields the decoder drops are still here) */
  raw?: Json;
  query: URLSearchParams;
  /** warnings the endpoint returns (create's `Warnings`) */
  warnings: string[];
}

export interface VersionRow {
  /** a stable name for the row (tests and docs name it) */
  id: string;
  /** the first API version with the new behaviour */
  version: ApiVersion;
  /** the endpoints concerned, as routes are written: `GET /images/{name}/json` */
  endpoints: readonly string[];
  /** what changes */
  change: string;
  response?: (body: Json, extras: ShapeExtras) => Json;
  /** a row at 1.41 or below: the answer of the versions before the row's, from the 1.41 shape */
  older?: (body: Json, extras: ShapeExtras) => Json;
  request?: (req: RequestInput, newer: boolean) => void;
  /** for streams of items (events): whether an item is shown at the version (`newer`: at the row's version or later) */
  filter?: (item: Json, newer: boolean) => boolean;
  notApplicable?: string;
}

// ---------------------------------------------------------------- helpers

/** A field of a raw JSON object, found as Go finds it (exact name, else case-insensitively). */
function field(o: Json, name: string): Json {
  if (o === null || typeof o !== 'object' || Array.isArray(o)) return undefined;
  if (name in o) return o[name];
  const lower = name.toLowerCase();
  for (const k of Object.keys(o)) if (k.toLowerCase() === lower) return o[k];
  return undefined;
}

/** A path of fields in a raw body: `path(raw, 'HostConfig', 'Mounts')`. */
function path(o: Json, ...names: string[]): Json {
  let cur = o;
  for (const n of names) cur = field(cur, n);
  return cur;
}

const isObj = (v: Json): boolean => v !== null && typeof v === 'object' && !Array.isArray(v);
const list = (v: Json): Json[] => (Array.isArray(v) ? v : []);
const values = (v: Json): Json[] => (isObj(v) ? Object.values(v) : []);
const nonEmpty = (v: Json): boolean => (Array.isArray(v) ? v.length > 0 : isObj(v) ? Object.keys(v).length > 0 : v !== undefined && v !== null && v !== '' && v !== 0 && v !== false);

/** The refusal of a field we cannot act on, named as the client wrote it. */
export function refused(fieldPath: string, version: string): Error {
  return invalidArgument(`${fieldPath} (API ${version}) is not supported by stevedore`);
}

function omit(o: Json, ...keys: string[]): Json {
  if (!isObj(o)) return o;
  for (const k of keys) delete o[k];
  return o;
}

/** Docker's JSON of an unset time: the zero time (API < 1.44 shows it; 1.44 omits `Created`). */
const ZERO_TIME = '0001-01-01T00:00:00Z';

const CREATE = 'POST /containers/create';
const UPDATE = 'POST /containers/{id}/update';
const INSPECT = 'GET /containers/{id}/json';
const LIST = 'GET /containers/json';
const IMAGE = 'GET /images/{name}/json';
const IMAGES = 'GET /images/json';
const DF = 'GET /system/df';
const EVENTS = 'GET /events';
const INFO = 'GET /info';

/** A request row: the host-config field (create's `HostConfig`, update's body) is dropped at the row's version and later. */
const ignoredFrom = (name: string) => (req: RequestInput, newer: boolean) => {
  const hc = req.body?.HostConfig ?? req.body;
  if (newer && isObj(hc)) delete hc[name];
};

/** The short id Docker 20.10 adds to a container's aliases on user-defined networks. */
const shortId = (id: string) => id.slice(0, 12);
const userDefined = (network: string) => !['bridge', 'host', 'none', 'default'].includes(network) && !network.startsWith('container:');

/** A container inspect's name, id, hostname and network endpoints (the objects only). */
function inspectNetworks(b: Json): { name: string; id: string; host: string; endpoints: Array<[string, Json]> } {
  const nets = b?.NetworkSettings?.Networks;
  return {
    name: String(b?.Name ?? '').replace(/^\//, ''),
    id: String(b?.Id ?? ''),
    host: String(b?.Config?.Hostname ?? ''),
    endpoints: Object.entries(isObj(nets) ? (nets as Record<string, Json>) : {}).filter(([, ep]) => isObj(ep)),
  };
}

// ---------------------------------------------------------------- the table

export const ROWS: readonly VersionRow[] = [
  // ---------------------------------------------------------------- below v1.41
  {
    id: 'info-execution-driver',
    version: '1.25',
    endpoints: [INFO],
    change: '`ExecutionDriver` gone (older versions: `<not supported>`); `SecurityOptions` as `name=…,key=value` strings (older versions: the names only)',
    // moby v20.10 api/server/router/system/system_routes.go getInfo (the oldInfo struct:
    // the Info fields, then ExecutionDriver; SecurityOptions through DecodeSecurityOptions)
    older: (b) => {
      if (!isObj(b)) return b;
      if (Array.isArray(b.SecurityOptions)) b.SecurityOptions = (b.SecurityOptions as string[]).map(securityOptionName);
      b.ExecutionDriver = '<not supported>';
      return b;
    },
  },
  // ---------------------------------------------------------------- v1.42
  {
    id: 'df-builder-size',
    version: '1.42',
    endpoints: [DF],
    change: '`BuilderSize` removed from the answer',
    response: (b) => omit(b, 'BuilderSize'),
  },
  {
    id: 'df-type',
    version: '1.42',
    endpoints: [DF],
    change: '`type` query (container, image, volume, build-cache; repeatable) selects the object types computed; others are null; an unknown one is a 400',
    request: (req, newer) => {
      if (!newer) return;
      for (const t of req.query.getAll('type')) if (!DF_TYPES[t]) throw invalidArgument(`unknown object type: ${t}`);
    },
    response: (b, x) => {
      const types = x.query?.getAll('type') ?? [];
      if (types.length === 0) return b;
      const keep = new Set(types.flatMap((t) => DF_TYPES[t] ?? []));
      for (const k of Object.values(DF_TYPES).flat()) if (!keep.has(k)) b[k] = null;
      if (!keep.has('Images')) delete b.LayersSize;
      return b;
    },
  },
  {
    id: 'df-build-cache-parents',
    version: '1.42',
    endpoints: [DF],
    change: 'build-cache records: `Parent` omitted, `Parents` (a list) added',
    response: (b) => {
      for (const r of list(b?.BuildCache)) {
        r.Parents = r.Parent ? [r.Parent] : [];
        delete r.Parent;
      }
      return b;
    },
  },
  {
    id: 'stop-signal',
    version: '1.42',
    endpoints: ['POST /containers/{id}/stop', 'POST /containers/{id}/restart'],
    change: '`signal` query (stop, and the stop of a restart) overrides the container\'s `StopSignal`; older versions ignore it. A bad one on a running container is Docker\'s 500 (`cannot stop container: <ref>: invalid signal: <v>`, `Cannot restart container <ref>: invalid signal: <v>`)',
    request: (req, newer) => {
      if (!newer) req.query.delete('signal');
    },
  },
  {
    id: 'images-shared-size',
    version: '1.42',
    endpoints: [IMAGES],
    change: '`shared-size` query fills `SharedSize` (older versions keep -1)',
    response: (b, x) => {
      if (!(x.query && queryBool(x.query, 'shared-size'))) return b;
      for (const i of list(b)) {
        const u = x.imageUsage?.get(i.Id);
        if (u) i.SharedSize = u.SharedSize;
      }
      return b;
    },
  },
  {
    id: 'create-console-size',
    version: '1.42',
    endpoints: ['POST /containers/{id}/start'],
    change: '`HostConfig.ConsoleSize` is respected: the tty starts at that size (`startConsoleSize`, for a start at 1.42 or later). Older versions do not size the tty; the value is recorded and shown by inspect as given, as Docker 20.10 does (Docker 23+ resets it to [0, 0] below 1.42)',
    request: (req, newer) => {
      const hc = req.body?.HostConfig;
      if (!newer && isObj(hc) && hc.ConsoleSize) hc.ConsoleSize = [0, 0];
    },
  },
  {
    id: 'create-mount-options-type',
    version: '1.42',
    endpoints: [CREATE],
    change: '`BindOptions`/`VolumeOptions`/`TmpfsOptions` on a mount of another type are a 400; older versions drop them',
    request: (req, newer) => {
      for (const m of list(req.body?.HostConfig?.Mounts)) {
        for (const [opt, type] of [['VolumeOptions', 'volume'], ['BindOptions', 'bind'], ['TmpfsOptions', 'tmpfs']] as const) {
          if (m[opt] === undefined || m[opt] === null || m.Type === type) continue;
          if (newer) throw invalidArgument(`${opt} must not be specified on mount type ${JSON.stringify(m.Type)}`);
          delete m[opt];
        }
      }
    },
  },
  {
    id: 'create-bind-create-mountpoint',
    version: '1.42',
    endpoints: [CREATE],
    change: '`Mounts[].BindOptions.CreateMountpoint` creates a missing host path; older versions ignore it. Not implemented: refused by name',
    request: (req, newer) => {
      if (newer && list(path(req.raw, 'HostConfig', 'Mounts')).some((m) => path(m, 'BindOptions', 'CreateMountpoint') === true)) {
        throw refused('HostConfig.Mounts[].BindOptions.CreateMountpoint', '1.42');
      }
    },
  },
  {
    id: 'kernel-memory-ignored',
    version: '1.42',
    endpoints: [CREATE, UPDATE],
    change: '`KernelMemory` is ignored (Docker drops it: kernel memory accounting is gone from cgroup v2)',
    request: ignoredFrom('KernelMemory'),
  },
  {
    id: 'inspect-kernel-memory-omitted',
    version: '1.42',
    endpoints: [INSPECT],
    change: '`HostConfig.KernelMemory` and `KernelMemoryTCP` omitted when not set',
    response: (b) => {
      const hc = b?.HostConfig;
      if (isObj(hc)) {
        if (!hc.KernelMemory) delete hc.KernelMemory;
        if (!hc.KernelMemoryTCP) delete hc.KernelMemoryTCP;
      }
      return b;
    },
  },
  {
    id: 'exec-console-size',
    version: '1.42',
    endpoints: ['POST /containers/{id}/exec', 'POST /exec/{id}/start'],
    change: '`ConsoleSize` on exec create and start sets the tty size at start; older versions ignore it',
    request: (req, newer) => {
      if (!newer && isObj(req.body)) delete req.body.ConsoleSize;
    },
  },
  {
    id: 'stream-content-type',
    version: '1.42',
    endpoints: ['POST /containers/{id}/attach', 'POST /exec/{id}/start', 'GET /containers/{id}/logs'],
    change: 'Content-Type `application/vnd.docker.multiplexed-stream` when the stream is multiplexed (no tty), `application/vnd.docker.raw-stream` otherwise; logs had none before',
    response: (b: { tty: boolean; contentType: string | undefined }) => ({ ...b, contentType: b.tty ? RAW_STREAM : MULTIPLEXED_STREAM }),
  },
  {
    id: 'attach-ws-streams',
    version: '1.42',
    endpoints: ['GET /containers/{id}/attach/ws'],
    change: '`stdin`, `stdout`, `stderr` select the streams; older versions attach all of them',
    request: (req, newer) => {
      if (!newer) for (const s of ['stdin', 'stdout', 'stderr']) req.query.set(s, '1');
    },
  },
  {
    id: 'volumes-prune-anonymous',
    version: '1.42',
    endpoints: ['POST /volumes/prune'],
    change: 'prunes only anonymous volumes unless the `all` filter is true (the volume service reads it, as moby\'s withPrune); older versions refuse an `all` filter (Docker 20.10) and prune all unused local volumes (moby adds `all=true`)',
    request: (req, newer) => {
      if (newer) return;
      const f = parseFilters(req.query.get('filters'));
      if (f.has('all')) throw invalidArgument(`Invalid filter 'all'`);
      f.set('all', ['true']);
      req.query.set('filters', JSON.stringify(Object.fromEntries(f)));
    },
  },
  {
    id: 'wait-condition-400',
    version: '1.42',
    endpoints: ['POST /containers/{id}/wait'],
    change: 'an invalid `condition` is a 400 (from 1.30 on)',
    notApplicable: 'not versioned within 1.24-1.52 beyond what Docker 20.10 already did: the route answers 400 at every version',
  },
  {
    id: 'ping-headers',
    version: '1.42',
    endpoints: ['GET /_ping', 'HEAD /_ping'],
    change: '`Builder-Version` and `Swarm` headers',
    notApplicable: 'unversioned in Docker: /_ping sends Builder-Version 1 (the classic builder, the only one here) at every version',
  },
  {
    id: 'volumes-cluster',
    version: '1.42',
    endpoints: ['POST /volumes/create', 'GET /volumes', 'PUT /volumes/{name}'],
    change: '`ClusterVolumeSpec`, `ClusterVolume`, PUT /volumes/{name}',
    notApplicable: 'cluster volumes need a Swarm manager; swarm is refused (501)',
  },
  {
    id: 'unversioned-1.42',
    version: '1.42',
    endpoints: [DF, 'POST /images/create', INFO],
    change: 'concurrent /system/df; the `platform` architecture honoured by an import; `/info` omits KernelMemory/KernelMemoryTCP when unsupported',
    notApplicable: 'unversioned in Docker (every API version of a daemon that has them): not a difference between versions',
  },
  {
    id: 'windows-devices',
    version: '1.42',
    endpoints: [CREATE],
    change: '`<IDType>://<ID>` device syntax',
    notApplicable: 'Windows containers only',
  },
  // ---------------------------------------------------------------- v1.43
  {
    id: 'create-annotations',
    version: '1.43',
    endpoints: [CREATE, LIST],
    change: '`HostConfig.Annotations` passed to the runtime (and listed from 1.46); older versions ignore it. Not implemented: refused by name when set',
    request: (req, newer) => {
      if (newer && nonEmpty(path(req.raw, 'HostConfig', 'Annotations'))) throw refused('HostConfig.Annotations', '1.43');
    },
  },
  {
    id: 'images-no-none',
    version: '1.43',
    endpoints: [IMAGES],
    change: 'untagged images list `[]` for `RepoTags`/`RepoDigests` instead of `<none>:<none>`/`<none>@<none>`',
    response: (b) => {
      for (const i of list(b)) {
        i.RepoTags = list(i.RepoTags).filter((t) => t !== '<none>:<none>');
        i.RepoDigests = list(i.RepoDigests).filter((t) => t !== '<none>@<none>');
      }
      return b;
    },
  },
  {
    id: 'info-no-new-privileges',
    version: '1.43',
    endpoints: [INFO],
    change: '`no-new-privileges` in `SecurityOptions` when set globally',
    notApplicable: 'unversioned in Docker; the daemon has no global no-new-privileges option',
  },
  // ---------------------------------------------------------------- v1.44
  {
    id: 'create-validation',
    version: '1.44',
    endpoints: [CREATE, 'POST /networks/{id}/connect'],
    change: 'validation errors caught at create/connect instead of start, all of them reported',
    notApplicable: 'unversioned in Docker (applies to every API version); create already validates what it can at every version',
  },
  {
    id: 'virtual-size',
    version: '1.44',
    endpoints: [IMAGE, IMAGES, DF],
    change: '`VirtualSize` omitted (use `Size`)',
    response: (b) => {
      for (const i of Array.isArray(b) ? b : isObj(b) && Array.isArray(b.Images) ? b.Images : [b]) omit(i, 'VirtualSize');
      return b;
    },
  },
  {
    id: 'image-created-omitted',
    version: '1.44',
    endpoints: [IMAGE],
    change: '`Created` omitted when the image config has none (older versions show the zero time)',
    response: (b) => {
      if (isObj(b) && (b.Created === '' || b.Created === ZERO_TIME)) delete b.Created;
      return b;
    },
  },
  {
    id: 'create-multiple-networks',
    version: '1.44',
    endpoints: [CREATE],
    change: 'several networks in `NetworkingConfig.EndpointsConfig` are all joined; older versions refuse more than one',
    request: (req, newer) => {
      const eps = Object.keys(req.body?.NetworkingConfig?.EndpointsConfig ?? {});
      // Docker 20.10's message (verifyNetworkingConfig)
      if (!newer && eps.length > 1) throw invalidArgument(`Container cannot be connected to network endpoints: ${eps.sort().join(', ')}`);
    },
  },
  {
    id: 'healthcheck-start-interval',
    version: '1.44',
    endpoints: [CREATE],
    change: '`Healthcheck.StartInterval` (probe interval during the start period, health/health.ts); older versions reset it to 0',
    request: (req, newer) => {
      const hc = req.body?.Healthcheck;
      if (!isObj(hc)) return;
      if (!newer) {
        delete hc.StartInterval;
        return;
      }
      // the 1.41 decoder does not know the field: taken from the body as sent, as Go decodes a time.Duration
      const v = path(req.raw, 'Healthcheck', 'StartInterval');
      if (v === undefined || v === null) return;
      if (typeof v !== 'number' || !Number.isInteger(v)) throw invalidArgument(`json: cannot unmarshal ${typeof v === 'number' ? 'number ' + v : typeof v} into Go struct field HealthConfig.Healthcheck.StartInterval of type time.Duration`);
      hc.StartInterval = v;
    },
  },
  {
    id: 'endpoint-mac-address',
    version: '1.44',
    endpoints: [CREATE],
    change: '`EndpointsConfig.*.MacAddress` sets the endpoint MAC; older versions discard it unless the container-wide `MacAddress` is set',
    request: (req, newer) => {
      if (newer || req.body?.MacAddress) return;
      for (const ep of values(req.body?.NetworkingConfig?.EndpointsConfig)) if (isObj(ep)) delete ep.MacAddress;
    },
  },
  {
    id: 'container-mac-address-deprecated',
    version: '1.44',
    endpoints: [CREATE],
    change: 'the container-wide `Config.MacAddress` is deprecated: create answers a warning',
    request: (req, newer) => {
      if (newer && req.body?.MacAddress) req.warnings.push('The container-wide MacAddress field is now deprecated. It should be specified in EndpointsConfig instead.');
    },
  },
  {
    id: 'bind-read-only-recursive',
    version: '1.44',
    endpoints: [CREATE],
    change: '`BindOptions.ReadOnlyNonRecursive`/`ReadOnlyForceRecursive`; read-only binds become recursively read-only by default',
    request: (req, newer) => {
      const mounts = list(path(req.raw, 'HostConfig', 'Mounts'));
      if (!mounts.some((m) => String(field(m, 'Type')) === 'bind' && path(m, 'BindOptions', 'ReadOnlyForceRecursive') === true)) return;
      if (!newer) throw invalidArgument('BindOptions.ReadOnlyForceRecursive needs API v1.44 or newer');
      throw refused('HostConfig.Mounts[].BindOptions.ReadOnlyForceRecursive', '1.44');
    },
    // The default of 1.44 (recursive read-only where the kernel allows) is not applied:
    // read-only binds stay non-recursive at every version, which is what
    // ReadOnlyNonRecursive asks for (docs/api-versions.md).
  },
  {
    id: 'inspect-dns-names',
    version: '1.44',
    endpoints: [INSPECT],
    change: '`NetworkSettings.Networks.*.DNSNames`: the names the container has on a user-defined network (name, aliases, short id, hostname)',
    response: (b) => {
      const { name, id, host, endpoints } = inspectNetworks(b);
      for (const [net, ep] of endpoints) ep.DNSNames = userDefined(net) ? dedup([name, ...list(ep.Aliases), shortId(id), host].filter((s) => s !== '')) : null;
      return b;
    },
  },
  {
    id: 'info-cdi-spec-dirs',
    version: '1.44',
    endpoints: [INFO],
    change: '`CDISpecDirs` (empty without experimental CDI); `Runtimes.*.status` (omitted when empty)',
    response: (b) => {
      if (isObj(b)) b.CDISpecDirs = [];
      return b;
    },
  },
  {
    id: 'images-until-filter',
    version: '1.44',
    endpoints: [IMAGES],
    change: '`until` filter',
    notApplicable: 'unversioned in Docker (every version of a daemon that has it); the images service decides',
  },
  {
    id: 'network-create-duplicate',
    version: '1.44',
    endpoints: ['POST /networks/create'],
    change: 'a duplicate name always fails (`CheckDuplicate` deprecated, and no longer sent by clients); 400 on an invalid IPAM config',
    // Docker applies it at every version of a daemon that speaks 1.44; here it is versioned so
    // that 1.41 stays Docker 20.10's (a duplicate only refused with CheckDuplicate)
    request: (req, newer) => {
      if (newer && isObj(req.body)) req.body.CheckDuplicate = true;
    },
  },
  // ---------------------------------------------------------------- v1.45
  {
    id: 'image-container-config',
    version: '1.45',
    endpoints: [IMAGE],
    change: '`Container` and `ContainerConfig` omitted from image inspect',
    response: (b) => omit(b, 'Container', 'ContainerConfig'),
  },
  {
    id: 'inspect-aliases',
    version: '1.45',
    endpoints: [INSPECT],
    change: '`Aliases` are exactly those given (no short id, no hostname added); use `DNSNames`',
    response: (b) => {
      const { name, id, host, endpoints } = inspectNetworks(b);
      for (const [net, ep] of endpoints) {
        if (!userDefined(net) || !Array.isArray(ep.Aliases)) continue;
        // what Docker 20.10 (and the networks service, as it) adds: the short id, and a hostname other than the name
        const added = new Set([shortId(id), ...(host && host !== name ? [host] : [])]);
        const given = (ep.Aliases as string[]).filter((a) => !added.has(a));
        ep.Aliases = given.length ? given : null;
      }
      return b;
    },
  },
  {
    id: 'create-volume-subpath',
    version: '1.45',
    endpoints: [CREATE],
    change: '`Mounts[].VolumeOptions.Subpath` mounts a subdirectory of a volume. Not implemented: refused by name; older versions answer Docker\'s 400',
    request: (req, newer) => {
      if (!list(path(req.raw, 'HostConfig', 'Mounts')).some((m) => nonEmpty(path(m, 'VolumeOptions', 'Subpath')))) return;
      if (!newer) throw invalidArgument('VolumeOptions.Subpath needs API v1.45 or newer');
      throw refused('HostConfig.Mounts[].VolumeOptions.Subpath', '1.45');
    },
  },
  {
    id: 'images-search-automated',
    version: '1.45',
    endpoints: ['GET /images/search'],
    change: '`is-automated` always false',
    notApplicable: 'GET /images/search is not served (no Docker Hub here)',
  },
  // ---------------------------------------------------------------- v1.46
  {
    id: 'create-tmpfs-options',
    version: '1.46',
    endpoints: [CREATE],
    change: '`Mounts[].TmpfsOptions.Options` (extra tmpfs options); older versions ignore it. Not implemented: refused by name',
    request: (req, newer) => {
      if (newer && list(path(req.raw, 'HostConfig', 'Mounts')).some((m) => nonEmpty(path(m, 'TmpfsOptions', 'Options')))) throw refused('HostConfig.Mounts[].TmpfsOptions.Options', '1.46');
    },
  },
  {
    id: 'events-image-create',
    version: '1.46',
    endpoints: [EVENTS],
    change: 'image `create` events (an image built, tagged or not); older versions do not see them',
    filter: (ev, newer) => newer || !(ev?.Type === 'image' && ev?.Action === 'create'),
  },
  {
    id: 'push-platform',
    version: '1.46',
    endpoints: ['POST /images/{name}/push'],
    change: '`platform` selects one manifest of a multi-platform image. Refused by name when set (single-platform store)',
    request: (req, newer) => {
      if (newer && req.query.get('platform')) throw refused('platform', '1.46');
    },
  },
  {
    id: 'info-containerd',
    version: '1.46',
    endpoints: [INFO],
    change: '`Containerd` (socket and namespaces)',
    notApplicable: 'there is no containerd: the field is omitted, as Docker omits it when unset',
  },
  {
    id: 'sysctl-endpoint-driver-opts',
    version: '1.46',
    endpoints: [CREATE, 'POST /networks/{id}/connect'],
    change: '`com.docker.network.endpoint.sysctls` in endpoint `DriverOpts`; top-level `eth0` sysctls migrated (until 1.47)',
    notApplicable: 'endpoint DriverOpts are recorded, not applied: per-interface sysctls go through HostConfig.Sysctls at every version',
  },
  // ---------------------------------------------------------------- v1.47
  {
    id: 'info-nondistributable',
    version: '1.47',
    endpoints: [INFO],
    change: '`RegistryConfig.AllowNondistributableArtifacts*` omitted',
    response: (b) => {
      omit(b?.RegistryConfig, 'AllowNondistributableArtifactsCIDRs', 'AllowNondistributableArtifactsHostnames');
      return b;
    },
  },
  {
    id: 'images-manifests',
    version: '1.47',
    endpoints: [IMAGES, IMAGE],
    change: '`manifests` query adds `Manifests` (the index\'s sub-manifests; image inspect from 1.48)',
    notApplicable: 'needs a multi-platform image store: Docker with its graph-driver store omits the field too',
  },
  // ---------------------------------------------------------------- v1.48
  {
    id: 'descriptors',
    version: '1.48',
    endpoints: [IMAGES, IMAGE, LIST, INSPECT],
    change: '`Descriptor` (images) and `ImageManifestDescriptor` (containers)',
    notApplicable: 'populated only by a multi-platform image store; omitted, as Docker with its graph-driver store omits them',
  },
  {
    id: 'create-gw-priority',
    version: '1.48',
    endpoints: [CREATE, 'POST /networks/{id}/connect'],
    change: '`EndpointsConfig.*.GwPriority` chooses the default gateway; older versions reset it to 0. Not implemented: refused by name when set',
    request: (req, newer) => {
      const eps = values(path(req.raw, 'NetworkingConfig', 'EndpointsConfig'));
      const one = field(req.raw, 'EndpointConfig');
      if (newer && [...eps, ...(one ? [one] : [])].some((ep) => nonEmpty(field(ep, 'GwPriority')))) throw refused('EndpointsConfig.GwPriority', '1.48');
    },
  },
  {
    id: 'list-gw-priority',
    version: '1.48',
    endpoints: [LIST],
    change: '`GwPriority` of each endpoint in the list',
    notApplicable: 'omitted when 0 (omitempty), and GwPriority is refused at create and connect, so it is always 0',
  },
  {
    id: 'create-mount-image',
    version: '1.48',
    endpoints: [CREATE],
    change: 'mounts of type `image`. Not implemented: refused; older versions answer Docker\'s 400',
    request: (req, newer) => {
      if (!list(req.body?.HostConfig?.Mounts).some((m) => m?.Type === 'image')) return;
      if (!newer) throw invalidArgument('Mount type "Image" needs API v1.48 or newer');
      throw refused('HostConfig.Mounts[].Type=image', '1.48');
    },
  },
  {
    id: 'create-volume-driver-warning',
    version: '1.48',
    endpoints: [CREATE],
    change: 'a warning when `HostConfig.VolumeDriver` is set with volumes given in `Mounts` (it does not apply to them)',
    request: (req, newer) => {
      const hc = req.body?.HostConfig;
      if (!newer || !hc?.VolumeDriver) return;
      if (list(hc.Mounts).some((m) => m?.Type === 'volume' && !m?.VolumeOptions?.DriverConfig?.Name)) {
        req.warnings.push("WARNING: the container-wide volume-driver configuration is ignored for volumes specified via 'mount'. Use '--mount type=volume,volume-driver=...' instead");
      }
    },
  },
  {
    id: 'network-enable-ipv4',
    version: '1.48',
    endpoints: ['POST /networks/create', 'GET /networks/{id}', 'GET /networks'],
    change: '`EnableIPv4` on create (false only with experimental features; older versions ignore it) and in the answers',
    request: (req, newer) => {
      if (newer && field(req.raw, 'EnableIPv4') === false) throw refused('EnableIPv4=false', '1.48');
    },
    response: (b) => {
      for (const n of Array.isArray(b) ? b : [b]) if (isObj(n)) n.EnableIPv4 = true;
      return b;
    },
  },
  {
    id: 'image-platform-queries',
    version: '1.48',
    endpoints: ['GET /images/{name}/history', 'GET /images/{name}/get', 'GET /images/get', 'POST /images/load'],
    change: '`platform` selects one platform of a multi-platform image (several from 1.52 on load/save). Refused by name when set (single-platform store)',
    request: (req, newer) => {
      if (newer && req.query.getAll('platform').some((p) => p !== '')) throw refused('platform', '1.48');
    },
  },
  {
    id: 'build-prune-space',
    version: '1.48',
    endpoints: ['POST /build/prune'],
    change: '`reserved-space`, `max-used-space`, `min-free-space` (`keep-storage` renamed)',
    request: (req, newer) => {
      const names = newer ? ['reserved-space', 'max-used-space', 'min-free-space', 'keep-storage'] : ['keep-storage'];
      for (const n of names) if ((req.query.get(n) ?? '') !== '' && req.query.get(n) !== '0') throw refused(n, newer ? '1.48' : '1.39');
    },
  },
  {
    id: 'progress-error-fields',
    version: '1.48',
    endpoints: ['POST /images/create', 'POST /images/{name}/push', 'POST /build'],
    change: '`error` and `progress` of progress streams deprecated (still sent)',
    notApplicable: 'a deprecation only: the streams keep both forms at every version',
  },
  {
    id: 'debug-endpoints',
    version: '1.48',
    endpoints: ['GET /debug/vars'],
    change: 'debug endpoints under versioned paths',
    notApplicable: 'the debug endpoints are not served',
  },
  // ---------------------------------------------------------------- v1.49
  {
    id: 'image-inspect-platform',
    version: '1.49',
    endpoints: [IMAGE],
    change: '`platform` selects the variant inspected. Refused by name when set (single-platform store)',
    request: (req, newer) => {
      if (newer && req.query.get('platform')) throw refused('platform', '1.49');
    },
  },
  {
    id: 'info-expected-commits',
    version: '1.49',
    endpoints: [INFO],
    change: '`ContainerdCommit.Expected`, `RuncCommit.Expected`, `InitCommit.Expected` omitted; `FirewallBackend` added',
    response: (b) => {
      for (const k of ['ContainerdCommit', 'RuncCommit', 'InitCommit']) omit(b?.[k], 'Expected');
      return b;
    },
    // FirewallBackend is not added: its Info depends on the firewall's mode (docs/api-versions.md).
  },
  // ---------------------------------------------------------------- v1.50
  {
    id: 'image-config-container-fields',
    version: '1.50',
    endpoints: [IMAGE],
    change: 'image `Config` without the container-only fields (Hostname, Domainname, Attach*, Tty, OpenStdin, StdinOnce, Image, NetworkDisabled, MacAddress, StopTimeout)',
    response: (b) => {
      omit(b?.Config, 'Hostname', 'Domainname', 'AttachStdin', 'AttachStdout', 'AttachStderr', 'Tty', 'OpenStdin', 'StdinOnce', 'Image', 'NetworkDisabled', 'MacAddress', 'StopTimeout');
      return b;
    },
  },
  {
    id: 'info-bridge-nf',
    version: '1.50',
    endpoints: [INFO],
    change: '`BridgeNfIptables`, `BridgeNfIp6tables` omitted; `DiscoveredDevices` (omitted when empty)',
    response: (b) => omit(b, 'BridgeNfIptables', 'BridgeNfIp6tables'),
  },
  {
    id: 'image-delete-platforms',
    version: '1.50',
    endpoints: ['DELETE /images/{name}'],
    change: '`platforms` deletes the content of some platforms only. Refused by name when set',
    request: (req, newer) => {
      if (newer && req.query.getAll('platforms').some((p) => p !== '')) throw refused('platforms', '1.50');
    },
  },
  // ---------------------------------------------------------------- v1.51
  {
    id: 'images-containers-count',
    version: '1.51',
    endpoints: [IMAGES],
    change: '`Containers` is the number of containers using the image (-1 before)',
    response: (b, x) => {
      for (const i of list(b)) {
        const u = x.imageUsage?.get(i.Id);
        if (u) i.Containers = u.Containers;
      }
      return b;
    },
  },
  // ---------------------------------------------------------------- v1.52
  {
    id: 'events-legacy-fields',
    version: '1.52',
    endpoints: [EVENTS],
    change: '`status`, `id`, `from` no longer sent',
    response: (ev) => omit({ ...ev }, 'status', 'id', 'from'),
  },
  {
    id: 'events-content-type',
    version: '1.52',
    endpoints: [EVENTS],
    change: 'content negotiation: `application/x-ndjson` or `application/json-seq` by `Accept`',
    notApplicable: 'not implemented: the stream is newline-delimited JSON with Content-Type application/json at every version, what Docker 29.0 sends without an Accept header',
  },
  {
    id: 'inspect-network-settings-legacy',
    version: '1.52',
    endpoints: [INSPECT],
    change: '`NetworkSettings` without the deprecated top-level fields (Bridge, HairpinMode, LinkLocalIPv6*, Secondary*, EndpointID, Gateway, GlobalIPv6*, IPAddress, IPPrefixLen, IPv6Gateway, MacAddress)',
    response: (b) => {
      omit(
        b?.NetworkSettings,
        'Bridge', 'HairpinMode', 'LinkLocalIPv6Address', 'LinkLocalIPv6PrefixLen', 'SecondaryIPAddresses', 'SecondaryIPv6Addresses',
        'EndpointID', 'Gateway', 'GlobalIPv6Address', 'GlobalIPv6PrefixLen', 'IPAddress', 'IPPrefixLen', 'IPv6Gateway', 'MacAddress',
      );
      return b;
    },
  },
  {
    id: 'inspect-config-fields',
    version: '1.52',
    endpoints: [INSPECT],
    change: '`Config.MacAddress` removed, `Config.OnBuild` omitted when empty, `HostConfig.KernelMemoryTCP` removed',
    response: (b) => {
      omit(b?.Config, 'MacAddress');
      if (isObj(b?.Config) && !list(b.Config.OnBuild).length) delete b.Config.OnBuild;
      omit(b?.HostConfig, 'KernelMemoryTCP');
      return b;
    },
  },
  {
    id: 'container-mac-address-removed',
    version: '1.52',
    endpoints: [CREATE],
    change: 'the container-wide `Config.MacAddress` is a 400 (give it per endpoint)',
    request: (req, newer) => {
      if (newer && req.body?.MacAddress) throw invalidArgument('container-wide MAC address no longer supported; use endpoint-specific MAC address instead');
    },
  },
  {
    id: 'kernel-memory-tcp-ignored',
    version: '1.52',
    endpoints: [CREATE, UPDATE],
    change: '`KernelMemoryTCP` is ignored',
    request: ignoredFrom('KernelMemoryTCP'),
  },
  {
    id: 'info-kernel-memory-tcp',
    version: '1.52',
    endpoints: [INFO],
    change: '`KernelMemoryTCP` removed',
    response: (b) => omit(b, 'KernelMemoryTCP'),
  },
  {
    id: 'image-omit-empty',
    version: '1.52',
    endpoints: [IMAGE],
    change: '`Parent`, `Comment`, `DockerVersion`, `Author` omitted when empty; `Config` omits unset Cmd, Entrypoint, Env, Labels, OnBuild, User, Volumes, WorkingDir',
    response: (b) => {
      if (!isObj(b)) return b;
      for (const k of ['Parent', 'Comment', 'DockerVersion', 'Author']) if (b[k] === '' || b[k] === null) delete b[k];
      const c = b.Config;
      if (isObj(c)) for (const k of ['Cmd', 'Entrypoint', 'Env', 'Labels', 'OnBuild', 'User', 'Volumes', 'WorkingDir']) if (!nonEmpty(c[k])) delete c[k];
      return b;
    },
  },
  {
    id: 'list-health',
    version: '1.52',
    endpoints: [LIST],
    change: '`Health` (`Status`, `FailingStreak`) of containers with a health check',
    response: (b, x) => {
      for (const c of list(b)) {
        const h = x.health?.(c.Id);
        if (h) c.Health = { Status: h.Status, FailingStreak: h.FailingStreak };
      }
      return b;
    },
  },
  {
    id: 'df-usage',
    version: '1.52',
    endpoints: [DF],
    change: '`ImageUsage`, `ContainerUsage`, `VolumeUsage`, `BuildCacheUsage` summaries; with `verbose=1` they carry `Items` and the legacy lists are omitted',
    response: (b, x) => dfUsage(b, x.query ? queryBool(x.query, 'verbose') : false),
  },
  {
    id: 'port-bindings-backfill',
    version: '1.52',
    endpoints: [CREATE],
    change: 'empty `PortBindings` lists are no longer backfilled at start (a deprecation warning)',
    notApplicable: 'a deprecation of Docker\'s start-time backfill, which stevedore never did: an empty list publishes nothing at every version',
  },
  {
    id: 'network-status',
    version: '1.52',
    endpoints: ['GET /networks/{id}'],
    change: '`Status` (IPAM allocation statistics per subnet)',
    notApplicable: 'not implemented: omitted (the IPAM does not count its free addresses); clients must treat it as optional',
  },
  {
    id: 'stats-os-type',
    version: '1.52',
    endpoints: ['GET /containers/{id}/stats'],
    change: '`os_type` in the stats',
    response: (b) => {
      if (isObj(b)) b.os_type = 'linux';
      return b;
    },
  },
  {
    id: 'swarm-and-plugins',
    version: '1.42',
    endpoints: ['/services', '/tasks', '/nodes', '/secrets', '/configs', '/plugins', '/swarm'],
    change: 'every swarm and plugin change of 1.42-1.52 (SwapBytes, OomScoreAdj, Seccomp/AppArmor privileges, Networks, ...)',
    notApplicable: 'swarm and plugins are refused (501) at every version',
  },
];

const RAW_STREAM = 'application/vnd.docker.raw-stream';
const MULTIPLEXED_STREAM = 'application/vnd.docker.multiplexed-stream';

/** GET /system/df `type` values → the answer's fields they fill. */
const DF_TYPES: Record<string, string[]> = { container: ['Containers'], image: ['Images'], volume: ['Volumes'], 'build-cache': ['BuildCache'] };

/**
 * The name of a security option as Go's `DecodeSecurityOptions` reads it: a string without
 * `=` is a name (an old daemon's form), else the value of its `name=` pair ("" without one).
 */
function securityOptionName(opt: string): string {
  if (!opt.includes('=')) return opt;
  let name = '';
  for (const kv of opt.split(',')) {
    const at = kv.indexOf('=');
    if (at < 0) throw internal(`invalid security option ${JSON.stringify(kv)}`);
    if (at === 0 || at === kv.length - 1) throw internal('invalid empty security option');
    if (kv.slice(0, at) === 'name') name = kv.slice(at + 1);
  }
  return name;
}

function dedup(xs: string[]): string[] {
  return [...new Set(xs)];
}

/** API 1.52's per-type disk usage summaries (moby's system.DiskUsage), from the legacy lists. */
function dfUsage(b: Json, verbose: boolean): Json {
  if (!isObj(b)) return b;
  const sum = (xs: Json[], f: (x: Json) => number) => xs.reduce((a, x) => a + (Number(f(x)) || 0), 0);
  const summary = (items: Json[] | null, active: (x: Json) => boolean, size: (x: Json) => number, total?: number) => {
    if (items === null) return undefined;
    const s: Record<string, Json> = {};
    const act = items.filter(active);
    const totalSize = total ?? sum(items, size);
    const reclaimable = totalSize - sum(act, size);
    if (act.length) s.ActiveCount = act.length;
    if (verbose && items.length) s.Items = items;
    if (reclaimable > 0) s.Reclaimable = reclaimable;
    if (items.length) s.TotalCount = items.length;
    if (totalSize) s.TotalSize = totalSize;
    return s;
  };
  const images = Array.isArray(b.Images) ? b.Images : null;
  const containers = Array.isArray(b.Containers) ? b.Containers : null;
  const volumes = Array.isArray(b.Volumes) ? b.Volumes : null;
  const cache = Array.isArray(b.BuildCache) ? b.BuildCache : b.BuildCache === null && 'BuildCache' in b ? [] : null;
  const out: Record<string, Json> = verbose ? {} : { ...b };
  const iu = summary(images, (i) => (i.Containers ?? 0) > 0, (i) => i.Size, typeof b.LayersSize === 'number' ? b.LayersSize : undefined);
  const cu = summary(containers, (c) => c.State === 'running', (c) => c.SizeRw ?? 0);
  const vu = summary(volumes, (v) => (v.UsageData?.RefCount ?? 0) > 0, (v) => Math.max(0, v.UsageData?.Size ?? 0));
  const bu = summary(cache, (r) => r.InUse === true, (r) => r.Size ?? 0);
  if (iu) out.ImageUsage = iu;
  if (cu) out.ContainerUsage = cu;
  if (vu) out.VolumeUsage = vu;
  if (bu) out.BuildCacheUsage = bu;
  // the legacy lists are `omitzero`: a type not computed (the `type` query) is left out
  for (const k of ['Images', 'Containers', 'Volumes', 'BuildCache']) if (out[k] === null) delete out[k];
  return out;
}

// ---------------------------------------------------------------- applying the table

/** Endpoint → its rows, oldest first: built once, not per request (events and stats apply them per item). */
const BY_ENDPOINT = new Map<string, VersionRow[]>();
for (const r of [...ROWS].sort((a, b) => compareVersions(a.version, b.version))) {
  for (const e of r.endpoints) BY_ENDPOINT.set(e, [...(BY_ENDPOINT.get(e) ?? []), r]);
}
const NO_ROWS: readonly VersionRow[] = [];

/** The rows of one endpoint, oldest first. */
function rowsFor(endpoint: string): readonly VersionRow[] {
  return BY_ENDPOINT.get(endpoint) ?? NO_ROWS;
}

/**
 * A v1.41-shaped answer of `endpoint` in the shape of `version`: every `older` row of the
 * endpoint whose version is above `version`, newest first, then every response row whose
 * version is at most `version`, oldest first. Mutates and returns `body`.
 */
export function shapeFor<T>(version: ApiVersion, endpoint: string, body: T, extras: ShapeExtras = {}): T {
  let out: Json = body;
  const rows = rowsFor(endpoint);
  for (let i = rows.length - 1; i >= 0; i--) {
    const r = rows[i]!;
    if (r.older && !versionAtLeast(version, r.version)) out = r.older(out, extras);
  }
  for (const r of rows) if (r.response && versionAtLeast(version, r.version)) out = r.response(out, extras);
  return out as T;
}

/**
 * Applies every request row of `endpoint` at `version`: throws for what the version
 * refuses, adjusts `input.body`/`input.query` to the version's defaults, collects warnings.
 */
export function applyRequest(version: ApiVersion, endpoint: string, input: Partial<RequestInput> = {}): RequestInput {
  const req: RequestInput = { query: input.query ?? new URLSearchParams(), warnings: input.warnings ?? [], body: input.body, raw: input.raw ?? input.body };
  for (const r of rowsFor(endpoint)) if (r.request) r.request(req, versionAtLeast(version, r.version));
  return req;
}

/** The request's query as the version sees it (a copy, adjusted by the endpoint's request rows). */
export function queryFor(ctx: RequestContext, endpoint: string): URLSearchParams {
  return applyRequest(ctx.version, endpoint, { query: new URLSearchParams(ctx.query) }).query;
}

/**
 * Reads a JSON body as `ctx.json(limit, schema)` does, and applies the endpoint's request
 * rows to it, with the body as sent (for fields the decoder drops). Returns the decoded
 * body and the warnings the version adds.
 */
export async function versionedBody(ctx: RequestContext, endpoint: string, limit: number, schema: GoType): Promise<{ body: unknown; raw?: unknown; warnings: string[] }> {
  const sent = await ctx.jsonBody(limit);
  const raw = sent?.parsed;
  const r = applyRequest(ctx.version, endpoint, { body: sent && goDecode(sent.text, schema), raw, query: ctx.query });
  return { body: r.body, raw, warnings: r.warnings };
}

/** The Content-Type of an attach, exec or logs stream at `version` (undefined: none, as 1.41's logs). */
export function streamContentType(version: ApiVersion, tty: boolean, dflt?: string): string | undefined {
  return shapeFor(version, 'POST /containers/{id}/attach', { tty, contentType: dflt }).contentType;
}

/** Whether an event is shown at `version`, and its JSON fields there (1.46's image create, 1.52's legacy fields). */
export function eventFor<E extends { Type: string; Action: string }>(version: ApiVersion, ev: E): E | undefined {
  for (const r of rowsFor(EVENTS)) if (r.filter && !r.filter(ev, versionAtLeast(version, r.version))) return undefined;
  return shapeFor(version, EVENTS, ev);
}

/**
 * API 1.42's `HostConfig.ConsoleSize` on a started container with a tty: the recorded
 * size is applied to the tty right after the start (Docker sizes it as the task is made;
 * a process that exits at once may have gone: then there is nothing to size).
 */
export async function startConsoleSize(
  containers: { get(ref: string): { config: { Tty?: boolean }; hostConfig: { ConsoleSize?: number[] | null } }; resize(ref: string, h: number, w: number): Promise<void> },
  ref: string,
  version: ApiVersion,
): Promise<void> {
  const c = containers.get(ref);
  if (c.config.Tty !== true) return;
  const cs = applyRequest(version, 'POST /containers/{id}/start', { body: { HostConfig: { ConsoleSize: c.hostConfig.ConsoleSize } } }).body.HostConfig.ConsoleSize;
  if (!Array.isArray(cs) || cs.length !== 2 || !(cs[0]! > 0 && cs[1]! > 0)) return;
  await containers.resize(ref, cs[0]!, cs[1]!).catch(() => {});
}

/**
 * API 1.42's `ConsoleSize` on exec create (the body as sent: the 1.41 decoder drops it),
 * checked before the exec is made: the size the exec records for its start, if any.
 */
export function execCreateConsoleSize(version: ApiVersion, raw: unknown): { height: number; width: number } | undefined {
  if (!versionAtLeast(version, '1.42')) return undefined;
  const cs = field(raw, 'ConsoleSize');
  if (cs === undefined || cs === null) return undefined;
  if (!Array.isArray(cs) || cs.length !== 2 || !cs.every((n) => Number.isInteger(n) && n >= 0 && n <= 65535)) throw invalidArgument('ConsoleSize must be [height, width]');
  if (!(cs[0] > 0 && cs[1] > 0) || field(raw, 'Tty') !== true) return undefined; // no console without a tty
  return { height: cs[0], width: cs[1] };
}

/**
 * The exec start's own console size as the version sees it (moby's postContainerExecStart):
 * none below 1.42, none when the start asks for no tty. Without one, the start uses the
 * size the exec's create recorded (daemon/exec: the exec record's `consoleSize`).
 */
export function execStartConsoleSize<T extends { tty?: boolean; consoleSize?: { height: number; width: number } }>(version: ApiVersion, opts: T): T {
  const out = { ...opts };
  if (!versionAtLeast(version, '1.42') || out.tty !== true) delete out.consoleSize;
  return out;
}

/**
 * What `GET /images/json` needs beyond the list at `version`: each image's container count
 * (1.51) and shared size (1.42's `shared-size`), from the images' disk usage. Undefined when
 * the version asks for neither, or the backend cannot tell.
 */
export async function imageUsageFor(
  ctx: RequestContext,
  images: { usage(opts: { sharedSize: boolean }): Promise<Map<string, { Containers: number; SharedSize: number }>> },
): Promise<Map<string, { Containers: number; SharedSize: number }> | undefined> {
  const sharedSize = versionAtLeast(ctx.version, '1.42') && ctx.bool('shared-size');
  if (!sharedSize && !versionAtLeast(ctx.version, '1.51')) return undefined;
  return images.usage({ sharedSize });
}

/** `POST /volumes/prune` at the request's version: its filters (below API 1.42 with `all=true` added). */
export function volumePruneFilters(ctx: RequestContext): Map<string, string[]> {
  return parseFilters(queryFor(ctx, 'POST /volumes/prune').get('filters'));
}
