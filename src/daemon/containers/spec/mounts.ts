/**
 * Container mounts as the caller resolved them (bind sources are host paths, volumes
 * are their data folders) and their OCI mount options, as Docker 20.10 writes them.
 */
import { invalidArgument } from '../../../engine/errdefs';
import type { Mount, Propagation } from '../types';

/** A mount with its source already resolved on the host. */
export interface ResolvedMount {
  /** absolute path inside the container */
  destination: string;
  /** `bind` and `volume` are bind mounts of `source`; `tmpfs` is a new tmpfs */
  type: 'bind' | 'volume' | 'tmpfs';
  /** host path (ignored for tmpfs) */
  source: string;
  /** tmpfs: data options such as `size=64m`, `mode=1777`, `ro`; bind: extra options appended */
  options?: string[];
  readOnly?: boolean;
  /** Docker uses `rprivate` for binds from `-v`/`--mount type=bind` and for /etc/hosts & co */
  propagation?: Propagation;
  /** `bind` instead of `rbind` */
  nonRecursive?: boolean;
}

/** Bind options: `rbind`|`bind`, `ro` unless writable, the propagation, extras. */
export function mountOptions(m: ResolvedMount): string[] {
  const opts = [m.nonRecursive ? 'bind' : 'rbind'];
  if (m.readOnly) opts.push('ro');
  if (m.propagation) opts.push(m.propagation);
  return [...opts, ...(m.options ?? [])];
}

/** Flags grouped by the bit they set or clear; propagation modes share one group. */
const FLAG_GROUP: Record<string, string> = {
  ro: 'rdonly', rw: 'rdonly', suid: 'nosuid', nosuid: 'nosuid', dev: 'nodev', nodev: 'nodev',
  exec: 'noexec', noexec: 'noexec', sync: 'sync', async: 'sync', dirsync: 'dirsync', remount: 'remount',
  mand: 'mand', nomand: 'mand', atime: 'noatime', noatime: 'noatime', diratime: 'nodiratime',
  nodiratime: 'nodiratime', relatime: 'relatime', norelatime: 'relatime', strictatime: 'strictatime',
  nostrictatime: 'strictatime',
  bind: 'propagation', rbind: 'propagation', unbindable: 'propagation', runbindable: 'propagation',
  private: 'propagation', rprivate: 'propagation', shared: 'propagation', rshared: 'propagation',
  slave: 'propagation', rslave: 'propagation',
};
const TMPFS_DATA = new Set(['', 'size', 'mode', 'uid', 'gid', 'nr_inodes', 'nr_blocks', 'mpol']);

/**
 * Options of a tmpfs mount: Docker's `noexec,nosuid,nodev,rprivate` defaults, then the
 * user's, the last of each kind winning (moby/sys/mount MergeTmpfsOptions).
 * @throws invalid-argument `Invalid tmpfs option ["x"]`
 */
export function tmpfsOptions(data: readonly string[]): string[] {
  const options = ['noexec', 'nosuid', 'nodev', 'rprivate', ...data];
  const seenFlags = new Set<string>();
  const seenData = new Set<string>();
  const out: string[] = [];
  for (let i = options.length - 1; i >= 0; i--) {
    const o = options[i]!;
    if (o === 'defaults') continue;
    const group = FLAG_GROUP[o];
    if (group) {
      if (!seenFlags.has(group)) {
        out.unshift(o);
        seenFlags.add(group);
      }
      continue;
    }
    const eq = o.indexOf('=');
    const key = eq < 0 ? o : o.slice(0, eq);
    if (eq < 0 || !TMPFS_DATA.has(key)) {
      const parts = eq < 0 ? [o] : [key, o.slice(eq + 1)];
      throw invalidArgument(`Invalid tmpfs option [${parts.map((p) => JSON.stringify(p)).join(' ')}]`);
    }
    if (!seenData.has(key)) {
      out.unshift(o);
      seenData.add(key);
    }
  }
  return out;
}

/** Tmpfs data for a `Mount` of type tmpfs: `ro`, `mode=<octal>`, `size=<n>[kmg]`. */
export function tmpfsMountData(m: Mount): string[] {
  const raw: string[] = [];
  if (m.ReadOnly) raw.push('ro');
  const mode = m.TmpfsOptions?.Mode ?? 0;
  if (mode) raw.push(`mode=${mode.toString(8)}`);
  let size = m.TmpfsOptions?.SizeBytes ?? 0;
  if (size) {
    let suffix = '';
    for (const [s, d] of [['g', 2 ** 30], ['m', 2 ** 20], ['k', 2 ** 10]] as const) {
      if (size % d === 0) {
        size /= d;
        suffix = s;
        break;
      }
    }
    raw.push(`size=${size}${suffix}`);
  }
  return raw;
}
