/**
 * Performing mounts with mount(2) through the native addon.
 *
 * Overlay lowerdir lists longer than a page are mounted with relative paths and the
 * process working directory set to their common folder. `process.chdir` changes the
 * cwd of the whole process, which is safe here because: the daemon runs JavaScript on
 * one thread; `mount` from the addon is synchronous, so no other JavaScript runs between
 * the chdir, the mount and the chdir back (done in `finally`); and the engine only ever
 * passes absolute paths to fs calls, so libuv's thread pool, which may run a pending
 * fs request meanwhile, never resolves a relative path against the borrowed cwd.
 * Worker threads cannot call process.chdir and must not mount.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { errnoCode, internal, invalidArgument } from '../errdefs';
import {
  MNT_DETACH, MS_BIND, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RDONLY, MS_REC, MS_REMOUNT, UMOUNT_NOFOLLOW, nativeSys,
} from '../sys/native';
import { overlayData } from './overlay-options';
import type { Mount } from './types';

const FLAG_OPTIONS: Record<string, number> = {
  ro: MS_RDONLY, nosuid: MS_NOSUID, nodev: MS_NODEV, noexec: MS_NOEXEC, bind: MS_BIND, rbind: MS_BIND | MS_REC,
};
const CLEAR_OPTIONS = new Set(['rw', 'suid', 'dev', 'exec']);

/** Splits options into mount(2) flags and the data string entries. */
function parseOptions(options: string[]): { flags: number; data: string[] } {
  let flags = 0;
  const data: string[] = [];
  for (const o of options) {
    if (o in FLAG_OPTIONS) flags |= FLAG_OPTIONS[o];
    else if (!CLEAR_OPTIONS.has(o)) data.push(o);
  }
  return { flags, data };
}

/** Mounts one mount on `target` (absolute). */
export function mountOne(m: Mount, target: string): void {
  const sys = nativeSys();
  const { flags, data } = parseOptions(m.options);
  try {
    if (m.type === 'bind') {
      sys.mount(m.source, target, '', flags | MS_BIND, '');
      const extra = flags & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC);
      if (extra) sys.mount('', target, '', MS_BIND | MS_REMOUNT | extra, '');
    } else if (m.type === 'overlay') {
      const od = overlayData(data);
      if (od.cwd === undefined) {
        sys.mount(m.source, target, 'overlay', flags, od.data);
      } else {
        const prev = process.cwd();
        process.chdir(od.cwd);
        try {
          sys.mount(m.source, target, 'overlay', flags, od.data);
        } finally {
          process.chdir(prev);
        }
      }
    } else {
      throw invalidArgument(`unsupported mount type ${JSON.stringify((m as Mount).type)}`);
    }
  } catch (err) {
    if (errnoCode(err) === undefined) throw err;
    throw internal(`mount ${m.type} on ${target}: ${(err as Error).message}`, err);
  }
}

/**
 * Mounts `mounts` on `target` in order (each on top of the previous). If one fails,
 * those already mounted are unmounted before the error is rethrown.
 */
export function mountAll(mounts: Mount[], target: string): void {
  const abs = path.resolve(target);
  let done = 0;
  try {
    for (const m of mounts) {
      mountOne(m, abs);
      done++;
    }
  } catch (err) {
    for (; done > 0; done--) unmount(abs, { detach: true });
    throw err;
  }
}

/** Unmounts the top mount at `target`; a no-op if nothing is mounted there. */
export function unmount(target: string, opts: { detach?: boolean } = {}): void {
  try {
    nativeSys().umount2(target, UMOUNT_NOFOLLOW | (opts.detach ? MNT_DETACH : 0));
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'EINVAL' || code === 'ENOENT') return;
    throw internal(`unmount ${target}: ${(err as Error).message}`, err);
  }
}

/** Mount points at or under `dir`, deepest first, from /proc/self/mountinfo. */
export function mountsUnder(dir: string): string[] {
  const root = path.resolve(dir);
  const found: string[] = [];
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const fields = line.split(' ');
    if (fields.length < 5) continue;
    const mp = unescapeMountinfo(fields[4]);
    if (mp === root || mp.startsWith(root === '/' ? '/' : root + '/')) found.push(mp);
  }
  return found.sort((a, b) => b.length - a.length);
}

/** Unmounts everything mounted at or under `target`, deepest first, including stacked mounts. */
export function unmountRecursive(target: string, opts: { detach?: boolean } = {}): void {
  let root: string;
  try {
    root = fs.realpathSync(target);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return;
    throw err;
  }
  for (let round = 0; round < 64; round++) {
    const mps = mountsUnder(root);
    if (mps.length === 0) return;
    for (const mp of mps) unmount(mp, opts);
  }
  throw internal(`unmount ${target}: mounts remain after repeated unmounts`);
}

/**
 * Detaches everything mounted at `target` without reading /proc/self/mountinfo: a lazy
 * detach takes a mount with every mount below it, so stacked mounts go one per call until
 * the kernel answers EINVAL (nothing mounted there any more). Only when nothing was
 * mounted at `target` itself does it look for mounts below it (unmountRecursive). The
 * rootfs of every container is released this way, at each exit.
 */
export function detachAll(target: string): void {
  for (let round = 0; round < 64; round++) {
    try {
      nativeSys().umount2(target, UMOUNT_NOFOLLOW | MNT_DETACH);
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'ENOENT') return;
      if (code !== 'EINVAL') throw internal(`unmount ${target}: ${(err as Error).message}`, err);
      if (round === 0) unmountRecursive(target, { detach: true });
      return;
    }
  }
  throw internal(`unmount ${target}: mounts remain after repeated unmounts`);
}

function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}
