/**
 * ImageService: Docker's image semantics over the engine's image store — lookup,
 * inspect, list, history, tag, delete (untag vs delete, conflicts), prune, disk usage,
 * and registration of new images (load, import, pull, commit; see register.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { sha256Digest } from '../../engine/content/digest';
import type { Descriptor } from '../../engine/content/types';
import type { Lease } from '../../engine/gc/leases';
import type { ContentStore } from '../../engine/content/types';
import { conflict, invalidArgument, isStevedoreError, kindOf } from '../../engine/errdefs';
import type { LeaseManager } from '../../engine/gc/leases';
import { chainIDs } from '../../engine/images/chainid';
import { parseImageConfig } from '../../engine/images/archive-format';
import { ImageStore } from '../../engine/images/store';
import type { DockerImageConfig, ImageRecord } from '../../engine/images/types';
import type { LayerApplier } from '../../engine/images/unpack';
import type { Logger } from '../../engine/log';
import type { MetadataDB } from '../../engine/metadata/db';
import { NamedReference, familiarString, parseNormalizedNamed, parseReference, tagNameOnly, withTag } from '../../engine/reference';
import { MOBY_NAMESPACE } from '../../engine/metadata/namespaces';
import type { SnapshotDirs, Snapshotter } from '../../engine/snapshots/types';
import type { EventBus } from '../events/bus';
import { rfc3339ToNanos } from '../../engine/timeparse';
import { keptByUntil, matchKVList, matchPruneLabels, pruneUntil, validatePruneFilters } from '../system/prune-filters';
import { commitContainer, type CommitOptions } from './commit';
import { importImage, type ImportOptions } from './import';
import { loadImages, type LoadOptions } from './load';
import { isImageIdPrefix, resolveImage } from './lookup';
import { IMAGE_LEASE_LABEL, type LayerBlob, type PendingImage, type Registered, type RegisterProgress, beginImage, registerImage } from './register';
import { saveImages, selectImages } from './save';
import { type HistoryItem, type ImageInspect, type ImageSummary, inspectShape, unixSeconds } from './shapes';

/** A container that uses an image, as the containers service reports it. */
export interface ImageUser {
  id: string;
  running: boolean;
}
/** Lists the containers using image `imageId` (filled in by the containers service). */
export type ContainerChecker = (imageId: string) => ImageUser[] | Promise<ImageUser[]>;

export interface ImageServiceOptions {
  db: MetadataDB;
  content: ContentStore;
  snapshotter: Snapshotter;
  leases: LeaseManager;
  apply: LayerApplier;
  events: EventBus;
  /** private scratch folder (staging of loads, imports, saves) */
  tmpDir: string;
  /** where the snapshotter keeps each snapshot's files, for GraphDriver data (the overlay snapshotter) */
  snapshotDirs?: Pick<SnapshotDirs, 'dirsOf'>;
  /** the metadata namespace of the images (default `moby`, the Docker front end's) */
  namespace?: string;
  log?: Logger;
}

/** What other services need to know about an image. */
export interface ImageInfo {
  id: string;
  config: DockerImageConfig;
  /** the top layer's committed snapshot; undefined for an image without layers */
  chainId?: string;
  repoTags: string[];
  repoDigests: string[];
}

export type DeleteRecord = { Untagged: string } | { Deleted: string };

export interface PruneReport {
  ImagesDeleted: DeleteRecord[] | null;
  SpaceReclaimed: number;
}

const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;

const CONFIGS_KEPT = 256;
const CONFIG_KEPT_BYTES = 64 * 1024;

export class ImageService {
  readonly store: ImageStore;
  private containerChecker: ContainerChecker = () => [];
  /** Each image's layer chain IDs, by image ID (see `layerChains`). */
  private readonly chains = new Map<string, readonly string[]>();
  /**
   * Config blobs read already, by image ID (the config's digest, so they never change),
   * up to CONFIGS_KEPT of at most CONFIG_KEPT_BYTES each: every container create reads its
   * image's config, and the read (open, stat, read, close on libuv's threads) waited
   * behind the previous container's background teardown.
   */
  private readonly configs = new Map<string, Buffer>();

  constructor(readonly opts: ImageServiceOptions) {
    this.store = new ImageStore(opts.db, { namespace: opts.namespace ?? MOBY_NAMESPACE });
  }

