/**
 * `docker commit` as a daemon operation (ContainerCommitter: the route calls it, and
 * the builder will): pause the container (unless asked not to), compare its writable
 * snapshot with its image through the diff component (engine/diff) — leaving out the
 * runtime's mount points that Docker keeps in its init layer — register the layer as a
 * new image over the container's image (no layer when the diff is empty, as Docker),
 * with a config derived from the image's and the container's, `changes` applied; then
 * unpause.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Comparer } from '../../engine/diff';
import { invalidArgument } from '../../engine/errdefs';
import { applyChanges } from '../../engine/images/changes';
import { type DockerImageConfig, MediaTypes } from '../../engine/images/types';
import { familiarString, parseNormalizedNamed, tagNameOnly, trimNamed, withTag } from '../../engine/reference';
import type { Mount } from '../../engine/snapshots/types';
import type { ContainerRecord } from '../containers/model';
import type { ContainerConfig } from '../containers/types';
import { DOCKER_VERSION } from './import';
import { imageLease, registerImage } from './register';
import { nowRfc3339Nano } from '../../engine/clock';
import type { ImageService } from './service';

export { EMPTY_TAR_DIGEST } from '../../engine/diff';

export interface CommitOptions {
  /** the mounts of the container's writable snapshot */
  upper: Mount[];
  /** the diff component that turns them into a layer */
  comparer: Comparer;
  /** the container's image */
  parentImageId: string;
  /** the container's config (Docker's container_config; the base of the new config) */
  config: ContainerConfig;
  containerId?: string;
  comment?: string;
  author?: string;
  changes?: string[];
  repo?: string;
  tag?: string;
  signal?: AbortSignal;
}

/** Builds and registers the committed image; returns its ID. Emits Docker's `commit`-side image events (`tag`). */
export async function commitContainer(svc: ImageService, o: CommitOptions): Promise<string> {
  const parent = svc.store.get(o.parentImageId);
  const parentCfg = await svc.config(parent.id);
  const changes = o.changes ?? [];
  const containerConfig = withoutEmptyEnv(o.config);
  const newConfig = withoutEmptyEnv(applyChanges({ ...(parentCfg.config ?? {}), ...containerConfig }, changes));
  let ref = o.repo ? parseNormalizedNamed(o.repo) : undefined;
  if (ref && o.tag) ref = withTag(ref, o.tag);
  if (ref) ref = tagNameOnly(ref);
  const { leases } = svc.opts;
  const lease = imageLease(svc, 'commit');
  try {
    const layer = await o.comparer.compare(o.upper, {
      exclude: runtimeMountpoints,
      ingestRef: `commit-${lease.id}`,
      beforeWrite: (digest, ingestRef) => {
        leases.addResource(lease.id, { kind: 'content', id: digest });
        leases.addResource(lease.id, { kind: 'ingest', id: ingestRef });
      },
      ...(o.signal ? { signal: o.signal } : {}),
    });
    const diffID = layer.digest;
    // Docker's NewChildImage: an empty diff adds no layer, only an `empty_layer` history entry
    const empty = layer.empty;
    const parentLayers = parent.layers.map((l) => ({ digest: l.digest, mediaType: l.mediaType, size: l.size }));
    const created = nowRfc3339Nano();
    const cfg: DockerImageConfig = {
      architecture: parentCfg.architecture,
      ...(parentCfg.variant ? { variant: parentCfg.variant } : {}),
      ...(o.author ? { author: o.author } : {}),
      ...(o.comment ? { comment: o.comment } : {}),
      config: newConfig,
      ...(o.containerId ? { container: o.containerId } : {}),
      container_config: containerConfig,
      created,
      docker_version: DOCKER_VERSION,
      history: [
        ...(parentCfg.history ?? []),
        { created, created_by: (containerConfig.Cmd ?? []).join(' '), ...(o.author ? { author: o.author } : {}), ...(o.comment ? { comment: o.comment } : {}), ...(empty ? { empty_layer: true } : {}) },
      ],
      os: parentCfg.os,
      parent: parent.id,
      rootfs: { type: 'layers', diff_ids: empty ? [...parentCfg.rootfs.diff_ids] : [...parentCfg.rootfs.diff_ids, diffID] },
    };
    const reg = await registerImage(
      svc,
      {
        configBytes: Buffer.from(JSON.stringify(cfg)),
        layers: empty ? parentLayers : [...parentLayers, { digest: diffID, mediaType: MediaTypes.DockerLayer, size: layer.size }],
        parent: parent.id,
        refs: ref ? [ref] : [],
      },
      { lease, signal: o.signal },
    );
    for (const t of reg.tags) svc.emit('tag', reg.id, t, newConfig.Labels);
    return reg.id;
  } finally {
    leases.delete(lease.id);
  }
}

/**
 * An empty `Env` is Docker's nil slice (its config merge keeps the image's nil when the
 * container gave none), which the image config omits and inspect shows as null.
 */
function withoutEmptyEnv(c: ContainerConfig): ContainerConfig {
  if (!c.Env || c.Env.length > 0) return c;
  const { Env: _drop, ...rest } = c;
  return rest;
}

