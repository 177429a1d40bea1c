/**
 * Names inside archives: normalisation and the checks that keep an extraction inside
 * its destination. Pure functions, no I/O.
 */
import { invalidArgument } from '../errdefs';

/** Prefix of an AUFS/OCI whiteout file: `dir/.wh.name` deletes `dir/name`. */
export const WHITEOUT_PREFIX = '.wh.';
/** Prefix of AUFS metadata (`.wh..wh.plnk`, `.wh..wh.aufs`), skipped on apply. */
export const WHITEOUT_META_PREFIX = '.wh..wh.';
/** Marks its directory opaque: nothing from lower layers shows through. */
export const WHITEOUT_OPAQUE = '.wh..wh..opq';

/** Linux limits: PATH_MAX (with the NUL) and NAME_MAX. */
const MAX_PATH_BYTES = 4095;
const MAX_NAME_BYTES = 255;

/**
 * Normalises an archive entry name (or a hard link's target) to a relative path
 * without `.` or empty components: `./a//b/` → `a/b`, `/etc/x` → `etc/x` (leading
 * slashes are stripped, as Docker's extractor does by joining the name under the
 * destination). The archive root (`.`, `./`, `/`) gives `''`.
 *
 * Throws invalid-argument for a `..` component anywhere (well-formed archives never
 * have one; GNU tar refuses them too), a NUL byte, or names over Linux's limits.
 */
export function cleanName(raw: string, what = 'entry'): string {
  if (raw.includes('\0')) throw invalidArgument(`invalid archive ${what} ${JSON.stringify(raw)}: contains a NUL byte`);
  if (Buffer.byteLength(raw) > MAX_PATH_BYTES) {
    throw invalidArgument(`invalid archive ${what} ${JSON.stringify(raw.slice(0, 64))}…: path too long`);
  }
  const out: string[] = [];
  for (const part of raw.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      throw invalidArgument(`invalid archive ${what} ${JSON.stringify(raw)}: ".." would lead outside the destination`);
    }
    if (Buffer.byteLength(part) > MAX_NAME_BYTES) {
      throw invalidArgument(`invalid archive ${what} ${JSON.stringify(raw)}: file name too long`);
    }
    out.push(part);
  }
  return out.join('/');
}

/** `a/b/c` → `a/b`; `c` → `''`. */
export function parentOf(rel: string): string {
  const i = rel.lastIndexOf('/');
  return i < 0 ? '' : rel.slice(0, i);
}

/** `a/b/c` → `c`. */
export function baseOf(rel: string): string {
  return rel.slice(rel.lastIndexOf('/') + 1);
}

/** What an entry name means under the overlay whiteout convention. */
export type WhiteoutName =
  | { kind: 'none' }
  | { kind: 'opaque'; dir: string }
  | { kind: 'whiteout'; target: string }
  | { kind: 'meta' };

/**
 * Classifies a cleaned entry name: `dir/.wh..wh..opq` (opaque dir), other
 * `.wh..wh.*` (AUFS metadata, to skip, also for anything below such a directory),
 * `dir/.wh.name` (whiteout of `dir/name`), or an ordinary name.
 * Throws invalid-argument for whiteouts that name nothing (`.wh.`, `.wh..`, `.wh...`)
 * and for a whiteout used as a directory (`.wh.x/y`).
 */
export function classifyWhiteout(rel: string): WhiteoutName {
  const parts = rel.split('/');
  for (let i = 0; i < parts.length - 1; i++) {
    if (parts[i].startsWith(WHITEOUT_META_PREFIX)) return { kind: 'meta' };
    if (parts[i].startsWith(WHITEOUT_PREFIX)) {
      throw invalidArgument(`invalid whiteout ${JSON.stringify(rel)}: a whiteout cannot be a directory`);
    }
  }
  const base = parts[parts.length - 1];
  if (!base.startsWith(WHITEOUT_PREFIX)) return { kind: 'none' };
  const dir = parts.slice(0, -1).join('/');
  if (base === WHITEOUT_OPAQUE) return { kind: 'opaque', dir };
  if (base.startsWith(WHITEOUT_META_PREFIX)) return { kind: 'meta' };
  const name = base.slice(WHITEOUT_PREFIX.length);
  if (name === '' || name === '.' || name === '..') {
    throw invalidArgument(`invalid whiteout ${JSON.stringify(rel)}: it names no file`);
  }
  return { kind: 'whiteout', target: dir ? `${dir}/${name}` : name };
}

/** xattrs a layer may never carry: they are the overlay's own bookkeeping. */
export function isReservedXattr(name: string): boolean {
  return name.startsWith('trusted.overlay.') || name.startsWith('user.overlay.');
}
