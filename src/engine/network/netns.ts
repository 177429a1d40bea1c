/**
 * Network namespaces bind-mounted at `<execRoot>/netns/<name>`, as Docker's libnetwork
 * keeps them at /var/run/docker/netns (docs/networking/dataplane.md).
 *
 * A namespace is made by the addon (`netnsCreate`): a short-lived thread unshares a new
 * network namespace, bind-mounts it onto the file and sets `lo` up, then ends — Node's
 * threads never change namespace. Removal is a detached unmount and an unlink; the
 * kernel frees the namespace once nothing else holds it (the container's processes,
 * an open fd).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { conflict, internal, invalidArgument, type StevedoreError } from '../errdefs';
import { type NativeSys, nativeSys } from '../sys/native';
import type { NetnsManager } from './types';

type Sys = Pick<NativeSys, 'netnsCreate' | 'netnsDelete'>;

function sysError(what: string, err: unknown): StevedoreError {
  return internal(`${what}: ${(err as Error)?.message ?? String(err)}`, err);
}

const code = (err: unknown) => (err as NodeJS.ErrnoException)?.code;

/** Namespaces under one directory (`<execRoot>/netns`). */
export class NativeNetnsManager implements NetnsManager {
  readonly dir: string;
  private dirReady = false;

  constructor(
    execRoot: string,
    private readonly sys: Sys = nativeSys(),
  ) {
    this.dir = path.join(execRoot, 'netns');
  }

  pathOf(name: string): string {
    if (!name || name.includes('/') || name === '.' || name === '..') throw invalidArgument(`invalid network namespace name: ${JSON.stringify(name)}`);
    return path.join(this.dir, name);
  }

  /**
   * Creates the namespace with `lo` up and returns its path. A file left there by a
   * crash (not mounted) is reused; a namespace already mounted under that name is a
   * conflict. Throws internal with the failed step otherwise.
   */
  async create(name: string): Promise<string> {
    const p = this.pathOf(name);
    for (let attempt = 0; ; attempt++) {
      if (!this.dirReady || attempt > 0) {
        await fs.promises.mkdir(this.dir, { recursive: true, mode: 0o755 });
        this.dirReady = true;
      }
      try {
        fs.closeSync(fs.openSync(p, fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_RDONLY, 0o444));
        break;
      } catch (err) {
        if (code(err) === 'ENOENT' && attempt === 0) continue; // the directory went away: make it again
        if (code(err) !== 'EEXIST') throw sysError(`creating network namespace ${name}`, err);
        if (this.isMounted(p)) throw conflict(`network namespace ${name} already exists`);
        break;
      }
    }
    try {
      await this.sys.netnsCreate(p);
    } catch (err) {
      await fs.promises.unlink(p).catch(() => undefined);
      throw sysError(`creating network namespace ${name}`, err);
    }
    return p;
  }

  /**
   * Unmounts (detached, as often as it is mounted: a create retried after a crash may have
   * mounted twice) and unlinks, off the JS thread. Idempotent.
   */
  async remove(name: string): Promise<void> {
    const p = this.pathOf(name);
    try {
      await this.sys.netnsDelete(p);
    } catch (err) {
      throw sysError(`removing network namespace ${name}`, err);
    }
  }

  /**
   * The names in the directory: every namespace mounted there, and any file a crash left
   * half-made (reconciliation removes those it does not know).
   */
  async list(): Promise<string[]> {
    try {
      return (await fs.promises.readdir(this.dir)).sort();
    } catch (err) {
      if (code(err) === 'ENOENT') return [];
      throw sysError('listing network namespaces', err);
    }
  }

  /** Whether a namespace is mounted on `p` (nsfs has a device of its own). */
  private isMounted(p: string): boolean {
    try {
      return fs.statSync(p).dev !== fs.statSync(path.dirname(p)).dev;
    } catch {
      return false;
    }
  }
}
