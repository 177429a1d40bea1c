/**
 * The task API the daemon uses to run containers: one task per container, each hosted
 * by a `stevedore-shim` process that outlives the daemon (see docs/shim.md).
 */
import type { Duplex } from 'node:stream';
import type { Linux, Process } from '../oci/spec';
import type { Socket } from 'node:net';

/** How to create and start one container from an OCI bundle. */
export interface StartOptions {
  /** Container id; also the runtime's container id. [A-Za-z0-9][A-Za-z0-9_.-]*, at most 64 chars. */
  id: string;
  /** Absolute path of the OCI bundle (config.json + rootfs). */
  bundle: string;
  /**
   * Where the container's output goes besides its attach clients (the shim's sink).
   * When given it wins over logPath/logMaxSize/logMaxFiles, which are the json-file
   * sink's older spelling (logPath omitted and no `log` = no log).
   */
  log?: LogSink;
  /** json-file log path; omitted = no log (log driver "none"). */
  logPath?: string;
  /** Rotate when the log reaches this many bytes; omitted or <= 0 = never. */
  logMaxSize?: number;
  /** Files kept, the live one included (Docker's max-file); default 1. */
  logMaxFiles?: number;
  /** Allocate a pty (must match process.terminal in config.json). */
  tty: boolean;
  /** Keep the container's stdin open for attach clients. */
  openStdin: boolean;
  /** Close the container's stdin when the first attach client closes its stdin. */
  stdinOnce: boolean;
  signal?: AbortSignal;
  /**
   * Settles once the bundle (config.json, the mounted rootfs) is in place: the task
   * service may start what does not need it before (the shim, waiting at its gate), so
   * that this overlaps the caller's mount and spec. A rejection cancels the create,
   * which then rejects with that reason and leaves nothing behind.
   */
  bundleReady?: Promise<unknown>;
}

/**
 * A container's output sink, chosen at create (docs/shim.md, "Sinks"):
 * - `json-file`: Docker's json-file log (what Docker's `json-file` driver writes), rotated
 *   at maxSize bytes keeping maxFiles files;
 * - `cri`: the Kubernetes CRI log format (`<RFC3339Nano> <stream> <F|P> <line>`), lines
 *   longer than maxLineSize (default 16 KiB) cut into partial entries, as containerd;
 * - `none`: nothing;
 * - `binary`: a logging program (absolute path) started by the shim with the container's
 *   stdout and stderr on fds 3 and 4 and a ready pipe on fd 5 (containerd's binary
 *   logger contract), with CONTAINER_ID and CONTAINER_NAMESPACE in its environment.
 */
export type LogSink =
  | { kind: 'json-file'; path: string; maxSize?: number; maxFiles?: number }
  | { kind: 'cri'; path: string; maxLineSize?: number }
  | { kind: 'none' }
  | { kind: 'binary'; path: string; args?: string[]; env?: Record<string, string>; namespace?: string };

/**
 * How an attach stream is framed: `raw` bytes, or Docker's `stdcopy` frames
 * (`[stream, 0, 0, 0, uint32 BE length] payload`). Docker's attach uses raw for a
 * container with a tty and stdcopy otherwise.
 */
export type Framing = 'raw' | 'stdcopy';

/** The recorded end of a container's init process. */
export interface ExitStatus {
  /** Exit code; 128+N when killed by signal N; 255 when the status was lost (shim died). */
  exitCode: number;
  /** The signal that killed it, when it was killed. */
  signal?: number;
  /** Whether the kernel's OOM killer killed a process of the container's memory cgroup. */
  oomKilled: boolean;
  finishedAt: Date;
  /** `finishedAt` as the shim wrote it: RFC 3339 with nanoseconds (a Date keeps milliseconds only) */
  finishedAtText?: string;
}

export type TaskState = 'created' | 'running' | 'paused' | 'stopped';

/** Which streams an attach client wants, and how they are framed. */
export interface AttachOptions {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  /** Omitted: raw when the task has a tty, stdcopy otherwise. */
  framing?: Framing;
}

/** OCI runtime-spec LinuxResources (only passed through to `runtime update`). */
export type LinuxResources = Record<string, unknown>;

