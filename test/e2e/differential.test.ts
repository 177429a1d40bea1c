/**
 * The differential suite: stevedore and Docker 20.10 side by side, the same state made on
 * both, the same requests sent to both, and the JSON answers compared by shape (key sets,
 * types, formats; see test/helpers/differ.ts), plus the values of the fields named in each
 * check. Every difference must be listed, with its reason, in differential.known.json;
 * the suite fails on a new one and on a listed one that no longer occurs.
 * STEVEDORE_DIFF_REPORT=<file> writes every difference found there (to update the list).
 * See docs/differential.md.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type CompareOptions, type Difference, compareShapes, reconcile } from '../helpers/differ';
import { type Prepared, haveDockerd, pairUnavailable, startPair, stopPair } from '../helpers/pair';

const KNOWN_FILE = path.resolve(__dirname, '..', '..', '..', 'test', 'e2e', 'differential.known.json');

type Side = 'stevedore' | 'docker';

interface Check extends CompareOptions {
  name: string;
  method?: string;
  /** the request path, given the side's prepared state */
  path: (p: Prepared) => string;
  /** a JSON body (given the side's prepared state when a function) */
  body?: unknown;
  /** a raw body (a tar), sent as application/x-tar */
  raw?: () => Buffer;
  /**
   * how the answer is read: JSON (default), newline-delimited JSON events, text, a JSON
   * message stream (build), a tar (its entries), or nothing but the decoded
   * X-Docker-Container-Path-Stat header (archive HEAD)
   */
  as?: 'json' | 'events' | 'text' | 'stream' | 'tar' | 'stat';
  /** response headers compared too (as `.headers.<name>`, by value) */
  headers?: string[];
  /** asked again (up to 20 times, 250 ms apart) while this says the answer is not settled yet */
  settled?: (body: any) => boolean;
  /** applied to both answers before the comparison: order lists, keep a column */
  shape?: (body: any) => unknown;
  /**
   * When Docker's answer never settles here: the part of ours (`pick`) compared with
   * Docker's documented answer instead (`expected`, from `source`), as check `<name> (reference)`.
   */
  reference?: { pick: (body: any) => unknown; expected: unknown; source: string; values: string[] };
}

/** types.NetworkStats of one interface (api/types/stats.go, the 1.41 reference's example): counters only on Linux. */
const NET_STATS = { rx_bytes: 0, rx_packets: 0, rx_errors: 0, rx_dropped: 0, tx_bytes: 0, tx_packets: 0, tx_errors: 0, tx_dropped: 0 };
/** a bridged container's `networks` in stats: its one interface, eth0 */
const NETWORK_STATS_REFERENCE = { pick: (b: any) => ({ networks: b?.networks, networkNames: Object.keys(b?.networks ?? {}) }), expected: { networks: { eth0: NET_STATS }, networkNames: ['eth0'] }, values: ['.networkNames'], source: "moby v20.10 api/types/stats.go NetworkStats; the v1.41 reference's example" };

const q = (f: Record<string, string[]>) => encodeURIComponent(JSON.stringify(f));

/** Lists whose order between engines is by creation time within a second: ordered by a name. */
const byName = (key: (x: any) => string) => (body: any) => (Array.isArray(body) ? [...body].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0)) : body);
const containersByName = byName((c) => String(c?.Names?.[0] ?? ''));
const imagesByTag = byName((i) => String(i?.RepoTags?.join(',') ?? ''));
/** images: how many layers (their digests differ between engines: the imported tars' times) */
const layerCount = (b: any) => ({ ...b, LayerCount: b?.RootFS?.Layers?.length });
/** top: the processes' rows without the PID column (pids differ by nature), as `Rows` */
const topRows = (col: number) => (body: any) => (body && Array.isArray(body.Processes) ? { ...body, Rows: body.Processes.map((r: string[]) => r[col]) } : body);

/**
 * Fields that are data keyed maps in the answers below. Network names and port keys are
 * the same on both sides (`bridge`, `diff-net`, `80/tcp`), so those maps are compared as
 * objects: their keys too.
 */
const CONTAINER_MAPS = ['.Config.Labels', '.Config.Volumes', '.HostConfig.LogConfig.Config'];
const SUMMARY_MAPS = ['[].Labels'];
// GraphDriver.Data's keys are fields (LowerDir, MergedDir, UpperDir, WorkDir): compared as such
const IMAGE_MAPS = ['.Config.Labels', '.ContainerConfig.Labels'];
const NETWORK_MAPS = ['.Containers', '.Labels', '.IPAM.Options'];
const networksByName = byName((n) => String(n?.Name ?? ''));
const volumesByName = (b: any) => (b && Array.isArray(b.Volumes) ? { ...b, Volumes: byName((v) => String(v?.Name ?? ''))(b.Volumes) } : b);
/** a list of names (prune answers), sorted */
const sortedLists = (b: any) => (b && typeof b === 'object' ? Object.fromEntries(Object.entries(b).map(([k, v]) => [k, Array.isArray(v) ? [...v].sort() : v])) : b);

/**
 * Inspect of a container: each network's `MacAddress` checked against its `IPAddress`
 * (Docker 20.10's bridge driver derives the MAC from the IPv4 address: 02:42 and its four
 * bytes), as `_macFromIP`.
 */
const macFacts = (b: any) => {
  const nets = b?.NetworkSettings?.Networks;
  if (!nets || typeof nets !== 'object') return b;
  const out: Record<string, unknown> = {};
  for (const [k, n] of Object.entries(nets as Record<string, any>)) {
    const ip = String(n?.IPAddress ?? '');
    const want = ip ? `02:42:${ip.split('.').map((x) => Number(x).toString(16).padStart(2, '0')).join(':')}` : '';
    out[k] = { ...n, _macFromIP: n?.MacAddress === want };
  }
  return { ...b, NetworkSettings: { ...b.NetworkSettings, Networks: out } };
};

