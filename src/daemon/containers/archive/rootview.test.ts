/**
 * The in-daemon copy's confinement (rootview.ts, fdtar.ts, copier.ts statIn): a container
 * root whose directory is a link to `/` — reads and writes land inside the root, never
 * on the host; mounts attached to the detached view, read-only when asked, and invisible
 * to the daemon's namespace; and a container swapping a directory for a link to `/` in
 * a loop while copies run both ways never makes one touch the host. Needs root. Every
 * case runs in both view modes (a detached tree, Linux 6.15+; a private mount namespace,
 * the fallback for older kernels), and namespace views leave no namespace or mount behind.
 */
import { after, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { statIn } from './copier';
import { extractAt, tarAt } from './fdtar';
import { closeQuietly, RootView, viewMode, viewNative, type ViewMode } from './rootview';

const O_DIR = fs.constants.O_RDONLY | fs.constants.O_DIRECTORY;

async function get(v: RootView, p: string): Promise<Buffer> {
  const s = statIn(v, p);
  try {
    return await buffer(tarAt(viewNative(), s.dirFd, s.name, { rebase: path.posix.basename(p.replace(/\/+$/, '')) || '/' }));
  } finally {
    closeQuietly(s.dirFd);
  }
}

async function put(v: RootView, p: string, tar: Buffer): Promise<void> {
  const fd = v.open(p, O_DIR);
  try {
    await extractAt(viewNative(), fd, Readable.from([tar]));
  } finally {
    closeQuietly(fd);
  }
}

const list = (tar: Buffer) => execFileSync('tar', ['-t'], { input: tar }).toString().split('\n').filter(Boolean);

for (const mode of ['detached', 'namespace'] as ViewMode[]) describe(`in-daemon copy confinement (${mode} view)`, { skip: process.getuid?.() !== 0 ? 'needs root' : false }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `stv-view-${mode}-`));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const root = path.join(dir, 'root');
  const secret = path.join(dir, 'secret');
  fs.mkdirSync(path.join(root, 'w'), { recursive: true });
  fs.symlinkSync('/', path.join(root, 'w/d'));
  fs.mkdirSync(secret);
  fs.writeFileSync(path.join(secret, 'marker'), 'HOST\n');

  it('resolves a link to / as the container root when reading', async () => {
    const v = RootView.open(root, [], viewNative(), mode);
    try {
      assert.throws(() => statIn(v, `/w/d${secret}/marker`), (err: Error) => err.constructor.name === 'PathNotFound');
      const s = statIn(v, '/w/d');
      closeQuietly(s.dirFd);
      assert.equal(s.stat.linkTarget, '/');
      const names = list(await get(v, '/w/d/'));
      assert.ok(names.includes('d/w/d'), names.join(','));
      assert.ok(!names.some((n) => n.includes('secret') || n.startsWith('d/proc')), names.join(','));
    } finally {
      v.close();
    }
  });

  it('writes through a link to / into the container root, not the host', async () => {
    const src = path.join(dir, 'src');
    fs.mkdirSync(path.join(src, secret.slice(1)), { recursive: true });
    fs.writeFileSync(path.join(src, secret.slice(1), 'marker'), 'overwritten\n');
    const tar = execFileSync('tar', ['-C', src, '-c', secret.slice(1).split('/')[0]!]);
    const v = RootView.open(root, [], viewNative(), mode);
    try {
      await put(v, '/w/d', tar);
    } finally {
      v.close();
    }
    assert.equal(fs.readFileSync(path.join(secret, 'marker'), 'utf8'), 'HOST\n');
    assert.equal(fs.readFileSync(path.join(root, secret, 'marker'), 'utf8'), 'overwritten\n');
  });

  it('refuses to extract through a link inside the archive destination', async () => {
    fs.mkdirSync(path.join(root, 'x'), { recursive: true });
    fs.symlinkSync(secret, path.join(root, 'x/l'));
    const src = path.join(dir, 'src2');
    fs.mkdirSync(path.join(src, 'l'), { recursive: true });
    fs.writeFileSync(path.join(src, 'l', 'marker'), 'through\n');
    const tar = execFileSync('tar', ['-C', src, '--no-recursion', '-c', 'l/marker']);
    const v = RootView.open(root, [], viewNative(), mode);
    try {
      await assert.rejects(put(v, '/x', tar), /symbolic link/);
    } finally {
      v.close();
    }
    assert.equal(fs.readFileSync(path.join(secret, 'marker'), 'utf8'), 'HOST\n');
  });

  it('attaches mounts at their destinations in the view only, read-only when asked', async () => {
    const vol = path.join(dir, 'vol');
    fs.mkdirSync(vol);
    fs.writeFileSync(path.join(vol, 'v'), 'in the volume\n');
    const v = RootView.open(root, [{ source: vol, destination: '/mnt/v', readOnly: true }], viewNative(), mode);
    try {
      const tar = await get(v, '/mnt/v/v');
      assert.equal(execFileSync('tar', ['-xO'], { input: tar }).toString(), 'in the volume\n');
      assert.deepEqual(fs.readdirSync(path.join(root, 'mnt/v')), []); // the daemon's namespace does not see the mount
      const one = execFileSync('tar', ['-C', vol, '-c', 'v']);
      await assert.rejects(put(v, '/mnt/v', one), (err: NodeJS.ErrnoException) => err.code === 'EROFS');
    } finally {
      v.close();
    }
    assert.equal(fs.readFileSync(path.join(vol, 'v'), 'utf8'), 'in the volume\n');
    assert.ok(fs.statSync(path.join(root, 'mnt/v')).isDirectory()); // the mount point, made in the root
  });

  it('never touches the host while the container swaps a directory for a link to / in a loop', async () => {
    // the hostile container: /race/d is a directory, then a link to the host's secret
    // directory's absolute path, then to /, over and over
    const race = path.join(root, 'race');
    fs.mkdirSync(path.join(race, 'd', 'sub'), { recursive: true });
    const swapper = spawn('/bin/sh', ['-c', `cd ${race} && while :; do mkdir -p t/sub && echo in > t/sub/f && mv -T t d 2>/dev/null; ln -sfn / l1 && mv -T l1 d 2>/dev/null; ln -sfn ${secret} l2 && mv -T l2 d 2>/dev/null; rm -rf t; done`], { stdio: 'ignore' });
    const src = path.join(dir, 'src3');
    fs.mkdirSync(path.join(src, 'sub'), { recursive: true });
    fs.writeFileSync(path.join(src, 'sub', 'marker'), 'pwned\n');
    fs.writeFileSync(path.join(src, 'marker'), 'pwned\n');
    const tar = execFileSync('tar', ['-C', src, '-c', 'sub', 'marker']);
    const before = fs.readdirSync('/').sort();
    let wrote = 0;
    try {
      for (let i = 0; i < 60; i++) {
        const v = RootView.open(root, [], viewNative(), mode);
        try {
          try {
            await put(v, '/race/d', tar);
            wrote++;
          } catch {
            // a destination that changed under the copy: refused, fine
          }
          try {
            const names = list(await get(v, '/race/d/'));
            assert.ok(!names.some((n) => /\b(etc|proc|usr)\//.test(n)), `host files archived: ${names.slice(0, 5).join(',')}`);
          } catch (err) {
            if (err instanceof assert.AssertionError) throw err;
          }
        } finally {
          v.close();
        }
      }
    } finally {
      swapper.kill('SIGKILL');
      await new Promise((resolve) => swapper.once('close', resolve));
    }
    assert.equal(fs.readFileSync(path.join(secret, 'marker'), 'utf8'), 'HOST\n');
    assert.deepEqual(fs.readdirSync(secret), ['marker']);
    assert.ok(!fs.existsSync('/marker') && !fs.existsSync('/sub/marker'));
    assert.deepEqual(fs.readdirSync('/').sort(), before);
    assert.ok(wrote > 0, 'no copy succeeded at all');
  });
});

