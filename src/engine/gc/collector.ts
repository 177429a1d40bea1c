/**
 * Mark and sweep. Roots are the rows of `gc_refs` (images, containers, live leases…);
 * a snapshot keeps its parents alive. Everything else is swept: unreferenced blobs,
 * snapshots (children before parents), and ingests that are not leased, not being
 * written, and idle for longer than the grace period.
 *
 * One collection covers every namespace: snapshots are per namespace (a namespace's
 * references keep its own snapshots), blobs and ingests are shared (a reference from any
 * namespace keeps them), and leases expire in each namespace.
 *
 * Each removal re-checks `gc_refs` in the same synchronous turn as the removal starts,
 * so a reference added after the mark still protects its resource.
 */
import type { Info, IngestStatus } from '../content/types';
import { isStevedoreError, kindOf } from '../errdefs';
import type { MetadataDB } from '../metadata/db';
import type { SnapshotInfo } from '../snapshots/types';
import { LeaseManager, leaseNamespaces } from './leases';
import { isReferencedIn } from './refs';

/** What the collector needs from a content store (LocalContentStore fits). */
export interface GcContent {
  list(): AsyncIterable<Info>;
  delete(digest: string): Promise<void>;
  listIngests(): AsyncIterable<IngestStatus>;
  removeStaleIngest(ref: string, olderThan: Date): Promise<boolean>;
}

/** What the collector needs from one namespace of a snapshotter. */
export interface GcNamespaceSnapshots {
  walk(): AsyncIterable<SnapshotInfo>;
  remove(keyOrName: string): Promise<void>;
}

/** What the collector needs from a snapshotter (OverlaySnapshotter fits). */
export interface GcSnapshots {
  /** the namespaces that hold snapshots */
  namespaces(): string[];
  /** the snapshotter's view of namespace `ns` */
  withNamespace(ns: string): GcNamespaceSnapshots;
  /** removes directories no row points at */
  cleanup?(): unknown;
}

export interface CollectOptions {
  /** the current time (tests); default now */
  now?: Date;
  /** unleased partial ingests idle for longer than this are removed; default 24 h */
  ingestGracePeriodMs?: number;
  signal?: AbortSignal;
}

export interface GcReport {
  expiredLeases: string[];
  removedSnapshots: string[];
  removedContent: string[];
  removedIngests: string[];
}

const DAY_MS = 24 * 60 * 60 * 1000;

export class GarbageCollector {
  private running: Promise<GcReport> | undefined;

  constructor(
    private readonly db: MetadataDB,
    private readonly content: GcContent,
    private readonly snapshots: GcSnapshots,
  ) {}

  /** Runs one collection; concurrent calls share the running one. */
  collect(opts: CollectOptions = {}): Promise<GcReport> {
    if (!this.running) {
      this.running = this.run(opts).finally(() => {
        this.running = undefined;
      });
    }
    return this.running;
  }

  private async run(opts: CollectOptions): Promise<GcReport> {
    const now = opts.now ?? new Date();
    const signal = opts.signal;
    const report: GcReport = { expiredLeases: [], removedSnapshots: [], removedContent: [], removedIngests: [] };
    for (const ns of leaseNamespaces(this.db)) report.expiredLeases.push(...new LeaseManager(this.db, { namespace: ns }).deleteExpired(now));

    // mark
    const rows = this.db.raw.prepare('SELECT namespace AS ns, resource_kind AS kind, resource_id AS id FROM gc_refs').all() as {
      ns: string;
      kind: string;
      id: string;
    }[];
    const roots = { content: new Set<string>(), ingest: new Set<string>() };
    const snapshotRoots = new Map<string, Set<string>>();
    for (const r of rows) {
      if (r.kind === 'snapshot') {
        let set = snapshotRoots.get(r.ns);
        if (!set) snapshotRoots.set(r.ns, (set = new Set()));
        set.add(r.id);
      } else roots[r.kind as keyof typeof roots]?.add(r.id);
    }

    // snapshots, namespace by namespace
    for (const ns of this.snapshots.namespaces()) {
      await this.sweepSnapshots(ns, snapshotRoots.get(ns) ?? new Set(), report, signal);
    }
    this.snapshots.cleanup?.();

    // content (shared: a reference from any namespace keeps a blob)
    for await (const info of this.content.list()) {
      signal?.throwIfAborted();
      if (roots.content.has(info.digest) || isReferencedIn(this.db, undefined, { kind: 'content', id: info.digest })) continue;
      try {
        await this.content.delete(info.digest);
        report.removedContent.push(info.digest);
      } catch (err) {
        if (kindOf(err) !== 'not-found') throw err;
      }
    }

    // ingests
    const olderThan = new Date(now.getTime() - (opts.ingestGracePeriodMs ?? DAY_MS));
    for await (const ing of this.content.listIngests()) {
      signal?.throwIfAborted();
      if (ing.active || ing.updatedAt >= olderThan) continue;
      if (roots.ingest.has(ing.ref) || isReferencedIn(this.db, undefined, { kind: 'ingest', id: ing.ref })) continue;
      if (await this.content.removeStaleIngest(ing.ref, olderThan)) report.removedIngests.push(ing.ref);
    }
    return report;
  }

  /** Keeps the roots of namespace `ns` and their ancestors; removes its other snapshots, deepest first. */
  private async sweepSnapshots(ns: string, roots: Set<string>, report: GcReport, signal: AbortSignal | undefined): Promise<void> {
    const view = this.snapshots.withNamespace(ns);
    const all = new Map<string, SnapshotInfo>();
    for await (const s of view.walk()) all.set(s.name, s);
    const keep = new Set<string>();
    for (const name of roots) {
      for (let s = all.get(name); s && !keep.has(s.name); s = s.parent ? all.get(s.parent) : undefined) keep.add(s.name);
    }
    const depth = (s: SnapshotInfo): number => {
      let d = 0;
      for (let p = s.parent; p !== undefined; p = all.get(p)?.parent) d++;
      return d;
    };
    const doomed = [...all.values()].filter((s) => !keep.has(s.name)).sort((a, b) => depth(b) - depth(a));
    for (const s of doomed) {
      signal?.throwIfAborted();
      if (isReferencedIn(this.db, ns, { kind: 'snapshot', id: s.name })) continue;
      try {
        await view.remove(s.name);
        report.removedSnapshots.push(s.name);
      } catch (err) {
        // gone already, or a child appeared since the mark: leave it for the next run
        if (!isStevedoreError(err) || (kindOf(err) !== 'not-found' && kindOf(err) !== 'conflict')) throw err;
      }
    }
  }
}
