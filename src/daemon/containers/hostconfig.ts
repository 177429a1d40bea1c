/**
 * A container's HostConfig at create: Docker's defaults for what the CLI omits, the
 * checks Docker makes (with its messages), and the parsers for `-v` binds and log sizes.
 */
import * as os from 'node:os';
import * as fs from 'node:fs';
import type { HostConfig, Mount } from './types';
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
  // Docker stores the zero policy when none is sent (inspect: `Name: ""`; the docker CLI sends "no")
  if (!out.RestartPolicy) out.RestartPolicy = { Name: '', MaximumRetryCount: 0 };
  // moby's fixMemorySwappiness: -1 means "not set"
  if (out.MemorySwappiness === -1) out.MemorySwappiness = null;
  // moby's adaptContainerSettings: swap defaults to twice the memory limit, and is stored so
  if ((out.Memory ?? 0) > 0 && (out.MemorySwap ?? 0) === 0) out.MemorySwap = out.Memory! * 2;
  return out;
}

/**
 * Docker's checks of a create request's host config, in Docker's order (runconfig's
 * network mode checks are netconfig.ts validateNetworkMode, made before; validateHostConfig: AutoRemove, Mounts, restart policy;
 * verifyPlatformContainerResources: memory, CPUs; then the log driver, the storage
 * options the snapshotter refuses, and the `Binds` as registerMountPoints parses them).
 * Throws invalid-argument with Docker's messages.
 */
export function validateHostConfig(hc: HostConfig, opts: { exists?: (p: string) => boolean } = {}): void {
  const rp = hc.RestartPolicy?.Name ?? '';
  if (hc.AutoRemove && rp && rp !== 'no') throw invalidArgument("can't create 'AutoRemove' container with restart policy");
  for (const m of hc.Mounts ?? []) validateMount(m, opts.exists ?? fs.existsSync);
  if (!['', 'no', 'always', 'unless-stopped', 'on-failure'].includes(rp)) throw invalidArgument(`invalid restart policy '${rp}'`);
  if ((hc.RestartPolicy?.MaximumRetryCount ?? 0) < 0) throw invalidArgument('maximum retry count cannot be negative');
  if (rp !== 'on-failure' && (hc.RestartPolicy?.MaximumRetryCount ?? 0) > 0) {
    throw invalidArgument(`maximum retry count cannot be used with restart policy '${rp}'`);
  }
  validateMemory(hc, false);
  if (hc.NanoCpus && (hc.CpuQuota || hc.CpuPeriod)) {
    throw invalidArgument('Conflicting options: Nano CPUs and CPU Period cannot both be set');
  }
  if (hc.NanoCpus && (hc.NanoCpus < 0 || hc.NanoCpus > os.cpus().length * 1e9)) {
    throw invalidArgument(`Range of CPUs is from 0.01 to ${os.cpus().length}.00, as there are only ${os.cpus().length} CPUs available`);
  }
  const lt = hc.LogConfig?.Type ?? 'json-file';
  if (lt !== 'json-file' && lt !== 'none') throw invalidArgument(`logger: no log driver named '${lt}' is registered`);
  validateStorageOpt(hc.StorageOpt ?? {});
  validateBinds(hc);
}

const MIN_MEMORY = 6 * 1024 * 1024;

/**
 * The memory checks of moby's verifyPlatformContainerResources (create, and update with
 * `update` set), in its order. Throws invalid-argument.
 */
