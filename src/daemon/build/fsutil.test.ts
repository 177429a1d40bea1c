import { after, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { copyTree, goMatch, hasWildcards, lookupId, multiHash, resolveInScope, sourceHash } from './fsutil';
import { resolveChown } from './copy';

describe('goMatch (Go filepath.Match)', () => {
  const cases: Array<[string, string, boolean]> = [
    ['*.txt', 'a.txt', true],
    ['*.txt', 'd/a.txt', false],
    ['*/a.txt', 'd/a.txt', true],
    ['a?c', 'abc', true],
    ['a?c', 'a/c', false],
    ['[a-c]x', 'bx', true],
    ['[^a-c]x', 'bx', false],
    ['[^a-c]x', 'dx', true],
    ['\\*', '*', true],
    ['\\*', 'a', false],
    ['*', '', true],
    ['a*', 'a', true],
    ['a*b*c', 'axxbyyc', true],
    ['a*b*c', 'axxbyy', false],
    ['d*', 'dir/x', false],
  ];
  for (const [p, s, want] of cases) it(`${p} ~ ${s} = ${want}`, () => assert.equal(goMatch(p, s), want));
  it('refuses a bad class', () => assert.throws(() => goMatch('[a', 'a'), /syntax error in pattern/));
  it('knows wildcards', () => {
    assert.equal(hasWildcards('a/*.txt'), true);
    assert.equal(hasWildcards('a\\*.txt'), false);
    assert.equal(hasWildcards('plain'), false);
  });
});

describe('resolveInScope', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'stv-scope-'));
  after(() => fs.rmSync(root, { recursive: true, force: true }));
  fs.mkdirSync(path.join(root, 'dir'));
  fs.writeFileSync(path.join(root, 'dir/f'), 'x');
  fs.symlinkSync('/etc', path.join(root, 'etc'));
  fs.symlinkSync('../../..', path.join(root, 'dir/up'));
  fs.symlinkSync('dir', path.join(root, 'rel'));
  fs.symlinkSync('loop', path.join(root, 'loop'));
  fs.symlinkSync('/dir', path.join(root, 'abs'));
  it('keeps an absolute link inside the root', () => assert.equal(resolveInScope(root, 'abs/f'), path.join(root, 'dir/f')));
  it('never leaves the root through ..', () => {
    assert.equal(resolveInScope(root, '../../dir/f'), path.join(root, 'dir', 'f'));
    assert.equal(resolveInScope(root, 'dir/up/dir/f'), path.join(root, 'dir/f'));
  });
  it('follows relative links', () => assert.equal(resolveInScope(root, 'rel/f'), path.join(root, 'dir/f')));
  it('stops on link loops', () => assert.throws(() => resolveInScope(root, 'loop/x'), /too many links/));
  it('a link to /etc named etc is a loop inside the root (as Docker: too many links)', () => {
    assert.throws(() => resolveInScope(root, 'etc/hostname'), /too many links/);
  });
});

describe('sourceHash and copyTree', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stv-hash-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  it('hashes contents and metadata, not the mtime', async () => {
    const f = path.join(dir, 'f');
    fs.writeFileSync(f, 'one');
    const h1 = await sourceHash(f);
    assert.match(h1, /^file:[0-9a-f]{64}$/);
    fs.utimesSync(f, new Date(0), new Date(0));
    assert.equal(await sourceHash(f), h1);
    fs.chmodSync(f, 0o600);
    assert.notEqual(await sourceHash(f), h1);
    fs.chmodSync(f, 0o644);
    fs.writeFileSync(f, 'two');
    assert.notEqual(await sourceHash(f), h1);
  });
  it('hashes a tree with its names', async () => {
    const d = path.join(dir, 'd');
    fs.mkdirSync(d);
    fs.writeFileSync(path.join(d, 'a'), 'x');
    const h1 = await sourceHash(d);
    assert.match(h1, /^dir:[0-9a-f]{64}$/);
    fs.renameSync(path.join(d, 'a'), path.join(d, 'b'));
    assert.notEqual(await sourceHash(d), h1);
    assert.match(multiHash([h1, 'file:x']), /^multi:[0-9a-f]{64}$/);
  });
  it('copies a tree with modes, owners and links', async () => {
    const src = path.join(dir, 'src');
    fs.mkdirSync(path.join(src, 'sub'), { recursive: true });
    fs.writeFileSync(path.join(src, 'sub/x'), 'x', { mode: 0o751 });
    fs.chmodSync(path.join(src, 'sub/x'), 0o751);
    fs.symlinkSync('/etc/passwd', path.join(src, 'link'));
    const dst = path.join(dir, 'dst');
    await copyTree(src, dst, { uid: 1234, gid: 5678 });
    const st = fs.statSync(path.join(dst, 'sub/x'));
    assert.equal(st.mode & 0o7777, 0o751);
    if (process.getuid?.() === 0) assert.equal(st.uid, 1234);
    assert.equal(fs.readlinkSync(path.join(dst, 'link')), '/etc/passwd');
  });
  it('resolves --chown names in the image files', () => {
    const r = path.join(dir, 'rootfs');
    fs.mkdirSync(path.join(r, 'etc'), { recursive: true });
    fs.writeFileSync(path.join(r, 'etc/passwd'), 'root:x:0:0::/:/bin/sh\napp:x:1000:1000::/:/bin/sh\n');
    fs.writeFileSync(path.join(r, 'etc/group'), 'root:x:0:\nstaff:x:50:\n');
    assert.deepEqual(resolveChown(r, 'app:staff'), { uid: 1000, gid: 50 });
    assert.deepEqual(resolveChown(r, '7:8'), { uid: 7, gid: 8 });
    assert.throws(() => resolveChown(r, 'app'), /can't find gid for group app: no such group: app/);
    assert.throws(() => resolveChown(r, 'nobody:staff'), /can't find uid for user nobody: no such user: nobody/);
    assert.throws(() => resolveChown(r, 'a:b:c'), /invalid chown string format: a:b:c/);
    assert.equal(lookupId(path.join(r, 'etc/passwd'), 'app'), 1000);
  });
});
