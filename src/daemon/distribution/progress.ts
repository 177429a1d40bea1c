/**
 * Docker's JSON progress messages for pull and push: the engine's `{id, status,
 * progress}` events become `{status, id, progressDetail, progress}` lines as the
 * docker CLI renders them (the `progress` string is the bar dockerd draws for a
 * client whose terminal width it does not know).
 */
import type { ProgressEvent } from '../../engine/distribution';
import type { JsonMessage } from '../jsonmessage';

const UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];

/** Decimal size with 4 significant digits, as Docker's `units.HumanSize` (`32.77kB`, `1.049MB`). */
export function humanSize(n: number): string {
  let v = n;
  let i = 0;
  while (v >= 1000 && i < UNITS.length - 1) {
    v /= 1000;
    i++;
  }
  return `${Number(v.toPrecision(4))}${UNITS[i]}`;
}

/** The `progress` string: a 50-column bar and `current/total`. */
export function progressBar(current: number, total: number): string {
  if (total <= 0) return current > 0 ? humanSize(current).padStart(8) : '';
  const filled = Math.min(50, Math.floor(Math.floor((current / total) * 100) / 2));
  const bar = `[${'='.repeat(filled)}>${' '.repeat(50 - filled)}] `;
  const numbers = current > total ? '' : `${humanSize(current).padStart(8)}/${humanSize(total)}`;
  return bar + numbers;
}

/** One progress line keyed by a layer id, with an optional byte count. */
export function progressMessage(id: string, status: string, progress?: { current: number; total: number }): JsonMessage {
  if (!progress) return { status, progressDetail: {}, id };
  return { status, progressDetail: { current: progress.current, total: progress.total }, progress: progressBar(progress.current, progress.total), id };
}

/** An engine progress event as a JSON message. */
export function fromEngineEvent(e: ProgressEvent): JsonMessage {
  return progressMessage(e.id, e.status, e.progress);
}

/**
 * Throttles byte progress the way dockerd's progress reader does: a line when the
 * count has grown by more than min(512 KiB, 1 % of `total`) since the last check, at
 * most one per `intervalMs` (100 ms) except the one reaching `total`, which always
 * goes out; `finish()` reports `total` if that line has not been sent yet.
 */
export class ProgressThrottle {
  private readonly step: number;
  private checked = 0;
  private sent = -1;
  private sentAt = -Infinity;

  constructor(
    private readonly total: number,
    private readonly emit: (current: number) => void,
    private readonly opts: { intervalMs?: number; now?: () => number } = {},
  ) {
    this.step = Math.min(512 * 1024, Math.floor(total / 100));
  }

  /** The running count (call per chunk). */
  update(current: number): void {
    if (current - this.checked <= this.step && current < this.total) return;
    this.checked = current;
    if (current === this.sent) return;
    const now = (this.opts.now ?? Date.now)();
    if (current < this.total && now - this.sentAt < (this.opts.intervalMs ?? 100)) return;
    this.sent = current;
    this.sentAt = now;
    this.emit(current);
  }

  /** The end: reports `total` unless it was the last line sent. */
  finish(): void {
    if (this.sent === this.total) return;
    this.sent = this.total;
    this.emit(this.total);
  }
}

/**
 * Serialises asynchronous writes of messages produced by synchronous callbacks, so
 * lines keep their order; `flush()` waits for all of them and rethrows a write error.
 */
export class MessageQueue {
  private tail: Promise<void> = Promise.resolve();
  private failed: unknown;

  constructor(private readonly write: (m: JsonMessage) => Promise<void>) {}

  push(m: JsonMessage): void {
    this.tail = this.tail.then(() => (this.failed === undefined ? this.write(m) : undefined)).catch((err) => {
      this.failed ??= err;
    });
  }

  async flush(): Promise<void> {
    await this.tail;
    if (this.failed !== undefined) throw this.failed;
  }
}
