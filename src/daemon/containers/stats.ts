/**
 * `docker stats`: a container's resource usage in Docker's StatsJSON shape, from the
 * engine's cgroup metrics (engine/metrics). The daemon decides what a sample is (zeros
 * for a container that is not running), pairs each with the previous one (`precpu_stats`)
 * and paces the stream; the route only writes the documents.
 */
import * as fs from 'node:fs';
import type { CgroupMetrics, MetricsReader } from '../../engine/metrics';
import type { ContainerRecord } from './model';
import { isRunning } from './state';

const ZERO_TIME = '0001-01-01T00:00:00Z';

export interface CpuStats {
  cpu_usage: { total_usage: number; percpu_usage?: number[]; usage_in_kernelmode: number; usage_in_usermode: number };
  system_cpu_usage?: number;
  online_cpus?: number;
  throttling_data: { periods: number; throttled_periods: number; throttled_time: number };
}

/** One StatsJSON document, without name/id/precpu. */
export type StatsSample = Record<string, unknown> & { read: string; cpu_stats: CpuStats };

function emptyCpu(): CpuStats {
  return { cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 }, throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 } };
}

function blkio(empty: [] | null): Record<string, unknown> {
  const keys = ['io_service_bytes_recursive', 'io_serviced_recursive', 'io_queue_recursive', 'io_service_time_recursive', 'io_wait_time_recursive', 'io_merged_recursive', 'io_time_recursive', 'sectors_recursive'];
  return Object.fromEntries(keys.map((k) => [k, empty === null ? null : []]));
}

/** Docker's StatsJSON body of one cgroup reading (v1 and v2 differ as in Docker 20.10). */
export function statsFromMetrics(m: CgroupMetrics): StatsSample {
  const v1 = m.cgroupVersion === 1;
  return {
    read: m.read.toISOString(),
    pids_stats: { current: m.pids.current, ...(m.pids.limit !== undefined ? { limit: m.pids.limit } : {}) },
    blkio_stats: blkio(v1 ? [] : null),
    num_procs: 0,
    storage_stats: {},
    cpu_stats: {
      cpu_usage: {
        total_usage: m.cpu.total,
        ...(m.cpu.perCpu ? { percpu_usage: m.cpu.perCpu } : {}),
        usage_in_kernelmode: m.cpu.kernel,
        usage_in_usermode: m.cpu.user,
      },
      system_cpu_usage: m.host.cpuTime,
      online_cpus: m.host.onlineCpus,
      throttling_data: { periods: m.cpu.throttling.periods, throttled_periods: m.cpu.throttling.throttledPeriods, throttled_time: m.cpu.throttling.throttledTime },
    },
    memory_stats: {
      usage: m.memory.usage,
      ...(m.memory.maxUsage !== undefined ? { max_usage: m.memory.maxUsage } : {}),
      stats: m.memory.stats,
      limit: m.memory.limit,
    },
  };
}

/** The document for a container that is not running (Docker sends zeros). */
export function emptySample(): StatsSample {
  return { read: ZERO_TIME, pids_stats: {}, blkio_stats: blkio(null), num_procs: 0, storage_stats: {}, cpu_stats: emptyCpu(), memory_stats: {} };
}

export const emptyPrecpu = (): { read: string; cpu_stats: CpuStats } => ({ read: ZERO_TIME, cpu_stats: emptyCpu() });

/** types.NetworkStats: one interface's counters, as the container sees them. */
export interface NetworkStats {
  rx_bytes: number;
  rx_packets: number;
  rx_errors: number;
  rx_dropped: number;
  tx_bytes: number;
  tx_packets: number;
  tx_errors: number;
  tx_dropped: number;
}

/**
 * The counters of the named interfaces from the text of `/proc/<pid>/net/dev` (the
 * network namespace of that process): Docker reads the same counters inside the
 * sandbox through netlink (libnetwork's sandbox Statistics). Interfaces not found are
 * left out.
 */
