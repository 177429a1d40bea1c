/**
 * Restore at daemon start (live restore): reattaches to every live task, records the
 * exits of tasks that ended while the daemon was away, finishes removals a crash cut
 * off, removes AutoRemove containers that are not running (a `run --rm` whose start a
 * daemon kill cut off: Docker's restore does the same), and starts `always` /
 * `unless-stopped` containers again (issue #12, races 4 and 5). A running container keeps
 * its network (namespace, endpoints); the network hook reserves its published ports again.
 */
import type { ContainerCore } from './core';
import type { Lifecycle } from './lifecycle';
import type { ExitMonitor } from './monitor';
import type { Removal } from './removal';
import { isRunning } from './state';

export async function restoreContainers(k: ContainerCore, parts: { lifecycle: Lifecycle; monitor: ExitMonitor; removal: Removal }): Promise<void> {
  const { lifecycle, monitor, removal } = parts;
  k.sweepDiscarded();
  const tasks = new Set(await k.tasks.list().catch(() => [] as string[]));
  const live = { has: (id: string) => tasks.has(id) || tasks.has(id.slice(0, 32)) };
  for (const c of [...k.byId.values()]) {
    if (c.state.status === 'removing') {
      await k.lock.run(c.id, async () => {
        k.setStatus(c, 'remove-failed');
        if (k.saveOrRetry(c)) await removal.removeLocked(c.id, { force: true }).catch(() => {});
      });
      continue;
    }
    if (!isRunning(c.state.status)) {
      // a start cut off by the crash may have left a task and a mounted rootfs behind
      if (live.has(c.id)) await k.tasks.delete(c.id).catch(() => {});
      await k.releaseHooks(c, 'failed-start');
      if (c.state.status === 'restarting') {
        // its back-off timer died with the last daemon; the boot start below picks it up
        k.setStatus(c, 'cancel-restart');
        k.saveOrRetry(c);
      }
      continue;
    }
    if (live.has(c.id)) {
      const st = await k.tasks.state(c.id).catch(() => 'stopped' as const);
      if ((st === 'running' || st === 'paused') && st !== c.state.status) {
        k.setStatus(c, st === 'paused' ? 'pause' : 'unpause');
        k.saveOrRetry(c);
      }
      // hooks that hold something in the daemon for a running container take it again (the network hook: its published ports)
      for (const h of k.hooks) {
        const adopt = (h as { adopt?: (ctx: ReturnType<ContainerCore['startContext']>) => Promise<void> }).adopt;
        if (adopt) await adopt.call(h, k.startContext(c)).catch((err) => k.log.warn('start hook cannot adopt a running container', { id: c.id, hook: h.name, err: String(err) }));
      }
      monitor.watch(c.id); // stopped: wait() returns the recorded status at once
      continue;
    }
    await k.lock.run(c.id, () => monitor.handleExit(c.id, { exitCode: 255, oomKilled: false, finishedAt: new Date() }));
  }
  // what a crash left of containers that are not running (the network hook: namespaces),
  // before the boot starts below make new ones
  const running = new Set([...k.byId.values()].filter((c) => isRunning(c.state.status)).map((c) => c.id));
  for (const h of k.hooks) await h.reconcile?.(running).catch((err) => k.log.warn('start hook cannot reconcile', { hook: h.name, err: String(err) }));
  for (const c of [...k.byId.values()]) {
    if (c.state.status !== 'created' && c.state.status !== 'exited' && c.state.status !== 'dead') continue;
    if (c.state.status !== 'created' && k.restarts.shouldRestartOnBoot(c)) {
      if (c.state.status === 'exited') void lifecycle.startOnBoot(c.id);
    } else if (c.hostConfig.AutoRemove) {
      // finishRemoval deletes a task and releases the hooks (a rootfs still mounted) first
      await k.lock
        .run(c.id, () => removal.removeLocked(c.id, { force: true }))
        .catch((err) => k.log.warn('cannot remove an AutoRemove container at restore', { id: c.id, err: String(err) }));
    }
  }
}
