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
import * as fs from 'node:fs';
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
  body?: unknown;
  /** how the answer is read: JSON (default), newline-delimited JSON events, or text */
  as?: 'json' | 'events' | 'text';
  /** response headers compared too (as `.headers.<name>`, by value) */
  headers?: string[];
  /** asked again (up to 20 times, 250 ms apart) while this says the answer is not settled yet */
  settled?: (body: any) => boolean;
  /** applied to both answers before the comparison: order lists, keep a column */
  shape?: (body: any) => unknown;
}

const q = (f: Record<string, string[]>) => encodeURIComponent(JSON.stringify(f));

/** Lists whose order between engines is by creation time within a second: ordered by a name. */
const byName = (key: (x: any) => string) => (body: any) => (Array.isArray(body) ? [...body].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0)) : body);
const containersByName = byName((c) => String(c?.Names?.[0] ?? ''));
const imagesByTag = byName((i) => String(i?.RepoTags?.join(',') ?? ''));
/** images: how many layers (their digests differ between engines: the imported tars' times) */
const layerCount = (b: any) => ({ ...b, LayerCount: b?.RootFS?.Layers?.length });
/** top: the processes' rows without the PID column (pids differ by nature), as `Rows` */
const topRows = (col: number) => (body: any) => (body && Array.isArray(body.Processes) ? { ...body, Rows: body.Processes.map((r: string[]) => r[col]) } : body);

/** Fields that are data keyed maps in the answers below. */
const CONTAINER_MAPS = ['.Config.Labels', '.Config.Volumes', '.Config.ExposedPorts', '.NetworkSettings.Ports', '.NetworkSettings.Networks', '.HostConfig.PortBindings', '.HostConfig.LogConfig.Config'];
const SUMMARY_MAPS = ['[].Labels', '[].NetworkSettings.Networks'];
const IMAGE_MAPS = ['.Config.Labels', '.ContainerConfig.Labels', '.GraphDriver.Data'];

/**
 * The requests, in groups (one test each). `values` name what must be equal, not only
 * alike in shape: the fields a client acts on (states, commands, titles, messages).
 * GET /containers/{id}/changes is left out: it answers 501 on purpose until container
 * diffs are built (docs/differential.md lists the deliberate 501s).
 */
