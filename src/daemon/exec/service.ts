/**
 * ExecService: Docker's exec instances (`docker exec`). An exec is created against a
 * running container, started once (attached or detached), and its process runs in
 * the container's shim (`runtime exec`), so its output and exit status do not depend
 * on the daemon's connection to the client. Records live in memory like Docker's
 * exec store; they go away with their container.
 *
 *   created ──start──▶ running ──exit──▶ exited        (start failure → exited, 126/127)
 */
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import type { Duplex } from 'node:stream';
import { conflict, invalidArgument, isNotFound, notFound } from '../../engine/errdefs';
import type { Logger } from '../../engine/log';
import type { TaskExec } from '../../engine/runtime';
import type { ContainerRecord } from '../containers/model';
import type { EventBus } from '../events/bus';
import { parseDetachKeys } from './keys';
import { buildExecProcess, containerSpecFor, type ExecProcessConfig } from './process';
import type { Spec } from '../../engine/oci/spec';

export type ExecStatus = 'created' | 'running' | 'exited';

/** One exec instance. */
export interface ExecRecord extends ExecProcessConfig {
  id: string;
  containerId: string;
  status: ExecStatus;
  pid: number;
  /** null until the process has exited */
  exitCode: number | null;
  attachStdin: boolean;
  attachStdout: boolean;
  attachStderr: boolean;
  detachKeys: string;
  /** ms since the epoch when it exited (for pruning) */
  exitedAt?: number;
}

/** The exec-create body as the API receives it (Docker's ExecConfig). */
export interface ExecCreateRequest {
  Cmd?: unknown;
  Env?: unknown;
  User?: unknown;
  WorkingDir?: unknown;
  Privileged?: unknown;
  Tty?: unknown;
  AttachStdin?: unknown;
  AttachStdout?: unknown;
  AttachStderr?: unknown;
  DetachKeys?: unknown;
}

/** What the service needs of the containers. */
export interface ExecContainers {
  /** Resolves an id, prefix or name; throws not-found. */
  get(ref: string): ContainerRecord;
  /** Whether a container with this full id exists (cheap: no copy of its record). */
  exists(id: string): boolean;
  /** Where the running container's root filesystem is mounted (inside its bundle). */
  rootfsDir(id: string): string;
}

export interface ExecServiceOptions {
  containers: ExecContainers;
  tasks: TaskExec;
  /** The task id of a container (see containers/task-ids.ts). */
  taskId: (containerId: string) => string;
  /**
   * The engine's container records (engine/containers EngineContainers), where the
   * container's runtime spec is read; without one, or for a container without a record,
   * the spec is read from its bundle's config.json.
   */
  specs?: { find(id: string): { spec?: Partial<Spec> } | undefined };
  events: EventBus;
  log: Logger;
}

/** A started exec: its stream (when attached) and its exit code once recorded. */
export interface StartedExec {
  stream?: Duplex;
  /** Resolves after the exit code is recorded and exec_die published. */
  exited: Promise<number>;
}

/** Exited execs are forgotten after this long (Docker's exec GC runs every 5 minutes). */
const KEEP_EXITED_MS = 10 * 60 * 1000;

export class ExecService {
  private readonly execs = new Map<string, ExecRecord>();
  private readonly exits = new Map<string, Promise<number>>();
  private readonly startWaiters = new Map<string, Array<() => void>>();

  constructor(private readonly o: ExecServiceOptions) {}

  /**
   * Creates an exec in a running container. `consoleSize` (API 1.42's, on a tty) is kept on
   * the exec for its start, which uses it unless the start gives its own. Throws
   * not-found, conflict (not running / paused), invalid-argument.
   */
  create(containerRef: string, body: ExecCreateRequest, opts: { consoleSize?: { height: number; width: number } } = {}): { id: string } {
    const c = this.o.containers.get(containerRef);
    const req = validate(body);
    checkRunning(c, containerRef);
    this.prune();
    const id = randomBytes(32).toString('hex');
    // As Docker: an exec without a User takes the container's, recorded at create (exec
    // inspect's ProcessConfig.user shows it).
    if (!req.user) req.user = c.config.User ?? '';
    const rec: ExecRecord = { id, containerId: c.id, status: 'created', pid: 0, exitCode: null, ...req, ...(opts.consoleSize ? { consoleSize: opts.consoleSize } : {}) };
    this.execs.set(id, rec);
    this.publish(c, `exec_create: ${describe(rec.cmd)}`, { execID: id });
    return { id };
  }

  /** A copy of an exec's record. Throws not-found (`No such exec instance: …`). */
  get(id: string): ExecRecord {
    return structuredClone(this.mustGet(id));
  }

