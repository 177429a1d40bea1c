/**
 * Attach clients of containers: connected at once to a running container's task, or
 * held until its next start (`docker run` and `docker start -a` attach before the
 * start, so they see the first byte), and given the client's connection to write to
 * itself when the task can (no copy through the daemon).
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { kindOf } from '../../engine/errdefs';
import type { Logger } from '../../engine/log';
import type { Framing, TaskService } from '../../engine/runtime';

/** Which streams an attach client wants, and optionally its connection to hand over. */
export interface AttachRequest {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  /**
   * How the output is framed for this client: Docker's attach gives raw bytes for a
   * container with a tty and stdcopy frames otherwise. Omitted: the task's default,
   * which is the same rule.
   */
  framing?: Framing;
  /**
   * The client's connection: without stdin the task may take it over and write the
   * output to it itself (TaskIO.attachOutput), so the daemon copies nothing.
   */
  handOver?: Socket;
}

/**
 * What an attach client gets: a stream to splice to its connection, 'handed' when the
 * task took the connection over (the daemon has nothing left to do with it), or
 * undefined when there is no stream (the container was removed or failed to start).
 */
export type AttachStream = Duplex | 'handed' | undefined;

interface PendingAttach {
  opts: AttachRequest;
  resolve: (d: AttachStream) => void;
}

/** The attach clients of all containers (one per daemon, owned by ContainerService). */
export class AttachBroker {
  private readonly pending = new Map<string, PendingAttach[]>();

  constructor(private readonly o: { tasks: TaskService; log: Logger }) {}

  /** Connects to the running task `id`: hands the connection over when asked and possible, else opens a stream to splice. */
  async connect(id: string, opts: AttachRequest): Promise<Duplex | 'handed'> {
    const tasks = this.o.tasks;
    if (opts.handOver && !opts.stdin && tasks.attachOutput) {
      try {
        await tasks.attachOutput(id, { stdout: opts.stdout, stderr: opts.stderr, ...(opts.framing ? { framing: opts.framing } : {}) }, opts.handOver);
        return 'handed';
      } catch (err) {
        const kind = kindOf(err);
        if (kind !== 'not-implemented' && kind !== 'unavailable') throw err;
        this.o.log.debug('attach: copying the stream (no hand-over)', { id, err: String(err) });
      }
    }
    return tasks.attach(id, { stdin: opts.stdin, stdout: opts.stdout, stderr: opts.stderr, ...(opts.framing ? { framing: opts.framing } : {}) });
  }

  /** Waits for the container's next start (undefined if its start fails, it is removed, or `signal` aborts). */
  whenStarted(id: string, opts: AttachRequest, signal?: AbortSignal): Promise<AttachStream> {
    return new Promise((resolve) => {
      const p: PendingAttach = { opts, resolve };
      const list = this.pending.get(id) ?? [];
      list.push(p);
      this.pending.set(id, list);
      signal?.addEventListener('abort', () => {
        const l = this.pending.get(id);
        if (l) this.pending.set(id, l.filter((x) => x !== p));
        resolve(undefined);
      });
    });
  }

  /** The task `id` exists (before its process is released): connects every waiting client. */
  async deliver(id: string): Promise<void> {
    const list = this.pending.get(id);
    if (!list) return;
    this.pending.delete(id);
    for (const p of list) {
      try {
        p.resolve(await this.connect(id, p.opts));
      } catch (err) {
        this.o.log.warn('attach failed', { id, err: String(err) });
        p.resolve(undefined);
      }
    }
  }

  /** The start failed or the container went away: its waiting clients get nothing. */
  fail(id: string): void {
    const list = this.pending.get(id);
    this.pending.delete(id);
    for (const p of list ?? []) p.resolve(undefined);
  }

  /** Daemon shutdown: every waiting client gets nothing. */
  close(): void {
    for (const id of [...this.pending.keys()]) this.fail(id);
  }
}
