/**
 * What the builder does with images, snapshots and containers (moby's
 * builder.Backend + the classic builder's containerManager and imageProber): commit a
 * step as an image (every step is one, with its parent recorded, as Docker's classic
 * builder), write into a snapshot without a container (COPY, ADD, WORKDIR), look at an
 * image's files read-only (COPY --from, --chown lookups), run a RUN step in a real
 * container through the containers service, find a cached step, pull a missing base.
 */
import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { Comparer, LayerDiff } from '../../engine/diff';
import { invalidArgument } from '../../engine/errdefs';
import type { Lease } from '../../engine/gc/leases';
import { type DockerImageConfig, MediaTypes } from '../../engine/images/types';
import { withTempMount } from '../../engine/mount';
import type { NamedReference } from '../../engine/reference';
import type { Mount, Snapshotter } from '../../engine/snapshots/types';
import type { ContainerConfig, HostConfig } from '../containers/types';
import { runtimeMountpoints } from '../images/commit';
import { DOCKER_VERSION } from '../images/import';
import { imageLease, registerImage } from '../images/register';
import { nowRfc3339Nano } from '../../engine/clock';
import type { ImageService } from '../images/service';
import type { JsonMessage } from '../jsonmessage';

/** What the builder needs of the containers service. */
export interface BuildContainers {
  create(req: { name?: string; config: ContainerConfig; hostConfig: HostConfig }): Promise<{ id: string; warnings: string[] }>;
  start(ref: string): Promise<void>;
  wait(ref: string, condition: 'not-running' | 'next-exit' | 'removed', signal?: AbortSignal): Promise<number>;
  kill(ref: string, signal?: string): Promise<void>;
  remove(ref: string, opts?: { force?: boolean }): Promise<void>;
  attachStreams(ref: string, opts: { stdin: boolean; stdout: boolean; stderr: boolean }, signal?: AbortSignal): Promise<Duplex | undefined>;
  /** the active snapshot's mounts of a container */
  upperMounts(id: string): Promise<Mount[]>;
}

/** Pulls `ref`; returns the image ID. */
export type BuildPull = (ref: NamedReference, o: { auth: Record<string, unknown>; signal?: AbortSignal; onMessage: (m: JsonMessage) => Promise<void> }) => Promise<string>;

export interface BuildBackendOptions {
  images: ImageService;
  snapshotter: Snapshotter;
  comparer: Comparer;
  containers: BuildContainers;
  pull: BuildPull;
  /** where temporary mounts go */
  mountDir: string;
}

/** A step to commit as an image. */
export interface StepCommit {
  /** the current image ('' for scratch) */
  parent: string;
  /** the image's config (the state's run config) */
  config: ContainerConfig;
  /** the cache key (Docker's ContainerConfig) */
  containerConfig: ContainerConfig;
  containerId?: string;
  author?: string;
  /** the layer, if the step wrote one */
  layer?: LayerDiff;
  lease?: Lease;
}

/** A new random container-like ID (for steps Docker runs through a container that does nothing). */
export function newStepId(): string {
  return randomBytes(32).toString('hex');
}

/** Docker's compare of a cached image's ContainerConfig with a step's: every field but the host name and image. */
export function cacheKey(c: ContainerConfig): string {
  const norm = (v: unknown) => (v === undefined || v === null || (Array.isArray(v) && v.length === 0) || (typeof v === 'object' && v !== null && Object.keys(v).length === 0) ? null : v);
  const sorted = (o: unknown) => (o && typeof o === 'object' && !Array.isArray(o) ? Object.fromEntries(Object.entries(o as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b))) : o);
  return JSON.stringify([
    c.User ?? '',
    c.Tty ?? false,
    norm(c.Cmd),
    norm(c.Entrypoint),
    norm(c.Env),
    sorted(norm(c.Labels)),
    sorted(norm(c.ExposedPorts)),
    sorted(norm(c.Volumes)),
    c.WorkingDir ?? '',
    norm(c.Shell),
    norm(c.Healthcheck),
    c.StopSignal ?? '',
    norm(c.OnBuild),
  ]);
}

export class BuildBackend {
  /** image configs by ID (immutable: the ID is their digest); bounded */
  private readonly configs = new Map<string, Promise<DockerImageConfig>>();

  constructor(readonly o: BuildBackendOptions) {}

  /** An image's config, read once. */
  private cachedConfig(id: string): Promise<DockerImageConfig> {
    let c = this.configs.get(id);
    if (!c) {
      if (this.configs.size >= 4096) this.configs.clear();
      c = this.o.images.config(id);
      c.catch(() => this.configs.delete(id));
      this.configs.set(id, c);
    }
    return c;
  }

