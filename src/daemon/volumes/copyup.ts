/**
 * Filling a volume from the image (moby's CopyImagePathContent): when a container first
 * uses an empty volume, the content of the image at the mount point is copied into it,
 * with owners, modes and times, and the volume's root takes the directory's owner and
 * mode. The path is resolved inside the container's root filesystem — a symlink or `..`
 * in the image can never lead the copy outside it — and nothing is followed while
 * copying: symlinks are copied as symlinks.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { invalidArgument } from '../../engine/errdefs';

/**
 * `p` (a path in the container) as a host path under `root`, every symlink resolved as
 * the container would see it (absolute targets from `root`, `..` stopping at `root`), as
 * moby's FollowSymlinkInScope. A missing component ends resolution there.
 */
export function resolveInRoot(root: string, p: string): string {
  const parts = p.split('/').filter((x) => x !== '' && x !== '.');
  let cur: string[] = [];
  let links = 0;
  while (parts.length > 0) {
    const part = parts.shift()!;
    if (part === '..') {
      cur.pop();
      continue;
    }
    const host = path.join(root, ...cur, part);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(host);
    } catch {
      cur.push(part, ...parts.filter((x) => x !== '..'));
      break;
    }
    if (!st.isSymbolicLink()) {
      cur.push(part);
      continue;
    }
    if (++links > 255) throw invalidArgument(`too many links in ${p}`);
    const target = fs.readlinkSync(host);
    if (target.startsWith('/')) cur = [];
    parts.unshift(...target.split('/').filter((x) => x !== '' && x !== '.'));
  }
  return path.join(root, ...cur);
}

function copyTree(src: string, dst: string): void {
  for (const name of fs.readdirSync(src)) {
    const s = path.join(src, name);
    const d = path.join(dst, name);
    const st = fs.lstatSync(s);
    if (st.isDirectory()) {
      fs.mkdirSync(d, { mode: st.mode & 0o7777 });
      copyTree(s, d);
    } else if (st.isSymbolicLink()) {
      fs.symlinkSync(fs.readlinkSync(s), d);
    } else if (st.isFile()) {
      fs.copyFileSync(s, d, fs.constants.COPYFILE_EXCL);
    } else {
      continue; // devices, fifos and sockets are not copied
    }
    fs.lchownSync(d, st.uid, st.gid);
    if (!st.isSymbolicLink()) fs.chmodSync(d, st.mode & 0o7777);
    fs.lutimesSync(d, st.atime, st.mtime);
  }
}

/**
 * Copies the image's content at `destination` (a path in the container rooted at
 * `rootfs`) into the volume directory `volumeDir` when the volume is empty. Nothing to
 * copy when the path does not exist in the image. Throws invalid-argument when the path
 * is a file (`cannot mount volume over existing file`).
 */
export function copyImageContent(rootfs: string, destination: string, volumeDir: string): void {
  const src = resolveInRoot(rootfs, destination);
  let st: fs.Stats;
  try {
    st = fs.lstatSync(src);
  } catch {
    return;
  }
  if (!st.isDirectory()) throw invalidArgument(`cannot mount volume over existing file, file exists ${src}`);
  if (fs.readdirSync(volumeDir).length > 0) return;
  copyTree(src, volumeDir);
  fs.chownSync(volumeDir, st.uid, st.gid);
  fs.chmodSync(volumeDir, st.mode & 0o7777);
}
