/**
 * Runs tasks under a shorter id when the exec root is too deep for the shim's unix
 * sockets (sun_path holds 107 bytes: `<execRoot>/shims/<64 hex>/console.sock` does not
 * fit below a long temp dir). The first 32 hex digits (128 bits) are as unique as the
 * daemon needs; the container keeps its full id everywhere else.
 *
 * This is the one place the mapping happens: the composition root wraps the task
 * service once in a TaskIdAdapter and gives that to the containers and exec services.
 */
import * as path from 'node:path';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { notImplemented } from '../../engine/errdefs';
import type { AttachOptions, ExecProcessOptions, ExitStatus, LinuxResources, StartOptions, TaskExec, TaskService, TaskState } from '../../engine/runtime';

const MAX_SOCK_PATH = 107;

/** Whether full 64-hex ids fit under `execRoot`. */
export function fullIdsFit(execRoot: string): boolean {
  return path.join(execRoot, 'shims', 'x'.repeat(64), 'console.sock').length <= MAX_SOCK_PATH;
}

/** The task id used for container `id`. */
export function taskIdFor(id: string, execRoot: string): string {
  return fullIdsFit(execRoot) ? id : id.slice(0, 32);
}

/**
 * A TaskService (and TaskExec, when `inner` runs execs) taking container ids and calling
 * `inner` with task ids. `list()` returns task ids.
 */
export class TaskIdAdapter implements TaskService, TaskExec {
  constructor(
    private readonly inner: TaskService & Partial<TaskExec>,
    private readonly execRoot: string,
  ) {}
  private t(id: string): string {
    return taskIdFor(id, this.execRoot);
  }
  create(o: StartOptions): Promise<{ pid: number }> {
    return this.inner.create({ ...o, id: this.t(o.id) });
  }
  startCreated(id: string): Promise<void> {
    return this.inner.startCreated(this.t(id));
  }
  start(o: StartOptions): Promise<{ pid: number }> {
    return this.inner.start({ ...o, id: this.t(o.id) });
  }
  kill(id: string, signal: number | string, opts?: { all?: boolean }): Promise<void> {
    return this.inner.kill(this.t(id), signal, opts).catch((err: unknown) => {
      if (err instanceof Error && this.t(id) !== id) err.message = err.message.split(this.t(id)).join(id);
      throw err;
    });
  }
  wait(id: string, opts?: { signal?: AbortSignal }): Promise<ExitStatus> {
    return this.inner.wait(this.t(id), opts);
  }
  delete(id: string): Promise<void> {
    return this.inner.delete(this.t(id));
  }
  attach(id: string, opts: AttachOptions): Promise<Duplex> {
    return this.inner.attach(this.t(id), opts);
  }
  attachOutput(id: string, opts: { stdout: boolean; stderr: boolean }, client: Socket): Promise<void> {
    if (!this.inner.attachOutput) return Promise.reject(notImplemented('the task service cannot take over a connection'));
    return this.inner.attachOutput(this.t(id), opts, client);
  }
  resize(id: string, h: number, w: number): Promise<void> {
    return this.inner.resize(this.t(id), h, w);
  }
  closeStdin(id: string): Promise<void> {
    return this.inner.closeStdin(this.t(id));
  }
  pause(id: string): Promise<void> {
    return this.inner.pause(this.t(id));
  }
  resume(id: string): Promise<void> {
    return this.inner.resume(this.t(id));
  }
  update(id: string, r: LinuxResources): Promise<void> {
    return this.inner.update(this.t(id), r);
  }
  ps(id: string): Promise<number[]> {
    return this.inner.ps(this.t(id));
  }
  state(id: string): Promise<TaskState> {
    return this.inner.state(this.t(id));
  }
  list(): Promise<string[]> {
    return this.inner.list();
  }
  exec(id: string, opts: ExecProcessOptions): Promise<{ pid: number; stream?: Duplex }> {
    if (!this.inner.exec) return Promise.reject(notImplemented('the task service cannot run exec processes'));
    return this.inner.exec(this.t(id), opts);
  }
  waitExec(id: string, execId: string, opts?: { signal?: AbortSignal }): Promise<ExitStatus> {
    if (!this.inner.waitExec) return Promise.reject(notImplemented('the task service cannot run exec processes'));
    return this.inner.waitExec(this.t(id), execId, opts);
  }
  resizeExec(id: string, execId: string, height: number, width: number): Promise<void> {
    if (!this.inner.resizeExec) return Promise.reject(notImplemented('the task service cannot run exec processes'));
    return this.inner.resizeExec(this.t(id), execId, height, width);
  }
}
