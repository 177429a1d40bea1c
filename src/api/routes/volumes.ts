/**
 * Volume routes (moby's router/volume): create, list, inspect, remove, prune, and the
 * `Volumes` section of `GET /system/df`. Thin: parse, call the backend, serialize.
 */
import type { VolumeCreateRequest } from '../../daemon/volumes/service';
import type { VolumeRecord } from '../../daemon/volumes/store';
import { MAX_JSON_BODY, type RequestContext } from '../context';
import { VolumeCreateBody } from '../jsonfold';
import type { Route } from '../router';
import { volumePruneFilters } from '../apiversions';
import type { DiskUsageSection } from './images';

/** What the volume routes need of the daemon (daemon/volumes VolumeService). */
export interface VolumesBackend {
  /** Creates a volume or returns the one of that name. Throws not-found (driver), invalid-argument. */
  create(req: VolumeCreateRequest): VolumeRecord;
  /** Throws not-found `get <name>: no such volume`. */
  get(name: string): VolumeRecord;
  view(v: VolumeRecord): Record<string, unknown>;
  /** Throws invalid-argument for an unknown or bad filter. */
  list(filters: Map<string, string[]>): { Volumes: Record<string, unknown>[]; Warnings: null };
  /** Throws conflict while in use, not-found unless `force`. */
  remove(name: string, opts: { force?: boolean }): void;
  /** Throws invalid-argument for an unknown filter; without `all=true`, only anonymous volumes (API 1.42+; the version table adds it below). */
  prune(filters: Map<string, string[]>): { VolumesDeleted: string[]; SpaceReclaimed: number };
  diskUsage(): { Volumes: Record<string, unknown>[] };
}

async function create(b: VolumesBackend, ctx: RequestContext): Promise<void> {
  const body = ((await ctx.json(MAX_JSON_BODY, VolumeCreateBody)) ?? {}) as VolumeCreateRequest;
  ctx.send(201, b.view(b.create(body)));
}

export function volumeRoutes(b: VolumesBackend): Route[] {
  return [
    { method: 'GET', path: '/volumes', handler: async (ctx) => ctx.send(200, b.list(ctx.filters())) },
    { method: 'POST', path: '/volumes/create', handler: (ctx) => create(b, ctx) },
    { method: 'POST', path: '/volumes/prune', handler: async (ctx) => {
        ctx.send(200, b.prune(volumePruneFilters(ctx))); // API versions: src/api/apiversions.ts
      } },
    { method: 'GET', path: '/volumes/{name}', handler: async (ctx) => ctx.send(200, b.view(b.get(ctx.param('name')))) },
    {
      method: 'DELETE',
      path: '/volumes/{name}',
      handler: async (ctx) => {
        b.remove(ctx.param('name'), { force: ctx.bool('force') });
        ctx.noContent();
      },
    },
  ];
}

/** The `Volumes` section of GET /system/df. */
export function volumesDiskUsage(b: Pick<VolumesBackend, 'diskUsage'>): DiskUsageSection {
  return async () => b.diskUsage();
}
