/**
 * A container's mount points, resolved once at create as moby's registerMountPoints
 * does and recorded with the container (Docker's `MountPoints`): `VolumesFrom` first,
 * then `Binds`, then `Mounts` (each replacing what an earlier source put at the same
 * destination; two of `Binds`/`Mounts` at one destination are "Duplicate mount point"),
 * then the anonymous volumes of `Config.Volumes` (the image's `VOLUME`s and `-v /path`)
 * where nothing is mounted yet. Volumes are created (or found) here; the start hook
 * (containers/hooks/volumes.ts) mounts them and fills them from the image.
 */
import { invalidArgument } from '../../engine/errdefs';
import { cleanPath, parseBindSpec } from '../containers/hostconfig';
import { tmpfsMountData } from '../containers/spec/mounts';
import type { ContainerConfig, HostConfig, Mount } from '../containers/types';

/** One mount point of a container, as recorded (Docker's container MountPoint). */
export interface MountPoint {
  Type: 'bind' | 'volume' | 'tmpfs';
  /** the volume's name (volume) */
  Name?: string;
  /** host path: the bind's source or the volume's Mountpoint; '' for tmpfs */
  Source: string;
  Destination: string;
  /** the volume's driver (volume) */
  Driver?: string;
  /** the mode as given (`ro,z`), `z` for a named volume without one, '' otherwise */
  Mode: string;
  RW: boolean;
  Propagation: string;
  /** false for an anonymous volume: it goes with `rm -v` and AutoRemove */
  Named?: boolean;
  /** fill an empty volume from the image's content at Destination on first use */
  CopyData?: boolean;
  /** a bind that does not recurse (`BindOptions.NonRecursive`) */
  NonRecursive?: boolean;
  /** a bind from `Binds`: its missing source is created as a directory (Docker's legacy) */
  CreateSource?: boolean;
  /** tmpfs data options (`size=1m`, `mode=1777`) */
  TmpfsData?: string[];
  /** the container it came from (VolumesFrom) */
  From?: string;
}

/** What resolving needs: volumes (create or get) and other containers (VolumesFrom). */
export interface MountPointDeps {
  /**
   * Gets volume `name` or creates it (`name` undefined: a new anonymous one); returns its
   * name, driver and Mountpoint. Throws as volume create does.
   */
  volume(name: string | undefined, o: { driver?: string; options?: Record<string, string>; labels?: Record<string, string> }): { name: string; driver: string; mountpoint: string };
  /** Another container's mount points (VolumesFrom). Throws not-found `No such container: x`. */
  container(ref: string): { id: string; mountPoints: MountPoint[] };
}

/**
 * Where a recorded destination is in the container: an absolute, cleaned path. A path
 * from an image config may be relative (`rel`, `../../etc`): it is taken from the
 * container's root and never leaves it (`../../etc` is `/etc`), as runc resolves it.
 */
export function containerPath(destination: string): string {
  return cleanPath('/' + destination);
}

/** A `VolumesFrom` entry: `container[:ro|rw]` (moby's ParseVolumesFrom). */
export function parseVolumesFrom(spec: string): { container: string; rw: boolean } {
  if (spec === '') throw invalidArgument(`volume-from specification cannot be an empty string`);
  const i = spec.indexOf(':');
  if (i < 0) return { container: spec, rw: true };
  const mode = spec.slice(i + 1);
  const opts = mode.split(',');
  const valid = opts.every((o) => ['ro', 'rw', 'z', 'Z', 'nocopy'].includes(o) || /^r?(private|shared|slave)$/.test(o));
  if (!valid) throw invalidArgument(`invalid mode: ${mode}`);
  return { container: spec.slice(0, i), rw: !opts.includes('ro') };
}

function driverOf(m: Mount, fallback: string | undefined): string | undefined {
  return m.VolumeOptions?.DriverConfig?.Name || fallback || undefined;
}

/**
 * Resolves the mount points of a container being created (validation of the specs is
 * hostconfig.ts's, done before). Volumes it names are created when missing; the
 * returned list is what the container records. Throws invalid-argument, not-found.
 */
