import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import * as zlib from 'node:zlib';
import { kindOf } from '../errdefs';
import { nativeSys, S_IFCHR } from '../sys/native';
import { applyLayer, extractTar } from './apply';
import { compress } from './compression';
import { diffUpperDir, tarDirectory } from './pack';
import { drain, forEachEntry } from './parser';
import { bufferStream, collect, describeTree, makeTar, scratch } from './testkit';

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const CAP_V2 = Buffer.from('0100000200200000000000000000000000000000', 'hex'); // binary, not UTF-8

async function names(tar: Buffer): Promise<string[]> {
  const out: string[] = [];
  await forEachEntry(bufferStream(tar), async (e, body) => { out.push(`${e.type}:${e.name}`); await drain(body); });
  return out;
}

test('applies every entry type with owners, modes, times and xattrs', async () => {
  const s = scratch();
  try {
    const mtime = new Date(1_500_000_000_000);
    const tar = await makeTar([
      { name: 'bin/', type: 'directory', mode: 0o755, uid: 0, gid: 0, mtime },
      { name: 'bin/su', data: 'ELF', mode: 0o4755, uid: 0, gid: 0, mtime },
      { name: 'bin/ping', data: 'ELF2', mode: 0o755, mtime, pax: { 'SCHILY.xattr.security.capability': CAP_V2.toString('latin1') } },
      { name: 'home/u/file', data: 'x'.repeat(300_000), mode: 0o640, uid: 1000, gid: 1001, mtime, pax: { 'SCHILY.xattr.user.k': 'v' } },
      { name: 'tmp/', type: 'directory', mode: 0o1777, mtime },
      { name: 'sh', type: 'symlink', linkname: 'bin/su', uid: 5, gid: 6, mtime },
      { name: 'hard', type: 'link', linkname: 'bin/su' },
      { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666, mtime },
      { name: 'dev/sda', type: 'block-device', devmajor: 8, devminor: 0, mode: 0o660, gid: 6, mtime },
      { name: 'fifo', type: 'fifo', mode: 0o600, mtime },
    ]);
    const r = await applyLayer(bufferStream(tar), s.dest);
    assert.equal(r.diffID, sha(tar));
    assert.equal(r.tarSize, tar.length);
    assert.equal(r.size, 3 + 4 + 300_000 + 'bin/su'.length);
    const t = describeTree(s.dest);
    assert.match(t['bin/su'], /^mode=104755 own=0:0 mtime=1500000000 /);
    assert.match(t['bin/ping'], new RegExp(`security.capability=${CAP_V2.toString('hex')}`));
    assert.match(t['home/u/file'], /^mode=100640 own=1000:1001 mtime=1500000000 300000:.*user\.k=76/);
    assert.match(t['tmp'], /^mode=41777 own=0:0 mtime=1500000000/);
    assert.match(t['bin'], /mtime=1500000000/, 'directory mtime set after its content');
    assert.match(t['sh'], /^mode=120777 own=5:6 mtime=1500000000 -> bin\/su/);
    assert.match(t['hard'], /=link\(bin\/su\)/);
    assert.match(t['dev/null'], /^mode=20666 .*rdev=259/);
    assert.match(t['dev/sda'], /^mode=60660 own=0:6 .*rdev=2048/);
    assert.match(t['fifo'], /^mode=10600 /);
    assert.match(t['home'], /^mode=40755 own=0:0/, 'implied parents are 0755 root');
  } finally {
    s.cleanup();
  }
});

