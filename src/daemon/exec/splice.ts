/**
 * Connects a client's hijacked connection to a process's stdio stream from the shim,
 * with Docker's attach semantics (moby container/stream): output flows with
 * backpressure; the client's input goes to the process's stdin; with a tty the detach
 * keys end the session and leave the process running; when the client's input ends,
 * the process's stdin is closed (`closeStdin`, no tty) or else the session ends.
 */
import type { Duplex, Transform } from 'node:stream';
import { DetachScanner } from './keys';

export interface SpliceOptions {
  /** The client's input goes to the process (stdin attached and the process has one). */
  stdin: boolean;
  /** The process has a tty: detach keys apply and input EOF never closes its stdin. */
  tty: boolean;
  /** Detach sequence (tty sessions only). */
  detachKeys?: Buffer;
  /** Without a tty, the client's EOF closes the process's stdin (StdinOnce, exec). */
  closeStdin: boolean;
  /** Awaited after the process's output ended and before the client's connection is closed. */
  beforeClose?: () => Promise<void>;
  /**
   * Rewrites the process's output on its way to the client (an exec started with a
   * framing other than its own tty's: the API's reframing transform).
   */
  output?: Transform;
}

/** How a session ended: the output ended (process exited), detach keys, or the client went away. */
export type SpliceEnd = 'ended' | 'detached' | 'client-gone';

/** Runs one session; resolves when it is over and both streams are released. */
export function splice(client: Duplex, task: Duplex, opts: SpliceOptions): Promise<SpliceEnd> {
  return new Promise((resolve) => {
    // The client may have hung up while the task's stream was being opened: its
    // 'close' already fired and would never be seen below.
    if (client.destroyed) {
      task.on('error', () => {});
      task.destroy();
      resolve('client-gone');
      return;
    }
    let over = false;
    const out: Duplex = opts.output ?? task;
    const finish = (how: SpliceEnd) => {
      if (over) return;
      over = true;
      out.unpipe(client);
      if (out !== task) task.unpipe(out);
      client.removeListener('data', onInput);
      resolve(how);
    };
    client.on('error', () => {});
    task.on('error', () => {});

    // process → client
    if (out !== task) {
      out.on('error', () => {});
      task.pipe(out);
    }
    out.pipe(client, { end: false });
    out.on('end', () => {
      void (async () => {
        await opts.beforeClose?.().catch(() => {});
        if (over) return;
        closeClient(client);
        task.destroy();
        finish('ended');
      })();
    });
    task.on('close', () => {
      if (!task.readableEnded && !over) {
        client.destroy();
        finish('client-gone');
      }
    });

    // client → process
    const scanner = opts.tty && opts.stdin && opts.detachKeys?.length ? new DetachScanner(opts.detachKeys) : undefined;
    const onInput = (d: Buffer) => {
      if (!opts.stdin) return;
      let chunk = d;
      if (scanner) {
        const r = scanner.push(d);
        chunk = r.forward;
        if (r.detach) {
          if (chunk.length) task.write(chunk);
          task.destroy(); // the shim sees a client leave; with a tty that leaves stdin open
          closeClient(client);
          finish('detached');
          return;
        }
      }
      if (chunk.length && !task.write(chunk)) {
        client.pause();
        task.once('drain', () => client.resume());
      }
    };
    client.on('data', onInput);
    client.on('end', () => {
      if (over || !opts.stdin) return;
      if (opts.closeStdin && !opts.tty) {
        task.end();
        return;
      }
      task.destroy();
      closeClient(client);
      finish('client-gone');
    });
    client.on('close', () => {
      if (over) return;
      task.destroy();
      finish('client-gone');
    });
    client.resume();
  });
}

/**
 * Ends the client's connection once everything written has been flushed, then closes
 * it for good (Docker closes the hijacked connection; clients such as testcontainers
 * wait for that, not for a half-close). Input still arriving is read and dropped so
 * that closing does not reset the connection and lose buffered output.
 */
function closeClient(client: Duplex): void {
  client.on('data', () => {});
  client.resume();
  if (client.writableEnded) {
    client.destroy();
    return;
  }
  client.end(() => setImmediate(() => client.destroy()));
}