/** Starts and stops tasks. */
export interface TaskLifecycle {
  /**
   * Starts the shim and runs `runtime create`; the container exists but has not run
   * its process yet, so attach clients can connect before any output. Throws
   * {@link RuntimeCreateError} when the runtime refuses, `conflict` if the id is in use.
   */
  create(opts: StartOptions): Promise<{ pid: number }>;
  /** Runs `runtime start` for a created task. */
  startCreated(id: string): Promise<void>;
  /** create + startCreated. */
  start(opts: StartOptions): Promise<{ pid: number }>;
  /** Sends a signal (number or name, "KILL" / "SIGKILL"); `all` signals every process. */
  kill(id: string, signal: number | string, opts?: { all?: boolean }): Promise<void>;
  /** Resolves with the exit status once the task has exited (at once if it already has). */
  wait(id: string, opts?: { signal?: AbortSignal }): Promise<ExitStatus>;
  /** Kills if needed, deletes the runtime's container, stops the shim, removes the state dir. */
  delete(id: string): Promise<void>;
}

/** Talks to a running task. */
export interface TaskIO {
  /**
   * Attaches to the task's stdio. Output is framed as `opts.framing` asks (default: raw
   * with a tty, Docker's stdcopy stream without; not-implemented when a shim from
   * before framing was chosen per attach cannot give the other one); writes go to the container's stdin (when opened);
   * ending the writable side closes the container's stdin when the task is stdinOnce.
   */
  attach(id: string, opts: AttachOptions): Promise<Duplex>;
  /**
   * Hands a client's connection (a connected socket, output only) to the task: from then
   * on the task's shim writes the output to it itself, framed as attach() frames it, and
   * closes it when the output ends (a client 4 MiB behind is dropped), so the daemon
   * copies nothing. Resolves once the shim holds the connection, after destroying the
   * caller's handle (which closes this process's descriptor without ending the
   * connection). On a throw the socket is untouched: conflict when the task has exited,
   * not-implemented when it cannot be done (a shim from before this request, a socket
   * without a descriptor): use attach() then. Optional: without it, use attach().
   */
  attachOutput?(id: string, opts: { stdout: boolean; stderr: boolean; framing?: Framing }, client: Socket): Promise<void>;
  resize(id: string, height: number, width: number): Promise<void>;
  closeStdin(id: string): Promise<void>;
}

/** Inspects and controls tasks through the runtime. */
export interface TaskControl {
  pause(id: string): Promise<void>;
  resume(id: string): Promise<void>;
  update(id: string, resources: LinuxResources): Promise<void>;
  /** Host pids of the container's processes. */
  ps(id: string): Promise<number[]>;
  state(id: string): Promise<TaskState>;
  /**
   * Ids of every task with a state dir: running, exited (status recorded) or orphaned
   * (shim died: wait() reports 255). For reconnecting after a daemon restart.
   */
  list(): Promise<string[]>;
}

export interface TaskService extends TaskLifecycle, TaskIO, TaskControl {}

/** How to run one extra process (`docker exec`) in a running task. */
export interface ExecProcessOptions {
  /** Exec id: lowercase hex, 1 to 64 characters; unique within the task. */
  execId: string;
  /** The OCI runtime-spec `process` object handed to `runtime exec --process`. */
  process: Process;
  /**
   * The container's own `linux` section (namespaces, seccomp): what the shim needs to
   * enter the container itself, and to tell whether it can.
   */
  linux: Linux;
  /** Allocate a pty (must match `process.terminal`). */
  tty: boolean;
  /** Give the process a stdin fed by the returned stream (closed when the stream's writable side ends). */
  openStdin: boolean;
  /** Streams wanted on the returned duplex; all false = detached (no stream). */
  attach: AttachOptions;
}

/**
 * Exec processes, hosted by the task's shim: their output reaches the returned stream
 * from the first byte (stdcopy frames without a tty, raw with one), the stream ends
 * once the process has exited and its output is drained, and the exit status is kept
 * in the task's state dir until the task is deleted.
 */
export interface TaskExec {
  /**
   * Starts the process. Throws conflict when the task is not running or the exec id
   * is taken, {@link RuntimeCreateError} (op "exec") when the runtime refuses.
   */
  exec(id: string, opts: ExecProcessOptions): Promise<{ pid: number; stream?: Duplex }>;
  /** Resolves with the exec's exit status once it has exited. Throws not-found for an unknown exec. */
  waitExec(id: string, execId: string, opts?: { signal?: AbortSignal }): Promise<ExitStatus>;
  /** Sets the exec's pty size; conflict when it has no tty or has exited. */
  resizeExec(id: string, execId: string, height: number, width: number): Promise<void>;
}
