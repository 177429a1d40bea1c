/**
 * When the engine's garbage collector runs: once at start (the storage core does that
 * itself), on a schedule (every 10 minutes by default), and shortly after deletes — an
 * image or container removed (which covers prune) or a failed pull — debounced, so that
 * a burst of deletes (`docker rm $(docker ps -aq)`, a prune) costs one collection.
 * Collections never overlap (the collector shares a running one), and a failure is
 * logged, never thrown: the next trigger tries again.
 */
import type { Logger } from '../../engine/log';
import type { DockerEvent } from '../events/bus';

/** What the scheduler needs of the collector (engine/gc's GarbageCollector). */
export interface Collector {
  collect(): Promise<{ removedSnapshots: string[]; removedContent: string[]; removedIngests: string[]; expiredLeases: string[] }>;
}

/** Timers, so that a test can drive time. */
export interface Clock {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The real clock; its timers do not keep the process alive. */
export const systemClock: Clock = {
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface GcSchedulerOptions {
  /** between scheduled collections; default 10 minutes */
  intervalMs?: number;
  /** from the last delete to its collection; default 2 s */
  debounceMs?: number;
  clock?: Clock;
  log?: Logger;
}

/** The events after which there is garbage: an image or a container gone. */
export function isDeleteEvent(ev: Pick<DockerEvent, 'Type' | 'Action'>): boolean {
  return (ev.Type === 'image' && ev.Action === 'delete') || (ev.Type === 'container' && ev.Action === 'destroy');
}

/** Runs the collector on a schedule and after deletes. Lifecycle: `start()`, then `stop()` once. */
export class GcScheduler {
  private readonly intervalMs: number;
  private readonly debounceMs: number;
  private readonly clock: Clock;
  private readonly log: Logger | undefined;
  private periodic: unknown;
  private debounced: unknown;
  private running: Promise<void> | undefined;
  private stopped = false;
  /** collections run so far (tests, logs) */
  runs = 0;

  constructor(
    private readonly collector: Collector,
    o: GcSchedulerOptions = {},
  ) {
    this.intervalMs = o.intervalMs ?? 10 * 60 * 1000;
    this.debounceMs = o.debounceMs ?? 2000;
    this.clock = o.clock ?? systemClock;
    this.log = o.log;
  }

  /** Starts the schedule: the first scheduled collection is one interval from now. */
  start(): this {
    if (!this.stopped && this.periodic === undefined) this.schedule();
    return this;
  }

  /** Something was deleted: collect once no other delete came for `debounceMs`. */
  afterDelete(): void {
    if (this.stopped) return;
    if (this.debounced !== undefined) this.clock.clearTimeout(this.debounced);
    this.debounced = this.clock.setTimeout(() => {
      this.debounced = undefined;
      void this.run('delete');
    }, this.debounceMs);
  }

  /** Watches a stream of events for deletes (`subscribe` as the event bus's); returns the unsubscribe. */
  watch(events: { subscribe(fn: (ev: DockerEvent) => void): () => void }): () => void {
    return events.subscribe((ev) => {
      if (isDeleteEvent(ev)) this.afterDelete();
    });
  }

  /** Cancels pending collections and waits for a running one. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.periodic !== undefined) this.clock.clearTimeout(this.periodic);
    if (this.debounced !== undefined) this.clock.clearTimeout(this.debounced);
    this.periodic = this.debounced = undefined;
    await this.running;
  }

  private schedule(): void {
    this.periodic = this.clock.setTimeout(() => {
      this.periodic = undefined;
      void this.run('schedule').finally(() => {
        if (!this.stopped) this.schedule();
      });
    }, this.intervalMs);
  }

  /** One collection (a running one is shared); the schedule restarts from its end. */
  private run(why: 'schedule' | 'delete'): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.running) return this.running;
    this.running = (async () => {
      try {
        this.runs++;
        const r = await this.collector.collect();
        const n = r.removedSnapshots.length + r.removedContent.length + r.removedIngests.length + r.expiredLeases.length;
        if (n > 0) this.log?.info('garbage collected', { trigger: why, snapshots: r.removedSnapshots.length, content: r.removedContent.length, ingests: r.removedIngests.length, leases: r.expiredLeases.length });
      } catch (err) {
        this.log?.warn('garbage collection failed', { trigger: why, err: String(err) });
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }
}

/**
 * `op` with a collection after each failure (a failed pull may leave unpacked snapshots
 * that only the collector finds). The error is rethrown unchanged.
 */
export function collectAfterFailure<A extends unknown[], R>(op: (...args: A) => Promise<R>, gc: Pick<GcScheduler, 'afterDelete'>): (...args: A) => Promise<R> {
  return async (...args) => {
    try {
      return await op(...args);
    } catch (err) {
      gc.afterDelete();
      throw err;
    }
  };
}