  /** Lets the containers service say which containers use an image (delete conflicts, df, prune). */
  setContainerChecker(fn: ContainerChecker): void {
    this.containerChecker = fn;
  }

  /**
   * Start-up repair: drops the leases of image operations that a crash interrupted,
   * so that the collector can remove what they protected. Call before serving, then
   * run the garbage collector. Returns the number of leases dropped.
   */
  recover(): number {
    let n = 0;
    for (const l of this.opts.leases.list()) {
      if (l.labels[IMAGE_LEASE_LABEL] !== undefined) {
        this.opts.leases.delete(l.id);
        n++;
      }
    }
    fs.rmSync(this.opts.tmpDir, { recursive: true, force: true });
    return n;
  }

  /** Stores a config blob under `lease`; returns its digest (the image ID). */
  async putConfig(bytes: Buffer, lease: Lease): Promise<string> {
    const digest = sha256Digest(bytes);
    this.opts.leases.addResource(lease.id, { kind: 'content', id: digest });
    await this.opts.content.put(bytes, digest);
    return digest;
  }

  /**
   * Registers an image whose manifest, config and layer blobs are already in the
   * content store (a pull): unpacks missing layers, records the image and points
   * `refs` at it in one transaction. Emits no event (the caller emits `pull`).
   * Returns the image ID and the references that moved from other images.
   */
  async createFromContent(a: {
    manifestDesc?: Descriptor;
    configDigest: string;
    layerDescs: Descriptor[];
    refs: NamedReference[];
    onProgress?: RegisterProgress['onLayer'];
    signal?: AbortSignal;
  }): Promise<Registered> {
    const configBytes = await this.opts.content.readAll(a.configDigest, { maxSize: 16 * 1024 * 1024 });
    return registerImage(
      this,
      {
        configBytes,
        layers: a.layerDescs.map((d) => ({ digest: d.digest, mediaType: d.mediaType, size: d.size })),
        manifestDigest: a.manifestDesc?.digest,
        refs: a.refs,
      },
      { onLayer: a.onProgress, signal: a.signal },
    );
  }

  /**
   * Starts registering an image whose config is in the content store and whose layer
   * blobs are still arriving (a pull): layer i is unpacked once layers below it are
   * and its `ready()` resolved, while later layers download. Nothing is recorded until
   * `commit` (one transaction); `discard` stops the unpack. See register.ts.
   */
  async beginFromContent(a: { configDigest: string; layers: LayerBlob[]; onProgress?: RegisterProgress['onLayer']; signal?: AbortSignal }): Promise<PendingImage> {
    const configBytes = await this.opts.content.readAll(a.configDigest, { maxSize: 16 * 1024 * 1024 });
    return beginImage(this, { configBytes, layers: a.layers }, { onLayer: a.onProgress, signal: a.signal });
  }

  /** `docker load`: see load.ts. */
  load(input: Readable, opts: LoadOptions = {}): Promise<string[]> {
    return loadImages(this, input, opts);
  }

  /** `docker commit`: see commit.ts. Returns the new image ID. */
  commitContainer(opts: CommitOptions): Promise<string> {
    return commitContainer(this, opts);
  }

  /** `docker import`: see import.ts. */
  import(input: Readable, opts: ImportOptions = {}): Promise<string> {
    return importImage(this, input, opts);
  }

  /** `docker save`: resolves `names` (throws not-found before writing), then streams to `out`. */
  selectForSave(names: string[]): Map<string, Set<string>> {
    return selectImages(this, names);
  }

  save(selection: Map<string, Set<string>>, out: Writable, opts: { signal?: AbortSignal } = {}): Promise<void> {
    return saveImages(this, selection, out, opts);
  }

  /** Number of images (for /info). */
  count(): number {
    return this.store.count();
  }

  /** Resolves a reference or (short) ID. Throws not-found `No such image: x`. */
  resolve(refOrId: string): string {
    return resolveImage(this.store, refOrId);
  }

  /** The config bytes of an image. */
  async configBytes(id: string): Promise<Buffer> {
    const kept = this.configs.get(id);
    if (kept) return kept;
    const bytes = await this.opts.content.readAll(id, { maxSize: 16 * 1024 * 1024 });
    if (bytes.length <= CONFIG_KEPT_BYTES && this.store.find(id)) {
      if (this.configs.size >= CONFIGS_KEPT) this.configs.delete(this.configs.keys().next().value!);
      this.configs.set(id, bytes);
    }
    return bytes;
  }

