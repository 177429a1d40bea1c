/** `GET /containers/json` filtering, with Docker's filter keys and rules. */
import { invalidArgument } from '../../engine/errdefs';
import type { ContainerRecord } from './model';
import { resolve } from './names';
import { isRunning } from './state';
import { listPorts, summaryView } from './views';

/** moby's publish/expose filters: `80`, `80/udp`, `8000-8080/tcp` (tcp when no protocol is given). */
function portFilterMatch(v: string, ports: Array<{ port: number; proto: string }>): boolean {
  const [range, proto = 'tcp'] = v.split('/');
  const [a, b = a] = (range ?? '').split('-');
  const lo = Number(a);
  const hi = Number(b);
  if (!Number.isInteger(lo) || !Number.isInteger(hi)) throw invalidArgument(`invalid port specification: ${JSON.stringify(v)}`);
  return ports.some((p) => p.proto === proto && p.port >= lo && p.port <= hi);
}
import type { ImageService } from '../images/service';

const KEYS = new Set(['id', 'name', 'label', 'status', 'ancestor', 'before', 'since', 'exited', 'health', 'network', 'volume', 'is-task', 'publish', 'expose']);
const STATUSES = new Set(['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead']);

export interface ListOptions {
  all: boolean;
  limit?: number;
  filters: Map<string, string[]>;
}

function matchValue(pattern: string, source: string): boolean {
  if (pattern === source) return true;
  try {
    return new RegExp(pattern).test(source);
  } catch {
    return false;
  }
}

function labelMatch(filters: string[], labels: Record<string, string>): boolean {
  return filters.every((f) => {
    const i = f.indexOf('=');
    if (i < 0) return f in labels;
    return labels[f.slice(0, i)] === f.slice(i + 1);
  });
}

/** Validates filters and returns the matching containers, newest first. Throws invalid-argument. */
export function filterContainers(all: ContainerRecord[], o: ListOptions, imageMatches: (c: ContainerRecord, ref: string) => boolean): ContainerRecord[] {
  const f = o.filters;
  for (const k of f.keys()) if (!KEYS.has(k)) throw invalidArgument(`Invalid filter '${k}'`);
  for (const s of f.get('status') ?? []) if (!STATUSES.has(s)) throw invalidArgument(`Invalid filter 'status=${s}'`);
  const exited = (f.get('exited') ?? []).map((e) => {
    if (!/^-?\d+$/.test(e)) throw invalidArgument(`invalid filter 'exited=${e}'`);
    return Number(e);
  });
  for (const h of f.get('health') ?? []) if (!['starting', 'healthy', 'unhealthy', 'none'].includes(h)) throw invalidArgument(`Invalid filter 'health=${h}'`);
  let showAll = o.all || f.has('status') || (o.limit !== undefined && o.limit > 0);
  const sorted = [...all].sort((a, b) => (a.created < b.created ? 1 : a.created > b.created ? -1 : 0));
  const before = f.get('before')?.map((r) => resolve(r, all));
  const since = f.get('since')?.map((r) => resolve(r, all));
  if (before || since) showAll = showAll || false;
  const out: ContainerRecord[] = [];
  for (const c of sorted) {
    if (!showAll && !isRunning(c.state.status) && c.state.status !== 'restarting') continue;
    if (f.has('id') && !f.get('id')!.some((v) => matchValue(v, c.id))) continue;
    if (f.has('name') && !f.get('name')!.some((v) => matchValue(v, c.name) || matchValue(v, c.name.slice(1)))) continue;
    if (f.has('label') && !labelMatch(f.get('label')!, c.config.Labels ?? {})) continue;
    if (f.has('status') && !f.get('status')!.includes(c.state.status)) continue;
    if (exited.length && (c.state.status !== 'exited' || !exited.includes(c.state.exitCode))) continue;
    if (f.has('health') && !f.get('health')!.includes(c.health?.Status ?? 'none')) continue;
    if (f.has('ancestor') && !f.get('ancestor')!.some((r) => imageMatches(c, r))) continue;
    if (before && !before.every((b) => c.created < b.created)) continue;
    if (since && !since.every((s) => c.created > s.created)) continue;
    if (f.has('network')) {
      // moby: a network's name or ID among the container's (the recorded ones; IDs while running)
      const nets = Object.entries(summaryView(c).NetworkSettings as { Networks: Record<string, { NetworkID: string }> }).flatMap(([, v]) => Object.entries(v)).flatMap(([name, ep]) => [name, ep.NetworkID].filter(Boolean));
      if (!f.get('network')!.some((v) => nets.includes(v))) continue;
    }
    if (f.has('volume')) {
      // moby: a mount point's volume name (a bind's source) or its destination
      const binds = c.mountPoints
        ? c.mountPoints.flatMap((m) => [m.Name || m.Source, m.Destination])
        : (c.hostConfig.Binds ?? []).flatMap((b) => b.split(':').slice(0, 2));
      if (!f.get('volume')!.some((v) => binds.includes(v))) continue;
    }
    if (f.has('publish') && !f.get('publish')!.some((v) => portFilterMatch(v, listPorts(c).filter((p) => p.PublicPort).map((p) => ({ port: p.PublicPort as number, proto: p.Type as string }))))) continue;
    if (f.has('expose') && !f.get('expose')!.some((v) => portFilterMatch(v, Object.keys(c.config.ExposedPorts ?? {}).map((k) => ({ port: Number(k.split('/')[0]), proto: k.split('/')[1] ?? 'tcp' }))))) continue;
    if (f.has('is-task') && f.get('is-task')!.includes('true')) continue;
    out.push(c);
    if (o.limit !== undefined && o.limit > 0 && out.length >= o.limit) break;
  }
  return out;
}

