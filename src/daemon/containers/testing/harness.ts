/**
 * A ContainerService on fakes, for unit tests of the lifecycle without root: the fake
 * task service (engine/runtime/fake-task-service.ts), an in-memory snapshotter and
 * mounter, a manual clock for restart back-offs, a spec builder that records its input,
 * and a real metadata database in a temporary directory. `reopen()` is a daemon
 * restart: a new service over the same database and the same tasks (which, like
 * shims, outlived the old one).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { BuildSpecInput } from '../spec';
import type { Spec } from '../../../engine/oci/spec';
import { gcMigrations } from '../../../engine/gc/migrations';
import { nullLogger } from '../../../engine/log';
import { MetadataDB } from '../../../engine/metadata';
import type { Mount } from '../../../engine/mount/types';
import { FakeTaskService } from '../../../engine/runtime/fake-task-service';
import { EventBus } from '../../events/bus';
import type { ContainerSnapshots, ImageLookup, Mounter } from '../deps';
import { defaultStartHooks, type StartHook } from '../hooks';
import type { Clock } from '../restart';
import { ContainerService, type CreateRequest } from '../service';

/** Timers that fire only when the test advances time. */
export class ManualClock implements Clock {
  private now = 0;
  private seq = 0;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();

  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.timers.set(id, { at: this.now + ms, fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  /** Delays (from now) of the timers not yet fired, soonest first. */
  pending(): number[] {
    return [...this.timers.values()].map((t) => t.at - this.now).sort((a, b) => a - b);
  }

  /** Moves time on by `ms`, firing what falls due, in order. */
  advance(ms: number): void {
    const until = this.now + ms;
    for (;;) {
      const due = [...this.timers.entries()].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.now = due[1].at;
      due[1].fn();
    }
    this.now = until;
  }
}

/** Records mounts instead of making them. */
export class FakeMounter implements Mounter {
  readonly mounted = new Set<string>();
  mountAll(_mounts: Mount[], target: string): void {
    this.mounted.add(target);
  }
  unmount(target: string): void {
    this.mounted.delete(target);
  }
}

/** Snapshots as a set of keys. */
export class FakeSnapshots implements ContainerSnapshots {
  readonly keys = new Set<string>();
  async prepare(key: string): Promise<Mount[]> {
    this.keys.add(key);
    return this.mounts(key);
  }
  async mounts(key: string): Promise<Mount[]> {
    return [{ type: 'bind', source: `/snapshots/${key}`, options: ['rbind'] }];
  }
  async remove(key: string): Promise<void> {
    this.keys.delete(key);
  }
  async usage(): Promise<{ size: number; inodes: number }> {
    return { size: 0, inodes: 0 };
  }
}

const images: ImageLookup = {
  async get() {
    return { id: 'sha256:' + 'a'.repeat(64), config: { Cmd: ['sh'], Env: ['PATH=/bin'] }, chainId: undefined, repoTags: ['busybox:latest'] };
  },
};

export class LifecycleHarness {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stv-lifecycle-'));
  readonly db = MetadataDB.open(path.join(this.dir, 'metadata.db'), gcMigrations, { reserveBytes: 0 });
  readonly tasks = new FakeTaskService();
  readonly clock = new ManualClock();
  readonly mounter = new FakeMounter();
  readonly snapshots = new FakeSnapshots();
  readonly events = new EventBus();
  /** what the spec builder was given, per start */
  readonly specInputs: BuildSpecInput[] = [];
  svc: ContainerService;
  private readonly old: ContainerService[] = [];

  /** `extraHooks` run after the default ones (container files, binds); the rootfs is mounted before them by the engine's run sequence, on the fake mounter. */
  constructor(private readonly extraHooks: StartHook[] = []) {
    this.svc = this.open();
  }

  private open(): ContainerService {
    return new ContainerService({
      dataRoot: path.join(this.dir, 'root'),
      execRoot: path.join(this.dir, 'exec'),
      db: this.db,
      images,
      snapshots: this.snapshots,
      mounter: this.mounter,
      tasks: this.tasks,
      events: this.events,
      log: nullLogger,
      clock: this.clock,
      cgroupVersion: 2,
      hooks: [...defaultStartHooks({ snapshots: this.snapshots, mounter: this.mounter, log: nullLogger }), ...this.extraHooks],
      specBuilder: async (input) => {
        this.specInputs.push(input);
        return { ociVersion: '1.0.2', root: { path: input.rootfs }, process: { args: [], cwd: '/' } } as unknown as Spec;
      },
    });
  }

  /**
   * A daemon restart: the old service is left as a killed daemon leaves it (`close`
   * only when `clean`), a new one opens over the same database and tasks and restores.
   */
  async reopen(opts: { clean?: boolean } = {}): Promise<ContainerService> {
    if (opts.clean) await this.svc.close();
    this.old.push(this.svc);
    this.svc = this.open();
    await this.svc.restore();
    return this.svc;
  }

  async create(opts: Partial<CreateRequest['hostConfig']> = {}, name?: string): Promise<string> {
    const req: CreateRequest = { config: { Image: 'busybox', Cmd: ['sleep', '1000'] }, hostConfig: { ...opts } };
    if (name) req.name = name;
    return (await this.svc.create(req)).id;
  }

  status(id: string): string {
    try {
      return this.svc.get(id).state.status;
    } catch {
      return 'gone';
    }
  }

  async close(): Promise<void> {
    for (const s of [this.svc, ...this.old]) await s.close().catch(() => {});
    this.db.close();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Lets pending promise callbacks (and the I/O they started) run. */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}

/** Waits (boundedly) until `cond` holds. */
export async function eventually(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 2));
  }
  throw new Error(`never happened: ${what}`);
}