/** Every mount namespace a thread of this process is in or an fd of it holds. */
function mountNamespaces(): string[] {
  const out: string[] = [];
  for (const t of fs.readdirSync('/proc/self/task')) out.push(`task ${fs.readlinkSync(`/proc/self/task/${t}/ns/mnt`)}`);
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    let l = '';
    try {
      l = fs.readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue; // the fd of the readdir itself
    }
    if (l.startsWith('mnt:')) out.push(`fd ${l}`);
  }
  return out.sort();
}

describe('view modes', { skip: process.getuid?.() !== 0 ? 'needs root' : false }, () => {
  it('probes the kernel: detached trees from Linux 6.15, a namespace before; STEVEDORE_CP_VIEW forces one', () => {
    const saved = process.env.STEVEDORE_CP_VIEW;
    try {
      delete process.env.STEVEDORE_CP_VIEW;
      const [major, minor] = os.release().split('.').map((n) => parseInt(n, 10)) as [number, number];
      assert.equal(viewMode(), major > 6 || (major === 6 && minor >= 15) ? 'detached' : 'namespace');
      process.env.STEVEDORE_CP_VIEW = 'namespace';
      assert.equal(viewMode(), 'namespace');
      process.env.STEVEDORE_CP_VIEW = 'detached';
      assert.equal(viewMode(), 'detached');
    } finally {
      if (saved === undefined) delete process.env.STEVEDORE_CP_VIEW;
      else process.env.STEVEDORE_CP_VIEW = saved;
    }
  });

  it('namespace views leave no namespace, fd or host mount behind', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stv-nsleak-'));
    try {
      const root = path.join(dir, 'root');
      const vol = path.join(dir, 'vol');
      fs.mkdirSync(root);
      fs.mkdirSync(vol);
      fs.writeFileSync(path.join(vol, 'f'), 'v\n');
      // the addon's thread starts at first use and stays: start it before counting
      await RootView.open(root, [], viewNative(), 'namespace').close();
      const fds = fs.readdirSync('/proc/self/fd').length;
      const namespaces = mountNamespaces();
      for (let i = 0; i < 50; i++) {
        const v = RootView.open(root, [{ source: vol, destination: '/a/v', readOnly: false }, { source: path.join(vol, 'f'), destination: '/etc/f', readOnly: true }], viewNative(), 'namespace');
        const fd = v.open('/a/v/f', fs.constants.O_RDONLY);
        assert.equal(fs.readFileSync(fd, 'utf8'), 'v\n');
        closeQuietly(fd);
        assert.ok(mountNamespaces().length > namespaces.length, 'the view holds its namespace');
        assert.ok(!fs.readFileSync('/proc/self/mountinfo', 'utf8').includes(dir), 'a view mount is visible on the host');
        await v.close();
      }
      assert.equal(fs.readdirSync('/proc/self/fd').length, fds);
      assert.deepEqual(mountNamespaces(), namespaces);
      // other helpers' mounts come and go: only ours must not be there
      assert.ok(!fs.readFileSync('/proc/self/mountinfo', 'utf8').includes(dir), 'a view mount is visible on the host');
      assert.deepEqual(fs.readdirSync(path.join(root, 'a/v')), []);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