/** What the list needs of the image store: Docker's GetImage, the image graph, sizes. */
export interface ImageGraph {
  /** The image ID for a reference (`:latest` added to a bare name), an ID or prefix, or a digest. Throws not-found. */
  resolve(refOrId: string): string;
  /** IDs of the images whose parent is `id`. */
  children(id: string): string[];
  /** Unpacked bytes of the image's layers (the read-only part of a container's rootfs). */
  size(id: string): number;
}

/** The ImageGraph of the image service. */
export function imageGraphOf(images: ImageService): ImageGraph {
  return {
    resolve: (r) => images.resolve(r),
    children: (id) => images.store.children(id),
    size: (id) => images.size(images.store.get(id)),
  };
}

/**
 * Docker's `ancestor` filter set (daemon/list.go): each named image as GetImage resolves
 * it, and every image descending from it. A name that resolves to nothing adds nothing;
 * an empty set matches no container.
 */
export function ancestorSet(images: Pick<ImageGraph, 'resolve' | 'children'>, refs: string[]): Set<string> {
  const set = new Set<string>();
  const add = (id: string): void => {
    if (set.has(id)) return;
    set.add(id);
    for (const child of images.children(id)) add(child);
  };
  for (const r of refs) {
    let id: string;
    try {
      id = images.resolve(r);
    } catch {
      continue;
    }
    add(id);
  }
  return set;
}

export interface ListDeps {
  containers: { list(): ContainerRecord[]; sizeRw(id: string): Promise<number> };
  images: ImageGraph;
}

/**
 * Docker's GetContainerLayerSize: the writable layer's bytes, and the whole root
 * filesystem's (the image's layers plus the writable layer).
 */
export async function containerSizes(d: ListDeps, c: ContainerRecord): Promise<{ rw: number; rootFs: number }> {
  const rw = await d.containers.sizeRw(c.id).catch(() => 0);
  let image = 0;
  try {
    image = d.images.size(c.image);
  } catch {
    /* the image is gone (removed with --force): the rootfs is the writable layer */
  }
  return { rw, rootFs: image + rw };
}

/**
 * The list's `Image` (Docker's refreshImage): the reference the container was created
 * with while it still names the container's image, else the image ID.
 */
export function listedImage(images: Pick<ImageGraph, 'resolve'>, c: ContainerRecord): string {
  if (c.imageRef === c.image) return c.image;
  try {
    return images.resolve(c.imageRef) === c.image ? c.imageRef : c.image;
  } catch {
    return c.image;
  }
}

/** `GET /containers/json`: the filtered summaries, with sizes when asked. Throws invalid-argument. */
export async function listSummaries(d: ListDeps, o: ListOptions & { size: boolean }): Promise<Record<string, unknown>[]> {
  const ancestors = o.filters.has('ancestor') ? ancestorSet(d.images, o.filters.get('ancestor')!) : new Set<string>();
  const found = filterContainers(d.containers.list(), o, (c) => ancestors.has(c.image));
  const out: Record<string, unknown>[] = [];
  for (const c of found) out.push(summaryView(c, o.size ? await containerSizes(d, c) : undefined, listedImage(d.images, c)));
  return out;
}

/** The `Containers` section of GET /system/df: every container, with sizes (Docker's SystemDiskUsage). */
export function containersDiskUsage(d: ListDeps): () => Promise<Record<string, unknown>> {
  return async () => ({ Containers: await listSummaries(d, { all: true, size: true, filters: new Map() }) });
}