  get images(): ImageService {
    return this.o.images;
  }

  /** The local image ID for a reference or ID, or undefined. */
  findImage(ref: string): string | undefined {
    try {
      return this.o.images.resolve(ref);
    } catch {
      return undefined;
    }
  }

  config(id: string): Promise<DockerImageConfig> {
    return this.cachedConfig(id);
  }

  /**
   * The cached image for a step over `parent` with config `cfg`: a child of `parent`
   * (with `cacheFrom`, one of those images' ancestors) whose ContainerConfig matches;
   * the newest when several do. For `FROM scratch` (parent ''), images without a
   * parent that were built here.
   */
  async probeCache(parent: string, cfg: ContainerConfig, cacheFrom?: Set<string>): Promise<string | undefined> {
    const store = this.o.images.store;
    let candidates: string[];
    if (parent === '') candidates = store.list().filter((r) => !r.parent && r.layers.length > 0).map((r) => r.id);
    else candidates = store.children(parent);
    if (cacheFrom) candidates = candidates.filter((id) => cacheFrom.has(id));
    const key = cacheKey(cfg);
    let best: { id: string; created: number } | undefined;
    for (const id of candidates) {
      let c: DockerImageConfig;
      try {
        c = await this.cachedConfig(id);
      } catch {
        continue;
      }
      if (!c.container_config || cacheKey(c.container_config as ContainerConfig) !== key) continue;
      const created = Date.parse(c.created ?? '') || 0;
      if (!best || created > best.created) best = { id, created };
    }
    return best?.id;
  }

  /**
   * Docker's cache with `--cache-from` (image/cache ImageCache.GetCache): a local hit
   * counts only when it is an ancestor of a source; otherwise a source whose history
   * starts with the parent's (history and layers) and whose next history entry was made
   * by this step (`created_by` = the step's Cmd) is used — itself when that entry is its
   * last, else an image restored from it (the parent's history and layers plus that
   * entry and its layer, config = the step's, as Docker). `sources` narrows to the source
   * used, as Docker's does. Returns the image ID or undefined.
   */
  async probeCacheFrom(parent: string, cfg: ContainerConfig, sources: { ids: string[] }): Promise<string | undefined> {
    const local = await this.probeCache(parent, cfg, this.ancestry(sources.ids));
    if (local) return local;
    const parentCfg = parent ? await this.cachedConfig(parent) : undefined;
    const parentHistory = parentCfg?.history ?? [];
    const lenHistory = parentHistory.length;
    const createdBy = (cfg.Cmd ?? []).join(' ');
    for (const id of sources.ids) {
      let target: DockerImageConfig;
      try {
        target = await this.cachedConfig(id);
      } catch {
        continue;
      }
      const history = target.history ?? [];
      if (!validParent(target, parentCfg) || history[lenHistory]?.created_by !== createdBy) continue;
      if (history.length - 1 === lenHistory) return id;
      const restored = await this.restoreCached(parent, parentCfg, id, target, lenHistory, cfg);
      sources.ids = [id];
      return restored;
    }
    return undefined;
  }

  private async restoreCached(parent: string, parentCfg: DockerImageConfig | undefined, targetId: string, target: DockerImageConfig, lenHistory: number, cfg: ContainerConfig): Promise<string> {
    const svc = this.o.images;
    const history = [...(parentCfg?.history ?? []), target.history![lenHistory]!];
    const diffIds = [...(parentCfg?.rootfs.diff_ids ?? [])];
    const parentRec = parent ? svc.store.get(parent) : undefined;
    const layers = (parentRec?.layers ?? []).map((l) => ({ digest: l.digest, mediaType: l.mediaType, size: l.size }));
    if (!target.history![lenHistory]!.empty_layer) {
      // the layer of history entry `lenHistory`: count the non-empty entries before it
      const index = target.history!.slice(0, lenHistory).filter((h) => !h.empty_layer).length;
      const rec = svc.store.get(targetId);
      const l = rec.layers[index];
      if (!l) throw invalidArgument(`cache source ${targetId} has no layer for history entry ${lenHistory}`);
      diffIds.push(l.diffID);
      layers.push({ digest: l.digest, mediaType: l.mediaType, size: l.size });
    }
    const config: DockerImageConfig = {
      architecture: target.architecture,
      os: target.os,
      ...(target.author ? { author: target.author } : {}),
      config: clean(cfg) as DockerImageConfig['config'],
      created: history[history.length - 1]!.created ?? new Date().toISOString(),
      docker_version: DOCKER_VERSION,
      history,
      rootfs: { type: 'layers', diff_ids: diffIds },
    };
    const reg = await registerImage(svc, { configBytes: Buffer.from(JSON.stringify(config)), layers, ...(parent ? { parent } : {}), refs: [] });
    return reg.id;
  }

