import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ScopedRootfsReader } from './rootfs-files';

function withDirs(fn: (root: string, outside: string) => Promise<void>) {
  return async () => {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'stevedore-rootfs-'));
    const root = path.join(base, 'root');
    const outside = path.join(base, 'outside');
    fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, 'passwd'), 'HOST\n');
    try {
      await fn(root, outside);
    } finally {
      fs.rmSync(base, { recursive: true, force: true });
    }
  };
}

test('reads a plain file; missing file is null', withDirs(async (root) => {
  fs.writeFileSync(path.join(root, 'etc/passwd'), 'root:x:0:0::/:\n');
  const r = new ScopedRootfsReader(root);
  assert.equal(await r.readFile('/etc/passwd'), 'root:x:0:0::/:\n');
  assert.equal(await r.readFile('/etc/group'), null);
  assert.equal(await r.readFile('/nope/group'), null);
}));

test('absolute and relative symlinks resolve inside the root, never outside', withDirs(async (root, outside) => {
  fs.symlinkSync(path.join(outside, 'passwd'), path.join(root, 'etc/passwd'));
  fs.symlinkSync('../../../../../../../' + path.relative('/', outside) + '/passwd', path.join(root, 'etc/group'));
  const r = new ScopedRootfsReader(root);
  assert.equal(await r.readFile('/etc/passwd'), null); // <root>/<outside>/passwd does not exist
  assert.equal(await r.readFile('/etc/group'), null);
  fs.mkdirSync(path.join(root, path.relative('/', outside)), { recursive: true });
  fs.writeFileSync(path.join(root, path.relative('/', outside), 'passwd'), 'INSIDE\n');
  assert.equal(await r.readFile('/etc/passwd'), 'INSIDE\n');
  assert.equal(await r.readFile('/etc/group'), 'INSIDE\n');
}));

test('symlinked directory resolves in scope; loops and non-regular files are rejected', withDirs(async (root, outside) => {
  fs.rmSync(path.join(root, 'etc'), { recursive: true });
  fs.symlinkSync(outside, path.join(root, 'etc'));
  const r = new ScopedRootfsReader(root);
  assert.equal(await r.readFile('/etc/passwd'), null);
  fs.rmSync(path.join(root, 'etc'));
  fs.mkdirSync(path.join(root, 'etc'));
  fs.symlinkSync('/etc/loop', path.join(root, 'etc/loop'));
  fs.symlinkSync('loop', path.join(root, 'etc/passwd'));
  await assert.rejects(r.readFile('/etc/passwd'), /too many symlinks/);
  fs.mkdirSync(path.join(root, 'etc/group'));
  await assert.rejects(r.readFile('/etc/group'), /not a regular file/);
  fs.writeFileSync(path.join(root, 'etc/big'), Buffer.alloc(100));
  await assert.rejects(new ScopedRootfsReader(root, { maxBytes: 10 }).readFile('/etc/big'), /larger than 10 bytes/);
}));
