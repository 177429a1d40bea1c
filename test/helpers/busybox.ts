/**
 * A real busybox root filesystem made from Debian's busybox-static: /bin/busybox,
 * one symlink per applet, /etc/passwd and /etc/group — the small test image.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Target } from './target';

export const BUSYBOX = '/bin/busybox';

const PASSWD = [
  'root:x:0:0:root:/root:/bin/sh',
  'daemon:x:1:1:daemon:/usr/sbin:/bin/false',
  'nobody:x:65534:65534:nobody:/nonexistent:/bin/false',
  'www-data:x:33:33:www-data:/var/www:/bin/false',
  '',
].join('\n');

const GROUP = ['root:x:0:', 'daemon:x:1:', 'www-data:x:33:', 'users:x:100:www-data', 'nogroup:x:65534:', ''].join('\n');

/** Writes a busybox root filesystem into `dir` (created if missing). */
export function makeBusyboxRootfs(dir: string): void {
  for (const d of ['bin', 'etc', 'root', 'tmp', 'dev', 'proc', 'sys', 'var', 'usr/bin', 'usr/sbin', 'sbin']) {
    fs.mkdirSync(path.join(dir, d), { recursive: true });
  }
  fs.chmodSync(path.join(dir, 'tmp'), 0o1777);
  fs.copyFileSync(BUSYBOX, path.join(dir, 'bin/busybox'));
  fs.chmodSync(path.join(dir, 'bin/busybox'), 0o755);
  const applets = execFileSync(BUSYBOX, ['--list-full'], { encoding: 'utf8' }).split('\n').filter(Boolean);
  for (const a of applets) {
    const p = path.join(dir, a);
    if (p === path.join(dir, 'bin/busybox') || fs.existsSync(p)) continue;
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.symlinkSync('/bin/busybox', p);
  }
  fs.writeFileSync(path.join(dir, 'etc/passwd'), PASSWD);
  fs.writeFileSync(path.join(dir, 'etc/group'), GROUP);
}

/** Writes an uncompressed tar of a busybox root filesystem to `tarPath`. */
export function makeBusyboxTar(tarPath: string): void {
  const tmp = fs.mkdtempSync(path.join(path.dirname(tarPath), '.bbroot-'));
  try {
    makeBusyboxRootfs(tmp);
    execFileSync('tar', ['--numeric-owner', '-C', tmp, '-cf', tarPath, '.']);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** Imports a busybox rootfs as `busybox:latest` (with `CMD ["sh"]`) into the target; the tar is kept in its dir. */
export async function importBusybox(t: Pick<Target, 'dir' | 'docker'>): Promise<void> {
  const tar = path.join(t.dir, 'busybox.tar');
  if (!fs.existsSync(tar)) makeBusyboxTar(tar);
  const r = await t.docker(['import', '-c', 'CMD ["sh"]', tar, 'busybox:latest']);
  if (r.code !== 0) throw new Error(`import failed: ${r.stderr}`);
}
