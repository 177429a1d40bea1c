/** `POST /containers/{id}/update`: HostConfig resources → OCI LinuxResources for `runc update`. */
import type { HostConfig } from '../../engine/bundle/types';
import type { LinuxResources } from '../../engine/runtime';

/** The resources to pass to the runtime, from the merged host config (`next`) and what changed (`body`). */
export function toSpecResources(next: HostConfig, body: HostConfig): LinuxResources {
  const memory: Record<string, number> = {};
  if (next.Memory) memory.limit = next.Memory;
  if (next.MemoryReservation) memory.reservation = next.MemoryReservation;
  let swap = next.MemorySwap ?? 0;
  if (body.Memory && body.MemorySwap === undefined && next.Memory) swap = swap > 0 ? Math.max(swap, next.Memory) : next.Memory * 2;
  if (swap) memory.swap = swap;
  if (next.KernelMemory) memory.kernel = next.KernelMemory;
  const cpu: Record<string, number | string> = {};
  if (next.CpuShares) cpu.shares = next.CpuShares;
  if (next.NanoCpus) {
    cpu.period = 100000;
    cpu.quota = Math.floor((next.NanoCpus * 100000) / 1e9);
  }
  if (next.CpuPeriod) cpu.period = next.CpuPeriod;
  if (next.CpuQuota) cpu.quota = next.CpuQuota;
  if (next.CpusetCpus) cpu.cpus = next.CpusetCpus;
  if (next.CpusetMems) cpu.mems = next.CpusetMems;
  if (next.CpuRealtimePeriod) cpu.realtimePeriod = next.CpuRealtimePeriod;
  if (next.CpuRealtimeRuntime) cpu.realtimeRuntime = next.CpuRealtimeRuntime;
  const out: LinuxResources = {};
  if (Object.keys(memory).length) out.memory = memory;
  if (Object.keys(cpu).length) out.cpu = cpu;
  if (next.BlkioWeight) out.blockIO = { weight: next.BlkioWeight };
  if (next.PidsLimit != null) out.pids = { limit: next.PidsLimit <= 0 ? -1 : next.PidsLimit };
  return out;
}
