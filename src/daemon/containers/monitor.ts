/**
 * The exit monitor: watches every live task for its exit and records it, then hands the
 * container to what follows — the task's teardown, the restart policy or AutoRemove.
 * The exit is written before the task goes (on a full data root: kept in memory and
 * written again; docs/containers.md "A full data root").
 */
import { rfc3339Nano } from '../../engine/clock';
import { isNotFound } from '../../engine/errdefs';
import type { ExitStatus } from '../../engine/runtime';
import type { ContainerCore } from './core';
import type { ContainerRecord } from './model';
import { isRunning } from './state';

export class ExitMonitor {
  constructor(
    private readonly k: ContainerCore,
    /** removal.ts: the removal of a container recorded as `removing` */
    private readonly finishRemoval: (c: ContainerRecord) => Promise<void>,
  ) {}

  /** Watches a live task for its exit and records it (under the container's lock). */
  watch(id: string): void {
    const k = this.k;
    const p = (async () => {
      let st: ExitStatus;
      for (;;) {
        try {
          st = await k.tasks.wait(id);
          break;
        } catch (err) {
          if (k.closed) return;
          if (isNotFound(err)) {
            st = { exitCode: 255, oomKilled: false, finishedAt: new Date() };
            break;
          }
          k.log.warn('waiting for container failed; retrying', { id, err: String(err) });
          await new Promise((r) => setTimeout(r, 500));
        }
      }
      if (k.closed) return;
      await k.lock.run(id, () => this.handleExit(id, st));
    })();
    const tracked = p.catch((err) => k.log.error('container exit handling failed', { id, err: String(err) }));
    k.monitors.set(id, tracked);
    void tracked.finally(() => {
      if (k.monitors.get(id) === tracked) k.monitors.delete(id);
    });
  }

  /** Resolves when the container's current task has exited and its exit was recorded. */
  exited(id: string): Promise<void> {
    const m = this.k.monitors.get(id);
    return m ? m.then(() => {}) : Promise.resolve();
  }

  /**
   * Records an exit (under the lock): releases the start hooks (their `disconnect` and
   * `unmount` events come first, in Docker's Cleanup order: ContainerCore.releaseHooks),
   * then exit, restart or removal in one write, then `die` and the waiters (moby
   * daemon/monitor.go handleContainerExit since Docker 23: Cleanup, then `die`).
   */
  async handleExit(id: string, st: ExitStatus): Promise<void> {
    const k = this.k;
    const c = k.byId.get(id);
    if (!c || !isRunning(c.state.status)) return;
    // an AutoRemove container is removed after its exit unless `docker restart` stopped it
    // (it cannot have a restart policy): the hooks may leave to the removal what it undoes
    await k.releaseHooks(c, 'exit', { removalFollows: c.hostConfig.AutoRemove === true && !k.manualRestarts.has(id) });
    const s = structuredClone(c);
    s.state = { ...s.state, pid: 0, exitCode: st.exitCode, oomKilled: st.oomKilled, finishedAt: st.finishedAtText ?? rfc3339Nano(BigInt(st.finishedAt.getTime()) * 1_000_000n) };
    const claimed = k.removals.has(id);
    const restart = !k.closed && !claimed && k.restarts.shouldRestart(s);
    const autoRemove = !restart && s.hostConfig.AutoRemove === true && !k.manualRestarts.has(id);
    if (restart) {
      k.setStatus(s, 'exit-restart');
      s.restartCount++;
    } else if (autoRemove) {
      k.restarts.cancel(id);
      k.setStatus(s, 'exit-remove');
    } else {
      k.setStatus(s, 'exit');
    }
    // An auto-removed container's exit is recorded by the removal's own commit (the rows
    // go), one commit instead of two: what the exit would write is gone a moment later. A
    // daemon killed before that commit finds the container running without a task at
    // restore, records an exit and removes it then (restore.ts). Any other exit: the task
    // (and the shim's exit record on the exec root) is torn down only once the exit is on
    // disk — a daemon restarted before that reads the exit from the shim's record.
    let recorded = false;
    if (autoRemove) k.byId.set(id, s);
    else recorded = k.saveOrRetry(s, () => this.afterExitRecorded(id));
    if (st.oomKilled) k.publish(s, 'oom');
    k.publish(s, 'die', { exitCode: String(st.exitCode) });
    k.notifyWaiters(id, 'exit', st.exitCode);
    if (autoRemove) {
      this.deleteTask(id);
      await this.finishRemoval(s).catch((err) => k.log.warn('auto-remove failed', { id, err: String(err) }));
    } else if (recorded) await this.afterExitRecorded(id);
  }

  /** What follows a recorded exit: the task's teardown, then a policy restart or the auto-removal. */
  private async afterExitRecorded(id: string): Promise<void> {
    const k = this.k;
    const c = k.byId.get(id);
    if (!c || isRunning(c.state.status)) return;
    this.deleteTask(id);
    if (c.state.status === 'restarting') {
      await k.taskDeletes.get(id);
      k.restarts.schedule(c);
    } else if (c.state.status === 'removing' && c.hostConfig.AutoRemove) {
      await this.finishRemoval(c).catch((err) => k.log.warn('auto-remove failed', { id, err: String(err) }));
    }
  }

  /** Starts the runtime teardown of an exited task in the background (see ContainerCore.taskDeletes). */
  deleteTask(id: string): void {
    const k = this.k;
    if (k.taskDeletes.has(id)) return;
    const p = k.tasks
      .delete(id)
      .catch((err) => k.log.warn('task delete failed', { id, err: String(err) }))
      .finally(() => k.taskDeletes.delete(id));
    k.taskDeletes.set(id, p);
  }
}
