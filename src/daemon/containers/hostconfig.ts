/**
 * A container's HostConfig at create: Docker's defaults for what the CLI omits, the
 * checks Docker makes (with its messages), and the parsers for `-v` binds and log sizes.
 */
import * as os from 'node:os';
import type { HostConfig } from '../../engine/bundle/types';
import { invalidArgument } from '../../engine/errdefs';

/** Docker's size strings for log options: `10m`, `1g`, `500k`, plain bytes. */
export function parseSize(s: string | undefined): number | undefined {
  if (!s) return undefined;
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]?)b?$/i.exec(s.trim());
  if (!m) throw invalidArgument(`invalid max-size: ${s}`);
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g'];
  return Math.floor(Number(m[1]) * mult);
}

/** Fills in Docker's defaults for fields the CLI may omit. */
export function normalizeHostConfig(hc: HostConfig): HostConfig {
  const out: HostConfig = { ...hc };
  if (!out.NetworkMode) out.NetworkMode = 'default';
  if (!out.LogConfig || !out.LogConfig.Type) out.LogConfig = { Type: 'json-file', Config: out.LogConfig?.Config ?? {} };
  if (!out.RestartPolicy) out.RestartPolicy = { Name: 'no', MaximumRetryCount: 0 };
  return out;
}

export function validateHostConfig(hc: HostConfig): void {
  const nm = hc.NetworkMode ?? '';
  if (!['default', 'bridge', 'host', 'none'].includes(nm)) {
    if (nm.startsWith('container:')) throw invalidArgument('network mode container:<id> is not supported yet');
    throw invalidArgument(`network ${nm} not found`);
  }
  const lt = hc.LogConfig?.Type ?? 'json-file';
  if (lt !== 'json-file' && lt !== 'none') throw invalidArgument(`logger: no log driver named '${lt}' is registered`);
  const rp = hc.RestartPolicy?.Name ?? '';
  if (!['', 'no', 'always', 'unless-stopped', 'on-failure'].includes(rp)) throw invalidArgument(`invalid restart policy '${rp}'`);
  if (hc.AutoRemove && rp && rp !== 'no') throw invalidArgument("can't create 'AutoRemove' container with restart policy");
  if ((hc.RestartPolicy?.MaximumRetryCount ?? 0) < 0) throw invalidArgument('maximum retry count cannot be negative');
  if (rp !== 'on-failure' && (hc.RestartPolicy?.MaximumRetryCount ?? 0) > 0) {
    throw invalidArgument(`maximum retry count cannot be used with restart policy '${rp}'`);
  }
  if (hc.Memory && hc.Memory > 0 && hc.Memory < 6 * 1024 * 1024) throw invalidArgument('Minimum memory limit allowed is 6MB');
  if (hc.NanoCpus && (hc.CpuQuota || hc.CpuPeriod)) {
    throw invalidArgument('Conflicting options: Nano CPUs and CPU Period cannot both be set');
  }
  if (hc.NanoCpus && (hc.NanoCpus < 0 || hc.NanoCpus > os.cpus().length * 1e9)) {
    throw invalidArgument(`Range of CPUs is from 0.01 to ${os.cpus().length}.00, as there are only ${os.cpus().length} CPUs available`);
  }
}

/** `src:dest[:opts]` from `-v` (bind mounts of host paths only; volumes come later). */
export function parseBind(b: string): { destination: string; type: 'bind'; source: string; readOnly: boolean; propagation: 'rprivate' } {
  const parts = b.split(':');
  if (parts.length < 2 || !parts[0]!.startsWith('/')) throw invalidArgument(`named volumes are not supported yet: ${b}`);
  const opts = (parts[2] ?? '').split(',');
  return { destination: parts[1]!, type: 'bind', source: parts[0]!, readOnly: opts.includes('ro'), propagation: 'rprivate' };
}