/** A tar of the given files (a build context), made once. */
function tarOf(files: Record<string, string>): () => Buffer {
  let made: Buffer | undefined;
  return () => {
    if (made) return made;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stv-diffctx-'));
    try {
      for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
      execFileSync('tar', ['--numeric-owner', '--owner=0', '--group=0', '--mtime=2020-01-01', '-C', dir, '-cf', path.join(dir, '.ctx.tar'), ...Object.keys(files)]);
      made = fs.readFileSync(path.join(dir, '.ctx.tar'));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    return made;
  };
}

/** The entries of a tar (name, type flag, size), read from its headers. */
function tarEntries(text: string): Array<{ name: string; type: string; size: number }> {
  const buf = Buffer.from(text, 'latin1');
  const out: Array<{ name: string; type: string; size: number }> = [];
  let paxPath: string | undefined;
  for (let off = 0; off + 512 <= buf.length; ) {
    const h = buf.subarray(off, off + 512);
    if (h.every((x) => x === 0)) break;
    const str = (a: number, b: number) => h.subarray(a, b).toString('latin1').replace(/\0.*$/s, '');
    const size = parseInt(str(124, 136).trim() || '0', 8);
    const type = str(156, 157) || '0';
    const prefix = str(345, 500);
    const data = buf.subarray(off + 512, off + 512 + size);
    if (type === 'x') {
      const m = /\d+ path=([^\n]*)\n/.exec(data.toString('latin1'));
      paxPath = m?.[1];
    } else if (type !== 'g') {
      out.push({ name: paxPath ?? (prefix ? `${prefix}/${str(0, 100)}` : str(0, 100)), type, size });
      paxPath = undefined;
    }
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

/**
 * A build's JSON message stream, as a client reads it: the text of its `stream`
 * messages (ids as `<id>`), the kinds of message in order of first appearance, the `aux`
 * messages, and the error (message and detail) when there is one.
 */
function buildStream(msgs: any): unknown {
  if (!Array.isArray(msgs)) return msgs;
  const ids = (s: string) => s.replace(/sha256:[0-9a-f]{64}/g, '<digest>').replace(/\b[0-9a-f]{12}\b/g, '<id>');
  const kinds: string[] = [];
  for (const m of msgs) for (const k of Object.keys(m ?? {}).sort()) if (!kinds.includes(k)) kinds.push(k);
  const err = msgs.find((m) => m && 'error' in m);
  return {
    text: ids(msgs.map((m) => (typeof m?.stream === 'string' ? m.stream : '')).join('')),
    kinds,
    aux: msgs.filter((m) => m && 'aux' in m).map((m) => m.aux),
    ...(err ? { error: ids(String(err.error)), errorDetail: err.errorDetail === undefined ? undefined : JSON.parse(ids(JSON.stringify(err.errorDetail))) } : {}),
  };
}

const DOCKERFILE_OK = tarOf({ Dockerfile: 'FROM busybox\nLABEL diff=built\nRUN echo built > /built\nCMD ["cat", "/built"]\n' });
const DOCKERFILE_FAILS = tarOf({ Dockerfile: 'FROM busybox\nRUN echo before && exit 7\n' });
const DOCKERFILE_BAD = tarOf({ Dockerfile: 'FROM busybox\nNOSUCH thing\n' });
const PUT_TAR = tarOf({ 'put.txt': 'put\n' });

/**
 * The checks that run again at older API versions Docker 20.10 serves (1.24, 1.30; all
 * checks run at 1.41):
 * version-dependent shapes (a field added, renamed or dropped at a version) show here.
 */
function versioned(v: string): Check[] {
  const at = (p: string) => `/v${v}${p}`;
  return [
    { name: `GET /v${v}/version`, path: () => at('/version'), values: ['.ApiVersion', '.MinAPIVersion', '.Os', '.Arch'] },
    { name: `GET /v${v}/info`, path: () => at('/info'), maps: ['.Runtimes', '.RegistryConfig.IndexConfigs', '.Plugins'], values: ['.Containers', '.Images', '.Driver', '.OSType', '.OperatingSystem', '.IndexServerAddress', '.Warnings'] },
    { name: `GET /v${v}/containers/json?all=1`, path: () => at('/containers/json?all=1'), maps: SUMMARY_MAPS, values: ['[].Names', '[].Command', '[].Image', '[].State', '[].Labels', '[].Ports[].IP', '[].Ports[].PrivatePort', '[].Ports[].Type', '[].HostConfig', '[].NetworkSettings.Networks.diff-net.NetworkID', '[].NetworkSettings.Networks.bridge.NetworkID'], shape: containersByName },
    { name: `GET /v${v}/containers/{user network}/json`, path: () => at('/containers/diff-netc/json'), maps: CONTAINER_MAPS, skip: ['.ExecIDs'], values: ['.Name', '.State.Status', '.State.Health.Status', '.Config.Healthcheck', '.Config.ExposedPorts', '.HostConfig.PortBindings', '.NetworkSettings.Networks.diff-net.NetworkID', '.NetworkSettings.Networks.diff-net.Aliases', '.NetworkSettings.Networks.diff-net._macFromIP'], shape: macFacts },
    { name: `GET /v${v}/containers/{exited}/json`, path: () => at('/containers/diff-exited/json'), maps: CONTAINER_MAPS, values: ['.State.Status', '.State.ExitCode', '.Config', '.HostConfig'] },
    { name: `GET /v${v}/images/json`, path: () => at('/images/json'), maps: ['[].Labels'], values: ['[].RepoTags'], shape: imagesByTag },
    { name: `GET /v${v}/images/{busybox}/json`, path: () => at('/images/busybox/json'), maps: IMAGE_MAPS, values: ['.RepoTags', '.Config', '.ContainerConfig', '.Os', '.Architecture'] },
    { name: `GET /v${v}/images/{commit-changed}/json`, path: () => at('/images/diff/commit:changed/json'), maps: IMAGE_MAPS, values: ['.Config', '.ContainerConfig', '.Container', '.LayerCount'], shape: layerCount },
    { name: `GET /v${v}/networks`, path: () => at('/networks'), maps: ['[].Containers', '[].Labels', '[].IPAM.Options'], values: ['[].Name', '[].Driver', '[].Scope', '[].Internal', '[].Attachable', '[].Ingress', '[].EnableIPv6', '[].Labels', '[].Containers{}.Name'], shape: networksByName },
    { name: `GET /v${v}/networks/{user}`, path: () => at('/networks/diff-net'), maps: NETWORK_MAPS, values: ['.Name', '.Id', '.Driver', '.Labels', '.Containers{}.Name'] },
  ];
}

const EVENT_VALUES = ['.*.status', '.*.id', '.*.from', '.*.Type', '.*.Action', '.*.Actor.ID', '.*.Actor.Attributes', '.*.scope', '.*._timePrecision'];

/**
 * The requests, in groups (one test each). `values` name what must be equal, not only
 * alike in shape: the fields a client acts on (states, commands, titles, messages).
 * GET /containers/{id}/changes is left out: it answers 501 on purpose until container
 * diffs are built (docs/differential.md lists the deliberate 501s).
 */
const GROUPS: Array<{ title: string; checks: Check[] }> = [
  // first: Docker keeps its last 256 events only, and the health check of diff-netc adds
  // three a second (exec_create, exec_start, exec_die), so the window ages out within a minute
  {
    title: 'events',
    checks: [
      // events keyed by Type:Action (each kind once): which actions each engine emits, and their shapes
      // compared by value: the fields old clients read (`status`, `id`, `from`), the actor's
      // attributes (names, image, labels, `exitCode`), and the clock's precision (`_timePrecision`:
      // whether `timeNano` has nanoseconds, read from the raw text: JSON numbers lose them)
      { name: 'GET /events since/until', path: (p) => `/events?since=${p.since}&until=${p.until}`, as: 'events', maps: [], values: EVENT_VALUES },
      { name: 'GET /events container filter', path: (p) => `/events?since=${p.since}&until=${p.until}&filters=${q({ container: ['diff-exited'] })}`, as: 'events', values: EVENT_VALUES },
      { name: 'GET /events container filter, old name', path: (p) => `/events?since=${p.since}&until=${p.until}&filters=${q({ container: ['diff-old'] })}`, as: 'events', values: EVENT_VALUES },
      { name: 'GET /events container filter, new name', path: (p) => `/events?since=${p.since}&until=${p.until}&filters=${q({ container: ['diff-renamed'] })}`, as: 'events', values: EVENT_VALUES },
      { name: 'GET /events container filter, name prefix', path: (p) => `/events?since=${p.since}&until=${p.until}&filters=${q({ container: ['diff-exi'] })}`, as: 'events', values: EVENT_VALUES },
      { name: 'GET /events network filter', path: (p) => `/events?since=${p.since}&until=${p.until}&filters=${q({ type: ['network'] })}`, as: 'events', values: EVENT_VALUES },
      { name: 'GET /events volume filter', path: (p) => `/events?since=${p.since}&until=${p.until}&filters=${q({ type: ['volume'] })}`, as: 'events', values: EVENT_VALUES },
      { name: 'GET /events label filter (map form)', path: (p) => `/events?since=${p.since}&until=${p.until}&filters=${encodeURIComponent(JSON.stringify({ label: { 'role=exited': true } }))}`, as: 'events', values: EVENT_VALUES },
    ],
  },
  {
    title: 'system',
    checks: [
      { name: 'GET /_ping', path: () => '/_ping', as: 'text', values: [''] },
      { name: 'GET /version', path: () => '/version', values: ['.ApiVersion', '.Os'] },
      { name: 'GET /info', path: () => '/info', maps: ['.Runtimes', '.RegistryConfig.IndexConfigs', '.Plugins'], values: ['.IndexServerAddress', '.ServerVersion', '.Containers', '.ContainersRunning', '.ContainersStopped', '.ContainersPaused', '.Images', '.Driver', '.OSType', '.CgroupDriver', '.CgroupVersion', '.LoggingDriver', '.Warnings', '.MemoryLimit', '.SwapLimit', '.IPv4Forwarding', '.BridgeNfIptables', '.BridgeNfIp6tables', '.KernelMemoryTCP', '.OomKillDisable', '.NCPU', '.MemTotal', '.KernelVersion', '.OperatingSystem', '.Architecture'] },
      { name: 'GET /system/df', path: () => '/system/df', maps: [...SUMMARY_MAPS.map((m) => `.Containers${m}`), '.Images[].Labels'], values: ['.Containers[].Names', '.Images[].RepoTags', '.Volumes[].Name', '.Volumes[].Labels', '.Volumes[].UsageData.RefCount'], shape: (b) => (b && typeof b === 'object' ? { ...b, Containers: containersByName(b.Containers), Images: imagesByTag(b.Images), Volumes: byName((v) => String(v?.Name ?? ''))(b.Volumes) } : b) },
    ],
  },
  {
    title: 'container list',
    checks: [
      { name: 'GET /containers/json', path: () => '/containers/json', maps: SUMMARY_MAPS, values: ['[].Names', '[].Command', '[].Image', '[].ImageID', '[].State', '[].Labels'], shape: containersByName },
      { name: 'GET /containers/json?all=1', path: () => '/containers/json?all=1', maps: SUMMARY_MAPS, values: ['[].Names', '[].Command', '[].Image', '[].ImageID', '[].State'], shape: containersByName },
      { name: 'GET /containers/json?all=1&size=1', path: () => '/containers/json?all=1&size=1', maps: SUMMARY_MAPS, values: ['[].Names'], shape: containersByName },
      { name: 'GET /containers/json status=exited', path: () => `/containers/json?filters=${q({ status: ['exited'] })}`, maps: SUMMARY_MAPS, values: ['[].Names'], shape: containersByName },
      { name: 'GET /containers/json ancestor=busybox', path: () => `/containers/json?all=1&filters=${q({ ancestor: ['busybox'] })}`, maps: SUMMARY_MAPS, values: ['[].Names'], shape: containersByName },
      { name: 'GET /containers/json ancestor=busybox:latest', path: () => `/containers/json?all=1&filters=${q({ ancestor: ['busybox:latest'] })}`, maps: SUMMARY_MAPS, values: ['[].Names'], shape: containersByName },
      { name: 'GET /containers/json ancestor=diff/busybox:v1', path: () => `/containers/json?all=1&filters=${q({ ancestor: ['diff/busybox:v1'] })}`, maps: SUMMARY_MAPS, values: ['[].Names'], shape: containersByName },
      { name: 'GET /containers/json ancestor=nosuch', path: () => `/containers/json?all=1&filters=${q({ ancestor: ['nosuch'] })}`, values: [''], shape: containersByName },
      { name: 'GET /containers/json label=role=exited', path: () => `/containers/json?all=1&filters=${q({ label: ['role=exited'] })}`, maps: SUMMARY_MAPS, values: ['[].Names'], shape: containersByName },
      { name: 'GET /containers/json name=diff-r', path: () => `/containers/json?all=1&filters=${q({ name: ['diff-r'] })}`, maps: SUMMARY_MAPS, values: ['[].Names'], shape: containersByName },
      { name: 'GET /containers/json exited=3', path: () => `/containers/json?all=1&filters=${q({ exited: ['3'] })}`, maps: SUMMARY_MAPS, values: ['[].Names'] },
      { name: 'GET /containers/json limit=2', path: () => '/containers/json?limit=2', maps: SUMMARY_MAPS, values: [''], shape: (b) => (Array.isArray(b) ? b.length : b) },
    ],
  },
  {
    title: 'container inspect and top',
    checks: [
      { name: 'GET /containers/{running}/json', path: () => '/containers/diff-run/json', maps: CONTAINER_MAPS, values: ['.Path', '.Args', '.State.Status', '.State.Running', '.Name', '.Config.Cmd', '.Config.Labels', '.HostConfig', '.ExecIDs'] },
      { name: 'GET /containers/{running}/json?size=1', path: () => '/containers/diff-run/json?size=1', maps: CONTAINER_MAPS },
      { name: 'GET /containers/{exited}/json', path: () => '/containers/diff-exited/json', maps: CONTAINER_MAPS, values: ['.State.Status', '.State.ExitCode', '.State.Running', '.State.Error', '.State.OOMKilled', '.HostConfig', '.Config', '.Mounts', '.Path', '.Args', '.RestartCount', '.ExecIDs'] },
      { name: 'GET /containers/{created}/json', path: () => '/containers/diff-created/json', maps: CONTAINER_MAPS, values: ['.State', '.HostConfig', '.Config', '.Path', '.Args', '.Mounts', '.Platform', '.Driver', '.RestartCount', '.ExecIDs'] },
      { name: 'GET /containers/{memory limit}/json', path: () => '/containers/diff-memory/json', maps: CONTAINER_MAPS, values: ['.HostConfig'] },
      // Docker's collector answers an empty sample (zero `read`) before its first one, and always
      // where containerd cannot load the container's cgroups (a v1 controller listed in
      // /proc/self/cgroup but not mounted: "cannot find cgroup mount destination"): asked
      // again, then not compared when it stays empty
      { name: 'GET /containers/{id}/stats?stream=false', path: () => '/containers/diff-run/stats?stream=false', maps: ['.blkio_stats', '.memory_stats.stats'], skip: ['.cpu_stats.cpu_usage.percpu_usage', '.precpu_stats.cpu_usage.percpu_usage'], values: ['.name', '.id', '.networkNames'], shape: (b) => (b && typeof b === 'object' ? { ...b, networkNames: Object.keys(b.networks ?? {}) } : b), settled: (b) => b?.read !== '0001-01-01T00:00:00Z', reference: NETWORK_STATS_REFERENCE },
      // on a user network, with an alias, a published port (an ephemeral host port), a health check and a named volume
      {
        name: 'GET /containers/{user network}/json',
        path: () => '/containers/diff-netc/json',
        maps: CONTAINER_MAPS,
        // the health check's exec, listed while a probe runs (every second): there or not by chance
        skip: ['.ExecIDs'],
        shape: macFacts,
        values: [
          '.Name', '.Path', '.Args', '.Config.Labels', '.Config.Healthcheck', '.Config.ExposedPorts', '.Config.Volumes', '.HostConfig.NetworkMode', '.HostConfig.PortBindings', '.HostConfig.Binds',
          '.State.Status', '.State.Running', '.State.Paused', '.State.Restarting', '.State.OOMKilled', '.State.Dead', '.State.ExitCode', '.State.Error', '.State.Health.Status', '.State.Health.FailingStreak', '.State.Health.Log[].ExitCode', '.State.Health.Log[].Output',
          '.NetworkSettings.Networks.diff-net.NetworkID', '.NetworkSettings.Networks.diff-net.IPAMConfig', '.NetworkSettings.Networks.diff-net.Aliases', '.NetworkSettings.Networks.diff-net.Links', '.NetworkSettings.Networks.diff-net.DriverOpts', '.NetworkSettings.Networks.diff-net._macFromIP', '.NetworkSettings.Ports.80/tcp[].HostIp',
          '.Mounts[].Type', '.Mounts[].Name', '.Mounts[].Destination', '.Mounts[].Driver', '.Mounts[].Mode', '.Mounts[].RW', '.Mounts[].Propagation',
        ],
      },
      // a container on the default bridge: its MAC, IPAMConfig, NetworkID (the bridge network's)
      { name: 'GET /containers/{running}/json networks', path: () => '/containers/diff-run/json', shape: (b) => macFacts(b)?.NetworkSettings, values: ['.Networks.bridge.NetworkID', '.Networks.bridge.IPAMConfig', '.Networks.bridge.Aliases', '.Networks.bridge.Links', '.Networks.bridge._macFromIP', '.Ports', '.SecondaryIPAddresses', '.Bridge', '.HairpinMode'] },
      { name: 'GET /containers/{user network}/stats?stream=false', path: () => '/containers/diff-netc/stats?stream=false', maps: ['.blkio_stats', '.memory_stats.stats'], skip: ['.cpu_stats.cpu_usage.percpu_usage', '.precpu_stats.cpu_usage.percpu_usage'], values: ['.name', '.id', '.networkNames'], shape: (b) => (b && typeof b === 'object' ? { ...b, networkNames: Object.keys(b.networks ?? {}) } : b), settled: (b) => b?.read !== '0001-01-01T00:00:00Z', reference: NETWORK_STATS_REFERENCE },
      { name: 'GET /containers/{id}/top', path: () => '/containers/diff-run/top', values: ['.Titles', '.Rows'], shape: topRows(7) },
      { name: 'GET /containers/{id}/top ps_args=-o pid,comm', path: () => `/containers/diff-run/top?ps_args=${encodeURIComponent('-o pid,comm')}`, values: ['.Titles', '.Rows'], shape: topRows(1) },
      { name: 'GET /containers/{id}/top ps_args=x', path: () => '/containers/diff-run/top?ps_args=x', values: ['.Titles', '.Rows'], shape: topRows(4) },
      { name: 'GET /containers/{id}/top ps_args=aux', path: () => '/containers/diff-run/top?ps_args=aux', values: ['.Titles', '.Rows'], shape: topRows(10) },
    ],
  },
  // the other groups run at 1.41 (BASE_VERSION); these at the older versions Docker 20.10 serves too
  ...['1.24', '1.30'].map((v) => ({ title: `API ${v}`, checks: versioned(v) })),
  {
    title: 'networks',
    checks: [
      { name: 'GET /networks', path: () => '/networks', maps: ['[].Containers', '[].Labels', '[].IPAM.Options'], values: ['[].Name', '[].Id', '[].Driver', '[].Scope', '[].EnableIPv6', '[].Internal', '[].Attachable', '[].Ingress', '[].ConfigFrom', '[].ConfigOnly', '[].Labels', '[].Containers{}.Name'], shape: networksByName },
      ...(
        [
          ['driver=bridge', { driver: ['bridge'] }],
          ['driver=host', { driver: ['host'] }],
          ['name=diff-net', { name: ['diff-net'] }],
          ['name=diff (a prefix)', { name: ['diff'] }],
          ['label=role=net', { label: ['role=net'] }],
          ['label=role', { label: ['role'] }],
          ['scope=local', { scope: ['local'] }],
          ['scope=swarm', { scope: ['swarm'] }],
          ['type=custom', { type: ['custom'] }],
          ['type=builtin', { type: ['builtin'] }],
          ['dangling=true', { dangling: ['true'] }],
          ['dangling=false', { dangling: ['false'] }],
          ['dangling=maybe', { dangling: ['maybe'] }],
          ['bad key', { nosuch: ['x'] }],
        ] as Array<[string, Record<string, string[]>]>
      ).map(([n, f]): Check => ({ name: `GET /networks ${n}`, path: () => `/networks?filters=${q(f)}`, values: ['', '.message', '[].Name'], shape: (b) => (Array.isArray(b) ? networksByName(b).map((x: any) => ({ Name: x.Name })) : b) })),
      { name: 'GET /networks id=<prefix>', path: (p) => `/networks?filters=${q({ id: [p.ids.net!.slice(0, 12)] })}`, values: ['[].Name'], shape: (b) => (Array.isArray(b) ? b.map((x: any) => x.Name) : b) },
      { name: 'GET /networks label map form', path: () => `/networks?filters=${encodeURIComponent(JSON.stringify({ label: { 'role=net': true } }))}`, values: [''], shape: (b) => (Array.isArray(b) ? b.map((x: any) => x.Name) : b) },
      { name: 'GET /networks/bridge', path: () => '/networks/bridge', maps: ['.Containers', '.Labels', '.IPAM.Options'], values: ['.Name', '.Id', '.Driver', '.Scope', '.EnableIPv6', '.Internal', '.Attachable', '.Ingress', '.ConfigFrom', '.ConfigOnly', '.Labels', '.IPAM.Driver', '.Containers{}.Name'], skip: ['.Options.com.docker.network.bridge.name'] },
      { name: 'GET /networks/host', path: () => '/networks/host', values: [''], skip: ['.Id', '.Created'] },
      { name: 'GET /networks/none', path: () => '/networks/none', values: [''], skip: ['.Id', '.Created'] },
      { name: 'GET /networks/{user}', path: () => '/networks/diff-net', maps: NETWORK_MAPS, values: ['.Name', '.Id', '.Driver', '.Scope', '.EnableIPv6', '.Internal', '.Attachable', '.Ingress', '.ConfigFrom', '.ConfigOnly', '.Labels', '.Options', '.IPAM.Driver', '.IPAM.Options', '.Containers{}.Name'] },
      { name: 'GET /networks/{user} by short id', path: (p) => `/networks/${p.ids.net!.slice(0, 12)}`, values: ['.Name'], shape: (b) => ({ Name: b?.Name }) },
      { name: 'GET /networks/{user}?verbose=true', path: () => '/networks/diff-net?verbose=true', maps: NETWORK_MAPS, values: ['.Name'] },
      { name: 'GET /networks/nosuch', path: () => '/networks/nosuch', values: ['', '.message'] },
      { name: 'POST /networks/create', method: 'POST', path: () => '/networks/create', body: (p: Prepared) => ({ Name: 'diff-made', CheckDuplicate: true, Labels: { made: 'yes' }, IPAM: { Config: [{ Subnet: p.subnets.made }] } }), values: ['.Warning'] },
      { name: 'POST /networks/create duplicate name', method: 'POST', path: () => '/networks/create', body: { Name: 'diff-net', CheckDuplicate: true }, values: ['', '.message'] },
      { name: 'POST /networks/create invalid subnet', method: 'POST', path: () => '/networks/create', body: { Name: 'diff-bad', CheckDuplicate: true, IPAM: { Config: [{ Subnet: '300.1.1.0/24' }] } }, values: ['', '.message'] },
      { name: 'POST /networks/create gateway outside subnet', method: 'POST', path: () => '/networks/create', body: (p: Prepared) => ({ Name: 'diff-bad', CheckDuplicate: true, IPAM: { Config: [{ Subnet: p.subnets.bad, Gateway: '192.0.2.1' }] } }), values: ['', '.message'] },
      { name: 'POST /networks/create unknown driver', method: 'POST', path: () => '/networks/create', body: { Name: 'diff-bad', CheckDuplicate: true, Driver: 'nosuch' }, values: ['', '.message'] },
      // Docker looks an empty name up as the default network: a duplicate with CheckDuplicate, else libnetwork's invalid name
      { name: 'POST /networks/create no name', method: 'POST', path: () => '/networks/create', body: { CheckDuplicate: true }, values: ['', '.message'] },
      { name: 'POST /networks/create no name, no CheckDuplicate', method: 'POST', path: () => '/networks/create', body: {}, values: ['', '.message'] },
      { name: 'POST /networks/{user}/connect unknown container', method: 'POST', path: () => '/networks/diff-net/connect', body: { Container: 'nosuch' }, values: ['', '.message'] },
      { name: 'POST /networks/nosuch/connect', method: 'POST', path: () => '/networks/nosuch/connect', body: { Container: 'diff-run' }, values: ['', '.message'] },
      { name: 'POST /networks/{user}/connect already connected', method: 'POST', path: () => '/networks/diff-net/connect', body: { Container: 'diff-netc' }, values: ['', '.message'] },
      { name: 'POST /networks/host/connect', method: 'POST', path: () => '/networks/host/connect', body: { Container: 'diff-run' }, values: ['', '.message'] },
      { name: 'POST /networks/{user}/disconnect not connected', method: 'POST', path: () => '/networks/diff-net/disconnect', body: { Container: 'diff-run' }, values: ['', '.message'] },
      { name: 'POST /networks/{user}/disconnect unknown container', method: 'POST', path: () => '/networks/diff-net/disconnect', body: { Container: 'nosuch' }, values: ['', '.message'] },
      { name: 'DELETE /networks/{in use}', method: 'DELETE', path: () => '/networks/diff-net', values: ['', '.message'] },
      { name: 'DELETE /networks/bridge', method: 'DELETE', path: () => '/networks/bridge', values: ['', '.message'] },
      { name: 'DELETE /networks/nosuch', method: 'DELETE', path: () => '/networks/nosuch', values: ['', '.message'] },
      // the unused one made at preparation and the one created above
      { name: 'POST /networks/prune', method: 'POST', path: () => '/networks/prune', values: [''], shape: sortedLists },
      { name: 'GET /networks after prune', path: () => '/networks', values: [''], shape: (b) => (Array.isArray(b) ? networksByName(b).map((x: any) => x.Name) : b) },
    ],
  },
  {
    title: 'volumes',
    checks: [
      { name: 'GET /volumes', path: () => '/volumes', maps: ['.Volumes[].Labels', '.Volumes[].Options'], values: ['.Volumes[].Name', '.Volumes[].Driver', '.Volumes[].Scope', '.Volumes[].Labels', '.Volumes[].Options', '.Warnings'], shape: volumesByName },
      ...(
        [
          ['dangling=true', { dangling: ['true'] }],
          ['dangling=false', { dangling: ['false'] }],
          ['name=diff-vol', { name: ['diff-vol'] }],
          ['label=role=vol', { label: ['role=vol'] }],
          ['label=role', { label: ['role'] }],
          ['driver=local', { driver: ['local'] }],
          ['bad key', { nosuch: ['x'] }],
          ['dangling=maybe', { dangling: ['maybe'] }],
        ] as Array<[string, Record<string, string[]>]>
      ).map(([n, f]): Check => ({ name: `GET /volumes ${n}`, path: () => `/volumes?filters=${q(f)}`, values: ['', '.message', '.Volumes[].Name', '.Warnings'], skip: ['.Volumes[].CreatedAt', '.Volumes[].Mountpoint'], shape: volumesByName })),
      { name: 'GET /volumes/{name}', path: () => '/volumes/diff-vol', maps: ['.Labels', '.Options'], values: ['.Name', '.Driver', '.Scope', '.Labels', '.Options', '.Status', '.UsageData'] },
      { name: 'GET /volumes/nosuch', path: () => '/volumes/nosuch', values: ['', '.message'] },
      { name: 'POST /volumes/create', method: 'POST', path: () => '/volumes/create', body: { Name: 'diff-vol-made', Labels: { made: 'yes' } }, maps: ['.Labels', '.Options'], values: ['', '.Name', '.Driver', '.Scope', '.Labels', '.Options'], skip: ['.CreatedAt', '.Mountpoint'] },
      { name: 'POST /volumes/create again', method: 'POST', path: () => '/volumes/create', body: { Name: 'diff-vol-made' }, values: ['', '.Name', '.Labels'], skip: ['.CreatedAt', '.Mountpoint'] },
      { name: 'POST /volumes/create invalid name', method: 'POST', path: () => '/volumes/create', body: { Name: 'a/b' }, values: ['', '.message'] },
      { name: 'POST /volumes/create unknown driver', method: 'POST', path: () => '/volumes/create', body: { Name: 'diff-vol-bad', Driver: 'nosuch' }, values: ['', '.message'] },
      { name: 'DELETE /volumes/{in use}', method: 'DELETE', path: () => '/volumes/diff-vol', values: ['', '.message'] },
      { name: 'DELETE /volumes/nosuch', method: 'DELETE', path: () => '/volumes/nosuch', values: ['', '.message'] },
      // Docker 20.10 prunes every unused local volume (named ones too: the `all` filter came with 1.42)
      { name: 'POST /volumes/prune', method: 'POST', path: () => '/volumes/prune', values: ['', '.VolumesDeleted'], shape: sortedLists },
      { name: 'GET /volumes after prune', path: () => '/volumes', values: [''], shape: (b) => (b && Array.isArray(b.Volumes) ? b.Volumes.map((v: any) => v.Name).sort() : b) },
    ],
  },
  {
    title: 'archive',
    checks: [
      { name: 'HEAD /containers/{id}/archive file', method: 'HEAD', path: () => '/containers/diff-exited/archive?path=/made', as: 'stat', values: ['.name', '.size', '.mode', '.linkTarget'] },
      { name: 'HEAD /containers/{id}/archive dir', method: 'HEAD', path: () => '/containers/diff-exited/archive?path=/etc/', as: 'stat', values: ['.name', '.mode', '.linkTarget'] },
      { name: 'HEAD /containers/{id}/archive symlink', method: 'HEAD', path: () => '/containers/diff-exited/archive?path=/bin/sh', as: 'stat', values: ['.name', '.mode', '.linkTarget'] },
      { name: 'HEAD /containers/{id}/archive missing', method: 'HEAD', path: () => '/containers/diff-exited/archive?path=/nope', as: 'stat', values: [''] },
      { name: 'GET /containers/{id}/archive file', path: () => '/containers/diff-exited/archive?path=/made', as: 'tar', values: [''], headers: ['Content-Type'] },
      { name: 'GET /containers/{id}/archive file stat', path: () => '/containers/diff-exited/archive?path=/made', as: 'stat', values: ['.name', '.size', '.mode', '.linkTarget'] },
      { name: 'GET /containers/{id}/archive missing', path: () => '/containers/diff-exited/archive?path=/nope', values: ['', '.message'] },
      { name: 'GET /containers/{id}/archive no path', path: () => '/containers/diff-exited/archive', values: ['', '.message'] },
      { name: 'GET /containers/nosuch/archive', path: () => '/containers/nosuch/archive?path=/', values: ['', '.message'] },
      { name: 'PUT /containers/{id}/archive', method: 'PUT', path: () => '/containers/diff-created/archive?path=/tmp', raw: PUT_TAR, values: ['', '.message'] },
      { name: 'PUT /containers/{id}/archive missing dir', method: 'PUT', path: () => '/containers/diff-created/archive?path=/nope', raw: PUT_TAR, values: ['', '.message'] },
      { name: 'PUT /containers/{id}/archive onto a file', method: 'PUT', path: () => '/containers/diff-exited/archive?path=/made', raw: PUT_TAR, values: ['', '.message'] },
      { name: 'PUT /containers/{id}/archive no path', method: 'PUT', path: () => '/containers/diff-created/archive', raw: PUT_TAR, values: ['', '.message'] },
      { name: 'PUT /containers/nosuch/archive', method: 'PUT', path: () => '/containers/nosuch/archive?path=/', raw: PUT_TAR, values: ['', '.message'] },
      { name: 'HEAD /containers/{id}/archive after PUT', method: 'HEAD', path: () => '/containers/diff-created/archive?path=/tmp/put.txt', as: 'stat', values: ['.name', '.size', '.mode'] },
    ],
  },
  {
    title: 'build',
    checks: [
      // the legacy builder's stream (Docker 20.10's answer to /build without version=2)
      { name: 'POST /build', method: 'POST', path: () => '/v1.41/build?t=diff/built:1&rm=1', raw: DOCKERFILE_OK, as: 'stream', values: ['.text', '.kinds', '.error', '.errorDetail'], shape: buildStream },
      { name: 'GET /images/{built}/json', path: () => '/images/diff/built:1/json', maps: IMAGE_MAPS, values: ['.RepoTags', '.Config.Cmd', '.Config.Entrypoint', '.Config.Env', '.Config.Labels', '.Config.WorkingDir', '.Config.User', '.ContainerConfig.Cmd', '.LayerCount', '.Comment', '.Author'], shape: layerCount },
      { name: 'POST /build failing RUN', method: 'POST', path: () => '/v1.41/build?rm=1', raw: DOCKERFILE_FAILS, as: 'stream', values: ['.text', '.kinds', '.error', '.errorDetail'], shape: buildStream },
      { name: 'POST /build unknown instruction', method: 'POST', path: () => '/v1.41/build', raw: DOCKERFILE_BAD, as: 'stream', values: ['.text', '.kinds', '.error', '.errorDetail', '[].message'], shape: buildStream },
      { name: 'POST /build q=1', method: 'POST', path: () => '/v1.41/build?q=1&t=diff/built:q', raw: DOCKERFILE_OK, as: 'stream', values: ['.kinds', '.error'], shape: buildStream },
    ],
  },
  {
    title: 'create and logs',
    checks: [
      // strslice: Cmd and Entrypoint may be a string
      { name: 'POST /containers/create Cmd as a string', method: 'POST', path: () => '/containers/create?name=diff-strslice', body: { Image: 'busybox', Cmd: 'echo hi', Entrypoint: '/bin/sh -c' }, values: [''], shape: () => 'created' },
      // --link on the default bridge (old compose files): how the link is recorded
      { name: 'POST /containers/create with a link', method: 'POST', path: () => '/containers/create?name=diff-linked', body: { Image: 'busybox', Cmd: ['true'], HostConfig: { Links: ['diff-run:db'] } }, values: [''], shape: () => 'created' },
      { name: 'GET /containers/{linked}/json', path: () => '/containers/diff-linked/json', maps: CONTAINER_MAPS, values: ['.HostConfig.Links', '.HostConfig.NetworkMode', '.NetworkSettings.Networks.bridge.Links', '.NetworkSettings.Networks.bridge.Aliases'] },
      { name: 'POST /containers/create with a link to an unknown container', method: 'POST', path: () => '/containers/create', body: { Image: 'busybox', HostConfig: { Links: ['nosuch:db'] } }, values: ['', '.message'] },
      { name: 'GET /containers/{exited}/logs', path: () => '/v1.41/containers/diff-exited/logs?stdout=1&stderr=1', as: 'text', values: [''], headers: ['Content-Type'] },
      { name: 'GET /containers/{exited}/logs details', path: () => '/v1.41/containers/diff-exited/logs?stdout=1&stderr=1&details=1', as: 'text', values: [''] },
    ],
  },
  {
    title: 'images',
    checks: [
      { name: 'GET /images/json', path: () => '/images/json', maps: ['[].Labels'], values: ['[].RepoTags'], shape: imagesByTag },
      { name: 'GET /images/json?all=1', path: () => '/images/json?all=1', maps: ['[].Labels'], values: ['[].RepoTags'], shape: imagesByTag },
      { name: 'GET /images/{busybox}/json', path: () => '/images/busybox/json', maps: IMAGE_MAPS, values: ['.RepoTags', '.RepoDigests', '.Config', '.ContainerConfig', '.Architecture', '.Os', '.RootFS.Type', '.Comment', '.Author', '.Parent'] },
      { name: 'GET /images/{busybox}/history', path: () => '/images/busybox/history', values: ['[].Tags'] },
      { name: 'GET /images/{short id}/json', path: (p) => `/images/${p.ids.busybox!.slice(7, 19)}/json`, maps: IMAGE_MAPS, values: ['.RepoTags'] },
      { name: 'GET /images/json reference=diff/*', path: () => `/images/json?filters=${q({ reference: ['diff/*'] })}`, maps: ['[].Labels'], values: ['[].RepoTags'], shape: imagesByTag },
      { name: 'GET /images/json reference map form', path: () => `/images/json?filters=${encodeURIComponent(JSON.stringify({ reference: { 'diff/*': true } }))}`, values: ['[].RepoTags'], maps: ['[].Labels'], shape: imagesByTag },
      { name: 'GET /images/json dangling=true', path: () => `/images/json?filters=${q({ dangling: ['true'] })}`, values: [''] },
      { name: 'GET /images/json?digests=1', path: () => '/images/json?digests=1', maps: ['[].Labels'], values: ['[].RepoTags', '[].RepoDigests'], shape: imagesByTag },
      // a commit without changes adds no layer (an `empty_layer` history entry); one with changes adds one
      { name: 'GET /images/{commit-empty}/json', path: () => '/images/diff/commit:empty/json', maps: IMAGE_MAPS, values: ['.RepoTags', '.Config', '.ContainerConfig', '.Parent', '.Container', '.LayerCount', '.Comment', '.Author'], shape: layerCount },
      { name: 'GET /images/{commit-empty}/history', path: () => '/images/diff/commit:empty/history', values: ['[].Tags', '[].CreatedBy', '[].Size'] },
      { name: 'GET /images/{commit-changed}/json', path: () => '/images/diff/commit:changed/json', maps: IMAGE_MAPS, values: ['.Config', '.ContainerConfig', '.LayerCount'], shape: layerCount },
      { name: 'GET /images/{commit-changed}/history', path: () => '/images/diff/commit:changed/history', values: ['[].Tags', '[].CreatedBy'] },
    ],
  },
  {
    title: 'exec',
    checks: [
      { name: 'GET /exec/{ran}/json', path: (p) => `/exec/${p.ids.exec!}/json`, values: ['.ID', '.Running', '.ExitCode', '.ProcessConfig', '.ContainerID', '.OpenStdin', '.OpenStdout', '.OpenStderr', '.CanRemove', '.DetachKeys'] },
      { name: 'GET /exec/{never started}/json', path: (p) => `/exec/${p.ids.execIdle!}/json`, values: ['.ID', '.Running', '.ExitCode', '.ProcessConfig', '.ContainerID', '.OpenStdin', '.OpenStdout', '.OpenStderr', '.Pid'] },
    ],
  },
  {
    title: 'errors',
    checks: [
      { name: 'GET /containers/nosuch/json', path: () => '/containers/nosuch/json', values: ['', '.message'] },
      { name: 'POST /containers/nosuch/kill', method: 'POST', path: () => '/containers/nosuch/kill', values: ['', '.message'] },
      { name: 'POST /containers/{running}/start', method: 'POST', path: () => '/containers/diff-run/start', values: [''] },
      { name: 'POST /containers/{exited}/kill', method: 'POST', path: () => '/containers/diff-exited/kill', values: ['', '.message'] },
      { name: 'DELETE /containers/{running}', method: 'DELETE', path: () => '/containers/diff-run', values: ['', '.message'] },
      { name: 'GET /containers/{created}/top', path: () => '/containers/diff-created/top', values: ['', '.message'] },
      { name: 'DELETE /images/{in use}', method: 'DELETE', path: () => '/images/busybox:latest', values: ['', '.message'] },
      { name: 'GET /images/nosuch/json', path: () => '/images/nosuch/json', values: ['', '.message'] },
      { name: 'GET /exec/nosuch/json', path: () => '/exec/nosuch/json', values: ['', '.message'] },
      { name: 'GET /containers/{exited}/top', path: () => '/containers/diff-exited/top', values: ['', '.message'] },
      { name: 'GET /containers/{id}/top ps_args=-o comm', path: () => `/containers/diff-run/top?ps_args=${encodeURIComponent('-o comm')}`, values: ['', '.message'] },
      { name: 'GET /containers/json bad filter key', path: () => `/containers/json?filters=${q({ nosuch: ['x'] })}`, values: ['', '.message'], shape: containersByName },
      { name: 'GET /containers/json bad status', path: () => `/containers/json?filters=${q({ status: ['nosuch'] })}`, values: ['', '.message'], shape: containersByName },
      { name: 'DELETE /images/nosuch', method: 'DELETE', path: () => '/images/nosuch', values: ['', '.message'] },
      { name: 'POST /containers/create unknown image', method: 'POST', path: () => '/containers/create', body: { Image: 'nosuch:tag' }, values: ['', '.message'] },
      // (busybox:latest is untagged by the rmi above: diff/busybox:v1 is the same image.)
      // Docker 20.10 creates a container on an unknown network: it fails at start
      { name: 'POST /containers/create unknown network', method: 'POST', path: () => '/containers/create?name=diff-badnet', body: { Image: 'diff/busybox:v1', HostConfig: { NetworkMode: 'nosuch' } }, values: ['', '.message'], shape: (b) => (b && typeof b === 'object' ? { Warnings: b.Warnings } : b) },
      { name: 'POST /containers/{unknown network}/start', method: 'POST', path: () => '/containers/diff-badnet/start', values: ['', '.message'] },
      { name: 'POST /containers/create unknown volume driver', method: 'POST', path: () => '/containers/create', body: { Image: 'diff/busybox:v1', HostConfig: { Binds: ['diff-vol-x:/x'], VolumeDriver: 'nosuch' } }, values: ['', '.message'] },
      { name: 'GET /images/nosuch:tag/json', path: () => '/images/nosuch:tag/json', values: ['', '.message'] },
      { name: 'GET /images/sha256:<unknown>/json', path: () => `/images/sha256:${'0'.repeat(64)}/json`, values: ['', '.message'] },
      { name: 'GET /containers/json label map form', path: () => `/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify({ label: { 'role=exited': true } }))}`, values: ['', '[].Names'], shape: (b) => (Array.isArray(b) ? containersByName(b).map((c: any) => ({ Names: c.Names })) : b) },
    ],
  },
];

/** Each side's ids (full, short, sha256:) replaced by their role, for value comparisons. */
function normalizer(ours: Prepared, theirs: Prepared): (s: string, side: Side) => string {
  const table = (p: Prepared) => {
    const pairs: Array<[string, string]> = [];
    for (const [role, id] of Object.entries(p.ids)) {
      const hex = id.replace(/^sha256:/, '');
      pairs.push([`sha256:${hex}`, `<${role}>`], [hex, `<${role}>`], [hex.slice(0, 12), `<${role}>`]);
    }
    return pairs;
  };
  const t = { stevedore: table(ours), docker: table(theirs) };
  return (s, side) => {
    let out = s;
    for (const [from, to] of t[side]) out = out.split(from).join(to);
    return out;
  };
}

/** The version of the checks whose path names none: Docker 20.10's newest. */
const BASE_VERSION = '1.41';

/** The answer as one JSON value: `{status, body}` so that status codes are compared too. */
async function ask(c: Check, p: Prepared): Promise<{ status: number; body: unknown; headers?: Record<string, string> }> {
  const json = typeof c.body === 'function' ? (c.body as (p: Prepared) => unknown)(p) : c.body;
  const body: string | Buffer | undefined = c.raw ? c.raw() : json === undefined ? undefined : JSON.stringify(json);
  const headers: Record<string, string> = body === undefined ? {} : { 'Content-Type': c.raw ? 'application/x-tar' : 'application/json' };
  // Docker 20.10 answers an unversioned request at 1.41, its newest: ours at 1.41 too (stevedore's newest is later)
  const url = /^\/v\d/.test(c.path(p)) ? c.path(p) : `/v${BASE_VERSION}${c.path(p)}`;
  let r = await p.t.request(c.method ?? 'GET', url, { ...(body === undefined ? {} : { body }), headers });
  for (let i = 0; c.settled && !c.settled(parse(c, r.body)) && i < 20; i++) {
    await new Promise((res) => setTimeout(res, 250));
    r = await p.t.request(c.method ?? 'GET', url, { ...(body === undefined ? {} : { body }), headers });
  }
  const parsed = c.as === 'stat' ? statHeader(r.headers['x-docker-container-path-stat']) : parse(c, r.body);
  const out: { status: number; body: unknown; headers?: Record<string, string> } = { status: r.status, body: c.shape && r.status < 300 ? c.shape(parsed) : parsed };
  if (c.headers) out.headers = Object.fromEntries(c.headers.map((h) => [h, String(r.headers[h.toLowerCase()] ?? '')]));
  return out;
}

/** The archive endpoints' X-Docker-Container-Path-Stat header, decoded (base64 JSON), or what was there instead. */
function statHeader(h: string | string[] | undefined): unknown {
  if (typeof h !== 'string') return { noHeader: h ?? null };
  try {
    return JSON.parse(Buffer.from(h, 'base64').toString('utf8')) as unknown;
  } catch {
    return { notJson: h };
  }
}

function parse(c: Check, text: string): unknown {
  if (c.as === 'text') return text;
  if (c.as === 'tar') return tarEntries(text);
  if (c.as === 'stream') {
    try {
      return text.split(/\r?\n/).filter(Boolean).map((l) => JSON.parse(l) as unknown);
    } catch {
      return { notJson: text };
    }
  }
  if (c.as === 'events') {
    const byKind: Record<string, unknown> = {};
    for (const line of text.split('\n').filter(Boolean)) {
      const e = JSON.parse(line) as { Type?: string; Action?: string };
      const key = `${e.Type ?? ''}:${(e.Action ?? '').split(':')[0]}`;
      const nano = /"timeNano":(\d+)/.exec(line)?.[1] ?? '';
      byKind[key] ??= { ...e, _timePrecision: /000000$/.test(nano) ? 'milliseconds or coarser' : 'nanoseconds' };
    }
    return byKind;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return { notJson: text };
  }
}

function readKnown(): Record<string, Record<string, string>> {
  return JSON.parse(fs.readFileSync(KNOWN_FILE, 'utf8')) as Record<string, Record<string, string>>;
}

const unavailable = pairUnavailable();

describe('differential: stevedore against Docker 20.10', { skip: unavailable ?? false }, () => {
  let ours: Prepared;
  let theirs: Prepared;
  let norm: (s: string, side: Side) => string;
  const report: Difference[] = [];
  /** STEVEDORE_DIFF_DUMP=<file>: both answers of every check, to read what was compared */
  const dump: Record<string, unknown> = {};

  before(async () => {
    assert.ok(haveDockerd(), 'dockerd is not installed: scripts/install-reference-docker.sh (run by scripts/test.sh) installs it');
    ({ ours, theirs } = await startPair());
    norm = normalizer(ours, theirs);
  });
  after(async () => {
    if (process.env.STEVEDORE_DIFF_REPORT) {
      fs.writeFileSync(process.env.STEVEDORE_DIFF_REPORT, JSON.stringify(Object.fromEntries(report.map((d) => [d.key, d.detail])), null, 2) + '\n');
    }
    if (process.env.STEVEDORE_DIFF_DUMP) fs.writeFileSync(process.env.STEVEDORE_DIFF_DUMP, JSON.stringify(dump, null, 1) + '\n');
    if (ours && theirs) await stopPair(ours.t, theirs.t);
  });

  for (const g of GROUPS) {
    it(`answers ${g.title} requests as Docker does`, async (tc) => {
      const known = readKnown();
      const problems: string[] = [];
      for (const c of g.checks) {
        const [a, b] = [await ask(c, ours), await ask(c, theirs)];
        if (process.env.STEVEDORE_DIFF_DUMP) dump[c.name] = { stevedore: a, docker: b };
        let found: Difference[] = [];
        if (c.settled && b.status < 300 && !c.settled(b.body)) {
          // the reference engine could not answer here (see the check's comment): compared with its documented answer, if any
          tc.diagnostic(`${c.name}: Docker's answer never settled on this host; ${c.reference ? `compared with ${c.reference.source}` : 'not compared'}`);
          if (c.reference) found = compareShapes(`${c.name} (reference)`, { status: a.status, body: a.status < 300 ? c.reference.pick(a.body) : a.body }, { status: 200, body: c.reference.expected }, { values: ['.status', ...c.reference.values.map((v) => `.body${v}`)] });
        } else found = compareShapes(c.name, a, b, {
          ...c,
          maps: (c.maps ?? []).map((m) => `.body${m}`),
          values: ['.status', ...(c.values ?? []).map((v) => `.body${v}`), ...(c.headers ?? []).map((h) => `.headers.${h}`)],
          skip: (c.skip ?? []).map((s) => `.body${s}`),
          normalize: norm,
        });
        report.push(...found);
        const listed = Object.fromEntries(Object.entries(known[c.name] ?? {}).map(([k, v]) => [`${c.name} ${k}`, v]));
        const { unexpected, stale } = reconcile(found, listed);
        for (const d of unexpected) problems.push(`new difference: ${d.key} — ${d.detail}`);
        for (const k of stale) problems.push(`listed difference no longer occurs (remove it from differential.known.json): ${k}`);
      }
      assert.deepEqual(problems, [], problems.join('\n'));
    });
  }

  it('lists known differences only for checks that exist', () => {
    const names = new Set(GROUPS.flatMap((g) => g.checks.map((c) => c.name)));
    assert.deepEqual(Object.keys(readKnown()).filter((n) => !names.has(n)), []);
  });
});
