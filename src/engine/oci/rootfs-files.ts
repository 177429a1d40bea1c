/**
 * Reading files the container controls (its /etc/passwd, /etc/group) without ever
 * leaving its root filesystem: every component is resolved relative to an open
 * directory descriptor, symlinks (absolute or relative, `..` included) are resolved
 * *inside* the root, the way Docker's FollowSymlinkInScope does, and the final file
 * is opened with O_NOFOLLOW and must be a regular file of bounded size.
 */
import * as fs from 'node:fs';
import { errnoCode, invalidArgument } from '../errdefs';

// Node opens every descriptor close-on-exec.
const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW, O_NONBLOCK } = fs.constants;
const MAX_SYMLINKS = 255;

/** Reads container files from one root filesystem. */
export interface RootfsReader {
  /**
   * Contents of `p` (an absolute path inside the container) as UTF-8, or null if it
   * does not exist. Throws invalid-argument if it is not a regular file, is larger
   * than the limit, or symlinks loop.
   */
  readFile(p: string): Promise<string | null>;
}

/** A `RootfsReader` over a rootfs directory on this host. */
export class ScopedRootfsReader implements RootfsReader {
  constructor(
    private readonly root: string,
    private readonly options: { maxBytes?: number } = {},
  ) {}

  async readFile(p: string): Promise<string | null> {
    const maxBytes = this.options.maxBytes ?? 4 * 1024 * 1024;
    const dirs: number[] = [fs.openSync(this.root, O_RDONLY | O_DIRECTORY)];
    try {
      const parts = p.split('/');
      let links = 0;
      while (parts.length > 0) {
        const c = parts.shift()!;
        if (c === '' || c === '.') continue;
        if (c === '..') {
          if (dirs.length > 1) fs.closeSync(dirs.pop()!);
          continue;
        }
        const at = `/proc/self/fd/${dirs[dirs.length - 1]}/${c}`;
        let st: fs.Stats;
        try {
          st = fs.lstatSync(at);
        } catch (err) {
          if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return null;
          throw err;
        }
        if (st.isSymbolicLink()) {
          if (++links > MAX_SYMLINKS) throw invalidArgument(`too many symlinks resolving ${p} in the container`);
          const target = fs.readlinkSync(at);
          if (target.startsWith('/')) {
            while (dirs.length > 1) fs.closeSync(dirs.pop()!);
          }
          parts.unshift(...target.split('/'));
          continue;
        }
        if (parts.some((x) => x !== '' && x !== '.')) {
          if (!st.isDirectory()) return null;
          dirs.push(fs.openSync(at, O_RDONLY | O_DIRECTORY | O_NOFOLLOW));
          continue;
        }
        return readRegular(at, p, maxBytes);
      }
      return null; // the path named the root directory itself
    } finally {
      for (const fd of dirs) fs.closeSync(fd);
    }
  }
}

function readRegular(at: string, p: string, maxBytes: number): string {
  const fd = fs.openSync(at, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw invalidArgument(`${p} in the container is not a regular file`);
    if (st.size > maxBytes) throw invalidArgument(`${p} in the container is larger than ${maxBytes} bytes`);
    const buf = Buffer.alloc(st.size + 1);
    let n = 0;
    for (;;) {
      const r = fs.readSync(fd, buf, n, buf.length - n, null);
      if (r === 0) break;
      n += r;
      if (n > st.size) throw invalidArgument(`${p} in the container changed while being read`);
    }
    return buf.subarray(0, n).toString('utf8');
  } finally {
    fs.closeSync(fd);
  }
}
