/**
 * Two daemons in turn on one data root, for e2e tests of what outlives a daemon restart
 * (live restore). The first daemon runs with `live-restore` switched on (Docker needs
 * it; stevedore always live-restores) and busybox imported; the test stops or kills it
 * ({@link killDaemon}) and starts the second with {@link DaemonRestart.restart}.
 * {@link DaemonRestart.cleanup} removes every container, checks that none left anything
 * behind, stops both daemons, and (on stevedore) that no mount is left under the
 * directory; a SIGKILLed dockerd leaves its data root's own bind mount behind.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { importBusybox } from './busybox';
import { assertNoContainerLeftovers, removeAllContainers } from './containers';
import { type Target, startTarget, targetKind, unmountBelow } from './target';
import { alive, until } from './wait';

export class DaemonRestart {
  /** the data root, exec root and socket of both daemons live here */
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stv-e2e-'));
  #first: Target | undefined;
  #second: Target | undefined;

  /** The first daemon; throws before {@link start}. */
  get first(): Target {
    if (!this.#first) throw new Error('DaemonRestart: start() has not run');
    return this.#first;
  }

  /** Writes daemon.json (live-restore), starts the first daemon and imports busybox. */
  async start(): Promise<Target> {
    fs.writeFileSync(path.join(this.dir, 'daemon.json'), JSON.stringify({ 'live-restore': true }));
    this.#first = await startTarget({ dir: this.dir, kind: targetKind() });
    await importBusybox(this.#first);
    return this.#first;
  }

  /** Starts the second daemon on the same directory (the first must be gone). */
  async restart(): Promise<Target> {
    this.#second = await startTarget({ dir: this.dir, kind: targetKind() });
    return this.#second;
  }

  /**
   * Removes every container of the daemon running last (after `beforeCheck`, for
   * anything else the test made), asserts no leftovers, stops both daemons and
   * removes the directory.
   */
  async cleanup(beforeCheck?: (t: Target) => Promise<void>): Promise<void> {
    const first = this.first;
    const t = this.#second ?? first;
    await removeAllContainers(t);
    await beforeCheck?.(t);
    await assertNoContainerLeftovers(t);
    await this.#second?.stop();
    await first.stop();
    const left = unmountBelow(this.dir);
    fs.rmSync(this.dir, { recursive: true, force: true });
    if (first.kind === 'stevedore') assert.deepEqual(left, [], 'mounts left behind');
  }
}

/** SIGKILLs the target's daemon and waits (at most a minute) until it is gone. */
export async function killDaemon(t: Target): Promise<void> {
  process.kill(t.pid, 'SIGKILL');
  await until(() => !alive(t.pid), 'the daemon to die', { tries: 3000, everyMs: 20 });
}
