/**
 * `POST /commit`: a container's writable layer becomes a new image (`docker commit`).
 * The container is paused for the copy unless `pause=0`, as in Docker.
 */
import type { ContainerService } from '../../daemon/containers/service';
import type { ImageService } from '../../daemon/images/service';
import type { ContainerConfig } from '../../engine/bundle/types';
import { invalidArgument } from '../../engine/errdefs';
import type { RequestContext } from '../context';
import type { Route } from '../router';

export interface CommitBackend {
  containers: ContainerService;
  images: ImageService;
}

async function commit(b: CommitBackend, ctx: RequestContext): Promise<void> {
  const ref = ctx.string('container') ?? '';
  if (ref === '') throw invalidArgument('No container specified');
  const body = await ctx.json();
  if (body !== undefined && body !== null && (typeof body !== 'object' || Array.isArray(body))) {
    throw invalidArgument('the request body must be a container config object');
  }
  const c = b.containers.get(ref);
  // The given config overrides the container's, field by field (Docker's merge).
  const config: ContainerConfig = { ...c.config };
  for (const [k, v] of Object.entries((body ?? {}) as Record<string, unknown>)) {
    if (v !== undefined && v !== null) (config as Record<string, unknown>)[k] = v;
  }
  const pause = ctx.bool('pause', true) && c.state.status === 'running';
  if (pause) await b.containers.pause(c.id);
  let id: string;
  try {
    const upperDir = await b.containers.writableDir(c.id);
    id = await b.images.commitContainer({
      upperDir,
      parentImageId: c.image,
      // the image config holds no nulls (absent fields are omitted)
      config: JSON.parse(JSON.stringify(config, (_k, v: unknown) => (v === null ? undefined : v))) as ContainerConfig,
      containerId: c.id,
      comment: ctx.string('comment') ?? '',
      author: ctx.string('author') ?? '',
      changes: ctx.query.getAll('changes'),
      repo: ctx.string('repo') ?? '',
      tag: ctx.string('tag') ?? '',
      signal: ctx.signal,
    });
    // Docker logs `commit` before the container is unpaused.
    b.containers.emit(c.id, 'commit', { comment: ctx.string('comment') ?? '', imageID: id });
  } finally {
    if (pause) await b.containers.unpause(c.id);
  }
  ctx.send(201, { Id: id });
}

export function commitRoutes(b: CommitBackend): Route[] {
  return [{ method: 'POST', path: '/commit', handler: (ctx) => commit(b, ctx) }];
}
