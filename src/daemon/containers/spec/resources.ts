/**
 * `HostConfig` resources in OCI terms, with Docker 20.10's defaults and messages:
 * memory and swap, cpu, pids, blkio weight, `DeviceCgroupRules`, and `Ulimits` merged
 * over the daemon's `--default-ulimit`s.
 */
import { invalidArgument } from '../../../engine/errdefs';
import type { Cpu, DeviceCgroup, Memory, Resources, Rlimit } from '../../../engine/oci/spec';
import type { Resources as DockerResources, Ulimit } from '../types';

const RLIMITS = new Set([
  'as', 'core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss',
  'rtprio', 'rttime', 'sigpending', 'stack',
]);

/**
 * Memory (swap 0 with a limit = 2 × memory, -1 = unlimited), cpu (NanoCpus → period
 * 100000 and quota; explicit period/quota win), blkio weight and pids (≤0 = unlimited).
 * Docker's create-time range checks are the create validation's, not repeated here.
 * @throws invalid-argument `shares: invalid argument` for negative CpuShares
 */
export function toResources(hc: DockerResources): Omit<Resources, 'devices'> {
  const memory: Memory = {};
  const mem = hc.Memory ?? 0;
  let swap = hc.MemorySwap ?? 0;
  if (mem > 0 && swap === 0) swap = mem * 2; // Docker's default: swap as large as memory
  if (mem > 0) memory.limit = mem;
  if ((hc.MemoryReservation ?? 0) > 0) memory.reservation = hc.MemoryReservation!;
  if (swap > 0) memory.swap = swap;
  if (hc.MemorySwappiness != null && hc.MemorySwappiness >= 0) memory.swappiness = hc.MemorySwappiness;
  memory.disableOOMKiller = hc.OomKillDisable === true;
  if (hc.KernelMemory) memory.kernel = hc.KernelMemory;
  if (hc.KernelMemoryTCP) memory.kernelTCP = hc.KernelMemoryTCP;

  const shares = hc.CpuShares ?? 0;
  if (shares < 0) throw invalidArgument('shares: invalid argument');
  const cpu: Cpu = { shares };
  if (hc.CpusetCpus) cpu.cpus = hc.CpusetCpus;
  if (hc.CpusetMems) cpu.mems = hc.CpusetMems;
  if ((hc.NanoCpus ?? 0) > 0) {
    cpu.period = 100000;
    cpu.quota = Math.floor((hc.NanoCpus! * 100000) / 1e9);
  }
  if (hc.CpuPeriod) cpu.period = hc.CpuPeriod;
  if (hc.CpuQuota) cpu.quota = hc.CpuQuota;
  if (hc.CpuRealtimePeriod) cpu.realtimePeriod = hc.CpuRealtimePeriod;
  if (hc.CpuRealtimeRuntime) cpu.realtimeRuntime = hc.CpuRealtimeRuntime;

  const res: Omit<Resources, 'devices'> = { memory, cpu, blockIO: { weight: hc.BlkioWeight ?? 0 } };
  if (hc.PidsLimit != null) res.pids = { limit: hc.PidsLimit <= 0 ? -1 : hc.PidsLimit };
  return res;
}

/** `DeviceCgroupRules` entries: `<a|b|c> <major|*>:<minor|*> <rwm>`. */
export function cgroupRules(rules: readonly string[]): DeviceCgroup[] {
  return rules.map((rule) => {
    const m = /^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$/.exec(rule);
    if (!m) throw invalidArgument(`invalid device cgroup rule format: '${rule}'`);
    const num = (s: string) => (s === '*' ? -1 : Number(s));
    return { allow: true, type: m[1]!, major: num(m[2]!), minor: num(m[3]!), access: m[4]! };
  });
}

/** The container's `Ulimits`, then the daemon's defaults for names it does not set, as rlimits. */
export function toRlimits(ulimits: readonly Ulimit[], defaults: readonly Ulimit[] = []): Rlimit[] {
  const all = [...ulimits];
  for (const d of defaults) {
    if (!all.some((u) => u.Name === d.Name)) all.push(d);
  }
  return all.map(toRlimit);
}

function toRlimit(u: Ulimit): Rlimit {
  const name = (u.Name ?? '').toLowerCase();
  if (!RLIMITS.has(name)) throw invalidArgument(`invalid ulimit type: ${u.Name ?? ''}`);
  const soft = u.Soft ?? 0;
  const hard = u.Hard ?? 0;
  if (hard >= 0 && (soft < 0 || soft > hard)) throw invalidArgument(`ulimit soft limit must be less than or equal to hard limit: ${soft} > ${hard}`);
  // -1 ("unlimited") stays -1 here; serializeSpec writes it as RLIM_INFINITY (2^64-1).
  const conv = (n: number) => (n < 0 ? -1 : n);
  return { type: 'RLIMIT_' + name.toUpperCase(), soft: conv(soft), hard: conv(hard) };
}