test('whiteouts become overlay whiteouts; none mode keeps them as files', async () => {
  const entries = [
    { name: 'etc/', type: 'directory' },
    { name: 'etc/.wh.passwd', uid: 0, gid: 0 },
    { name: 'var/lib/.wh..wh..opq' },
    { name: '.wh..wh.plnk/', type: 'directory' },
    { name: '.wh..wh.plnk/123', data: 'x' },
    { name: '.wh..wh.aufs' },
  ];
  const s = scratch();
  try {
    await applyLayer(bufferStream(await makeTar(entries)), s.dest);
    const st = fs.lstatSync(path.join(s.dest, 'etc/passwd'));
    assert.ok(st.isCharacterDevice());
    assert.equal(st.rdev, 0);
    assert.equal(nativeSys().lgetxattr(path.join(s.dest, 'var/lib'), 'trusted.overlay.opaque')?.toString(), 'y');
    assert.deepEqual(fs.readdirSync(s.dest).sort(), ['etc', 'var']);
    assert.deepEqual(fs.readdirSync(path.join(s.dest, 'var/lib')), []);

    const none = path.join(s.base, 'none');
    fs.mkdirSync(none);
    await extractTar(bufferStream(await makeTar(entries)), none);
    assert.ok(fs.lstatSync(path.join(none, 'etc/.wh.passwd')).isFile());
    assert.ok(fs.lstatSync(path.join(none, 'var/lib/.wh..wh..opq')).isFile());
    assert.ok(fs.lstatSync(path.join(none, '.wh..wh.plnk/123')).isFile());
  } finally {
    s.cleanup();
  }
});

test('gzip and zstd layers: the DiffID is the sha256 of the uncompressed tar', async () => {
  const tar = await makeTar([{ name: 'a', data: 'hello' }, { name: 'b/', type: 'directory' }]);
  for (const kind of ['gzip', 'zstd', 'none'] as const) {
    const packed = await collect(compress(bufferStream(tar), kind));
    if (kind === 'gzip') assert.deepEqual(packed.subarray(0, 2), Buffer.from([0x1f, 0x8b]));
    if (kind === 'zstd') assert.equal(packed.readUInt32BE(0), 0x28b52ffd);
    const s = scratch();
    try {
      let progress = 0;
      const r = await applyLayer(bufferStream(packed), s.dest, { onProgress: (n) => { progress = n; } });
      assert.equal(r.diffID, sha(tar), kind);
      assert.equal(progress, packed.length);
      assert.equal(fs.readFileSync(path.join(s.dest, 'a'), 'utf8'), 'hello');
    } finally {
      s.cleanup();
    }
  }
});

test('a corrupt zstd layer is invalid-argument and its process is gone', async () => {
  const tar = await makeTar([{ name: 'a', data: 'x'.repeat(100_000) }]);
  const z = await collect(compress(bufferStream(tar), 'zstd'));
  const bad = Buffer.concat([z.subarray(0, 40), Buffer.alloc(200, 0x55)]);
  const s = scratch();
  try {
    await assert.rejects(applyLayer(bufferStream(bad), s.dest), (err: unknown) => kindOf(err) === 'invalid-argument');
  } finally {
    s.cleanup();
  }
});

test('abort rejects with the signal reason', async () => {
  const s = scratch();
  try {
    const ac = new AbortController();
    const tar = await makeTar([{ name: 'a', data: 'x' }]);
    ac.abort(new Error('stop'));
    await assert.rejects(applyLayer(bufferStream(tar), s.dest, { signal: ac.signal }), /stop/);
  } finally {
    s.cleanup();
  }
});

test('abort while the source has sent nothing yet rejects with the reason and raises no stray error', async () => {
  // A pull whose client leaves while a layer waits for its first bytes: the abort came
  // before the stages were piped, and a stage destroyed with no reader crashed the daemon.
  const s = scratch();
  const stray: unknown[] = [];
  const onStray = (err: unknown) => stray.push(err);
  process.on('uncaughtException', onStray);
  try {
    const ac = new AbortController();
    const silent = new PassThrough();
    const applied = applyLayer(silent, s.dest, { signal: ac.signal });
    const keepAlive = setTimeout(() => undefined, 1000);
    await new Promise((r) => setTimeout(r, 20)); // applyLayer now waits for the first bytes
    ac.abort(new Error('client went away'));
    clearTimeout(keepAlive);
    await assert.rejects(applied, /client went away/);
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(stray, []);
    assert.ok(silent.destroyed, 'the source is released');
  } finally {
    process.off('uncaughtException', onStray);
    s.cleanup();
  }
});