  /** The IDs of `ids` and all their ancestors (the candidates of `cachefrom`). */
  ancestry(ids: string[]): Set<string> {
    const out = new Set<string>();
    for (let id of ids) {
      while (id && !out.has(id)) {
        out.add(id);
        id = this.o.images.store.find(id)?.parent ?? '';
      }
    }
    return out;
  }

  /** Registers a step's image; returns its ID. */
  async commit(s: StepCommit): Promise<string> {
    const svc = this.o.images;
    const parentRec = s.parent ? svc.store.get(s.parent) : undefined;
    const parentCfg: DockerImageConfig | undefined = s.parent ? await this.cachedConfig(s.parent) : undefined;
    const created = nowRfc3339Nano();
    const empty = !s.layer || s.layer.empty;
    const history = [
      ...(parentCfg?.history ?? []),
      { created, ...(s.author ? { author: s.author } : {}), created_by: (s.containerConfig.Cmd ?? []).join(' '), ...(empty ? { empty_layer: true } : {}) },
    ];
    const diffIds = [...(parentCfg?.rootfs.diff_ids ?? [])];
    if (!empty) diffIds.push(s.layer!.digest);
    const cfg: DockerImageConfig = {
      architecture: parentCfg?.architecture ?? goArch(),
      ...(parentCfg?.variant ? { variant: parentCfg.variant } : {}),
      ...(s.author ? { author: s.author } : {}),
      config: clean(s.config) as DockerImageConfig['config'],
      ...(s.containerId ? { container: s.containerId } : {}),
      container_config: clean(s.containerConfig) as DockerImageConfig['container_config'],
      created,
      docker_version: DOCKER_VERSION,
      history,
      os: parentCfg?.os ?? 'linux',
      rootfs: { type: 'layers', diff_ids: diffIds },
    };
    const layers = (parentRec?.layers ?? []).map((l) => ({ digest: l.digest, mediaType: l.mediaType, size: l.size }));
    if (!empty) layers.push({ digest: s.layer!.digest, mediaType: MediaTypes.DockerLayer, size: s.layer!.size });
    const reg = await registerImage(svc, { configBytes: Buffer.from(JSON.stringify(cfg)), layers, ...(s.parent ? { parent: s.parent } : {}), refs: [] }, s.lease ? { lease: s.lease } : {});
    return reg.id;
  }

  /**
   * Runs `fn` on a writable copy of image `parent`'s files (a snapshot mounted at a
   * temporary directory), then compares it with the image and commits the step.
   * Returns the new image's ID.
   */
  async writeStep(parent: string, fn: (root: string) => Promise<void>, commit: Omit<StepCommit, 'parent' | 'layer' | 'lease'>, signal?: AbortSignal): Promise<string> {
    const svc = this.o.images;
    const lease = imageLease(svc, 'build');
    const key = `build-${newStepId().slice(0, 24)}`;
    try {
      const chain = parent ? svc.store.get(parent).chainId : undefined;
      svc.opts.leases.addResource(lease.id, { kind: 'snapshot', id: key });
      const mounts = await this.o.snapshotter.prepare(key, chain, { labels: { 'stevedore.build': 'step' } });
      try {
        await withTempMount(mounts, fn, { dir: this.o.mountDir });
        const layer = await this.o.comparer.compare(mounts, {
          ingestRef: `build-${lease.id}`,
          beforeWrite: (digest, ingestRef) => {
            svc.opts.leases.addResource(lease.id, { kind: 'content', id: digest });
            svc.opts.leases.addResource(lease.id, { kind: 'ingest', id: ingestRef });
          },
          ...(signal ? { signal } : {}),
        });
        return await this.commit({ ...commit, parent, layer, lease });
      } finally {
        await this.o.snapshotter.remove(key).catch(() => undefined);
      }
    } finally {
      svc.opts.leases.delete(lease.id);
    }
  }