  /** Ids of the container's execs that have not exited (inspect's ExecIDs; null when none). */
  idsOf(containerId: string): string[] | null {
    const ids = [...this.execs.values()].filter((e) => e.containerId === containerId && e.status !== 'exited').map((e) => e.id);
    return ids.length ? ids : null;
  }

  /**
   * Starts an exec. Detached: no stream. `tty` is the start request's own Tty (it may
   * differ from the exec's): a start with a tty on an exec without one gets no stderr,
   * as Docker gives it no stderr writer. Throws not-found, conflict (already started,
   * container not running), RuntimeCreateError when the runtime refuses (the exec then
   * has exited with 126 or 127).
   */
  async start(id: string, opts: { detach: boolean; tty?: boolean; consoleSize?: { height: number; width: number } }): Promise<StartedExec> {
    const e = this.mustGet(id);
    if (e.status === 'exited') throw conflict(`Error: Exec command ${e.id} has already run`);
    if (e.status === 'running') throw conflict(`Error: Exec command ${e.id} is already running`);
    const c = this.o.containers.get(e.containerId);
    checkRunning(c);
    e.status = 'running';
    const consoleSize = opts.consoleSize ?? e.consoleSize;
    let started: { pid: number; stream?: Duplex };
    try {
      const rootfs = this.o.containers.rootfsDir(c.id);
      const spec = containerSpecFor(this.o.specs?.find(c.id), path.dirname(rootfs));
      const proc = await buildExecProcess(
        spec.process,
        // the start's own console size, else the create's (moby's ContainerExecStart)
        { cmd: e.cmd, env: e.env, user: e.user, workingDir: e.workingDir, privileged: e.privileged, tty: e.tty, ...(consoleSize ? { consoleSize } : {}) },
        rootfs,
        c.hostConfig.GroupAdd ?? [],
      );
      const attach = opts.detach
        ? { stdin: false, stdout: false, stderr: false }
        : { stdin: e.attachStdin, stdout: e.attachStdout, stderr: e.attachStderr && !(opts.tty === true && !e.tty) };
      started = await this.o.tasks.exec(this.o.taskId(c.id), {
        execId: e.id,
        process: proc,
        linux: spec.linux,
        tty: e.tty,
        openStdin: e.attachStdin && !opts.detach,
        attach,
      });
    } catch (err) {
      e.status = 'exited';
      e.exitCode = 126; // Docker 20.10 reports 126 for any exec the runtime refused
      e.exitedAt = Date.now();
      this.exits.set(e.id, Promise.resolve(e.exitCode));
      this.wakeStartWaiters(e.id);
      throw err;
    }
    e.pid = started.pid;
    this.wakeStartWaiters(e.id);
    this.publish(c, `exec_start: ${describe(e.cmd)}`, { execID: e.id });
    const exited = this.watch(e, c);
    this.exits.set(e.id, exited);
    return { ...(started.stream ? { stream: started.stream } : {}), exited };
  }

  /** Resolves with the exit code once the exec has exited (at once if it has). */
  exited(id: string): Promise<number> {
    const e = this.mustGet(id);
    if (e.exitCode !== null) return Promise.resolve(e.exitCode);
    return this.exits.get(id) ?? new Promise(() => {});
  }

  /** Resizes the exec's pty. Throws not-found, conflict when it is not running or has no tty. */
  async resize(id: string, height: number, width: number): Promise<void> {
    const e = this.mustGet(id);
    const c = this.o.containers.get(e.containerId);
    checkRunning(c);
    if (e.status === 'created') await this.startedOrTimeout(e.id, 10_000); // as Docker: wait for the session to start
    if (e.status !== 'running') throw notFound('no such exec'); // Docker's answer for an exec that is not running
    if (!e.tty) return;
    await this.o.tasks.resizeExec(this.o.taskId(c.id), e.id, height, width);
  }

