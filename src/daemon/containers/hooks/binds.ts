/**
 * The binds hook: host paths and tmpfs mounts the container asked for, from its mount
 * points (volumes/mountpoints.ts, recorded at create: `Binds` host paths, `Mounts` of
 * type `bind` and `tmpfs`, and those inherited through `VolumesFrom`) — binds with their
 * propagation (`rprivate` by default) and `ro`, non-recursive when asked; a missing
 * source of a `Binds` entry is made a directory, as Docker does; tmpfs with size and
 * mode. Containers recorded before mount points existed use their HostConfig as it was
 * then (host-path binds only). Volumes are the volumes hook's.
 */
import * as fs from 'node:fs';
import { parseBindSpec } from '../hostconfig';
import { tmpfsMountData, type ResolvedMount } from '../spec/mounts';
import type { Propagation } from '../types';
import type { Prepared, StartContext, StartHook } from './types';

export class BindsHook implements StartHook {
  readonly name = 'binds';

  async prepare(ctx: StartContext): Promise<Prepared> {
    const points = ctx.container.mountPoints;
    if (points) {
      const mounts: ResolvedMount[] = [];
      for (const m of points) {
        if (m.Type === 'bind') {
          if (m.CreateSource && !fs.existsSync(m.Source)) fs.mkdirSync(m.Source, { recursive: true, mode: 0o755 });
          mounts.push({
            destination: m.Destination, type: 'bind', source: m.Source, readOnly: !m.RW, propagation: (m.Propagation || 'rprivate') as Propagation,
            ...(m.NonRecursive ? { nonRecursive: true } : {}),
          });
        } else if (m.Type === 'tmpfs') {
          mounts.push({ destination: m.Destination, type: 'tmpfs', source: 'tmpfs', options: [...(m.TmpfsData ?? []), ...(m.RW ? [] : ['ro'])].filter((o, i, a) => a.indexOf(o) === i) });
        }
      }
      return { mounts };
    }
    const hc = ctx.container.hostConfig;
    const mounts: ResolvedMount[] = (hc.Binds ?? []).map((b) => {
      const s = parseBindSpec(b);
      return { destination: s.destination, type: 'bind' as const, source: s.source, readOnly: s.readOnly, propagation: 'rprivate' as const };
    });
    for (const m of hc.Mounts ?? []) {
      if (m.Type === 'bind') {
        mounts.push({
          destination: m.Target ?? '',
          type: 'bind',
          source: m.Source ?? '',
          readOnly: m.ReadOnly === true,
          propagation: m.BindOptions?.Propagation || 'rprivate',
          ...(m.BindOptions?.NonRecursive ? { nonRecursive: true } : {}),
        });
      } else if (m.Type === 'tmpfs') {
        mounts.push({ destination: m.Target ?? '', type: 'tmpfs', source: 'tmpfs', options: tmpfsMountData(m) });
      }
    }
    return { mounts };
  }

  async release(): Promise<void> {
    // nothing of its own: the mounts go with the container's mount namespace
  }
}
