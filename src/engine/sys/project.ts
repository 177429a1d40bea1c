import * as fs from 'node:fs';
import * as path from 'node:path';

let root: string | undefined;

/**
 * The project's root folder (the one holding package.json), found by walking up from
 * this file, so paths to native builds work both from src/ (tsx) and dist/src/ (tsc).
 */
export function projectRoot(): string {
  if (root) return root;
  let dir = __dirname;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'native'))) {
      root = dir;
      return dir;
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error('stevedore: cannot find the project root from ' + __dirname);
    dir = up;
  }
}
