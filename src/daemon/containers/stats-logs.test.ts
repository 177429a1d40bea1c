import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { notFound } from '../../engine/errdefs';
import type { CgroupMetrics, MetricsReader } from '../../engine/metrics';
import { containerPaths } from './files';
import { ContainerLogs, type LogEntry } from './logs';
import type { ContainerRecord } from './model';
import { initialState } from './state';
import { ContainerStats } from './stats';

function rec(over: Partial<ContainerRecord> = {}): ContainerRecord {
  return {
    id: 'a'.repeat(64), name: '/web', created: '2020-01-01T00:00:00Z', image: 'sha256:' + 'b'.repeat(64), imageRef: 'busybox', parentSnapshot: undefined, snapshotKey: 'a',
    path: 'sh', args: [], config: { Labels: { team: 'x' } }, hostConfig: { NetworkMode: 'default' }, state: { ...initialState(), status: 'running' }, restartCount: 0, ...over,
  };
}

function containers(c: ContainerRecord, dataRoot = '/nonexistent') {
  return {
    get: (ref: string) => {
      if (ref !== c.id && ref !== 'web') throw notFound(`No such container: ${ref}`);
      return c;
    },
    paths: (id: string) => containerPaths(dataRoot, id),
    cgroupPath: (id: string) => `/stevedore/${id}`,
  };
}

class FakeMetrics implements MetricsReader {
  reads: string[] = [];
  private n = 0;
  read(cgroupPath: string): CgroupMetrics {
    this.reads.push(cgroupPath);
    const n = ++this.n;
    return {
      read: new Date(Date.UTC(2020, 0, 1, 0, 0, n)),
      cgroupVersion: 2,
      cpu: { total: n * 100, kernel: 0, user: n * 100, throttling: { periods: 0, throttledPeriods: 0, throttledTime: 0 } },
      memory: { usage: 10, limit: 20, stats: {} },
      pids: { current: 1 },
      host: { cpuTime: n * 1000, onlineCpus: 2 },
    };
  }
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe('ContainerStats', () => {
  it('streams documents from the engine metrics, each with the previous sample as precpu', async () => {
    const m = new FakeMetrics();
    const stats = new ContainerStats(containers(rec()), m);
    const ac = new AbortController();
    const docs = [];
    for await (const d of stats.documents('web', { stream: true, signal: ac.signal, intervalMs: 1 })) {
      docs.push(d);
      if (docs.length === 3) ac.abort();
    }
    assert.equal(docs.length, 3);
    assert.deepEqual(m.reads, Array(3).fill(`/stevedore/${'a'.repeat(64)}`));
    assert.equal(docs[0]!.preread, '0001-01-01T00:00:00Z');
    assert.equal(docs[1]!.precpu_stats.cpu_usage.total_usage, 100);
    assert.equal(docs[2]!.cpu_stats.cpu_usage.total_usage, 300);
    assert.equal(docs[2]!.name, '/web');
    assert.equal(docs[0]!.read, '2020-01-01T00:00:01.000Z');
  });

  it('answers one document: two samples a pause apart, or one with one-shot; zeros when not running', async () => {
    const m = new FakeMetrics();
    const running = new ContainerStats(containers(rec()), m);
    const [two] = await collect(running.documents('web', { stream: false, intervalMs: 1 }));
    assert.equal(two!.precpu_stats.cpu_usage.total_usage, 100);
    assert.equal(two!.cpu_stats.cpu_usage.total_usage, 200);
    const [one] = await collect(running.documents('web', { stream: false, oneShot: true }));
    assert.equal(one!.preread, '0001-01-01T00:00:00Z');
    const stopped = new ContainerStats(containers(rec({ state: { ...initialState(), status: 'exited' } })), m);
    const [z] = await collect(stopped.documents('web', { stream: false }));
    assert.equal(z!.read, '0001-01-01T00:00:00Z');
    assert.deepEqual(z!.memory_stats, {});
    assert.throws(() => running.sample('nope'), /No such container: nope/);
  });
});

describe('ContainerLogs', () => {
  it('reads the json-file log with the options, details from the container, and refuses what Docker refuses', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'stv-logs-'));
    try {
      const c = rec({ state: { ...initialState(), status: 'exited' }, hostConfig: { NetworkMode: 'default', LogConfig: { Type: 'json-file', Config: { labels: 'team' } } } });
      const k = containers(c, root);
      const p = k.paths(c.id);
      fs.mkdirSync(path.dirname(p.log), { recursive: true });
      const line = (stream: string, log: string, sec: number) => JSON.stringify({ log, stream, time: `2020-01-01T00:00:0${sec}.000000000Z` }) + '\n';
      fs.writeFileSync(p.log, line('stdout', 'one\n', 1) + line('stderr', 'two\n', 2) + line('stdout', 'three\n', 3));
      const logs = new ContainerLogs(k, { pollMs: 1 });
      const text = (es: LogEntry[]) => es.map((e) => e.log.toString()).join('');
      assert.equal(text(await collect(logs.read('web', { stdout: true, stderr: true, follow: false }))), 'one\ntwo\nthree\n');
      assert.equal(text(await collect(logs.read('web', { stdout: true, stderr: false, follow: false, tail: 1 }))), 'three\n');
      // follow ends once the container is not running and the file is read
      assert.equal(text(await collect(logs.read('web', { stdout: false, stderr: true, follow: true }))), 'two\n');
      const [d] = await collect(logs.read('web', { stdout: true, stderr: false, follow: false, details: true }));
      assert.deepEqual(d!.attrs, { team: 'x' });
      assert.throws(() => logs.read('web', { stdout: false, stderr: false, follow: false }), /you must choose at least one stream/);
      assert.throws(() => logs.read('nope', { stdout: true, stderr: false, follow: false }), /No such container/);
      assert.equal(text(await collect(logs.logged('web', { stdout: true, stderr: false }))), 'one\nthree\n');

      const none = new ContainerLogs(containers({ ...c, hostConfig: { NetworkMode: 'default', LogConfig: { Type: 'none', Config: {} } } }, root));
      assert.throws(() => none.read('web', { stdout: true, stderr: true, follow: false }), /does not support reading/);
      assert.deepEqual(await collect(none.logged('web', { stdout: true, stderr: true })), []);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
