import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { kindOf } from '../errdefs';
import { detachAll, MAX_MOUNT_DATA, mountAll, mountsUnder, overlayData, recoverTempMounts, unmount, unmountRecursive, withTempMount } from './index';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stevedore-mount-'));
});
afterEach(() => {
  unmountRecursive(dir);
  fs.rmSync(dir, { recursive: true, force: true });
});

function mk(...parts: string[]): string {
  const p = path.join(dir, ...parts);
  fs.mkdirSync(p, { recursive: true });
  return p;
}

test('overlayData leaves short options alone and compacts long lowerdir lists', () => {
  assert.deepEqual(overlayData(['lowerdir=/a:/b', 'upperdir=/u', 'workdir=/w']), { data: 'lowerdir=/a:/b,upperdir=/u,workdir=/w' });
  const lowers = Array.from({ length: 200 }, (_, i) => `/var/lib/stevedore/snapshots/l/${String(i).padStart(12, 'x')}`);
  const od = overlayData(['lowerdir=' + lowers.join(':'), 'upperdir=/u', 'workdir=/w']);
  assert.equal(od.cwd, '/var/lib/stevedore/snapshots/l');
  assert.ok(od.data.length <= MAX_MOUNT_DATA);
  assert.ok(od.data.startsWith('lowerdir=xxxxxxxxxxx0:xxxxxxxxxxx1:'));
  assert.ok(od.data.endsWith(',upperdir=/u,workdir=/w'));
  const tooMany = Array.from({ length: 400 }, (_, i) => `/l/${String(i).padStart(12, 'x')}`);
  assert.throws(() => overlayData(['lowerdir=' + tooMany.join(':')]), (e: unknown) => kindOf(e) === 'invalid-argument');
});

test('bind mounts honour ro, and unmount is idempotent', () => {
  const src = mk('src');
  fs.writeFileSync(path.join(src, 'f'), 'x');
  const rw = mk('rw');
  const ro = mk('ro');
  mountAll([{ type: 'bind', source: src, options: ['rbind', 'rw'] }], rw);
  mountAll([{ type: 'bind', source: src, options: ['rbind', 'ro'] }], ro);
  fs.writeFileSync(path.join(rw, 'g'), 'y');
  assert.throws(() => fs.writeFileSync(path.join(ro, 'h'), 'z'), /EROFS/);
  assert.equal(fs.readFileSync(path.join(ro, 'g'), 'utf8'), 'y');
  unmount(rw);
  unmount(ro);
  unmount(ro);
  assert.deepEqual(mountsUnder(dir), []);
});

test('a long overlay lowerdir list mounts through the relative-path form and restores the cwd', () => {
  const links = mk('a-rather-long-folder-name-to-make-the-paths-long', 'l');
  const lowers: string[] = [];
  for (let i = 0; i < 60; i++) {
    const d = mk('layers', String(i));
    fs.writeFileSync(path.join(d, `f${i}`), String(i));
    fs.writeFileSync(path.join(d, 'top'), String(i));
    const link = path.join(links, `link${String(i).padStart(8, '0')}`);
    fs.symlinkSync(d, link);
    lowers.push(link);
  }
  const options = ['lowerdir=' + lowers.join(':'), `upperdir=${mk('u')}`, `workdir=${mk('w')}`];
  assert.ok(options.join(',').length > MAX_MOUNT_DATA);
  const cwd = process.cwd();
  const target = mk('target');
  mountAll([{ type: 'overlay', source: 'overlay', options }], target);
  try {
    assert.equal(process.cwd(), cwd);
    assert.equal(fs.readFileSync(path.join(target, 'f59'), 'utf8'), '59');
    assert.equal(fs.readFileSync(path.join(target, 'top'), 'utf8'), '0');
    fs.writeFileSync(path.join(target, 'new'), 'n');
    assert.equal(fs.readFileSync(path.join(dir, 'u', 'new'), 'utf8'), 'n');
  } finally {
    unmount(target);
  }
});

test('a failing mount in mountAll unmounts the earlier ones', () => {
  const src = mk('src');
  const target = mk('t');
  assert.throws(() =>
    mountAll(
      [
        { type: 'bind', source: src, options: ['rbind'] },
        { type: 'overlay', source: 'overlay', options: [`lowerdir=${path.join(dir, 'missing')}`, 'upperdir=/nonexistent', 'workdir=/nonexistent'] },
      ],
      target,
    ),
  );
  assert.deepEqual(mountsUnder(target), []);
});

/** `t` with two bind mounts stacked on it and a third on `t/sub`; returns the bind source and `t`. */
function stackedMounts(): { src: string; target: string } {
  const src = mk('src');
  mk('src', 'sub');
  const target = mk('t');
  const bind = (at: string) => mountAll([{ type: 'bind', source: src, options: ['bind'] }], at);
  bind(target);
  bind(target);
  bind(path.join(target, 'sub'));
  assert.equal(mountsUnder(target).length, 3);
  return { src, target };
}

test('unmountRecursive removes nested and stacked mounts', () => {
  const { target } = stackedMounts();
  unmountRecursive(target);
  assert.deepEqual(mountsUnder(target), []);
});

test('detachAll removes stacked mounts and the mounts below them, and what lies below an unmounted target', () => {
  const { src, target } = stackedMounts();
  detachAll(target);
  assert.deepEqual(mountsUnder(target), []);
  // nothing at the target itself, a mount below it: found through mountinfo
  const below = mk('t2', 'below');
  mountAll([{ type: 'bind', source: src, options: ['bind'] }], below);
  detachAll(path.join(dir, 't2'));
  assert.deepEqual(mountsUnder(path.join(dir, 't2')), []);
  // nothing there at all, and a missing path: no error
  detachAll(target);
  detachAll(path.join(dir, 'missing'));
});

test('withTempMount always unmounts and removes its directory', async () => {
  const src = mk('src');
  fs.writeFileSync(path.join(src, 'f'), 'hello');
  const tmp = path.join(dir, 'tmpmounts');
  let seen = '';
  const got = await withTempMount([{ type: 'bind', source: src, options: ['rbind', 'ro'] }], (mp) => {
    seen = mp;
    return fs.readFileSync(path.join(mp, 'f'), 'utf8');
  }, { dir: tmp });
  assert.equal(got, 'hello');
  assert.equal(fs.existsSync(seen), false);
  await assert.rejects(
    withTempMount([{ type: 'bind', source: src, options: ['rbind'] }], () => { throw new Error('inside'); }, { dir: tmp }),
    /inside/,
  );
  assert.deepEqual(fs.readdirSync(tmp), []);
  assert.deepEqual(mountsUnder(dir), []);
});

test('recoverTempMounts cleans a crashed temp mount', () => {
  const src = mk('src');
  const tmp = mk('tmpmounts');
  const left = mk('tmpmounts', 'm-crashed');
  mountAll([{ type: 'bind', source: src, options: ['rbind'] }], left);
  assert.equal(recoverTempMounts(tmp), 1);
  assert.deepEqual(fs.readdirSync(tmp), []);
  assert.deepEqual(mountsUnder(dir), []);
  assert.equal(fs.existsSync(src), true);
});