/** An upper dir with every kind of node, whiteouts and an opaque dir. */
function buildUpper(root: string): void {
  const sys = nativeSys();
  fs.mkdirSync(path.join(root, 'etc/sub'), { recursive: true });
  fs.writeFileSync(path.join(root, 'etc/hosts'), 'h');
  fs.writeFileSync(path.join(root, 'etc/big'), Buffer.alloc(1_000_003, 7));
  fs.linkSync(path.join(root, 'etc/hosts'), path.join(root, 'etc/hosts2'));
  fs.chownSync(path.join(root, 'etc/hosts'), 12, 34);
  fs.chmodSync(path.join(root, 'etc/hosts'), 0o2751);
  fs.symlinkSync('../nowhere', path.join(root, 'etc/link'));
  fs.lchownSync(path.join(root, 'etc/link'), 7, 8);
  sys.mknod(path.join(root, 'etc/gone'), S_IFCHR, 0, 0); // whiteout
  fs.chownSync(path.join(root, 'etc/gone'), 0, 0);
  sys.mknod(path.join(root, 'etc/tty'), S_IFCHR | 0o620, 4, 1);
  sys.lsetxattr(path.join(root, 'etc/sub'), 'trusted.overlay.opaque', Buffer.from('y'), 0);
  sys.lsetxattr(path.join(root, 'etc/hosts'), 'user.note', Buffer.from([0xff, 0x00, 0x80]), 0);
  sys.lsetxattr(path.join(root, 'etc/big'), 'security.capability', CAP_V2, 0);
  fs.writeFileSync(path.join(root, 'etc/sub/ünïcode-' + 'n'.repeat(120)), 'u');
  for (const p of ['etc/sub', 'etc', '']) fs.utimesSync(path.join(root, p), 1_400_000_000, 1_400_000_000);
}

test('round trip: apply(diffUpperDir(x)) reproduces x, deterministically', async () => {
  const s = scratch();
  try {
    const x = path.join(s.base, 'x');
    fs.mkdirSync(x);
    buildUpper(x);
    const tar = await collect(diffUpperDir(x));
    const listed = await names(tar);
    assert.ok(listed.includes('file:etc/.wh.gone'), listed.join());
    assert.ok(listed.indexOf('file:etc/sub/.wh..wh..opq') === listed.indexOf('directory:etc/sub/') + 1);
    assert.ok(listed.includes('link:etc/hosts2'));
    const r = await applyLayer(bufferStream(tar), s.dest);
    assert.equal(r.diffID, sha(tar));
    // a whiteout is made when the layer is applied: its own mtime is the apply's (as Docker's)
    const noWhiteoutTime = (t: Record<string, string>) =>
      Object.fromEntries(Object.entries(t).map(([k, v]) => [k, v.startsWith('mode=20000 ') ? v.replace(/ mtime=\d+/, '') : v]));
    assert.deepEqual(noWhiteoutTime(describeTree(s.dest)), noWhiteoutTime(describeTree(x)));
    const again = await collect(diffUpperDir(s.dest));
    assert.equal(sha(again), sha(tar), 'same content, same DiffID');
  } finally {
    s.cleanup();
  }
});

test('tarDirectory: includeRoot, filter, no whiteout translation, single file', async () => {
  const s = scratch();
  try {
    const x = path.join(s.base, 'x');
    fs.mkdirSync(x);
    buildUpper(x);
    const tar = await collect(tarDirectory(path.join(x, 'etc'), { includeRoot: 'copy', filter: (p) => p !== 'big' }));
    const listed = await names(tar);
    assert.equal(listed[0], 'directory:copy/');
    assert.ok(listed.includes('character-device:copy/gone'));
    assert.ok(!listed.some((n) => n.includes('big') || n.includes('.wh.')));
    const one = await names(await collect(tarDirectory(path.join(x, 'etc/hosts'))));
    assert.deepEqual(one, ['file:hosts']);
    const gz = zlib.gunzipSync(await collect(compress(tarDirectory(x), 'gzip')));
    assert.equal(sha(gz), sha(await collect(tarDirectory(x))));
  } finally {
    s.cleanup();
  }
});
