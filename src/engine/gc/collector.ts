/**
 * Mark and sweep. Roots are the rows of `gc_refs` (images, containers, live leases…);
 * a snapshot keeps its parents alive. Everything else is swept: unreferenced blobs,
 * snapshots (children before parents), and ingests that are not leased, not being
 * written, and idle for longer than the grace period.
 *
 * Each removal re-checks `gc_refs` in the same synchronous turn as the removal starts,
 * so a reference added after the mark still protects its resource.
 */
import type { Info, IngestStatus } from '../content/types';
import { isStevedoreError, kindOf } from '../errdefs';
import type { MetadataDB } from '../metadata/db';
import type { SnapshotInfo } from '../snapshots/types';
import { LeaseManager } from './leases';
import { GcRefs } from './refs';

/** What the collector needs from a content store (LocalContentStore fits). */
export interface GcContent {
  list(): AsyncIterable<Info>;
  delete(digest: string): Promise<void>;
  listIngests(): AsyncIterable<IngestStatus>;
  removeStaleIngest(ref: string, olderThan: Date): Promise<boolean>;
}

/** What the collector needs from a snapshotter (OverlaySnapshotter fits). */
export interface GcSnapshots {
  walk(): AsyncIterable<SnapshotInfo>;
  remove(keyOrName: string): Promise<void>;
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
  private readonly refs: GcRefs;
  private readonly leases: LeaseManager;
  private running: Promise<GcReport> | undefined;

  constructor(
    private readonly db: MetadataDB,
    private readonly content: GcContent,
    private readonly snapshots: GcSnapshots,
  ) {
    this.refs = new GcRefs(db);
    this.leases = new LeaseManager(db);
  }

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
    report.expiredLeases = this.leases.deleteExpired(now);

    // mark
    const rows = this.db.raw.prepare('SELECT resource_kind AS kind, resource_id AS id FROM gc_refs').all() as {
      kind: string;
      id: string;
    }[];
    const roots = { content: new Set<string>(), snapshot: new Set<string>(), ingest: new Set<string>() };
    for (const r of rows) roots[r.kind as keyof typeof roots]?.add(r.id);

    // snapshots: keep roots and their ancestors, remove the rest deepest first
    const all = new Map<string, SnapshotInfo>();
    for await (const s of this.snapshots.walk()) all.set(s.name, s);
    const keep = new Set<string>();
    for (const name of roots.snapshot) {
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
      if (this.refs.isReferenced({ kind: 'snapshot', id: s.name })) continue;
      try {
        await this.snapshots.remove(s.name);
        report.removedSnapshots.push(s.name);
      } catch (err) {
        // gone already, or a child appeared since the mark: leave it for the next run
        if (!isStevedoreError(err) || (kindOf(err) !== 'not-found' && kindOf(err) !== 'conflict')) throw err;
      }
    }
    this.snapshots.cleanup?.();

    // content
    for await (const info of this.content.list()) {
      signal?.throwIfAborted();
      if (roots.content.has(info.digest) || this.refs.isReferenced({ kind: 'content', id: info.digest })) continue;
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
      if (roots.ingest.has(ing.ref) || this.refs.isReferenced({ kind: 'ingest', id: ing.ref })) continue;
      if (await this.content.removeStaleIngest(ing.ref, olderThan)) report.removedIngests.push(ing.ref);
    }
    return report;
  }
}
