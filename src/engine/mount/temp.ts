/**
 * Temporary mounts: mount, run a function, always unmount. Mount points are created
 * in one folder so that `recoverTempMounts` can clean up after a crash.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { errnoCode } from '../errdefs';
import { mountAll, unmountRecursive } from './mount';
import type { Mount } from './types';

/** The default folder for temporary mount points. The daemon passes `<exec-root>/tmpmounts`. */
export function defaultTempMountDir(): string {
  return path.join(os.tmpdir(), 'stevedore-mounts');
}

/**
 * Mounts `mounts` on a fresh directory under `opts.dir`, runs `fn` with its path, then
 * unmounts everything under it and removes the (empty) directory, whether `fn` succeeds
 * or throws. Returns what `fn` returns.
 */
export async function withTempMount<T>(mounts: Mount[], fn: (dir: string) => Promise<T> | T, opts: { dir?: string } = {}): Promise<T> {
  const base = path.resolve(opts.dir ?? defaultTempMountDir());
  fs.mkdirSync(base, { recursive: true, mode: 0o700 });
  const mp = fs.mkdtempSync(path.join(base, 'm-'));
  try {
    mountAll(mounts, mp);
  } catch (err) {
    fs.rmdirSync(mp);
    throw err;
  }
  try {
    return await fn(mp);
  } finally {
    releaseMountpoint(mp);
  }
}

/**
 * Startup repair: unmounts whatever is left mounted under `dir` (a crash inside
 * `withTempMount`) and removes the empty mount points. Returns how many it removed.
 */
export function recoverTempMounts(dir: string = defaultTempMountDir()): number {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return 0;
    throw err;
  }
  let n = 0;
  for (const name of names) {
    releaseMountpoint(path.join(dir, name));
    n++;
  }
  return n;
}

function releaseMountpoint(mp: string): void {
  try {
    unmountRecursive(mp);
  } catch {
    unmountRecursive(mp, { detach: true });
  }
  // rmdir, never rm -r: if an unmount silently failed we must not recurse into a mounted tree
  fs.rmdirSync(mp);
}
