/**
 * Starting a helper process without fork(2), with a "ready" socket on its fd 3.
 *
 * Node's `child_process.spawn` forks the whole daemon (libuv: fork + exec), and fork
 * copies the page tables of an 80+ MB process: 5–15 ms during which the event loop
 * is stopped. `spawnWithReadyPipe` uses the addon's `spawnReady` (posix_spawn: glibc
 * starts the child with CLONE_VM|CLONE_VFORK, so nothing is copied) and then does in
 * JS what libuv would have done: it reads the first line from fd 3's other end without
 * blocking, and reaps the process (libuv reaps only the children it started itself).
 *
 * Made for programs that answer once on fd 3 and then exit or daemonize (the shim);
 * reaping starts once the line or EOF has arrived, polling without ever blocking until
 * the process has exited, with a slow safety poll before that so that no zombie is
 * left even if neither ever comes.
 *
 * fd 3 is one end of a socket pair, so the daemon can also speak first: a program
 * started with a gate (the shim's `--gate`) does what needs no input, then waits for
 * the line `go` (`go()`), or exits at EOF (`cancel()`, or the daemon's death).
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import { type NativeSys, nativeSys } from './native';

/** How a process ended (from waitpid): `code` when it exited, `signal` when killed. */
export interface ProcessExit {
  code: number | null;
  signal: number | null;
}

/** A process started by `spawnWithReadyPipe`. */
export interface ReadyPipeProcess {
  readonly pid: number;
  /**
   * The first line it wrote on fd 3, without the "\n"; what it wrote before EOF when no
   * newline came ("" for nothing). Rejects on a read error or a line longer than
   * `maxLine`. The socket is closed once this settles.
   */
  readonly line: Promise<string>;
  /**
   * Settles once the process has been reaped, with how it ended; rejects (ECHILD) only
   * if something else in the daemon reaped it first.
   */
  readonly exit: Promise<ProcessExit>;
  /** Writes the line `go` on fd 3 (for a program waiting at a gate); nothing once `line` has settled. */
  go(): void;
  /** Closes the daemon's side for writing: a program waiting at a gate reads EOF and exits. */
  cancel(): void;
}

/** Options of `spawnWithReadyPipe`. */
export interface ReadyPipeSpawnOptions {
  /** The environment; default the daemon's. */
  env?: NodeJS.ProcessEnv;
  /**
   * fds for the child's 0, 1, 2: -1 = /dev/null (the default for each), the slot's own
   * number = the daemon's, or an fd >= 3 (the caller keeps and closes it).
   */
  stdio?: [number, number, number];
  /** Longest first line accepted, in bytes; default 4096. */
  maxLine?: number;
  /** The native calls; default the addon. */
  sys?: Pick<NativeSys, 'spawnReady' | 'waitpidNoHang'>;
}

/** Until the line or EOF: how often to look for an exit anyway (a lost zombie's bound). */
const SAFETY_POLL_MS = 1000;
/** After it: the first retry when the process has not quite exited yet; doubles to 1 s. */
const FIRST_RETRY_MS = 1;

/**
 * Starts `file` (a path, no PATH search) with `args` (argv[0] is `file`), in a new
 * session, with an empty signal mask and every signal at its default, stdio on
 * /dev/null unless given, fd 3 one end of a fresh socket pair and no other fd.
 * Throws synchronously when it cannot start (the addon's error: code 'ENOENT',
 * 'EACCES', …, syscall 'posix_spawn').
 */
export function spawnWithReadyPipe(file: string, args: string[], opts: ReadyPipeSpawnOptions = {}): ReadyPipeProcess {
  const sys = opts.sys ?? nativeSys();
  const maxLine = opts.maxLine ?? 4096;
  const env = opts.env ? Object.entries(opts.env).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`) : null;
  const { pid, readyFd } = sys.spawnReady(file, [file, ...args], env, opts.stdio ?? null);
  const exit = reaper(pid, sys);
  const r = readLine(readyFd, maxLine);
  const line = r.line.finally(() => exit.lineDone());
  return { pid, line, exit: exit.promise, go: () => r.send('go\n'), cancel: () => r.end() };
}

/** Reads the first line from `fd` (owned: closed when done) without blocking the loop; `send`/`end` write on it until then. */
function readLine(fd: number, maxLine: number): { line: Promise<string>; send(s: string): void; end(): void } {
  let sock: net.Socket;
  try {
    sock = new net.Socket({ fd, readable: true, writable: true, allowHalfOpen: true });
  } catch (err) {
    fs.closeSync(fd);
    return { line: Promise.reject(err), send: () => {}, end: () => {} };
  }
  let settled = false;
  const line = new Promise<string>((resolve, reject) => {
    let buf: Buffer = Buffer.alloc(0);
    const finish = (err: Error | undefined, line?: string) => {
      if (settled) return;
      settled = true;
      sock.destroy();
      if (err) reject(err);
      else resolve(line ?? '');
    };
    sock.on('data', (chunk: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      const nl = buf.indexOf(0x0a);
      if (nl >= 0 && nl <= maxLine) finish(undefined, buf.subarray(0, nl).toString('utf8'));
      else if (buf.length > maxLine) finish(new Error(`ready line longer than ${maxLine} bytes`));
    });
    sock.on('end', () => finish(undefined, buf.toString('utf8')));
    // a "go" written after the program went: its EOF, as a pipe's reader would see it
    sock.on('error', (e: NodeJS.ErrnoException) => (e.code === 'EPIPE' || e.code === 'ECONNRESET' ? finish(undefined, buf.toString('utf8')) : finish(e)));
  });
  return {
    line,
    send: (s) => {
      if (!settled && !sock.destroyed) sock.write(s, () => {});
    },
    end: () => {
      if (!settled && !sock.destroyed) sock.end();
    },
  };
}

/**
 * Reaps `pid` with waitpid(WNOHANG) only: a slow unref'd poll until `lineDone`, then
 * an attempt at once and retries from 1 ms, doubling to 1 s, until it has exited.
 */
function reaper(pid: number, sys: Pick<NativeSys, 'waitpidNoHang'>): { promise: Promise<ProcessExit>; lineDone(): void } {
  let resolve!: (e: ProcessExit) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<ProcessExit>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {}); // nobody has to listen
  let done = false;
  let timer: NodeJS.Timeout | undefined;
  const attempt = (): boolean => {
    if (done) return true;
    try {
      const st = sys.waitpidNoHang(pid);
      if (!st) return false;
      resolve(st);
    } catch (err) {
      reject(err);
    }
    done = true;
    clearTimeout(timer);
    return true;
  };
  const poll = (delay: number, ref: boolean) => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      if (!attempt()) poll(Math.min(delay * 2, 1000), ref);
    }, delay);
    if (!ref) timer.unref();
  };
  poll(SAFETY_POLL_MS, false);
  return {
    promise,
    lineDone: () => {
      if (!attempt()) poll(FIRST_RETRY_MS, true);
    },
  };
}
