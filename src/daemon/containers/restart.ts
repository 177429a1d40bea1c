/**
 * Restart policies (`no`, `always`, `on-failure[:N]`, `unless-stopped`) with Docker's
 * back-off: 100 ms doubling up to 1 min, reset after a run of 10 s or more.
 */
import type { ContainerRecord } from './model';

const MIN_DELAY = 100;
const MAX_DELAY = 60_000;

export class RestartPolicyManager {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly delays = new Map<string, number>();
  private closed = false;

  constructor(private readonly restart: (id: string) => Promise<void>) {}

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
    const t = setTimeout(() => {
      this.timers.delete(c.id);
      void this.restart(c.id);
    }, d);
    this.timers.set(c.id, t);
  }

  cancel(id: string): void {
    const t = this.timers.get(id);
    if (t) clearTimeout(t);
    this.timers.delete(id);
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}