export function resolveMountPoints(config: ContainerConfig, hc: HostConfig, deps: MountPointDeps): MountPoint[] {
  const points = new Map<string, MountPoint>();
  for (const spec of hc.VolumesFrom ?? []) {
    const { container, rw } = parseVolumesFrom(spec);
    const c = deps.container(container);
    for (const m of c.mountPoints) {
      const cp: MountPoint = { ...m, Mode: '', RW: m.RW && rw, CopyData: false, From: c.id };
      delete cp.CreateSource;
      points.set(cp.Destination, cp);
    }
  }
  const taken = new Set<string>();
  for (const raw of hc.Binds ?? []) {
    const b = parseBindSpec(raw);
    if (taken.has(b.destination)) throw invalidArgument(`Duplicate mount point: ${b.destination}`);
    taken.add(b.destination);
    const modes = b.mode.split(',').filter((x) => x !== '');
    const propagation = modes.find((x) => /^r?(private|shared|slave)$/.test(x));
    if (b.type === 'bind') {
      points.set(b.destination, { Type: 'bind', Source: b.source, Destination: b.destination, Mode: b.mode, RW: !b.readOnly, Propagation: propagation ?? 'rprivate', CreateSource: true });
    } else {
      const v = deps.volume(b.source || undefined, { driver: hc.VolumeDriver || undefined });
      points.set(b.destination, {
        Type: 'volume', Name: v.name, Source: v.mountpoint, Destination: b.destination, Driver: v.driver,
        Mode: b.mode === '' && v.driver === 'local' ? 'z' : b.mode, RW: !b.readOnly, Propagation: propagation ?? '',
        Named: b.source !== '', CopyData: !modes.includes('nocopy'),
      });
    }
  }
  for (const m of hc.Mounts ?? []) {
    const dest = cleanPath(m.Target ?? '');
    if (taken.has(dest)) throw invalidArgument(`Duplicate mount point: ${dest}`);
    taken.add(dest);
    const rw = m.ReadOnly !== true;
    if (m.Type === 'bind') {
      points.set(dest, {
        Type: 'bind', Source: cleanPath(m.Source ?? ''), Destination: dest, Mode: '', RW: rw, Propagation: m.BindOptions?.Propagation || 'rprivate',
        ...(m.BindOptions?.NonRecursive ? { NonRecursive: true } : {}),
      });
    } else if (m.Type === 'volume') {
      const v = deps.volume(m.Source || undefined, {
        driver: driverOf(m, hc.VolumeDriver),
        ...(m.VolumeOptions?.DriverConfig?.Options ? { options: m.VolumeOptions.DriverConfig.Options } : {}),
        ...(m.VolumeOptions?.Labels ? { labels: m.VolumeOptions.Labels } : {}),
      });
      points.set(dest, {
        Type: 'volume', Name: v.name, Source: v.mountpoint, Destination: dest, Driver: v.driver, Mode: v.driver === 'local' ? 'z' : '', RW: rw,
        Propagation: '', Named: !!m.Source, CopyData: m.VolumeOptions?.NoCopy !== true,
      });
    } else if (m.Type === 'tmpfs') {
      points.set(dest, { Type: 'tmpfs', Source: '', Destination: dest, Mode: '', RW: rw, Propagation: '', TmpfsData: tmpfsMountData(m) });
    }
  }
  for (const spec of Object.keys(config.Volumes ?? {})) {
    // recorded as Docker records it (filepath.Clean: `rel`, `../../etc`, `.`); mounted at containerPath()
    const dest = cleanPath(spec);
    if (points.has(dest) || points.has(containerPath(dest)) || (hc.Tmpfs && (dest in hc.Tmpfs || containerPath(dest) in hc.Tmpfs))) continue;
    const v = deps.volume(undefined, { driver: hc.VolumeDriver || undefined });
    points.set(dest, { Type: 'volume', Name: v.name, Source: v.mountpoint, Destination: dest, Driver: v.driver, Mode: '', RW: true, Propagation: '', Named: false, CopyData: true });
  }
  return [...points.values()];
}

/** Inspect's `Mounts` entry (Docker's types.MountPoint, its omitempty fields left out when empty). */
export function mountPointView(m: MountPoint): Record<string, unknown> {
  return {
    Type: m.Type,
    ...(m.Name ? { Name: m.Name } : {}),
    Source: m.Source,
    Destination: m.Destination,
    ...(m.Driver ? { Driver: m.Driver } : {}),
    Mode: m.Mode,
    RW: m.RW,
    Propagation: m.Propagation,
  };
}
