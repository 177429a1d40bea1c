/**
 * Resource usage of a task's cgroup, read from cgroupfs (containerd's `metrics` for
 * the cgroup v1 and v2 hierarchies). The numbers are the kernel's, in the units
 * containerd reports them (nanoseconds of CPU, bytes of memory); turning them into a
 * front end's shape (Docker's StatsJSON) is the front end's job.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** Where the cgroup hierarchies are mounted. */
export const CGROUP_ROOT = '/sys/fs/cgroup';

/** CPU time of a cgroup, in nanoseconds. */
export interface CpuMetrics {
  total: number;
  kernel: number;
  user: number;
  /** per CPU (cgroup v1's cpuacct.usage_percpu); absent on v2 */
  perCpu?: number[];
  throttling: { periods: number; throttledPeriods: number; throttledTime: number };
}

/** Memory of a cgroup, in bytes. */
export interface MemoryMetrics {
  usage: number;
  /** the high-water mark (v1 only) */
  maxUsage?: number;
  /** the limit; the host's memory when there is none */
  limit: number;
  /** memory.stat, as the kernel names its keys */
  stats: Record<string, number>;
}

/** One reading of a cgroup. */
export interface CgroupMetrics {
  /** when it was read */
  read: Date;
  cgroupVersion: 1 | 2;
  cpu: CpuMetrics;
  memory: MemoryMetrics;
  pids: { current: number; limit?: number };
  /** the host's CPU time (all CPUs, nanoseconds) and online CPUs, for percentages */
  host: { cpuTime: number; onlineCpus: number };
}

/** Reads a cgroup's metrics; the interface a daemon's stats depend on. */
export interface MetricsReader {
  /** One reading of the cgroup at `cgroupPath` (relative to a hierarchy root). Files that cannot be read count as zero. */
  read(cgroupPath: string): CgroupMetrics;
}

function readText(p: string): string | undefined {
  try {
    return fs.readFileSync(p, 'utf8');
  } catch {
    return undefined;
  }
}

function num(p: string): number {
  const v = readText(p)?.trim();
  if (!v || v === 'max') return 0;
  const n = Number(v);
  return Number.isFinite(n) ? n : 0;
}

/** `key value` lines (cpu.stat, memory.stat) as numbers. */
export function keyValues(text: string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of (text ?? '').split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^\d+$/.test(v)) out[k] = Number(v);
  }
  return out;
}

/** Total host CPU time in nanoseconds (first line of /proc/stat, USER_HZ = 100). */
export function hostCpuTime(procStat = '/proc/stat'): number {
  const line = (readText(procStat) ?? '').split('\n')[0] ?? '';
  const f = line.trim().split(/\s+/).slice(1, 8).map(Number);
  return f.reduce((a, b) => a + b, 0) * 1e7;
}

function pidsLimit(text: string | undefined): number | undefined {
  const v = text?.trim();
  return v && v !== 'max' ? Number(v) : undefined;
}

/**
 * Reads cgroupfs under `root` for one cgroup version. A test points `root` at a
 * directory of fake files.
 */
export class CgroupMetricsReader implements MetricsReader {
  constructor(
    private readonly version: 1 | 2,
    private readonly root: string = CGROUP_ROOT,
    private readonly procStat: string = '/proc/stat',
  ) {}

  read(cgroupPath: string): CgroupMetrics {
    const host = { cpuTime: hostCpuTime(this.procStat), onlineCpus: os.cpus().length };
    const read = new Date();
    if (this.version === 2) {
      const f = (file: string) => path.join(this.root, cgroupPath, file);
      const cpu = keyValues(readText(f('cpu.stat')));
      const max = readText(f('memory.max'))?.trim();
      const limit = pidsLimit(readText(f('pids.max')));
      return {
        read,
        cgroupVersion: 2,
        cpu: {
          total: (cpu.usage_usec ?? 0) * 1000,
          kernel: (cpu.system_usec ?? 0) * 1000,
          user: (cpu.user_usec ?? 0) * 1000,
          throttling: { periods: cpu.nr_periods ?? 0, throttledPeriods: cpu.nr_throttled ?? 0, throttledTime: (cpu.throttled_usec ?? 0) * 1000 },
        },
        memory: { usage: num(f('memory.current')), limit: max && max !== 'max' ? Number(max) : os.totalmem(), stats: keyValues(readText(f('memory.stat'))) },
        pids: { current: num(f('pids.current')), ...(limit !== undefined ? { limit } : {}) },
        host,
      };
    }
    const f = (ctl: string, file: string) => path.join(this.root, ctl, cgroupPath, file);
    const acct = keyValues(readText(f('cpuacct', 'cpuacct.stat')));
    const perCpu = (readText(f('cpuacct', 'cpuacct.usage_percpu')) ?? '').trim().split(/\s+/).filter(Boolean).map(Number);
    const throttle = keyValues(readText(f('cpu', 'cpu.stat')));
    const memLimit = num(f('memory', 'memory.limit_in_bytes'));
    const limit = pidsLimit(readText(f('pids', 'pids.max')));
    return {
      read,
      cgroupVersion: 1,
      cpu: {
        total: num(f('cpuacct', 'cpuacct.usage')),
        kernel: (acct.system ?? 0) * 1e7,
        user: (acct.user ?? 0) * 1e7,
        perCpu,
        throttling: { periods: throttle.nr_periods ?? 0, throttledPeriods: throttle.nr_throttled ?? 0, throttledTime: throttle.throttled_time ?? 0 },
      },
      memory: {
        usage: num(f('memory', 'memory.usage_in_bytes')),
        maxUsage: num(f('memory', 'memory.max_usage_in_bytes')),
        limit: memLimit > 0 && memLimit < os.totalmem() ? memLimit : os.totalmem(),
        stats: keyValues(readText(f('memory', 'memory.stat'))),
      },
      pids: { current: num(f('pids', 'pids.current')), ...(limit !== undefined ? { limit } : {}) },
      host,
    };
  }
}