export function parseNetDev(text: string, names: string[]): Record<string, NetworkStats> {
  const out: Record<string, NetworkStats> = {};
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i < 0) continue;
    const name = line.slice(0, i).trim();
    if (!names.includes(name)) continue;
    const f = line.slice(i + 1).trim().split(/\s+/).map(Number);
    if (f.length < 16 || f.some((x) => !Number.isFinite(x))) continue;
    // receive: bytes packets errs drop fifo frame compressed multicast; transmit: bytes packets errs drop …
    out[name] = { rx_bytes: f[0]!, rx_packets: f[1]!, rx_errors: f[2]!, rx_dropped: f[3]!, tx_bytes: f[8]!, tx_packets: f[9]!, tx_errors: f[10]!, tx_dropped: f[11]! };
  }
  return out;
}

/** `/proc/<pid>/net/dev`, or undefined when the process is gone. */
function readProcNetDev(pid: number): string | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/net/dev`, 'utf8');
  } catch {
    return undefined;
  }
}

/** What the stats need of the containers. */
export interface StatsContainers {
  /** Resolves a reference; throws not-found. */
  get(ref: string): ContainerRecord;
  /** The container's cgroup path (relative to a hierarchy root). */
  cgroupPath(id: string): string;
}

export interface StatsOptions {
  /** a stream of documents, one a second (default) or one document */
  stream: boolean;
  /** with `stream: false`: answer at once, without a second sample for precpu */
  oneShot?: boolean;
  signal?: AbortSignal;
  /** the pause between samples (tests); default 1000 ms */
  intervalMs?: number;
}

/** A stats document as sent: the sample, the container's name and id, the previous sample. */
export type StatsDocument = StatsSample & { name: string; id: string; preread: string; precpu_stats: CpuStats };

/** `docker stats` over the engine's metrics. */
export class ContainerStats {
  constructor(
    private readonly containers: StatsContainers,
    private readonly metrics: MetricsReader,
    /** the text of `/proc/<pid>/net/dev` (tests give their own) */
    private readonly netDev: (pid: number) => string | undefined = readProcNetDev,
  ) {}

  /**
   * One sample of a container (zeros when it is not running). Throws not-found. A
   * running container with interfaces of its own (bridge endpoints: `eth0`, …) has
   * `networks`, keyed by the name inside the container; Docker leaves it out (omitempty)
   * otherwise.
   */
  sample(ref: string): StatsSample & { name: string; id: string } {
    const c = this.containers.get(ref);
    const running = isRunning(c.state.status);
    const base = running ? statsFromMetrics(this.metrics.read(this.containers.cgroupPath(c.id))) : emptySample();
    const ifNames = (c.networkRuntime?.endpoints ?? []).filter((e) => e.hostIfName && e.ifName).map((e) => e.ifName);
    const text = running && ifNames.length > 0 && c.state.pid > 0 ? this.netDev(c.state.pid) : undefined;
    const networks = text === undefined ? {} : parseNetDev(text, ifNames);
    return { ...base, ...(Object.keys(networks).length ? { networks } : {}), name: c.name, id: c.id };
  }

  /**
   * The documents of `GET /containers/{id}/stats`, as Docker sends them: streaming, one
   * a second, each with the previous sample as `precpu_stats`; not streaming, one
   * document (after a second sample a second later unless `oneShot` or not running).
   * Throws not-found before the first document; ends when `signal` aborts.
   */
  async *documents(ref: string, o: StatsOptions): AsyncGenerator<StatsDocument> {
    const id = this.containers.get(ref).id;
    const interval = o.intervalMs ?? 1000;
    const signal = o.signal;
    const none = emptyPrecpu();
    if (!o.stream) {
      const first = this.sample(id);
      if (!o.oneShot && isRunning(this.containers.get(id).state.status)) {
        await sleep(interval, signal);
        if (signal?.aborted) return;
        yield { ...this.sample(id), preread: first.read, precpu_stats: first.cpu_stats };
        return;
      }
      yield { ...first, preread: none.read, precpu_stats: none.cpu_stats };
      return;
    }
    let prev: StatsSample | undefined;
    while (!signal?.aborted) {
      const s = this.sample(id);
      yield { ...s, preread: prev ? prev.read : none.read, precpu_stats: prev ? prev.cpu_stats : none.cpu_stats };
      prev = s;
      await sleep(interval, signal);
    }
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done);
  });
}