/**
 * Docker's init layer (daemon/initlayer): the mount points the runtime needs, made in a
 * layer between the image and the container's writable layer, so that they never show
 * in a commit. `dir` entries are left out when empty, `file` entries when empty regular
 * files (what runc leaves when it creates a mount point).
 */
const INIT_LAYER: Array<[string, 'dir' | 'file']> = [
  ['dev/pts', 'dir'],
  ['dev/shm', 'dir'],
  ['proc', 'dir'],
  ['sys', 'dir'],
  ['.dockerenv', 'file'],
  ['etc/resolv.conf', 'file'],
  ['etc/hosts', 'file'],
  ['etc/hostname', 'file'],
  ['dev/console', 'file'],
];

/**
 * The paths (relative to the upper directory) a commit leaves out, as if they lived in
 * Docker's init layer: the runtime's mount points above, then their parent directories
 * (`dev`, `etc`) when nothing else of them is in the upper directory. What the container
 * itself changed stays, so a no-change commit gives the empty layer, as Docker's.
 */
export function runtimeMountpoints(upperDir: string): Set<string> {
  const out = new Set<string>();
  for (const [rel, kind] of INIT_LAYER) {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(path.join(upperDir, rel));
    } catch {
      continue;
    }
    if (kind === 'dir' ? st.isDirectory() && fs.readdirSync(path.join(upperDir, rel)).length === 0 : st.isFile() && st.size === 0) out.add(rel);
  }
  const parents = [...new Set(INIT_LAYER.map(([rel]) => path.posix.dirname(rel)).filter((d) => d !== '.'))];
  for (const dir of parents) {
    let names: string[];
    try {
      names = fs.readdirSync(path.join(upperDir, dir));
    } catch {
      continue;
    }
    if (names.every((n) => out.has(`${dir}/${n}`))) out.add(dir);
  }
  return out;
}

/**
 * The `imageRef` attribute of the container's `commit` event: the reference as given
 * (Docker's TagImage returns it without adding `latest`), or '' without a repository.
 */
export function commitEventRef(repo: string | undefined, tag: string | undefined): string {
  if (!repo) return '';
  let ref = parseNormalizedNamed(repo);
  if (tag) ref = withTag(trimNamed(ref), tag);
  return familiarString(ref);
}

/** What the committer needs of the containers. */
export interface CommitContainers {
  /** Resolves a reference; throws not-found. */
  get(ref: string): ContainerRecord;
  pause(id: string): Promise<void>;
  unpause(id: string): Promise<void>;
  /** Publishes a container event (`commit`). */
  emit(id: string, action: string, extra?: Record<string, string>): void;
}

/** What the committer needs of the snapshots: an active snapshot's mounts. */
export interface CommitSnapshots {
  mounts(key: string): Promise<Mount[]>;
}

/** What the committer needs of the images. */
export interface CommitImages {
  commitContainer(o: CommitOptions): Promise<string>;
}

/** A commit request: `POST /commit`'s parameters, parsed. */
export interface ContainerCommitRequest extends Pick<CommitOptions, 'comment' | 'author' | 'changes' | 'repo' | 'tag' | 'signal'> {
  /** fields that override the container's config, field by field (Docker's merge); null/undefined fields are ignored */
  config?: Partial<Record<keyof ContainerConfig, unknown>>;
  /** pause a running container for the copy (default true) */
  pause?: boolean;
}

/** `docker commit` (and the builder's commit of a step): pause → diff → commit → unpause. */
export class ContainerCommitter {
  constructor(
    private readonly containers: CommitContainers,
    private readonly snapshots: CommitSnapshots,
    private readonly images: CommitImages,
    private readonly comparer: Comparer,
  ) {}

  /**
   * Commits container `ref`'s writable layer as a new image; returns its ID. Publishes
   * the container's `commit` event (before the unpause, as Docker). Throws not-found,
   * invalid-argument (a bad reference or change), conflict.
   */
  async commit(ref: string, r: ContainerCommitRequest = {}): Promise<string> {
    if (ref === '') throw invalidArgument('No container specified');
    const c = this.containers.get(ref);
    const config: ContainerConfig = { ...c.config };
    for (const [k, v] of Object.entries(r.config ?? {})) {
      if (v !== undefined && v !== null) (config as Record<string, unknown>)[k] = v;
    }
    const pause = (r.pause ?? true) && c.state.status === 'running';
    if (pause) await this.containers.pause(c.id);
    try {
      const id = await this.images.commitContainer({
        upper: await this.snapshots.mounts(c.snapshotKey),
        comparer: this.comparer,
        parentImageId: c.image,
        // the image config holds no nulls (absent fields are omitted)
        config: JSON.parse(JSON.stringify(config, (_k, v: unknown) => (v === null ? undefined : v))) as ContainerConfig,
        containerId: c.id,
        comment: r.comment ?? '',
        author: r.author ?? '',
        changes: r.changes ?? [],
        repo: r.repo ?? '',
        tag: r.tag ?? '',
        ...(r.signal ? { signal: r.signal } : {}),
      });
      this.containers.emit(c.id, 'commit', { comment: r.comment ?? '', imageID: id, imageRef: commitEventRef(r.repo, r.tag) });
      return id;
    } finally {
      if (pause) await this.containers.unpause(c.id);
    }
  }
}
