/**
 * The volumes hook: the container's volume mount points (its own, anonymous ones and
 * those of `VolumesFrom`, recorded at create: volumes/mountpoints.ts). Prepare acquires
 * each volume (a volume with driver options is mounted on its `_data`) and returns bind
 * mounts of the data directories. Filling an empty volume from the image happened at
 * create, as in Docker (ContainerService.populateVolumes). Release gives the volumes back (unmounting driver-option volumes nobody
 * else runs with); it is idempotent, so a release at restore or after a failed start
 * finds nothing wrong. Removing anonymous volumes is the removal's (`rm -v`, AutoRemove).
 */
import type { Logger } from '../../../engine/log';
import { invalidArgument } from '../../../engine/errdefs';
import { containerPath } from '../../volumes/mountpoints';
import type { ResolvedMount } from '../spec/mounts';
import type { Propagation } from '../types';
import type { Prepared, ReleaseReason, StartContext, StartHook } from './types';

/** What the hook needs of the volume service. */
export interface VolumeMounts {
  /** Mounts the volume's data if it has driver options; returns its Mountpoint. Throws not-found, internal. */
  acquire(name: string, containerId: string, m: { destination: string; rw: boolean; propagation: string }): string;
  /** Gives the volume back; idempotent. */
  release(name: string, containerId: string, reason?: ReleaseReason): void;
}

export class VolumesHook implements StartHook {
  readonly name = 'volumes';

  constructor(private readonly o: { volumes: VolumeMounts; log: Logger }) {}

  async prepare(ctx: StartContext): Promise<Prepared> {
    const id = ctx.container.id;
    const acquired: string[] = [];
    const mounts: ResolvedMount[] = [];
    try {
      for (const m of ctx.container.mountPoints ?? []) {
        if (m.Type !== 'volume' || !m.Name) continue;
        const destination = containerPath(m.Destination);
        // an image's VOLUME of `/` or `.` (Docker creates such a container and its start fails)
        if (destination === '/') throw invalidArgument(`invalid mount config for type "volume": invalid specification: destination can't be '/'`);
        const source = this.o.volumes.acquire(m.Name, id, { destination: m.Destination, rw: m.RW, propagation: m.Propagation });
        acquired.push(m.Name);
        mounts.push({ destination, type: 'volume', source, readOnly: !m.RW, propagation: (m.Propagation || 'rprivate') as Propagation });
      }
    } catch (err) {
      for (const name of acquired.reverse()) this.o.volumes.release(name, id, 'failed-start');
      throw err;
    }
    return { mounts };
  }

  async release(ctx: StartContext, reason: ReleaseReason): Promise<void> {
    for (const m of ctx.container.mountPoints ?? []) {
      if (m.Type !== 'volume' || !m.Name) continue;
      try {
        this.o.volumes.release(m.Name, ctx.container.id, reason);
      } catch (err) {
        this.o.log.warn('cannot release volume', { id: ctx.container.id, volume: m.Name, err: String(err) });
      }
    }
  }
}
