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
import { ContainerStats, parseNetDev } from './stats';

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
    stateOf: (id: string) => {
      if (id !== c.id) throw notFound(`No such container: ${id}`);
      return c.state;
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

describe('network stats', () => {
  // /proc/<pid>/net/dev of a container on a bridge (recorded on this host)
  const NET_DEV = [
    'Inter-|   Receive                                                |  Transmit',
    ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed',
    '    lo:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0',
    '  eth0:    5338      36    1    2    0     0          0         0      648       8    3    4    0     0       0          0',
    '',
  ].join('\n');
  const endpoint = { networkId: 'n', networkName: 'bridge', endpointId: 'e', bridge: 'br0', mac: '02:42:0a:00:00:02', hostIfName: 'veth1', ifName: 'eth0', aliases: [], dnsNames: [], links: [], gateway: true };

  it("reads the counters of the container's own interfaces, as the container sees them", () => {
    assert.deepEqual(parseNetDev(NET_DEV, ['eth0']), { eth0: { rx_bytes: 5338, rx_packets: 36, rx_errors: 1, rx_dropped: 2, tx_bytes: 648, tx_packets: 8, tx_errors: 3, tx_dropped: 4 } });
    assert.deepEqual(parseNetDev(NET_DEV, ['eth1']), {});
  });

  it('puts them in a running bridged container\'s sample only (Docker omits an empty `networks`)', () => {
    const pids: number[] = [];
    const dev = (pid: number) => (pids.push(pid), NET_DEV);
    const bridged = rec({ state: { ...initialState(), status: 'running', pid: 42 }, networkRuntime: { sandboxId: 's', sandboxKey: '/k', endpoints: [endpoint], ports: [] } });
    assert.deepEqual(new ContainerStats(containers(bridged), new FakeMetrics(), dev).sample('web').networks, { eth0: { rx_bytes: 5338, rx_packets: 36, rx_errors: 1, rx_dropped: 2, tx_bytes: 648, tx_packets: 8, tx_errors: 3, tx_dropped: 4 } });
    assert.deepEqual(pids, [42]);
    const hostMode = rec({ state: { ...initialState(), status: 'running', pid: 42 }, networkRuntime: { sandboxId: '', sandboxKey: '', endpoints: [{ ...endpoint, hostIfName: '', ifName: '' }], ports: [] } });
    assert.equal('networks' in new ContainerStats(containers(hostMode), new FakeMetrics(), dev).sample('web'), false);
    const stopped = rec({ state: { ...initialState(), status: 'exited' }, networkRuntime: { sandboxId: 's', sandboxKey: '/k', endpoints: [endpoint], ports: [] } });
    assert.equal('networks' in new ContainerStats(containers(stopped), new FakeMetrics(), dev).sample('web'), false);
    assert.deepEqual(pids, [42]);
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

  it('follow ends with the run it follows, even when a restart came between two polls (as Docker: compose prints "exited")', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'stv-logs-'));
    try {
      const c = rec({ state: { ...initialState(), status: 'running', startedAt: '2020-01-01T00:00:00.000Z' } });
      const k = containers(c, root);
      const p = k.paths(c.id);
      fs.mkdirSync(path.dirname(p.log), { recursive: true });
      const line = (log: string, sec: number) => JSON.stringify({ log, stream: 'stdout', time: `2020-01-01T00:00:0${sec}.000000000Z` }) + '\n';
      fs.writeFileSync(p.log, line('one\n', 1));
      const got: string[] = [];
      for await (const e of new ContainerLogs(k, { pollMs: 1 }).read('web', { stdout: true, stderr: true, follow: true })) {
        got.push(e.log.toString());
        if (got.length === 1) {
          // the run's last line, then a restart: running again, with its own first line
          fs.appendFileSync(p.log, line('last\n', 2));
          c.state = { ...c.state, startedAt: '2020-01-01T00:00:05.000Z' };
          fs.appendFileSync(p.log, line('next run\n', 6));
        }
        if (got.length > 2) break;
      }
      assert.deepEqual(got, ['one\n', 'last\n']);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
