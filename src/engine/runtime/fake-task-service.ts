/**
 * An in-memory TaskService for tests of what runs above tasks (the daemon's container
 * lifecycle), without root, a shim or runc. Tasks are records with a state and an exit
 * promise; a test ends them (`exit`), lets signals end them as a real process would
 * (any signal but those it `ignore`s), and can hold any call at a chosen point
 * (`hold('startCreated', id)` → the call waits until the test releases it) to drive a
 * race deterministically. Like the shims, the tasks outlive a daemon: a second service
 * over the same fake sees them (live restore).
 */
import { PassThrough, type Duplex } from 'node:stream';
import { conflict, notFound } from '../errdefs';
import type { AttachOptions, ExitStatus, LinuxResources, StartOptions, TaskService, TaskState } from './types';
import { parseSignal } from './signals';

/** A promise with its resolve and reject at hand. */
export class Deferred<T = void> {
  readonly promise: Promise<T>;
  resolve!: (v: T) => void;
  reject!: (err: unknown) => void;
  constructor() {
    this.promise = new Promise<T>((res, rej) => {
      this.resolve = res;
      this.reject = rej;
    });
  }
}

/** The calls a test can hold. */
/**
 * The calls a test can hold or fail. `spawn` is the start of a create, before its bundle
 * is ready (the shim's start: a refusal there comes while the caller still prepares).
 */
export type FakeOp = 'spawn' | 'create' | 'startCreated' | 'kill' | 'delete' | 'wait';

/** A held call: `reached` resolves when the call arrives; it then waits for `release` (or `fail`). */
export interface Hold {
  readonly reached: Promise<void>;
  release(): void;
  fail(err: unknown): void;
}

interface FakeTask {
  id: string;
  pid: number;
  state: TaskState;
  opts: StartOptions;
  exit: Deferred<ExitStatus>;
  status?: ExitStatus;
  ignored: Set<number>;
}

interface PendingHold {
  op: FakeOp;
  id: string | undefined;
  reached: Deferred<void>;
  go: Deferred<void>;
}

export class FakeTaskService implements TaskService {
  private readonly tasks = new Map<string, FakeTask>();
  private readonly holds: PendingHold[] = [];
  private readonly failures: Array<{ op: FakeOp; id: string | undefined; err: unknown }> = [];
  private nextPid = 1000;
  /** Every call, in order: `op id` (`kill id 15`). */
  readonly calls: string[] = [];

  /** The next call of `op` (for `id`, or any) waits until released. */
  hold(op: FakeOp, id?: string): Hold {
    const h: PendingHold = { op, id, reached: new Deferred(), go: new Deferred() };
    this.holds.push(h);
    return { reached: h.reached.promise, release: () => h.go.resolve(), fail: (err) => h.go.reject(err) };
  }

  /** The next call of `op` (for `id`, or any) throws `err`. */
  failNext(op: FakeOp, err: unknown, id?: string): void {
    this.failures.push({ op, id, err });
  }

  /** Signals task `id` survives (a process that handles SIGTERM, say). */
  ignore(id: string, signal: number | string): void {
    this.must(id).ignored.add(parseSignal(signal));
  }

  /** Ends task `id` (as its init process exiting). */
  exit(id: string, exitCode: number, opts: { oomKilled?: boolean; signal?: number } = {}): void {
    const t = this.must(id);
    if (t.status) return;
    t.state = 'stopped';
    t.status = { exitCode, oomKilled: opts.oomKilled === true, finishedAt: new Date(), ...(opts.signal ? { signal: opts.signal } : {}) };
    t.exit.resolve(t.status);
  }

  /** The task's state, or undefined when there is no task `id`. */
  peek(id: string): TaskState | undefined {
    return this.tasks.get(id)?.state;
  }

  /** How many calls `op id` there were. */
  count(op: FakeOp, id: string): number {
    return this.calls.filter((c) => c === `${op} ${id}` || c.startsWith(`${op} ${id} `)).length;
  }

  private async gate(op: FakeOp, id: string, arg?: string | number): Promise<void> {
    this.calls.push(arg === undefined ? `${op} ${id}` : `${op} ${id} ${arg}`);
    const fi = this.failures.findIndex((f) => f.op === op && (f.id === undefined || f.id === id));
    if (fi >= 0) {
      const [f] = this.failures.splice(fi, 1);
      throw f!.err;
    }
    const hi = this.holds.findIndex((h) => h.op === op && (h.id === undefined || h.id === id));
    if (hi < 0) return;
    const [h] = this.holds.splice(hi, 1);
    h!.reached.resolve();
    await h!.go.promise;
  }

  private must(id: string): FakeTask {
    const t = this.tasks.get(id);
    if (!t) throw notFound(`task ${id} not found`);
    return t;
  }

  async create(opts: StartOptions): Promise<{ pid: number }> {
    // the shim starts at once; the runtime's create comes once the bundle is ready (the
    // shim waits at its gate until then)
    if (opts.bundleReady) {
      await this.gate('spawn', opts.id);
      await opts.bundleReady;
    }
    await this.gate('create', opts.id);
    const old = this.tasks.get(opts.id);
    if (old) throw conflict(`task ${opts.id} already exists`);
    const t: FakeTask = { id: opts.id, pid: this.nextPid++, state: 'created', opts, exit: new Deferred(), ignored: new Set() };
    this.tasks.set(opts.id, t);
    return { pid: t.pid };
  }

  async startCreated(id: string): Promise<void> {
    await this.gate('startCreated', id);
    const t = this.must(id);
    if (t.state !== 'created') throw conflict(`task ${id} is ${t.state}, not created`);
    t.state = 'running';
  }

  async start(opts: StartOptions): Promise<{ pid: number }> {
    const r = await this.create(opts);
    await this.startCreated(opts.id);
    return r;
  }

  async kill(id: string, signal: number | string): Promise<void> {
    const n = parseSignal(signal);
    await this.gate('kill', id, n);
    const t = this.must(id);
    if (t.state !== 'running' && t.state !== 'paused') throw conflict(`task ${id} is not running`);
    if (n === 0 || (n !== 9 && t.ignored.has(n))) return;
    this.exit(id, 128 + n, { signal: n });
  }

  async wait(id: string): Promise<ExitStatus> {
    await this.gate('wait', id);
    return this.must(id).exit.promise;
  }

  async delete(id: string): Promise<void> {
    await this.gate('delete', id);
    const t = this.tasks.get(id);
    if (!t) return;
    if (!t.status) this.exit(id, 137, { signal: 9 });
    this.tasks.delete(id);
  }

  async attach(id: string, _opts: AttachOptions): Promise<Duplex> {
    this.must(id);
    return new PassThrough();
  }

  async resize(id: string): Promise<void> {
    this.must(id);
  }

  async closeStdin(id: string): Promise<void> {
    this.must(id);
  }

  async pause(id: string): Promise<void> {
    const t = this.must(id);
    if (t.state !== 'running') throw conflict(`task ${id} is not running`);
    t.state = 'paused';
  }

  async resume(id: string): Promise<void> {
    const t = this.must(id);
    if (t.state !== 'paused') throw conflict(`task ${id} is not paused`);
    t.state = 'running';
  }

  async update(id: string, _resources: LinuxResources): Promise<void> {
    this.must(id);
  }

  async ps(id: string): Promise<number[]> {
    const t = this.must(id);
    return t.state === 'running' || t.state === 'paused' ? [t.pid] : [];
  }

  async state(id: string): Promise<TaskState> {
    return this.must(id).state;
  }

  async list(): Promise<string[]> {
    return [...this.tasks.keys()];
  }
}