const GROUPS: Array<{ title: string; checks: Check[] }> = [
  {
    title: 'system',
    checks: [
      { name: 'GET /_ping', path: () => '/_ping', as: 'text', values: [''] },
      { name: 'GET /version', path: () => '/version', values: ['.ApiVersion', '.Os'] },
      { name: 'GET /info', path: () => '/info', maps: ['.Runtimes', '.RegistryConfig.IndexConfigs', '.Plugins'], values: ['.Containers', '.ContainersRunning', '.ContainersStopped', '.ContainersPaused', '.Images', '.Driver', '.OSType', '.CgroupDriver', '.CgroupVersion', '.LoggingDriver', '.Warnings', '.MemoryLimit', '.SwapLimit', '.IPv4Forwarding', '.BridgeNfIptables', '.BridgeNfIp6tables', '.KernelMemoryTCP', '.OomKillDisable', '.NCPU', '.MemTotal', '.KernelVersion', '.OperatingSystem', '.Architecture'] },
      { name: 'GET /system/df', path: () => '/system/df', maps: [...SUMMARY_MAPS.map((m) => `.Containers${m}`), '.Images[].Labels'], values: ['.Containers[].Names', '.Images[].RepoTags'], shape: (b) => (b && typeof b === 'object' ? { ...b, Containers: containersByName(b.Containers), Images: imagesByTag(b.Images) } : b) },
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
      { name: 'GET /containers/{id}/stats?stream=false', path: () => '/containers/diff-run/stats?stream=false', maps: ['.networks', '.blkio_stats', '.memory_stats.stats'], skip: ['.cpu_stats.cpu_usage.percpu_usage', '.precpu_stats.cpu_usage.percpu_usage'], values: ['.name', '.id'], settled: (b) => b?.read !== '0001-01-01T00:00:00Z' },
      { name: 'GET /containers/{id}/top', path: () => '/containers/diff-run/top', values: ['.Titles', '.Rows'], shape: topRows(7) },
      { name: 'GET /containers/{id}/top ps_args=-o pid,comm', path: () => `/containers/diff-run/top?ps_args=${encodeURIComponent('-o pid,comm')}`, values: ['.Titles', '.Rows'], shape: topRows(1) },
      { name: 'GET /containers/{id}/top ps_args=x', path: () => '/containers/diff-run/top?ps_args=x', values: ['.Titles', '.Rows'], shape: topRows(4) },
      { name: 'GET /containers/{id}/top ps_args=aux', path: () => '/containers/diff-run/top?ps_args=aux', values: ['.Titles', '.Rows'], shape: topRows(10) },
    ],
  },
  {
    title: 'create and logs',
    checks: [
      // strslice: Cmd and Entrypoint may be a string
      { name: 'POST /containers/create Cmd as a string', method: 'POST', path: () => '/containers/create?name=diff-strslice', body: { Image: 'busybox', Cmd: 'echo hi', Entrypoint: '/bin/sh -c' }, values: [''], shape: () => 'created' },
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
    title: 'events',
    checks: [
      // events keyed by Type:Action (each kind once): which actions each engine emits, and their shapes
      { name: 'GET /events since/until', path: (p) => `/events?since=${p.since}&until=${p.until}`, as: 'events', maps: [] },
      { name: 'GET /events container filter', path: (p) => `/events?since=${p.since}&until=${p.until}&filters=${q({ container: ['diff-exited'] })}`, as: 'events' },
      { name: 'GET /events container filter, old name', path: (p) => `/events?since=${p.since}&until=${p.until}&filters=${q({ container: ['diff-old'] })}`, as: 'events' },
      { name: 'GET /events container filter, new name', path: (p) => `/events?since=${p.since}&until=${p.until}&filters=${q({ container: ['diff-renamed'] })}`, as: 'events' },
      { name: 'GET /events container filter, name prefix', path: (p) => `/events?since=${p.since}&until=${p.until}&filters=${q({ container: ['diff-exi'] })}`, as: 'events' },
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

/** The answer as one JSON value: `{status, body}` so that status codes are compared too. */
async function ask(c: Check, p: Prepared): Promise<{ status: number; body: unknown; headers?: Record<string, string> }> {
  const body = c.body === undefined ? undefined : JSON.stringify(c.body);
  const headers: Record<string, string> = body === undefined ? {} : { 'Content-Type': 'application/json' };
  let r = await p.t.request(c.method ?? 'GET', c.path(p), { ...(body === undefined ? {} : { body }), headers });
  for (let i = 0; c.settled && !c.settled(parse(c, r.body)) && i < 20; i++) {
    await new Promise((res) => setTimeout(res, 250));
    r = await p.t.request(c.method ?? 'GET', c.path(p), { ...(body === undefined ? {} : { body }), headers });
  }
  const parsed = parse(c, r.body);
  const out: { status: number; body: unknown; headers?: Record<string, string> } = { status: r.status, body: c.shape && r.status < 300 ? c.shape(parsed) : parsed };
  if (c.headers) out.headers = Object.fromEntries(c.headers.map((h) => [h, String(r.headers[h.toLowerCase()] ?? '')]));
  return out;
}

function parse(c: Check, text: string): unknown {
  if (c.as === 'text') return text;
  if (c.as === 'events') {
    const byKind: Record<string, unknown> = {};
    for (const line of text.split('\n').filter(Boolean)) {
      const e = JSON.parse(line) as { Type?: string; Action?: string };
      const key = `${e.Type ?? ''}:${(e.Action ?? '').split(':')[0]}`;
      byKind[key] ??= e;
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

  before(async () => {
    assert.ok(haveDockerd(), 'dockerd is not installed: scripts/install-reference-docker.sh (run by scripts/test.sh) installs it');
    ({ ours, theirs } = await startPair());
    norm = normalizer(ours, theirs);
  });
  after(async () => {
    if (process.env.STEVEDORE_DIFF_REPORT) {
      fs.writeFileSync(process.env.STEVEDORE_DIFF_REPORT, JSON.stringify(Object.fromEntries(report.map((d) => [d.key, d.detail])), null, 2) + '\n');
    }
    if (ours && theirs) await stopPair(ours.t, theirs.t);
  });

  for (const g of GROUPS) {
    it(`answers ${g.title} requests as Docker does`, async (tc) => {
      const known = readKnown();
      const problems: string[] = [];
      for (const c of g.checks) {
        const [a, b] = [await ask(c, ours), await ask(c, theirs)];
        if (c.settled && b.status < 300 && !c.settled(b.body)) {
          // the reference engine could not answer here (see the check's comment): nothing to compare
          tc.diagnostic(`${c.name}: Docker's answer never settled on this host; not compared`);
          continue;
        }
        const found = compareShapes(c.name, a, b, {
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
