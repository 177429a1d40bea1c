/** Task metrics: a cgroup's CPU, memory and pids usage (see cgroups.ts). */
export { CGROUP_ROOT, CgroupMetricsReader, hostCpuTime, keyValues, type CgroupMetrics, type CpuMetrics, type MemoryMetrics, type MetricsReader } from './cgroups';
