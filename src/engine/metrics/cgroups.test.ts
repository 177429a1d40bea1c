import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CgroupMetricsReader } from './cgroups';

function tree(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stv-cgroup-'));
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), text);
  }
  return dir;
}

describe('CgroupMetricsReader', () => {
  it('reads cgroup v2 files in nanoseconds and bytes', () => {
    const root = tree({
      'stv/c1/cpu.stat': 'usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 4\nnr_throttled 1\nthrottled_usec 20\n',
      'stv/c1/memory.current': '4096\n',
      'stv/c1/memory.max': '8192\n',
      'stv/c1/memory.stat': 'anon 1024\nfile 2048\n',
      'stv/c1/pids.current': '3\n',
      'stv/c1/pids.max': 'max\n',
      'proc-stat': 'cpu  10 0 10 80 0 0 0 0 0 0\n',
    });
    try {
      const m = new CgroupMetricsReader(2, root, path.join(root, 'proc-stat')).read('stv/c1');
      assert.equal(m.cgroupVersion, 2);
      assert.deepEqual(m.cpu, { total: 1_500_000, kernel: 500_000, user: 1_000_000, throttling: { periods: 4, throttledPeriods: 1, throttledTime: 20_000 } });
      assert.deepEqual(m.memory, { usage: 4096, limit: 8192, stats: { anon: 1024, file: 2048 } });
      assert.deepEqual(m.pids, { current: 3 });
      assert.equal(m.host.cpuTime, 100 * 1e7);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it('reads cgroup v1 hierarchies, with per-CPU usage and the host memory as the default limit', () => {
    const root = tree({
      'cpuacct/stv/c1/cpuacct.usage': '3000\n',
      'cpuacct/stv/c1/cpuacct.usage_percpu': '1000 2000\n',
      'cpuacct/stv/c1/cpuacct.stat': 'user 2\nsystem 1\n',
      'cpu/stv/c1/cpu.stat': 'nr_periods 0\nnr_throttled 0\nthrottled_time 0\n',
      'memory/stv/c1/memory.usage_in_bytes': '100\n',
      'memory/stv/c1/memory.max_usage_in_bytes': '200\n',
      'memory/stv/c1/memory.limit_in_bytes': '9223372036854771712\n',
      'pids/stv/c1/pids.current': '1\n',
      'pids/stv/c1/pids.max': '64\n',
    });
    try {
      const m = new CgroupMetricsReader(1, root, path.join(root, 'none')).read('stv/c1');
      assert.deepEqual(m.cpu, { total: 3000, kernel: 1e7, user: 2e7, perCpu: [1000, 2000], throttling: { periods: 0, throttledPeriods: 0, throttledTime: 0 } });
      assert.equal(m.memory.usage, 100);
      assert.equal(m.memory.maxUsage, 200);
      assert.equal(m.memory.limit, os.totalmem());
      assert.deepEqual(m.pids, { current: 1, limit: 64 });
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it('counts what it cannot read as zero', () => {
    const m = new CgroupMetricsReader(2, '/nonexistent-cgroup-root').read('x');
    assert.equal(m.cpu.total, 0);
    assert.equal(m.memory.usage, 0);
    assert.equal(m.pids.current, 0);
  });
});