  async config(id: string): Promise<DockerImageConfig> {
    return parseImageConfig(await this.configBytes(id));
  }

  /** An image by reference or ID, for the containers service. Throws not-found. */
  async get(refOrId: string): Promise<ImageInfo> {
    const id = this.resolve(refOrId);
    const rec = this.store.get(id);
    const { tags, digests } = this.refsOf(id);
    const info: ImageInfo = { id, config: await this.config(id), repoTags: tags, repoDigests: digests };
    if (rec.chainId) info.chainId = rec.chainId;
    return info;
  }

  /** Familiar tags and digests of an image, sorted. */
  refsOf(id: string): { tags: string[]; digests: string[] } {
    const tags: string[] = [];
    const digests: string[] = [];
    for (const r of this.store.refsOf(id)) {
      const ref = parseReference(r);
      (ref.digest ? digests : tags).push(familiarString(ref));
    }
    return { tags, digests };
  }

  /**
   * The chain ID of each layer of an image, bottom first: the names of its committed
   * snapshots. Computed once per image and kept until it is deleted (an image ID names
   * its config, so its layers never change).
   */
  layerChains(rec: ImageRecord): readonly string[] {
    let chains = this.chains.get(rec.id);
    if (!chains) {
      chains = chainIDs(rec.layers.map((l) => l.diffID));
      this.chains.set(rec.id, chains);
    }
    return chains;
  }

  /** Unpacked size of an image: the sum of its layers' sizes. */
  size(rec: ImageRecord): number {
    return rec.layers.reduce((a, l) => a + l.unpackedSize, 0);
  }

  async inspect(refOrId: string): Promise<ImageInspect> {
    const id = this.resolve(refOrId);
    const rec = this.store.get(id);
    const { tags, digests } = this.refsOf(id);
    return inspectShape({
      id,
      config: await this.config(id),
      repoTags: tags,
      repoDigests: digests,
      parent: rec.parent,
      size: this.size(rec),
      graphDriver: this.graphDriverData(rec),
      lastTagTime: rec.lastTagTime,
    });
  }

  /**
   * Overlay directories as Docker shows them: UpperDir is the top layer, LowerDir the
   * layers below (top first), Merged/Work beside the top layer.
   */
  private graphDriverData(rec: ImageRecord): Record<string, string> | null {
    const dirs = this.opts.snapshotDirs;
    if (!dirs || !rec.chainId) return null;
    const chain = this.layerChains(rec).map((c) => dirs.dirsOf(c));
    const top = chain[chain.length - 1];
    if (!top || chain.some((x) => x === undefined)) return null;
    const fsDirs = chain.map((x) => x!.fs);
    const data: Record<string, string> = {};
    if (fsDirs.length > 1) data.LowerDir = fsDirs.slice(0, -1).reverse().join(':');
    data.MergedDir = path.join(top.home, 'merged');
    data.UpperDir = top.fs;
    data.WorkDir = top.work;
    return data;
  }

  async history(refOrId: string): Promise<HistoryItem[]> {
    const id = this.resolve(refOrId);
    const rec = this.store.get(id);
    const cfg = await this.config(id);
    const out: HistoryItem[] = [];
    let layer = 0;
    for (const h of cfg.history ?? []) {
      let size = 0;
      if (!h.empty_layer) {
        size = rec.layers[layer]?.unpackedSize ?? 0;
        layer++;
      }
      out.unshift({ Comment: h.comment ?? '', Created: unixSeconds(h.created), CreatedBy: h.created_by ?? '', Id: '<missing>', Size: size, Tags: null });
    }
    // the local parent chain fills in IDs and tags, one history entry per ancestor (as Docker)
    let cur: ImageRecord | undefined = rec;
    for (const item of out) {
      if (!cur) break;
      item.Id = cur.id;
      const tags = this.refsOf(cur.id).tags;
      item.Tags = tags.length ? tags : null;
      cur = cur.parent ? this.store.find(cur.parent) : undefined;
    }
    return out;
  }

