/**
 * `GET /containers/{id}/stats`: resource usage read from the container's cgroup, in
 * Docker's StatsJSON shape, for cgroup v1 (one hierarchy per controller) and v2.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const CGROUP_ROOT = '/sys/fs/cgroup';
const ZERO_TIME = '0001-01-01T00:00:00Z';

function read(p: string): string | undefined {
  try {
    return fs.readFileSync(p, 'utf8');
  } catch {
    return undefined;
  }
}
function num(p: string): number {
  const v = read(p)?.trim();
  if (!v || v === 'max') return 0;
  const n = Number(v);
  return Number.isFinite(n) ? n : 0;
}
function kv(text: string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of (text ?? '').split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^\d+$/.test(v)) out[k] = Number(v);
  }
  return out;
}

/** Total host CPU time in nanoseconds (first line of /proc/stat, USER_HZ = 100). */
export function systemCpuUsage(): number {
  const line = (read('/proc/stat') ?? '').split('\n')[0] ?? '';
  const f = line.trim().split(/\s+/).slice(1, 8).map(Number);
  return f.reduce((a, b) => a + b, 0) * 1e7;
}

export interface CpuStats {
  cpu_usage: { total_usage: number; percpu_usage?: number[]; usage_in_kernelmode: number; usage_in_usermode: number };
  system_cpu_usage?: number;
  online_cpus?: number;
  throttling_data: { periods: number; throttled_periods: number; throttled_time: number };
}

function emptyCpu(): CpuStats {
  return { cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 }, throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 } };
}

/** One sample (without name/id/precpu). */
export function sample(cgroupPath: string, version: 1 | 2): Record<string, unknown> & { cpu_stats: CpuStats } {
  const ncpu = os.cpus().length;
  if (version === 2) {
    const dir = path.join(CGROUP_ROOT, cgroupPath);
    const cpu = kv(read(path.join(dir, 'cpu.stat')));
    const mem = kv(read(path.join(dir, 'memory.stat')));
    const max = read(path.join(dir, 'memory.max'))?.trim();
    const pidsMax = read(path.join(dir, 'pids.max'))?.trim();
    return {
      read: new Date().toISOString(),
      pids_stats: { current: num(path.join(dir, 'pids.current')), ...(pidsMax && pidsMax !== 'max' ? { limit: Number(pidsMax) } : {}) },
      blkio_stats: { io_service_bytes_recursive: null, io_serviced_recursive: null, io_queue_recursive: null, io_service_time_recursive: null, io_wait_time_recursive: null, io_merged_recursive: null, io_time_recursive: null, sectors_recursive: null },
      num_procs: 0,
      storage_stats: {},
      cpu_stats: {
        cpu_usage: { total_usage: (cpu.usage_usec ?? 0) * 1000, usage_in_kernelmode: (cpu.system_usec ?? 0) * 1000, usage_in_usermode: (cpu.user_usec ?? 0) * 1000 },
        system_cpu_usage: systemCpuUsage(),
        online_cpus: ncpu,
        throttling_data: { periods: cpu.nr_periods ?? 0, throttled_periods: cpu.nr_throttled ?? 0, throttled_time: (cpu.throttled_usec ?? 0) * 1000 },
      },
      memory_stats: { usage: num(path.join(dir, 'memory.current')), stats: mem, limit: max && max !== 'max' ? Number(max) : os.totalmem() },
    };
  }
  const c = (ctl: string, file: string) => path.join(CGROUP_ROOT, ctl, cgroupPath, file);
  const cpuacct = kv(read(c('cpuacct', 'cpuacct.stat')));
  const percpu = (read(c('cpuacct', 'cpuacct.usage_percpu')) ?? '').trim().split(/\s+/).filter(Boolean).map(Number);
  const throttle = kv(read(c('cpu', 'cpu.stat')));
  const limit = num(c('memory', 'memory.limit_in_bytes'));
  const pidsMax = read(c('pids', 'pids.max'))?.trim();
  return {
    read: new Date().toISOString(),
    pids_stats: { current: num(c('pids', 'pids.current')), ...(pidsMax && pidsMax !== 'max' ? { limit: Number(pidsMax) } : {}) },
    blkio_stats: { io_service_bytes_recursive: [], io_serviced_recursive: [], io_queue_recursive: [], io_service_time_recursive: [], io_wait_time_recursive: [], io_merged_recursive: [], io_time_recursive: [], sectors_recursive: [] },
    num_procs: 0,
    storage_stats: {},
    cpu_stats: {
      cpu_usage: {
        total_usage: num(c('cpuacct', 'cpuacct.usage')),
        percpu_usage: percpu,
        usage_in_kernelmode: (cpuacct.system ?? 0) * 1e7,
        usage_in_usermode: (cpuacct.user ?? 0) * 1e7,
      },
      system_cpu_usage: systemCpuUsage(),
      online_cpus: ncpu,
      throttling_data: { periods: throttle.nr_periods ?? 0, throttled_periods: throttle.nr_throttled ?? 0, throttled_time: throttle.throttled_time ?? 0 },
    },
    memory_stats: {
      usage: num(c('memory', 'memory.usage_in_bytes')),
      max_usage: num(c('memory', 'memory.max_usage_in_bytes')),
      stats: kv(read(c('memory', 'memory.stat'))),
      limit: limit > 0 && limit < os.totalmem() ? limit : os.totalmem(),
    },
  };
}

/** The document for a container that is not running (Docker sends zeros). */
export function emptySample(): Record<string, unknown> {
  return {
    read: ZERO_TIME,
    pids_stats: {},
    blkio_stats: { io_service_bytes_recursive: null, io_serviced_recursive: null, io_queue_recursive: null, io_service_time_recursive: null, io_wait_time_recursive: null, io_merged_recursive: null, io_time_recursive: null, sectors_recursive: null },
    num_procs: 0,
    storage_stats: {},
    cpu_stats: emptyCpu(),
    memory_stats: {},
  };
}

export const emptyPrecpu = (): Record<string, unknown> => ({ read: ZERO_TIME, cpu_stats: emptyCpu() });
