/**
 * `docker build` as a daemon operation (moby's daemon-side build backend): opens the
 * context, runs the classic builder over it, tags the result, and reports progress as
 * Docker 20.10's JSON stream (`q`: only the ID, the rest kept back and written only
 * when the build fails). See docs/build.md.
 */
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { familiarString, parseNormalizedNamed, tagNameOnly, type NamedReference } from '../../engine/reference';
import type { HostConfig } from '../containers/types';
import type { EventBus } from '../events/bus';
import type { JsonMessage } from '../jsonmessage';
import { checkBuildPrune } from '../system/prune-filters';
import { BuildBackend, type BuildBackendOptions } from './backend';
import { Builder, type BuildOptions, checkPlatform, shortId, stepErrorCode } from './builder';
import { openContext } from './context';

export interface BuildRequest extends Omit<BuildOptions, 'hostConfig'> {
  body: Readable;
  remote?: string;
  dockerfile?: string;
  tags: string[];
  quiet: boolean;
  platform?: string;
  hostConfig: HostConfig;
  /** writes one progress message (the response starts with the first) */
  write(m: JsonMessage): Promise<void>;
}

export interface BuildServiceOptions extends BuildBackendOptions {
  /** private scratch directory (contexts are unpacked below it) */
  tmpDir: string;
  /** tags an image (the image service's tag, which emits the event) */
  tag(id: string, repo: string, tag: string | undefined): Promise<string>;
  /** where `builder prune` is published */
  events?: EventBus;
}

/** Validates the `t` parameters before anything starts (Docker answers them with an HTTP error). */
export function parseTags(tags: string[]): NamedReference[] {
  return tags.filter((t) => t !== '').map((t) => tagNameOnly(parseNormalizedNamed(t)));
}

export class BuildService {
  private readonly backend: BuildBackend;

  constructor(private readonly o: BuildServiceOptions) {
    this.backend = new BuildBackend(o);
  }

  /**
   * Runs a build; returns the image ID. Errors thrown before the first message is
   * written are the caller's HTTP error; later ones are written in-band by the caller.
   */
  async build(r: BuildRequest): Promise<string> {
    const tags = parseTags(r.tags);
    if (r.platform) checkPlatform(r.platform);
    const held: JsonMessage[] = [];
    const write = r.quiet ? async (m: JsonMessage) => void held.push(m) : r.write;
    const ctx = await openContext({ body: r.body, ...(r.remote ? { remote: r.remote } : {}), ...(r.dockerfile ? { dockerfile: r.dockerfile } : {}), tmpRoot: path.join(this.o.tmpDir, 'contexts'), ...(r.signal ? { signal: r.signal } : {}) });
    try {
      const builder = new Builder(this.backend, ctx, r, write);
      let id: string;
      try {
        id = await builder.build();
      } catch (err) {
        if (r.quiet) for (const m of held) await r.write(m);
        throw err;
      }
      if (r.quiet) {
        await r.write({ stream: `${id}\n` });
        for (const t of tags) await this.o.tag(id, t.toString(), undefined);
        return id;
      }
      await write({ stream: `Successfully built ${shortId(id)}\n` });
      for (const t of tags) {
        await this.o.tag(id, t.toString(), undefined);
        await write({ stream: `Successfully tagged ${familiarString(t)}\n` });
      }
      return id;
    } finally {
      ctx.close();
    }
  }

  /** The exit code of a failed RUN (Docker's JSONError code), for the error message. */
  errorCode(err: unknown): number | undefined {
    return stepErrorCode(err);
  }

  /**
   * POST /build/prune: the classic builder keeps no cache apart from images (Docker 20.10
   * answers the same), so nothing goes; the filters and `keep-storage` are still checked
   * as Docker checks them and the `builder prune` event is published. Throws
   * invalid-argument.
   */
  prune(filters: Map<string, string[]> = new Map(), opts: { keepStorage?: string } = {}): { CachesDeleted: null; SpaceReclaimed: number } {
    checkBuildPrune(filters, opts);
    this.o.events?.publish('builder', 'prune', '', { reclaimed: '0' });
    return { CachesDeleted: null, SpaceReclaimed: 0 };
  }
}

