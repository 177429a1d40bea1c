/**
 * Removal: `docker rm` (with and without force), AutoRemove's removal, prune. The row and
 * its snapshot's row go in one transaction, files after (docs/containers.md).
 *
 * A forced removal first claims the container (`ContainerCore.removals`, Docker's
 * RemovalInProgress): from then on no start runs for it, neither a user's nor a
 * restart policy's. Then, under the lock, it kills what runs, waits for the exit outside
 * the lock, and removes under the lock — so `rm -f` racing a start or a policy restart
 * always ends with the container gone (issue #12, race 1).
 */
import { conflict } from '../../engine/errdefs';
import type { ContainerCore } from './core';
import type { Lifecycle } from './lifecycle';
import type { ContainerRecord } from './model';
import type { ExitMonitor } from './monitor';
import { canRemove, isRunning } from './state';
import { removeGcRef } from './store';

export class Removal {
  constructor(
    private readonly k: ContainerCore,
    private readonly lifecycle: () => Lifecycle,
    private readonly monitor: () => ExitMonitor,
  ) {}

  /** Removes a container. Throws conflict when running without force. */
  async remove(ref: string, opts: { force?: boolean; removeVolumes?: boolean } = {}): Promise<void> {
    const k = this.k;
    const id = k.get(ref).id;
    if (!opts.force) {
      await k.lock.run(id, () => this.removeLocked(id, opts));
      return;
    }
    const claimedHere = !k.removals.has(id);
    k.removals.add(id);
    try {
      k.restarts.cancel(id);
      for (;;) {
        // (wrapped: a promise returned from the locked section would be awaited inside it)
        const killed = await k.lock.run(id, async () => {
          const c = k.byId.get(id);
          if (!c || !isRunning(c.state.status)) return undefined;
          this.lifecycle().markManuallyStopped(id);
          const exited = this.monitor().exited(id);
          await this.lifecycle().signal(id, 'SIGKILL').catch(() => {});
          return { exited };
        });
        if (!killed) break;
        await killed.exited;
      }
      await k.lock.run(id, () => this.removeLocked(id, opts));
    } finally {
      if (claimedHere) k.removals.delete(id);
    }
  }

  /** Under the lock: checks, records `removing`, removes. */
  async removeLocked(id: string, opts: { force?: boolean; removeVolumes?: boolean }): Promise<void> {
    const k = this.k;
    const c = k.byId.get(id);
    if (!c) return;
    if (c.state.status === 'removing') throw conflict(`removal of container ${id} is already in progress`);
    if (!canRemove(c.state.status) && !(opts.force && c.state.status === 'restarting')) {
      throw conflict(`You cannot remove a running container ${id}. Stop the container before attempting removal or force remove`);
    }
    k.restarts.cancel(id);
    k.setStatus(c, 'remove');
    k.save(c);
    await this.finishRemoval(c, opts.removeVolumes);
  }

  /** The auto-removal of a container whose start failed (under its own lock turn). */
  async removeAfterFailedStart(id: string): Promise<void> {
    await this.removeLocked(id, { force: true });
  }

  /**
   * The removal of a container recorded as 'removing': task, start hooks, rootfs, then its
   * row, the engine's record and its snapshot's row in one transaction (one commit), then the files.
   */
  async finishRemoval(c: ContainerRecord, removeVolumes?: boolean): Promise<void> {
    const k = this.k;
    const id = c.id;
    const removeWith = k.o.snapshots.removeWith?.bind(k.o.snapshots);
    let snapshotGone = false;
    let snapshotFiles: (() => Promise<void>) | undefined;
    try {
      // An exited task is already being torn down in the background (monitor deleteTask).
      if (!k.taskDeletes.has(id)) await k.tasks.delete(id).catch(() => {});
      await k.releaseHooks(c, 'remove');
      // the Docker row, its GC reference and the engine's record in one commit
      const dropRow = () =>
        k.store.delete(id, (db) => {
          removeGcRef(db, id);
          k.engine.deleteIn(db, id);
        });
      if (removeWith) {
        try {
          await removeWith(c.snapshotKey, dropRow, { files: (f) => (snapshotFiles = f) });
          snapshotGone = true;
        } catch (err) {
          k.log.warn('snapshot remove failed (gc will collect it)', { id, err: String(err) });
        }
      }
      if (!snapshotGone) dropRow();
    } catch (err) {
      k.setStatus(c, 'remove-failed');
      c.state.error = String(err);
      k.save(c);
      throw err;
    }
    k.byId.delete(id);
    k.restarts.forget(id);
    // rm -v, and AutoRemove (moby removes an auto-removed container with RemoveVolume)
    k.o.volumes?.containerRemoved(c, removeVolumes ?? c.hostConfig.AutoRemove === true);
    if (!snapshotGone && !removeWith) {
      await k.o.snapshots.remove(c.snapshotKey).catch((err) => k.log.warn('snapshot remove failed (gc will collect it)', { id, err: String(err) }));
    }
    // the container's own directory is renamed away before the report and deleted after
    k.discardFiles(id);
    k.publish(c, 'destroy');
    k.notifyWaiters(id, 'removed', c.state.exitCode);
    // The snapshot's files last, on libuv's threads, after the removal is reported:
    // nothing the API shows depends on them (its row went in the commit above), and
    // deleting the layer's tree is the slowest part of a removal when the disk is busy
    // (the journal). A crash before they are gone leaves an orphan directory, which the
    // snapshotter's cleanup at start removes (as after a crash between commit and files
    // before). The container's own directory leaves its place before the report, as
    // Docker's goes (core.discardFiles).
    if (snapshotFiles) {
      const files = snapshotFiles;
      k.later(() => files().catch((err) => k.log.warn('cannot remove the snapshot files (gc will collect them)', { id, err: String(err) })));
    }
  }

  /** Set while a container prune runs (moby answers a second one with a conflict). */
  private pruneRunning = false;

  /**
   * Removes every stopped container matching `match` and publishes `container prune`
   * with the bytes their upper layers held. Throws conflict while another prune runs.
   */
  async prune(match: (c: ContainerRecord) => boolean, sizeRw: (id: string) => Promise<number>): Promise<{ deleted: string[]; reclaimed: number }> {
    if (this.pruneRunning) throw conflict('a prune operation is already running');
    this.pruneRunning = true;
    try {
      return await this.pruneStopped(match, sizeRw);
    } finally {
      this.pruneRunning = false;
    }
  }

  private async pruneStopped(match: (c: ContainerRecord) => boolean, sizeRw: (id: string) => Promise<number>): Promise<{ deleted: string[]; reclaimed: number }> {
    const k = this.k;
    const deleted: string[] = [];
    let reclaimed = 0;
    for (const c of [...k.byId.values()].map((x) => structuredClone(x))) {
      if (isRunning(c.state.status) || c.state.status === 'restarting' || c.state.status === 'removing' || !match(c)) continue;
      const size = await sizeRw(c.id).catch(() => 0);
      try {
        await this.remove(c.id);
        deleted.push(c.id);
        reclaimed += size;
      } catch (err) {
        k.log.warn('prune: cannot remove container', { id: c.id, err: String(err) });
      }
    }
    k.o.events.publish('container', 'prune', '', { reclaimed: String(reclaimed) });
    return { deleted, reclaimed };
  }
}