  /** Adds `repo[:tag]` to an image. Throws not-found, invalid-argument. */
  async tag(refOrId: string, repo: string, tag: string | undefined): Promise<string> {
    const id = this.resolve(refOrId);
    if (!repo) throw invalidArgument('repository name must have at least one component');
    let ref: NamedReference = parseNormalizedNamed(repo);
    if (ref.digest) throw invalidArgument('refusing to create a tag with a digest reference');
    if (tag) ref = withTag(ref, tag);
    ref = tagNameOnly(ref);
    if (ref.path === 'library/sha256' || familiarString(new NamedReference(ref.domain, ref.path)) === 'sha256') {
      throw invalidArgument('refusing to create an ambiguous tag using digest algorithm as name');
    }
    this.addRef(ref, id, await this.labelsOf(id));
    return familiarString(ref);
  }

  /** Points a normalised reference at an image, emitting Docker's tag event. */
  addRef(ref: NamedReference, id: string, labels?: Record<string, string> | null): void {
    this.store.setRef(ref.toString(), id);
    this.emit('tag', id, familiarString(ref), labels);
  }

  /** An image's config labels, which moby's LogImageEvent adds to the events of an image that still exists. */
  private async labelsOf(id: string): Promise<Record<string, string> | null> {
    return (await this.config(id).catch(() => undefined))?.config?.Labels ?? null;
  }

  /** Publishes an image event with the image's labels as attributes. */
  emit(action: string, id: string, name: string, labels?: Record<string, string> | null): void {
    this.opts.events.publish('image', action, id, { ...(labels ?? {}), name });
  }

  private async users(id: string): Promise<ImageUser[]> {
    return this.containerChecker(id);
  }

  /**
   * DELETE /images/{name}: untags, and deletes the image when no reference is left,
   * with Docker's conflict rules. Returns the records Docker returns.
   */
  async remove(refOrId: string, opts: { force?: boolean; noprune?: boolean } = {}): Promise<DeleteRecord[]> {
    const force = !!opts.force;
    const prune = !opts.noprune;
    const id = this.resolve(refOrId);
    const labels = await this.labelsOf(id);
    const records: DeleteRecord[] = [];
    let repoRefs = this.store.refsOf(id).map((r) => parseReference(r));
    let removedRepositoryRef = false;
    if (!isImageIdPrefix(id, refOrId)) {
      if (!force && isSingleReference(repoRefs)) {
        const u = (await this.users(id))[0];
        if (u) {
          throw conflict(`conflict: unable to remove repository reference "${refOrId}" (must force) - container ${u.id.slice(0, 12)} is using its referenced image ${short(id)}`);
        }
      }
      let parsed = parseNormalizedNamed(refOrId);
      if (!parsed.digest) parsed = tagNameOnly(parsed);
      this.store.deleteRef(parsed.toString());
      this.emit('untag', id, id, labels);
      records.push({ Untagged: familiarString(parsed) });
      repoRefs = this.store.refsOf(id).map((r) => parseReference(r));
      if (!parsed.digest && !repoRefs.some((r) => !r.digest && r.name === parsed.name)) {
        for (const r of repoRefs.filter((x) => x.digest && x.name === parsed.name)) {
          this.store.deleteRef(r.toString());
          this.emit('untag', id, id, labels);
          records.push({ Untagged: familiarString(r) });
        }
        repoRefs = this.store.refsOf(id).map((r) => parseReference(r));
      }
      if (repoRefs.length > 0) return records;
      removedRepositoryRef = true;
    } else if (isSingleReference(repoRefs)) {
      const c = await this.deleteConflict(id, { hard: true, soft: !force, activeReference: false });
      if (c) throw conflict(c.message);
      for (const r of repoRefs) {
        this.store.deleteRef(r.toString());
        this.emit('untag', id, id, labels);
        records.push({ Untagged: familiarString(r) });
      }
    }
    await this.deleteHelper(id, records, force, prune, removedRepositoryRef, labels);
    return records;
  }

