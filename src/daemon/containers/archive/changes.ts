/**
 * `docker diff`: Docker's overlay changes (pkg/archive OverlayChanges) of a container's
 * writable snapshot. The upper directory is walked in directory order (readdir's, as
 * Docker: not sorted); an entry is Deleted
 * (a 0:0 character device, or an opaque directory), Modified (it exists in a lower
 * layer — a directory only when its size, mode or mtime differ) or Added; the parent
 * of an added or deleted entry is listed as Modified before it when it was not listed
 * yet. The runtime's mount points, which Docker keeps in its init layer, are left out
 * as a commit leaves them out.
 */
import * as fs from 'node:fs';
import { runtimeMountpoints } from '../../images/commit';
import { writableDirOf } from '../../../engine/diff';
import type { Mount } from '../../../engine/mount/types';
import { nativeSys } from '../../../engine/sys/native';

/** One change, as the API answers it: Kind 0 = modified, 1 = added, 2 = deleted. */
export interface Change {
  Path: string;
  Kind: 0 | 1 | 2;
}

/** The lower directories of an overlay mount, top first. */
function lowerDirs(mounts: Mount[]): string[] {
  const opt = mounts[0]?.options.find((o) => o.startsWith('lowerdir='));
  return opt ? opt.slice('lowerdir='.length).split(':') : [];
}

/** The changes of an active snapshot (its mounts) over its parents, in Docker's order. */
export function containerChanges(mounts: Mount[]): Change[] {
  const upper = writableDirOf(mounts);
  const lowers = lowerDirs(mounts);
  const skip = runtimeMountpoints(upper);
  const sys = nativeSys();
  const changes: Change[] = [];
  const changedDirs = new Set<string>();

  const visit = (rel: string): void => {
    const abs = `${upper}/${rel}`;
    const f = fs.lstatSync(abs);
    const p = `/${rel}`;
    let kind: 0 | 1 | 2 = 1;
    let opaque = false;
    if (f.isDirectory()) {
      const x = sys.lgetxattr(abs, 'trusted.overlay.opaque');
      opaque = x !== null && x.length === 1 && x[0] === 0x79;
    }
    let record = true;
    if ((f.isCharacterDevice() && f.rdev === 0) || opaque) kind = 2;
    else {
      for (const layer of lowers) {
        let st: fs.Stats | undefined;
        try {
          st = fs.statSync(`${layer}/${rel}`);
        } catch {
          continue;
        }
        if (st.isDirectory() && f.isDirectory() && st.size === f.size && st.mode === f.mode && st.mtimeMs === f.mtimeMs) record = false;
        kind = 0;
        break;
      }
    }
    if (record) {
      if (f.isDirectory()) changedDirs.add(p);
      if (kind !== 0) {
        const i = p.lastIndexOf('/');
        const parent = i === 0 ? '/' : p.slice(0, i);
        if (parent !== '/' && !changedDirs.has(parent)) {
          changes.push({ Path: parent, Kind: 0 });
          changedDirs.add(parent);
        }
      }
      changes.push({ Path: p, Kind: kind });
    }
    if (f.isDirectory()) for (const name of fs.readdirSync(abs)) walkChild(rel, name);
  };
  const walkChild = (dir: string, name: string) => {
    const rel = dir ? `${dir}/${name}` : name;
    if (skip.has(rel)) return;
    visit(rel);
  };
  for (const name of fs.readdirSync(upper)) walkChild('', name);
  return changes;
}
