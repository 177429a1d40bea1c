/**
 * The image storage the image service's tests share (overlay; needs root): opened in a
 * fresh temporary directory, with a gzipped one-file rootfs tarball beside it to import.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { nullLogger } from '../../engine/log';
import { EventBus } from '../events/bus';
import { type ImageStorage, openImageStorage } from './storage';

export interface ImageStorageFixture {
  /** the temporary directory holding everything */
  dir: string;
  storage: ImageStorage;
  /** a gzipped tarball of `/etc/hello` ("hello\n") */
  rootfsTar: string;
  /** closes the storage and removes `dir` */
  close(): void;
}

/** Opens an image storage under a new temporary directory named `stv-<prefix>-…`. */
export async function openImageStorageFixture(prefix: string, events: EventBus = new EventBus()): Promise<ImageStorageFixture> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `stv-${prefix}-`));
  let storage: Awaited<ReturnType<typeof openImageStorage>>;
  const rootfsTar = path.join(dir, 'rootfs.tar.gz');
  try {
    // the tarball first: nothing is open yet if tar fails
    const tree = path.join(dir, 'tree');
    fs.mkdirSync(path.join(tree, 'etc'), { recursive: true });
    fs.writeFileSync(path.join(tree, 'etc', 'hello'), 'hello\n');
    execFileSync('tar', ['-C', tree, '-czf', rootfsTar, '.']);
    storage = await openImageStorage({ dataRoot: path.join(dir, 'root'), execRoot: path.join(dir, 'exec'), events, log: nullLogger });
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    dir,
    storage,
    rootfsTar,
    close: () => {
      storage.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