export function validateMemory(r: HostConfig, update: boolean): void {
  const mem = r.Memory ?? 0;
  const swap = r.MemorySwap ?? 0;
  if (mem !== 0 && mem < MIN_MEMORY) throw invalidArgument('Minimum memory limit allowed is 6MB');
  if (mem > 0 && swap > 0 && swap < mem) throw invalidArgument('Minimum memoryswap limit should be larger than memory limit, see usage');
  if (mem === 0 && swap > 0 && !update) throw invalidArgument('You should always set the Memory limit when using Memoryswap limit, see usage');
  const swappiness = r.MemorySwappiness;
  if (swappiness != null && swappiness !== -1 && (swappiness < 0 || swappiness > 100)) {
    throw invalidArgument(`Invalid value: ${swappiness}, valid memory swappiness range is 0-100`);
  }
  const reservation = r.MemoryReservation ?? 0;
  if (reservation > 0 && reservation < MIN_MEMORY) throw invalidArgument('Minimum memory reservation allowed is 6MB');
  if (mem > 0 && reservation > 0 && mem < reservation) {
    throw invalidArgument('Minimum memory limit can not be less than memory reservation limit, see usage');
  }
  const kernel = r.KernelMemory ?? 0;
  if (kernel > 0 && kernel < MIN_MEMORY) throw invalidArgument('Minimum kernel memory limit allowed is 6MB');
}

/**
 * `StorageOpt` as overlay2 takes it: `size` needs project quotas (xfs with `pquota`),
 * which stevedore's snapshotter does not set up, so it is refused as Docker refuses it
 * on any other backing filesystem; any other key is Docker's "Unknown option".
 */
export function validateStorageOpt(opts: Record<string, string>): void {
  if ('size' in opts) throw invalidArgument("--storage-opt is supported only for overlay over xfs with 'pquota' mount option");
  for (const [k, v] of Object.entries(opts)) {
    const key = k.toLowerCase();
    if (key !== 'size') throw invalidArgument(`Unknown option ${key}`);
    if (!/^\d+(\.\d+)?\s*[kmgtp]?i?b?$/i.test(v.trim())) throw invalidArgument(`invalid size: '${v}'`);
  }
  if (Object.keys(opts).length > 0) throw invalidArgument("--storage-opt is supported only for overlay over xfs with 'pquota' mount option");
}

// ---------------------------------------------------------------- mounts (moby volume/mounts/linux_parser.go)

const RW_MODES = new Set(['rw', 'ro']);
const LABEL_MODES = new Set(['z', 'Z']);
const PROPAGATION_MODES = new Set(['private', 'rprivate', 'slave', 'rslave', 'shared', 'rshared']);
const COPY_MODES = new Set(['nocopy']);
const CONSISTENCY_MODES = new Set(['consistent', 'cached', 'delegated']);

/** A bind's mode string (`ro,z,rshared`, …): each kind at most once, nothing unknown. */
export function validMountMode(mode: string): boolean {
  if (mode === '') return true;
  const counts = [0, 0, 0, 0, 0];
  for (const o of mode.split(',')) {
    const i = RW_MODES.has(o) ? 0 : LABEL_MODES.has(o) ? 1 : PROPAGATION_MODES.has(o) ? 2 : COPY_MODES.has(o) ? 3 : CONSISTENCY_MODES.has(o) ? 4 : -1;
    if (i < 0) return false;
    counts[i]!++;
  }
  return counts.every((n) => n <= 1);
}

/** Go's path.Clean for slash-separated paths. */
export function cleanPath(p: string): string {
  const abs = p.startsWith('/');
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length && out[out.length - 1] !== '..') out.pop();
      else if (!abs) out.push('..');
      continue;
    }
    out.push(part);
  }
  const s = (abs ? '/' : '') + out.join('/');
  return s === '' ? '.' : s;
}