  private startedOrTimeout(id: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      const list = this.startWaiters.get(id) ?? [];
      list.push(done);
      this.startWaiters.set(id, list);
      function done() {
        clearTimeout(t);
        resolve();
      }
    });
  }

  private wakeStartWaiters(id: string): void {
    const list = this.startWaiters.get(id) ?? [];
    this.startWaiters.delete(id);
    for (const w of list) w();
  }

  private async watch(e: ExecRecord, c: ContainerRecord): Promise<number> {
    let code: number;
    try {
      code = (await this.o.tasks.waitExec(this.o.taskId(c.id), e.id)).exitCode;
    } catch (err) {
      this.o.log.warn('waiting for exec failed', { exec: e.id, err: String(err) });
      code = isNotFound(err) ? 137 : 255;
    }
    e.status = 'exited';
    e.exitCode = code;
    e.exitedAt = Date.now();
    this.publish(c, 'exec_die', { execID: e.id, exitCode: String(code) });
    return code;
  }

  private mustGet(id: string): ExecRecord {
    const e = this.execs.get(id);
    if (!e) throw notFound(`No such exec instance: ${id}`);
    if (!this.o.containers.exists(e.containerId)) {
      this.execs.delete(id); // its container is gone
      this.exits.delete(id);
      throw notFound(`No such exec instance: ${id}`);
    }
    return e;
  }

  private prune(): void {
    const now = Date.now();
    for (const [id, e] of this.execs) {
      const gone = !this.o.containers.exists(e.containerId);
      if (gone || (e.exitedAt !== undefined && now - e.exitedAt > KEEP_EXITED_MS)) {
        this.execs.delete(id);
        this.exits.delete(id);
      }
    }
  }

  private publish(c: ContainerRecord, action: string, extra: Record<string, string>): void {
    this.o.events.publish('container', action, c.id, { ...(c.config.Labels ?? {}), image: c.imageRef, name: c.name.replace(/^\//, ''), ...extra });
  }
}

/** Docker's event text for a command: the entrypoint, a space, the arguments joined by spaces. */
function describe(cmd: string[]): string {
  return `${cmd[0]} ${cmd.slice(1).join(' ')}`;
}

/** Docker's checks for exec create/start on a container (the paused message names it as the client did). */
function checkRunning(c: ContainerRecord, ref = c.id): void {
  const st = c.state.status;
  if (st === 'paused') throw conflict(`Container ${ref} is paused, unpause the container before exec`);
  if (st === 'restarting') throw conflict(`Container ${c.id} is restarting, wait until the container is running`);
  if (st !== 'running') throw conflict(`Container ${c.id} is not running`);
}

type ExecFields = Omit<ExecRecord, 'id' | 'containerId' | 'status' | 'pid' | 'exitCode' | 'exitedAt'>;

/** Validates an exec-create body; invalid-argument with Docker's messages. */
export function validate(body: ExecCreateRequest | undefined): ExecFields {
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) throw invalidArgument('config cannot be empty');
  const strings = (v: unknown, name: string): string[] => {
    if (v === undefined || v === null) return [];
    if (typeof v === 'string') return [v];
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw invalidArgument(`${name} must be an array of strings`);
    return v as string[];
  };
  const str = (v: unknown, name: string): string => {
    if (v === undefined || v === null) return '';
    if (typeof v !== 'string') throw invalidArgument(`${name} must be a string`);
    return v;
  };
  const bool = (v: unknown, name: string): boolean => {
    if (v === undefined || v === null) return false;
    if (typeof v !== 'boolean') throw invalidArgument(`${name} must be a boolean`);
    return v;
  };
  const cmd = strings(body.Cmd, 'Cmd');
  if (cmd.length === 0) throw invalidArgument('No exec command specified');
  const env = strings(body.Env, 'Env');
  for (const v of env) if (v === '' || v.startsWith('=')) throw invalidArgument(`invalid environment variable: ${v}`);
  const detachKeys = str(body.DetachKeys, 'DetachKeys');
  if (detachKeys) parseDetachKeys(detachKeys, 'escape keys');
  return {
    cmd,
    env,
    user: str(body.User, 'User'),
    workingDir: str(body.WorkingDir, 'WorkingDir'),
    privileged: bool(body.Privileged, 'Privileged'),
    tty: bool(body.Tty, 'Tty'),
    attachStdin: bool(body.AttachStdin, 'AttachStdin'),
    attachStdout: bool(body.AttachStdout, 'AttachStdout'),
    attachStderr: bool(body.AttachStderr, 'AttachStderr'),
    detachKeys,
  };
}

/** Docker's exec inspect document. */
export function execInspectView(e: ExecRecord): Record<string, unknown> {
  return {
    ID: e.id,
    Running: e.status === 'running',
    ExitCode: e.exitCode,
    ProcessConfig: {
      tty: e.tty,
      entrypoint: e.cmd[0],
      arguments: e.cmd.slice(1),
      privileged: e.privileged,
      ...(e.user ? { user: e.user } : {}),
    },
    OpenStdin: e.attachStdin,
    OpenStderr: e.attachStderr,
    OpenStdout: e.attachStdout,
    CanRemove: false,
    ContainerID: e.containerId,
    DetachKeys: e.detachKeys,
    Pid: e.pid,
  };
}
