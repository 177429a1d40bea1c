/**
 * Fitting overlay options into one page. The kernel copies mount data into a single
 * page (4096 bytes including the NUL), so a long `lowerdir=` list fails with EINVAL.
 * Like Docker's overlay2 we then make the lowerdir entries relative to the folder they
 * share (the snapshotter's `l/` link folder) and mount with that folder as the working
 * directory.
 */
import * as path from 'node:path';
import { invalidArgument } from '../errdefs';

/** Maximum length of the mount data string (one 4 KiB page minus the terminating NUL). */
export const MAX_MOUNT_DATA = 4095;

export interface OverlayData {
  /** the comma-joined option string to pass to mount(2) */
  data: string;
  /** directory to chdir into around mount(2), when lowerdir entries were made relative */
  cwd?: string;
}

/** Builds the mount data for overlay `options`, compacting lowerdir if needed. Throws invalid-argument if it cannot fit. */
export function overlayData(options: string[]): OverlayData {
  const data = options.join(',');
  if (Buffer.byteLength(data) <= MAX_MOUNT_DATA) return { data };
  const i = options.findIndex((o) => o.startsWith('lowerdir='));
  if (i < 0) throw invalidArgument(`overlay mount options too long (${data.length} bytes)`);
  const lowers = options[i].slice('lowerdir='.length).split(':');
  if (!lowers.every((l) => path.isAbsolute(l))) {
    throw invalidArgument(`overlay mount options too long (${data.length} bytes) and lowerdir is not absolute`);
  }
  const cwd = commonDir(lowers);
  const rel = lowers.map((l) => path.relative(cwd, l));
  const compact = [...options];
  compact[i] = 'lowerdir=' + rel.join(':');
  const short = compact.join(',');
  if (Buffer.byteLength(short) > MAX_MOUNT_DATA) {
    throw invalidArgument(`overlay mount options too long (${short.length} bytes even with relative lowerdir paths; ${lowers.length} layers)`);
  }
  return { data: short, cwd };
}

/** The deepest directory containing every path. */
function commonDir(paths: string[]): string {
  let parts = path.dirname(paths[0]).split('/');
  for (const p of paths.slice(1)) {
    const q = path.dirname(p).split('/');
    let n = 0;
    while (n < parts.length && n < q.length && parts[n] === q[n]) n++;
    parts = parts.slice(0, n);
  }
  return parts.join('/') || '/';
}
