/**
 * Typed access to the native addon (native/addon): the system calls Node lacks.
 * Every function throws a Node-style error with `code` (e.g. 'EPERM') on failure.
 * Load it through `nativeSys()` so code that never needs it never loads it.
 */
import * as path from 'node:path';
import { projectRoot } from './project';

export interface NativeSys {
  flock(fd: number, op: number): void;
  mount(source: string, target: string, fstype: string, flags: number, data: string): void;
  umount2(target: string, flags: number): void;
  mknod(path: string, mode: number, major: number, minor: number): void;
  lsetxattr(path: string, name: string, value: Buffer, flags: number): void;
  /** null when the attribute does not exist */
  lgetxattr(path: string, name: string): Buffer | null;
  llistxattr(path: string): string[];
}

export const LOCK_SH = 1;
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;

export const MS_RDONLY = 0x1;
export const MS_NOSUID = 0x2;
export const MS_NODEV = 0x4;
export const MS_NOEXEC = 0x8;
export const MS_REMOUNT = 0x20;
export const MS_BIND = 0x1000;
export const MS_REC = 0x4000;
export const MS_PRIVATE = 0x40000;

export const MNT_FORCE = 1;
export const MNT_DETACH = 2;
export const UMOUNT_NOFOLLOW = 8;

export const S_IFIFO = 0o010000;
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;

let loaded: NativeSys | undefined;

/** The addon, loaded once. Throws if it has not been built (`npm run setup`). */
export function nativeSys(): NativeSys {
  if (!loaded) {
    const file = path.join(projectRoot(), 'native/addon/build/Release/stevedore_native.node');
    loaded = require(file) as NativeSys;
  }
  return loaded;
}
