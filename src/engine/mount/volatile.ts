/**
 * overlayfs's `volatile` option (Linux 5.10+) for a rootfs whose writable layer is thrown
 * away when the container ends (`--rm`): the overlay then never syncs its upper
 * filesystem, in particular not at unmount, where a plain overlay flushes *every* dirty
 * page of the filesystem holding the data root (container logs included: 65–75 ms here
 * after 64 MiB was written elsewhere on it, ~2 ms when clean; ~0.2–1 ms volatile).
 *
 * A volatile mount leaves `<workdir>/work/incompat/volatile` behind, and overlayfs refuses
 * to mount that upper/work pair again while it exists (the upper dir may be torn after a
 * crash). An auto-removed container's layer is only ever mounted again within the same
 * boot (`docker restart`): after a crash the daemon removes such a container instead.
 * So the marker is cleared before such a remount.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Mount } from './types';

/** The mounts with `volatile` added to each overlay (and its stale marker cleared). */
export function volatileMounts(mounts: readonly Mount[]): Mount[] {
  return mounts.map((m) => {
    if (m.type !== 'overlay' || m.options.includes('volatile')) return m;
    const work = m.options.find((o) => o.startsWith('workdir='))?.slice('workdir='.length);
    if (work) fs.rmSync(path.join(work, 'work', 'incompat'), { recursive: true, force: true });
    return { ...m, options: [...m.options, 'volatile'] };
  });
}

/**
 * Mounts with `volatile` where the kernel has it: tries the volatile mounts, and on
 * EINVAL (a kernel without the option) the plain ones.
 */
export function mountVolatile(mounts: readonly Mount[], target: string, mountAll: (m: Mount[], target: string) => void): void {
  try {
    mountAll(volatileMounts(mounts), target);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err;
    mountAll([...mounts], target);
  }
}
