/**
 * `POST /commit`: a container's writable layer becomes a new image (`docker commit`).
 * The container is paused for the copy unless `pause=0`, as in Docker. The sequence
 * (pause → diff → commit → unpause) is the daemon's (daemon/images/commit.ts); this
 * route parses the request and answers the new image's ID.
 */
import type { ContainerCommitRequest } from '../../daemon/images/commit';
import { createBodyConfig } from '../../daemon/containers/validate';
import { invalidArgument } from '../../engine/errdefs';
import { MAX_JSON_BODY, type RequestContext } from '../context';
import { ContainerCreateBody } from '../jsonfold';
import type { Route } from '../router';

/** What the commit route needs of the daemon (moby's router/image's commit backend). */
export interface CommitBackend {
  /** Commits container `ref`; returns the image ID. Throws not-found, invalid-argument, conflict. */
  commit(ref: string, r: ContainerCommitRequest): Promise<string>;
}

async function commit(b: CommitBackend, ctx: RequestContext): Promise<void> {
  const ref = ctx.string('container') ?? '';
  if (ref === '') throw invalidArgument('No container specified');
  // Docker decodes the body as a create body (Go's rules, src/api/jsonfold.ts) and keeps its Config.
  const body = await ctx.json(MAX_JSON_BODY, ContainerCreateBody);
  const id = await b.commit(ref, {
    config: createBodyConfig(body),
    pause: ctx.bool('pause', true),
    comment: ctx.string('comment') ?? '',
    author: ctx.string('author') ?? '',
    changes: ctx.query.getAll('changes'),
    repo: ctx.string('repo') ?? '',
    tag: ctx.string('tag') ?? '',
    signal: ctx.signal,
  });
  ctx.send(201, { Id: id });
}

export function commitRoutes(b: CommitBackend): Route[] {
  return [{ method: 'POST', path: '/commit', handler: (ctx) => commit(b, ctx) }];
}