  private async deleteConflict(id: string, mask: { hard: boolean; soft: boolean; activeReference?: boolean }): Promise<{ message: string; hard: boolean; used: boolean } | undefined> {
    const msg = (hard: boolean, m: string) => `conflict: unable to delete ${short(id)} (${hard ? 'cannot be forced' : 'must be forced'}) - ${m}`;
    if (mask.hard && this.store.children(id).length > 0) return { message: msg(true, 'image has dependent child images'), hard: true, used: false };
    const users = mask.hard || mask.soft ? await this.users(id) : [];
    const running = users.find((u) => u.running);
    if (mask.hard && running) return { message: msg(true, `image is being used by running container ${running.id.slice(0, 12)}`), hard: true, used: true };
    if (mask.soft && mask.activeReference !== false && this.store.refsOf(id).length > 0) {
      return { message: msg(false, 'image is referenced in multiple repositories'), hard: false, used: false };
    }
    const stopped = users.find((u) => !u.running);
    if (mask.soft && stopped) return { message: msg(false, `image is being used by stopped container ${stopped.id.slice(0, 12)}`), hard: false, used: true };
    return undefined;
  }

  /** `labels`: the image's (null: none), when the caller has read them already. */
  private async deleteHelper(id: string, records: DeleteRecord[], force: boolean, prune: boolean, quiet: boolean, labels?: Record<string, string> | null): Promise<void> {
    const c = await this.deleteConflict(id, { hard: true, soft: !force });
    if (c) {
      // Docker's imageIsDangling: no references and no child images
      const dangling = this.store.refsOf(id).length === 0 && this.store.children(id).length === 0;
      if (quiet && (!dangling || c.used)) return;
      throw conflict(c.message);
    }
    const rec = this.store.get(id);
    if (labels === undefined) labels = await this.labelsOf(id);
    for (const r of this.store.refsOf(id)) {
      this.store.deleteRef(r);
      this.emit('untag', id, id, labels);
      records.push({ Untagged: familiarString(parseReference(r)) });
    }
    const resources = this.store.delete(id, { force: true });
    const removedLayers = await this.release(resources, rec);
    // moby logs `delete` once the image is gone, so without its labels
    this.emit('delete', id, id);
    records.push({ Deleted: id });
    for (const l of removedLayers) records.push({ Deleted: l });
    if (!prune || !rec.parent || !this.store.find(rec.parent)) return;
    await this.deleteHelper(rec.parent, records, false, true, true);
  }

  /**
   * Frees what a deleted image held and nothing else holds: its snapshots from the
   * top down (stopping at one still in use) and its blobs. Returns the removed chain IDs.
   */
  private async release(resources: Array<{ kind: string; id: string }>, rec: ImageRecord): Promise<string[]> {
    const removed: string[] = [];
    const chains = this.layerChains(rec);
    this.chains.delete(rec.id);
    this.configs.delete(rec.id);
    for (let i = chains.length - 1; i >= 0; i--) {
      const name = chains[i]!;
      if (this.store.isReferenced({ kind: 'snapshot', id: name })) break;
      try {
        await this.opts.snapshotter.remove(name);
        removed.push(name);
      } catch (err) {
        if (kindOf(err) === 'not-found') continue;
        if (kindOf(err) === 'conflict') break;
        throw err;
      }
    }
    for (const r of resources) {
      if (r.kind !== 'content' || this.store.isReferenced({ kind: 'content', id: r.id })) continue;
      await this.opts.content.delete(r.id).catch((err) => {
        if (!isStevedoreError(err) || err.kind !== 'not-found') this.opts.log?.warn('could not delete blob', { digest: r.id, err });
      });
    }
    return removed;
  }

  /** GET /images/json. */
  async list(opts: { all?: boolean; digests?: boolean; filters?: Map<string, string[]> } = {}): Promise<ImageSummary[]> {
    const filters = opts.filters ?? new Map<string, string[]>();
    for (const k of filters.keys()) {
      if (!['dangling', 'label', 'before', 'since', 'reference'].includes(k)) throw invalidArgument(`Invalid filter '${k}'`);
    }
    const dangling = boolFilter(filters, 'dangling');
    const beforeT = await this.timeFilter(filters, 'before');
    const sinceT = await this.timeFilter(filters, 'since');
    const out: ImageSummary[] = [];
    for (const rec of this.store.list()) {
      const cfg = await this.config(rec.id).catch(() => undefined);
      if (!cfg) continue;
      const created = unixSeconds(cfg.created);
      if (beforeT !== undefined && !(created < beforeT.t && rec.id !== beforeT.id)) continue;
      if (sinceT !== undefined && !(created > sinceT.t && rec.id !== sinceT.id)) continue;
      const labels = cfg.config?.Labels ?? null;
      if (!matchKVList(filters.get('label'), labels)) continue;
      let { tags, digests } = this.refsOf(rec.id);
      const isDangling = tags.length === 0 && digests.length === 0;
      if (dangling === true && !isDangling) continue;
      if (dangling === false && isDangling) continue;
      if (filters.has('reference')) {
        const pats = filters.get('reference')!;
        const all = [...tags, ...digests];
        const matched = all.filter((r) => pats.some((p) => matchReference(p, r)));
        if (matched.length === 0) continue;
        tags = tags.filter((t) => matched.includes(t));
        digests = digests.filter((d) => matched.includes(d));
      }
      if (isDangling && !opts.all && this.store.children(rec.id).length > 0) continue;
      const size = this.size(rec);
      out.push({
        Containers: -1,
        Created: created,
        Id: rec.id,
        Labels: labels,
        ParentId: rec.parent ?? '',
        RepoDigests: isDangling ? ['<none>@<none>'] : digests.length ? digests : null,
        RepoTags: isDangling ? ['<none>:<none>'] : tags.length ? tags : null,
        SharedSize: -1,
        Size: size,
        VirtualSize: size,
      });
    }
    out.sort((a, b) => b.Created - a.Created);
    return out;
  }

