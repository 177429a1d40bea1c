/**
 * An exclusive lock on the data root (flock on `<root>/stevedore.lock`), held for the
 * daemon's lifetime, so two daemons can never share one data root. The kernel drops
 * it when the process dies, so a crash never leaves a stale lock.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { conflict, errnoCode } from '../engine/errdefs';
import { LOCK_EX, LOCK_NB, LOCK_UN, nativeSys } from '../engine/sys/native';

export class DataRootLock {
  private constructor(private fd: number | undefined) {}

  /** Takes the lock or throws conflict naming the holder's pid when known. */
  static acquire(dataRoot: string): DataRootLock {
    const file = path.join(dataRoot, 'stevedore.lock');
    const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
    try {
      nativeSys().flock(fd, LOCK_EX | LOCK_NB);
    } catch (err) {
      let holder = '';
      try {
        holder = fs.readFileSync(file, 'utf8').trim();
      } catch {
        /* unknown holder */
      }
      fs.closeSync(fd);
      if (errnoCode(err) === 'EAGAIN') {
        throw conflict(`data root ${dataRoot} is in use by another daemon${holder ? ` (pid ${holder})` : ''}`);
      }
      throw err;
    }
    fs.ftruncateSync(fd, 0);
    fs.writeSync(fd, String(process.pid), 0);
    return new DataRootLock(fd);
  }

  release(): void {
    if (this.fd === undefined) return;
    try {
      nativeSys().flock(this.fd, LOCK_UN);
    } finally {
      fs.closeSync(this.fd);
      this.fd = undefined;
    }
  }
}