/** validateMountConfigImpl: the reason a mount is invalid, or undefined. */
function mountConfigError(m: Mount, checkSourceExists: boolean, exists: (p: string) => boolean): string | undefined {
  const target = m.Target ?? '';
  if (target === '') return 'field Target must not be empty';
  if (cleanPath(target.replace(/\\/g, '/')) === '/') return "invalid specification: destination can't be '/'";
  const abs = (p: string) => (p.replace(/\\/g, '/').startsWith('/') ? undefined : `invalid mount path: '${p.replace(/\\/g, '/')}' mount path must be absolute`);
  const targetErr = abs(target);
  if (targetErr) return targetErr;
  switch (m.Type) {
    case 'bind': {
      const source = m.Source ?? '';
      if (source === '') return 'field Source must not be empty';
      const prop = m.BindOptions?.Propagation;
      if (prop && !PROPAGATION_MODES.has(prop)) return `invalid propagation mode: ${prop}`;
      if (m.VolumeOptions) return 'field VolumeOptions must not be specified';
      const sourceErr = abs(source);
      if (sourceErr) return sourceErr;
      if (checkSourceExists && !exists(source)) return `bind source path does not exist: ${source}`;
      return undefined;
    }
    case 'volume':
      if (m.BindOptions) return 'field BindOptions must not be specified';
      if (!m.Source && m.ReadOnly) return 'must not set ReadOnly mode when using anonymous volumes';
      return undefined;
    case 'tmpfs':
      if (m.BindOptions) return 'field BindOptions must not be specified';
      if (m.Source) return 'field Source must not be specified';
      return undefined;
    default:
      return 'mount type unknown';
  }
}

function validateMount(m: Mount, exists: (p: string) => boolean): void {
  const err = mountConfigError(m, true, exists);
  if (err) throw invalidArgument(`invalid mount config for type ${JSON.stringify(m.Type ?? '')}: ${err}`);
}

/**
 * A `-v` spec as moby's ParseMountRaw reads it: `dest`, `src:dest` or `src:dest:mode`; a
 * source that is an absolute path makes a bind, anything else a named volume. Returns
 * the cleaned destination. Throws invalid-argument with Docker's message.
 */
export function parseBindSpec(raw: string): { type: 'bind' | 'volume'; source: string; destination: string; mode: string; readOnly: boolean } {
  const invalid = `invalid volume specification: '${raw}'`;
  if ((raw.match(/:/g) ?? []).length > 2) throw invalidArgument(invalid);
  const arr = raw.split(':');
  if (arr[0] === '') throw invalidArgument(invalid);
  let source = '';
  let target: string;
  let mode = '';
  if (arr.length === 1) target = arr[0]!;
  else if (arr.length === 2) {
    if (validMountMode(arr[1]!)) throw invalidArgument(invalid);
    [source, target] = [arr[0]!, arr[1]!];
  } else [source, target, mode] = [arr[0]!, arr[1]!, arr[2]!];
  if (!validMountMode(mode)) throw invalidArgument(`invalid mode: ${mode}`);
  const type = source.startsWith('/') ? 'bind' : 'volume';
  const opts = mode.split(',');
  const readOnly = opts.includes('ro');
  const m: Mount = { Type: type, Source: source, Target: target, ReadOnly: readOnly };
  if (opts.some((o) => COPY_MODES.has(o))) m.VolumeOptions = {};
  if (opts.some((o) => PROPAGATION_MODES.has(o))) m.BindOptions = {};
  const err = mountConfigError(m, false, () => true);
  if (err) throw invalidArgument(`${invalid}: invalid mount config for type "${type}": ${err}`);
  return { type, source: type === 'bind' ? cleanPath(source) : source, destination: cleanPath(target), mode, readOnly };
}

/** registerMountPoints' checks: every bind parses, and no destination is taken twice (binds, tmpfs, mounts). */
function validateBinds(hc: HostConfig): void {
  const taken = new Set<string>();
  for (const b of hc.Binds ?? []) {
    const { destination } = parseBindSpec(b);
    if (taken.has(destination) || (hc.Tmpfs && destination in hc.Tmpfs)) throw invalidArgument(`Duplicate mount point: ${destination}`);
    taken.add(destination);
  }
  for (const m of hc.Mounts ?? []) {
    if (taken.has(cleanPath(m.Target ?? ''))) throw invalidArgument(`Duplicate mount point: ${m.Target ?? ''}`);
  }
}