  private async timeFilter(filters: Map<string, string[]>, key: string): Promise<{ t: number; id: string } | undefined> {
    const v = filters.get(key);
    if (!v || v.length === 0) return undefined;
    let best: { t: number; id: string } | undefined;
    for (const ref of v) {
      const id = this.resolve(ref);
      const t = unixSeconds((await this.config(id)).created);
      if (!best || (key === 'before' ? t < best.t : t > best.t)) best = { t, id };
    }
    return best;
  }

  /**
   * POST /images/prune, as moby's ImagesPrune: with `dangling` (the default) the images
   * without children that have no tag; with `dangling=false` every image but the
   * intermediate ones (no reference, children); kept by `until` (created after it) and
   * by `label`/`label!` (images with a config only). Each is deleted through `remove`
   * with Docker's conflict rules (an image a container uses stays, a conflict is
   * skipped). `SpaceReclaimed` sums the layers the deletes released. Throws
   * invalid-argument for an unknown filter, a bad `dangling` or `until`; conflict while
   * another image prune runs.
   */
  async prune(filters: Map<string, string[]>): Promise<PruneReport> {
    if (this.pruneRunning) throw conflict('a prune operation is already running');
    this.pruneRunning = true;
    try {
      return await this.pruneImages(filters);
    } finally {
      this.pruneRunning = false;
    }
  }

  /** Set while an image prune runs (moby answers a second one with a conflict). */
  private pruneRunning = false;

  private async pruneImages(filters: Map<string, string[]>): Promise<PruneReport> {
    validatePruneFilters(filters, ['dangling', 'label', 'label!', 'until']);
    let danglingOnly = true;
    const dangling = filters.get('dangling');
    if (dangling && dangling.length > 0) {
      if (dangling.includes('false') || dangling.includes('0')) danglingOnly = false;
      else if (!dangling.includes('true') && !dangling.includes('1')) throw invalidArgument(`Invalid filter 'dangling=[${dangling.join(' ')}]'`);
    }
    const until = pruneUntil(filters);
    // layer sizes before anything goes, to count what the deletes release (by chain ID)
    const images = this.store.list();
    const layerSize = new Map<string, number>();
    for (const rec of images) {
      const chains = this.layerChains(rec);
      rec.layers.forEach((l, i) => layerSize.set(chains[i]!, l.unpackedSize));
    }
    const top: string[] = [];
    for (const rec of images) {
      const children = this.store.children(rec.id).length;
      if (danglingOnly && children > 0) continue;
      const refs = this.store.refsOf(rec.id);
      if (refs.length === 0 && children > 0) continue;
      const cfg = await this.config(rec.id).catch(() => undefined);
      if (!cfg) continue;
      if (keptByUntil(until, rfc3339ToNanos(cfg.created ?? ''))) continue;
      if (cfg.config && !matchPruneLabels(filters, cfg.config.Labels)) continue;
      top.push(rec.id);
    }
    const records: DeleteRecord[] = [];
    const tryRemove = async (ref: string) => {
      try {
        records.push(...(await this.remove(ref, { force: false, noprune: false })));
      } catch (err) {
        if (kindOf(err) !== 'conflict') this.opts.log?.warn('failed to prune image', { ref, err: String(err) });
      }
    };
    for (const id of top) {
      if (!this.store.find(id)) continue; // gone with a child deleted before it
      const refs = this.store.refsOf(id).map((r) => parseReference(r));
      if (refs.length > 0) {
        // dangling-only still takes an image known by digest alone (repo:<none>)
        if (danglingOnly && refs.some((r) => !r.digest)) continue;
        for (const r of refs) await tryRemove(r.toString());
      } else {
        await tryRemove(id);
      }
    }
    let reclaimed = 0;
    for (const r of records) if ('Deleted' in r) reclaimed += layerSize.get(r.Deleted) ?? 0;
    this.opts.events.publish('image', 'prune', '', { reclaimed: String(reclaimed) });
    return { ImagesDeleted: records.length ? records : null, SpaceReclaimed: reclaimed };
  }

