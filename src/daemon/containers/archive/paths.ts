/**
 * Docker's `docker cp` path rules (moby daemon/archive.go, container/archive.go,
 * pkg/archive/copy.go), as pure functions over container paths ("/" is the container's
 * root). The links they follow are read through a RootView (rootview.ts), confined to
 * the container's files.
 */
import * as path from 'node:path';

const P = path.posix;

/** Go's filepath.Base: trailing slashes dropped, "" → ".", all slashes → "/". */
export function goBase(p: string): string {
  if (p === '') return '.';
  const t = p.replace(/\/+$/, '');
  if (t === '') return '/';
  return t.slice(t.lastIndexOf('/') + 1);
}

/** Go's filepath.Split: dir up to and including the last slash, and the rest. */
export function goSplit(p: string): [string, string] {
  const i = p.lastIndexOf('/');
  return [p.slice(0, i + 1), p.slice(i + 1)];
}

/** Go's filepath.Clean for absolute paths (node's normalize keeps a trailing slash). */
export function goClean(p: string): string {
  const n = P.normalize(p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

/**
 * Docker's PreserveTrailingDotOrSeparator over `cleaned = Clean("/" + original)`: a
 * path given as `dir/.` or `dir/` keeps that ending, which decides whether the content
 * or the directory itself is copied.
 */
export function containerAbsPath(original: string): string {
  let cleaned = goClean(P.join('/', original));
  const currentDir = (s: string) => goBaseNoTrim(s) === '.';
  if (!currentDir(cleaned) && currentDir(original)) {
    if (!cleaned.endsWith('/')) cleaned += '/';
    cleaned += '.';
  }
  if (!cleaned.endsWith('/') && original.endsWith('/')) cleaned += '/';
  return cleaned;
}

/** filepath.Base as specifiesCurrentDir uses it ("a/." → ".", "." → "."). */
function goBaseNoTrim(p: string): string {
  return goBase(p);
}

/** What the resolver needs of the file system (a RootView: lookups confined to the container). */
export interface LinkReader {
  /** the link's target, or null when `p` is not a symbolic link or does not exist */
  readlink(p: string): string | null;
}

const MAX_LINKS = 255;

/**
 * moby's symlink.FollowSymlinkInScope with "/" as the scope: every symbolic link on
 * the way (the last component too) is followed, absolute targets and `..` staying
 * inside "/"; components that do not exist are kept as they are (the caller's lstat
 * then fails). Throws an Error with code ELOOP after 255 links.
 */
export function followSymlinkInScope(p: string, fs: LinkReader): string {
  let rest = goClean(P.join('/', p)).split('/').filter((s) => s !== '');
  let resolved = '';
  let links = 0;
  while (rest.length > 0) {
    const part = rest.shift()!;
    if (part === '.') continue;
    if (part === '..') {
      resolved = resolved.slice(0, Math.max(0, resolved.lastIndexOf('/')));
      continue;
    }
    const next = `${resolved}/${part}`;
    const target = fs.readlink(next);
    if (target === null) {
      resolved = next;
      continue;
    }
    if (++links > MAX_LINKS) throw Object.assign(new Error(`too many links in ${p}`), { code: 'ELOOP' });
    if (target.startsWith('/')) resolved = '';
    rest = [...target.split('/').filter((s) => s !== ''), ...rest];
  }
  return resolved === '' ? '/' : resolved;
}

// Go's os.FileMode bits (io/fs).
const MODE_DIR = 2 ** 31;
const MODE_SYMLINK = 2 ** 27;
const MODE_DEVICE = 2 ** 26;
const MODE_NAMED_PIPE = 2 ** 25;
const MODE_SOCKET = 2 ** 24;
const MODE_SETUID = 2 ** 23;
const MODE_SETGID = 2 ** 22;
const MODE_CHAR_DEVICE = 2 ** 21;
const MODE_STICKY = 2 ** 20;

/** A unix st_mode as Go's os.FileMode (a uint32), as Docker puts it in the path stat. */
export function goFileMode(stMode: number): number {
  let m = stMode & 0o777;
  switch (stMode & 0o170000) {
    case 0o040000: m += MODE_DIR; break;
    case 0o120000: m += MODE_SYMLINK; break;
    case 0o060000: m += MODE_DEVICE; break;
    case 0o020000: m += MODE_DEVICE + MODE_CHAR_DEVICE; break;
    case 0o010000: m += MODE_NAMED_PIPE; break;
    case 0o140000: m += MODE_SOCKET; break;
  }
  if (stMode & 0o4000) m += MODE_SETUID;
  if (stMode & 0o2000) m += MODE_SETGID;
  if (stMode & 0o1000) m += MODE_STICKY;
  return m;
}

/** Go's time.Time JSON (RFC 3339 with nanoseconds, trailing zeros dropped), in UTC. */
export function goTimeJSON(sec: bigint, nsec: bigint): string {
  const d = new Date(Number(sec) * 1000).toISOString().slice(0, 19);
  const frac = nsec === 0n ? '' : `.${nsec.toString().padStart(9, '0').replace(/0+$/, '')}`;
  return `${d}${frac}Z`;
}

/** Docker's types.ContainerPathStat, in its JSON field order. */
export interface ContainerPathStat {
  name: string;
  size: number;
  mode: number;
  mtime: string;
  linkTarget: string;
}

/**
 * Docker's mount-point check for an extraction (checkIfPathIsInAVolume): the first
 * mount point containing `absPath` decides; a read-only one refuses. Returns whether
 * the path is in a mount, or 'read-only'.
 */
export function inMount(absPath: string, mounts: Array<{ destination: string; rw: boolean }>): boolean | 'read-only' {
  for (const m of mounts) {
    const rel = P.relative(m.destination, absPath);
    if (rel !== '..' && !rel.startsWith('../')) return m.rw ? true : 'read-only';
  }
  return false;
}