  /** Runs `fn` on a read-only view of image `id`'s files ('' for scratch: an empty directory). */
  async withImageFiles<T>(id: string, fn: (root: string) => Promise<T>): Promise<T> {
    const svc = this.o.images;
    const lease = imageLease(svc, 'build-view');
    const key = `build-view-${newStepId().slice(0, 24)}`;
    try {
      const chain = id ? svc.store.get(id).chainId : undefined;
      svc.opts.leases.addResource(lease.id, { kind: 'snapshot', id: key });
      const mounts = await this.o.snapshotter.view(key, chain, { labels: { 'stevedore.build': 'view' } });
      try {
        return await withTempMount(mounts, fn, { dir: this.o.mountDir });
      } finally {
        await this.o.snapshotter.remove(key).catch(() => undefined);
      }
    } finally {
      svc.opts.leases.delete(lease.id);
    }
  }

  /**
   * Runs a RUN step's container: created from `config` over image `config.Image`,
   * attached, started; its output goes to `onOutput` as it comes; resolves with the
   * exit code. The container stays (the caller commits and removes it).
   */
  async runContainer(config: ContainerConfig, hostConfig: HostConfig, onCreated: (id: string) => Promise<void>, onOutput: (stream: 1 | 2, data: Buffer) => Promise<void>, signal?: AbortSignal): Promise<{ id: string; exitCode: number }> {
    const c = this.o.containers;
    const { id } = await c.create({ config, hostConfig });
    await onCreated(id);
    const ac = new AbortController();
    const streams = c.attachStreams(id, { stdin: false, stdout: true, stderr: true }, ac.signal);
    const onAbort = () => void c.kill(id).catch(() => undefined);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await c.start(id);
      const s = await streams;
      if (s) {
        let buf: Buffer = Buffer.alloc(0);
        for await (const chunk of s) {
          buf = buf.length ? Buffer.concat([buf, chunk as Buffer]) : (chunk as Buffer);
          // stdcopy frames: type, 3 zero bytes, big-endian length, payload
          while (buf.length >= 8 && buf.length >= 8 + buf.readUInt32BE(4)) {
            const type = buf[0];
            const payload = buf.subarray(8, 8 + buf.readUInt32BE(4));
            buf = buf.subarray(8 + payload.length);
            if (type === 1 || type === 2) await onOutput(type, payload);
          }
        }
      }
      const exitCode = await c.wait(id, 'not-running');
      if (signal?.aborted) throw invalidArgument('Build cancelled');
      return { id, exitCode };
    } finally {
      ac.abort();
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Commits a finished RUN container's writable layer as the step's image. */
  async commitContainer(id: string, s: Omit<StepCommit, 'layer' | 'lease' | 'containerId'>, signal?: AbortSignal): Promise<string> {
    const svc = this.o.images;
    const lease = imageLease(svc, 'build');
    try {
      const layer = await this.o.comparer.compare(await this.o.containers.upperMounts(id), {
        exclude: runtimeMountpoints,
        ingestRef: `build-${lease.id}`,
        beforeWrite: (digest, ingestRef) => {
          svc.opts.leases.addResource(lease.id, { kind: 'content', id: digest });
          svc.opts.leases.addResource(lease.id, { kind: 'ingest', id: ingestRef });
        },
        ...(signal ? { signal } : {}),
      });
      return await this.commit({ ...s, containerId: id, layer, lease });
    } finally {
      svc.opts.leases.delete(lease.id);
    }
  }
}

/** Docker's isValidParent: `img`'s history and layers start with `parent`'s. */
function validParent(img: DockerImageConfig, parent: DockerImageConfig | undefined): boolean {
  const h = img.history ?? [];
  if (h.length === 0) return false;
  if (!parent || ((parent.history ?? []).length === 0 && parent.rootfs.diff_ids.length === 0)) return true;
  const ph = parent.history ?? [];
  if (ph.length >= h.length || parent.rootfs.diff_ids.length > img.rootfs.diff_ids.length) return false;
  for (let i = 0; i < ph.length; i++) if (JSON.stringify(sortKeys(ph[i])) !== JSON.stringify(sortKeys(h[i]))) return false;
  return parent.rootfs.diff_ids.every((d, i) => img.rootfs.diff_ids[i] === d);
}

function sortKeys(o: unknown): unknown {
  return o && typeof o === 'object' ? Object.fromEntries(Object.entries(o as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b))) : o;
}

/** The config without null/undefined fields (the image config omits them). */
function clean(c: ContainerConfig): ContainerConfig {
  return JSON.parse(JSON.stringify(c, (_k, v: unknown) => (v === null ? undefined : v))) as ContainerConfig;
}

/** Go's GOARCH of this machine. */
export function goArch(): string {
  const m: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', s390x: 's390x', ppc64: 'ppc64le' };
  return m[process.arch] ?? process.arch;
}
