/** `POST /containers/{id}/update`: HostConfig resources → OCI LinuxResources for `runc update`. */
import type { HostConfig } from './types';
import type { LinuxResources } from '../../engine/runtime';
import { conflict } from '../../engine/errdefs';
import { validateMemory } from './hostconfig';

/** The resources to pass to the runtime, from the merged host config (`next`) and what changed (`body`). */
export function toSpecResources(next: HostConfig, _body: HostConfig): LinuxResources {
  const memory: Record<string, number> = {};
  if (next.Memory) memory.limit = next.Memory;
  if (next.MemoryReservation) memory.reservation = next.MemoryReservation;
  // Docker passes the stored MemorySwap (twice Memory by default, set at create)
  let swap = next.MemorySwap ?? 0;
  if ((next.Memory ?? 0) > 0 && swap === 0) swap = next.Memory! * 2;
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

/**
 * Docker's checks of an update's memory values (moby: verifyPlatformContainerResources
 * with update set, 400; then Container.UpdateContainer, 409 "Cannot update container
 * <id>: …"): a new Memory above the stored MemorySwap (0 and -1 included) needs a new
 * MemorySwap with it.
 */
export function checkMemoryUpdate(id: string, cur: HostConfig, body: HostConfig): void {
  validateMemory(body, true);
  const mem = body.Memory ?? 0;
  if (mem !== 0 && mem > (cur.MemorySwap ?? 0) && (body.MemorySwap ?? 0) === 0) {
    throw conflict(`Cannot update container ${id}: Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time`);
  }
}
