/**
 * OCI bundles on disk: a spec as `config.json` text (rlimits of -1 as RLIM_INFINITY) and
 * written atomically into the bundle directory.
 */
import * as fsSync from 'node:fs';
import * as path from 'node:path';
import type { Spec } from '../oci/spec';

const RLIM_INFINITY = '18446744073709551615';

/** The spec as `config.json` text; rlimits of -1 become RLIM_INFINITY. */
export function serializeSpec(spec: Spec): string {
  const marker = '"@@RLIM_INFINITY@@"';
  const json = JSON.stringify(
    spec,
    function (this: unknown, key, value: unknown) {
      if ((key === 'soft' || key === 'hard') && value === -1) return marker.slice(1, -1);
      return value;
    },
    2,
  );
  return json.split(marker).join(RLIM_INFINITY) + '\n';
}

/**
 * Writes `<dir>/config.json` atomically (temp file, fsync, rename), creating `dir`.
 */
export async function writeBundle(dir: string, spec: Spec): Promise<void> {
  // Written whole and renamed into place, but not fsync'd: the runtime reads it at once,
  // it lives in the exec root (tmpfs on a normal host), and every start writes it anew,
  // so there is nothing a power loss could leave half-done that anyone reads again.
  // (The fsync cost ~3 ms of every container start on a disk-backed exec root.)
  fsSync.mkdirSync(dir, { recursive: true, mode: 0o711 });
  const final = path.join(dir, 'config.json');
  const tmp = path.join(dir, `.config.json.${process.pid}.${Date.now()}.tmp`);
  fsSync.writeFileSync(tmp, serializeSpec(spec), { mode: 0o600, flag: 'wx' });
  try {
    fsSync.renameSync(tmp, final);
  } catch (err) {
    fsSync.rmSync(tmp, { force: true });
    throw err;
  }
}