  /** Bytes of all unique layers of all images. */
  async layerBytes(): Promise<number> {
    const seen = new Map<string, number>();
    for (const rec of this.store.list()) {
      const chains = this.layerChains(rec);
      rec.layers.forEach((l, i) => seen.set(chains[i]!, l.unpackedSize));
    }
    let n = 0;
    for (const v of seen.values()) n += v;
    return n;
  }

  /** The `Images` and `LayersSize` parts of GET /system/df. */
  async diskUsage(): Promise<{ LayersSize: number; Images: ImageSummary[] }> {
    const list = await this.list({ all: true });
    const usage = await this.usage({ sharedSize: true });
    for (const s of list) {
      const u = usage.get(s.Id);
      if (u) Object.assign(s, u);
    }
    return { LayersSize: await this.layerBytes(), Images: list };
  }

  /**
   * Per image: the containers that use it, and (when asked: it walks every layer) the
   * size of its layers other images share — what `/system/df` and the image list
   * (API 1.51's `Containers`, `shared-size`) add to the summaries.
   */
  async usage(opts: { sharedSize: boolean }): Promise<Map<string, { Containers: number; SharedSize: number }>> {
    const recs = this.store.list();
    const refcount = new Map<string, number>();
    if (opts.sharedSize) {
      for (const rec of recs) for (const c of this.layerChains(rec)) refcount.set(c, (refcount.get(c) ?? 0) + 1);
    }
    const out = new Map<string, { Containers: number; SharedSize: number }>();
    for (const rec of recs) {
      const chains = opts.sharedSize ? this.layerChains(rec) : [];
      const SharedSize = opts.sharedSize ? rec.layers.reduce((a, l, i) => a + ((refcount.get(chains[i]!) ?? 0) > 1 ? l.unpackedSize : 0), 0) : -1;
      out.set(rec.id, { Containers: (await this.users(rec.id)).length, SharedSize });
    }
    return out;
  }
}

function short(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}

/** Docker's isSingleReference: one tag (plus digests of the same repository) at most. */
function isSingleReference(refs: NamedReference[]): boolean {
  if (refs.length <= 1) return refs.length === 1;
  let single: NamedReference | undefined;
  const canonical = new Set<string>();
  for (const r of refs) {
    if (r.digest) canonical.add(r.name);
    else if (!single) single = r;
    else return false;
  }
  single ??= refs[0]!;
  return canonical.size === 1 && canonical.has(single.name);
}

function boolFilter(filters: Map<string, string[]>, key: string): boolean | undefined {
  const v = filters.get(key);
  if (!v || v.length === 0) return undefined;
  const s = v[0]!.toLowerCase();
  if (s === 'true' || s === '1') return true;
  if (s === 'false' || s === '0') return false;
  throw invalidArgument(`Invalid filter '${key}=${v[0]}'`);
}

/** Docker's reference filter: a glob over the familiar name, or name:tag. */
function matchReference(pattern: string, ref: string): boolean {
  const re = (p: string) => new RegExp('^' + p.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]') + '$');
  const at = ref.indexOf('@');
  const nameTag = at >= 0 ? ref.slice(0, at) : ref;
  const colon = nameTag.lastIndexOf(':');
  const name = colon > nameTag.lastIndexOf('/') ? nameTag.slice(0, colon) : nameTag;
  try {
    return re(pattern).test(ref) || re(pattern).test(name);
  } catch {
    return false;
  }
}

export { DIGEST_RE };
