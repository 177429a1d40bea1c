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
  /** libseccomp: a normalised profile → BPF program (see sys/seccomp.ts, compileSeccomp) */
  seccompCompile(profile: import('./seccomp').NativeSeccompProfile): Buffer;
  /** libseccomp: each name's number on arch (SCMP_ARCH_*, 0 = native); -1 when unknown */
  seccompResolveSyscalls(arch: number, names: string[]): number[];
  /**
   * One non-blocking sendmsg(2) on the connected unix socket `sockFd`: `data` plus a copy
   * of `fd` (SCM_RIGHTS). Returns the bytes sent; throws (code 'EAGAIN', 'EPIPE', …).
   */
  sendFd(sockFd: number, data: Buffer, fd: number): number;
  /**
   * posix_spawn(3) of `file` (a path; no PATH search) with `argv` (argv[0] included) and
   * `env` ("K=V"; null = the daemon's), without fork(2)'s copy of the daemon's page
   * tables. The child gets a new session, an empty signal mask, every signal at its
   * default, fds 0–2 from `stdio` (-1 = /dev/null, the slot's own number = inherited,
   * or an fd >= 3; null = all /dev/null), fd 3 = the write end of a new pipe, no other
   * fd. Returns its pid and the pipe's read end (O_CLOEXEC, blocking mode); the caller
   * owns both: close the fd, reap the pid (waitpidNoHang). Throws (code 'ENOENT',
   * 'EACCES', … with syscall 'posix_spawn').
   */
  spawnReady(file: string, argv: string[], env: string[] | null, stdio: [number, number, number] | null): { pid: number; readyFd: number };
  /**
   * waitpid(pid, WNOHANG) on a child of this process: null while it runs, else its exit
   * (it is reaped then). Throws ('ECHILD' when it is not, or no longer, a child).
   */
  waitpidNoHang(pid: number): { code: number | null; signal: number | null } | null;
  /**
   * open_tree(2) with OPEN_TREE_CLONE | AT_RECURSIVE: a detached recursive bind mount of
   * `path`, read-only (mount_setattr, recursively) when asked; the fd is O_CLOEXEC and
   * the caller closes it. Throws ('ENOENT', 'EPERM', …).
   */
  openTree(path: string, readOnly: boolean): number;
  /**
   * docker cp's confined lookups (src/daemon/containers/archive/rootview.ts; the addon's
   * "docker cp in the daemon"): openat2(2) with `resolve` (RESOLVE_* bits), O_CLOEXEC added.
   */
  openat2(dirfd: number, path: string, flags: number, mode: number, resolve: number): number;
  /** move_mount(2) of the detached tree `fromFd` onto `toPath` under `toDirFd` ('' = toDirFd itself). */
  moveMountAt(fromFd: number, toDirFd: number, toPath: string): void;
  /** fchmodat2(2) with AT_SYMLINK_NOFOLLOW: `name`'s last component is never followed. */
  chmodAt(dirfd: number, name: string, mode: number): void;
  /**
   * Kernels before 6.15: a new private mount namespace (on the addon's own thread, which
   * goes back to the daemon's namespace): `rootFd` is `root` (O_PATH directory) opened in
   * it, `nsFd` holds it. Closing both drops the namespace and its mounts.
   */
  cpNamespaceOpen(root: string): { rootFd: number; nsFd: number };
  /** move_mount of the detached tree `fromFd` onto `toFd` (O_PATH, in the namespace `nsFd`), made inside that namespace. */
  cpNamespaceAttach(nsFd: number, fromFd: number, toFd: number): void;
  /**
   * A new network namespace, bind-mounted onto `path` (an existing empty file) with `lo`
   * up. Made by a short-lived thread of its own (unshare(CLONE_NEWNET), mount, ioctl) on
   * the thread pool; no thread of the daemon stays in it. Rejects (code 'EPERM',
   * 'ENOENT', …; `syscall` names the failed step).
   */
  netnsCreate(path: string): Promise<void>;
  /**
   * Detached unmounts of `path` until nothing is mounted there, then unlink; a missing
   * file or mount is not an error. On a thread of its own (an unmount can wait for an RCU
   * grace period). Rejects (code, `syscall` 'umount2' or 'unlink').
   */
  netnsDelete(path: string): Promise<void>;
  /**
   * A NETLINK_ROUTE socket (O_CLOEXEC, extended acks, 10 s receive timeout) in the
   * daemon's network namespace (null) or in the one bind-mounted at `nsPath` (opened by a
   * thread that enters it and ends). The caller closes the fd. Throws ('ENOENT', …).
   */
  netlinkOpen(nsPath: string | null): number;
  /**
   * Sends each rtnetlink message (one complete message per Buffer; the sequence number
   * is overwritten) in turn, on a thread of its own (not libuv's pool), and collects its
   * answers up to its ack or, for a dump, NLMSG_DONE (a get without NLM_F_ACK: its one
   * answer). `target` is a socket from `netlinkOpen`, or the path of a bind-mounted
   * namespace: the worker thread then enters it, makes a socket there and closes it after
   * (the JS thread never waits for a namespace). Stops after the first message that fails:
   * the result has one entry per message answered; `error` is 0 or a positive errno,
   * `extack` the kernel's explanation or '', `data` the answer's messages concatenated.
   * Rejects on a socket failure ('ETIMEDOUT' after 10 s without an answer; for a path,
   * 'ENOENT' from open or 'EINVAL' from setns when it is no namespace). One request at a
   * time per fd.
   */
  netlinkRequest(target: number | string, messages: Buffer[]): Promise<{ error: number; extack: string; data: Buffer }[]>;
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
