/**
 * Restart policies (`no`, `always`, `on-failure[:N]`, `unless-stopped`) with Docker's
 * back-off: 100 ms doubling up to 1 min, reset after a run of 10 s or more.
 */
import type { ContainerRecord } from './model';

/** The timers the back-off uses: the real ones, or a manual clock in tests. */
export interface Clock {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realClock: Clock = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

const MIN_DELAY = 100;
const MAX_DELAY = 60_000;

export class RestartPolicyManager {
  private readonly timers = new Map<string, unknown>();
  private readonly delays = new Map<string, number>();
  private closed = false;

  constructor(
    private readonly restart: (id: string) => Promise<void>,
    private readonly clock: Clock = realClock,
  ) {}

  /** Whether an exited container (state already updated with the exit) should restart. */
  shouldRestart(c: ContainerRecord): boolean {
    if (this.closed || c.state.manuallyStopped) return false;
    const p = c.hostConfig.RestartPolicy ?? {};
    switch (p.Name) {
      case 'always':
      case 'unless-stopped':
        return true;
      case 'on-failure': {
        if (c.state.exitCode === 0) return false;
        const max = p.MaximumRetryCount ?? 0;
        return max === 0 || c.restartCount < max;
      }
      default:
        return false;
    }
  }

  /** At daemon start: `always` restarts everything, `unless-stopped` what was not stopped by the user. */
  shouldRestartOnBoot(c: ContainerRecord): boolean {
    const name = c.hostConfig.RestartPolicy?.Name;
    if (!c.state.hasBeenStarted) return false;
    if (name === 'always') return true;
    if (name === 'unless-stopped') return !c.state.manuallyStopped;
    return false;
  }

  /** Schedules a restart after the back-off delay (or `delay`). */
  schedule(c: ContainerRecord, delay?: number): void {
    if (this.closed) return;
    this.cancel(c.id);
    let d = delay;
    if (d === undefined) {
      const ranFor = Date.parse(c.state.finishedAt) - Date.parse(c.state.startedAt);
      const prev = ranFor >= 10_000 ? 0 : this.delays.get(c.id) ?? 0;
      d = prev === 0 ? MIN_DELAY : Math.min(prev * 2, MAX_DELAY);
      this.delays.set(c.id, d);
    }
    const t = this.clock.setTimeout(() => {
      this.timers.delete(c.id);
      void this.restart(c.id);
    }, d);
    this.timers.set(c.id, t);
  }

  /** Whether a restart of `id` is scheduled and has not fired. */
  pending(id: string): boolean {
    return this.timers.has(id);
  }

  /** Calls off a scheduled restart (the timer; a restart already running is stopped by the status check under the lock). */
  cancel(id: string): void {
    const t = this.timers.get(id);
    if (t !== undefined) this.clock.clearTimeout(t);
    this.timers.delete(id);
  }

  /** Forgets `id` (removed): its timer and its back-off. */
  forget(id: string): void {
    this.cancel(id);
    this.delays.delete(id);
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers.values()) this.clock.clearTimeout(t);
    this.timers.clear();
  }
}
