import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import * as zlib from 'node:zlib';
import { kindOf } from '../errdefs';
import { applyLayer, extractTar } from './apply';
import { bufferStream, escaped, makeTar, scratch, type RawEntry } from './testkit';

/** Applies `entries` and asserts: rejected as invalid-argument with `message`, nothing outside dest. */
async function refused(entries: RawEntry[], message: RegExp, mode: 'overlay' | 'none' = 'overlay'): Promise<void> {
  const s = scratch();
  try {
    const tar = await makeTar(entries);
    await assert.rejects(applyLayer(bufferStream(tar), s.dest, { whiteouts: mode }), (err: unknown) => {
      assert.equal(kindOf(err), 'invalid-argument', String(err));
      assert.match((err as Error).message, message);
      return true;
    });
    assert.deepEqual(escaped(s), []);
  } finally {
    s.cleanup();
  }
}

test('an absolute name is stripped to a relative one and lands inside dest (as Docker)', async () => {
  const s = scratch();
  try {
    const tar = await makeTar([{ name: '/etc/x', data: 'hi' }, { name: '/', type: 'directory' }]);
    await applyLayer(bufferStream(tar), s.dest);
    assert.equal(fs.readFileSync(path.join(s.dest, 'etc/x'), 'utf8'), 'hi');
    assert.deepEqual(escaped(s), []);
  } finally {
    s.cleanup();
  }
});

test('".." components are refused', async () => {
  await refused([{ name: '../../x', data: 'x' }], /outside the destination/);
  await refused([{ name: 'a/../../sentinel/x', data: 'x' }], /outside the destination/);
  await refused([{ name: '../sentinel/keep', data: 'x' }], /outside the destination/, 'none');
});

test('writing through a symlink planted by an earlier entry is refused', async () => {
  await refused([{ name: 'a', type: 'symlink', linkname: '/etc' }, { name: 'a/passwd', data: 'root::0:0' }], /symbolic link "a"/);
  await refused([{ name: 'a', type: 'symlink', linkname: '../..' }, { name: 'a/x', data: 'x' }], /symbolic link "a"/);
  await refused(
    [{ name: 'a', type: 'symlink', linkname: '../sentinel' }, { name: 'a/keep', type: 'directory' }],
    /symbolic link "a"/,
    'none',
  );
  await refused([{ name: 'd/', type: 'directory' }, { name: 'd/l', type: 'symlink', linkname: '/' }, { name: 'd/l/x', data: '' }], /symbolic link "d\/l"/);
});

test('a symlink whose own name is reused is replaced, never followed', async () => {
  const s = scratch();
  try {
    const target = path.join(s.sentinel, 'keep');
    const tar = await makeTar([
      { name: 'l', type: 'symlink', linkname: target },
      { name: 'l', data: 'overwritten?' },
      { name: 'm', type: 'symlink', linkname: s.sentinel },
      { name: 'm', type: 'directory', mode: 0o700 },
    ]);
    const modeBefore = fs.statSync(s.sentinel).mode;
    await applyLayer(bufferStream(tar), s.dest);
    assert.equal(fs.statSync(s.sentinel).mode, modeBefore);
    assert.equal(fs.readFileSync(target, 'utf8'), 'keep');
    assert.equal(fs.readFileSync(path.join(s.dest, 'l'), 'utf8'), 'overwritten?');
    assert.ok(fs.lstatSync(path.join(s.dest, 'm')).isDirectory());
    assert.deepEqual(escaped(s), []);
  } finally {
    s.cleanup();
  }
});

test('hard links to outside targets are refused', async () => {
  await refused([{ name: 'p', type: 'link', linkname: '/etc/passwd' }], /hard link .*not found/);
  await refused([{ name: 'p', type: 'link', linkname: '../x' }], /outside the destination/);
  await refused(
    [{ name: 'a', type: 'symlink', linkname: '/etc' }, { name: 'p', type: 'link', linkname: 'a/passwd' }],
    /symbolic link "a"/,
  );
  await refused([{ name: 'd', type: 'directory' }, { name: 'p', type: 'link', linkname: 'd' }], /target is a directory/);
});

test('whiteouts that name nothing are refused', async () => {
  await refused([{ name: '.wh.', data: '' }], /names no file/);
  await refused([{ name: 'd/.wh..', data: '' }], /names no file/);
  await refused([{ name: '.wh...', data: '' }], /names no file/);
  await refused([{ name: '.wh../../x', data: '' }], /outside the destination/);
  await refused([{ name: '.wh.x/y', data: '' }], /cannot be a directory/);
});

test('overlay xattrs from a layer are refused', async () => {
  await refused([{ name: 'd', type: 'directory', pax: { 'SCHILY.xattr.trusted.overlay.opaque': 'y' } }], /reserved xattr trusted\.overlay\.opaque/);
  await refused([{ name: 'f', data: 'x', pax: { 'SCHILY.xattr.trusted.overlay.redirect': '/etc' } }], /reserved xattr/, 'none');
});

test('a decompression bomb stops at the byte limit', async () => {
  const s = scratch();
  try {
    // a gzip of 64 MiB of zeros inside a 1 GiB file entry, made as a stream
    const header = await makeTar([{ name: 'big', data: Buffer.alloc(0) }]);
    const h = Buffer.from(header.subarray(0, 512));
    h.write((1024 ** 3).toString(8).padStart(11, '0') + '\0', 124, 'ascii');
    h.fill(0x20, 148, 156);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
    async function* zeros() {
      yield h;
      for (let i = 0; i < 64 * 16; i++) yield Buffer.alloc(64 * 1024);
    }
    const gz = Readable.from(zeros(), { objectMode: false }).pipe(zlib.createGzip({ level: 1 }));
    await assert.rejects(applyLayer(gz, s.dest, { limits: { maxBytes: 16 * 1024 ** 2 } }), (err: unknown) => {
      assert.equal(kindOf(err), 'invalid-argument');
      assert.match((err as Error).message, /limit of 16777216 uncompressed bytes/);
      return true;
    });
    assert.deepEqual(escaped(s), []);
  } finally {
    s.cleanup();
  }
});

test('too many entries are refused', async () => {
  const entries = Array.from({ length: 20 }, (_, i) => ({ name: `f${i}`, data: '' }));
  const s = scratch();
  try {
    await assert.rejects(extractTar(bufferStream(await makeTar(entries)), s.dest, { limits: { maxEntries: 10 } }), (err: unknown) => {
      assert.equal(kindOf(err), 'invalid-argument');
      assert.match((err as Error).message, /more than 10 entries/);
      return true;
    });
  } finally {
    s.cleanup();
  }
});

test('corrupt and truncated archives are invalid-argument', async () => {
  const s = scratch();
  try {
    const tar = await makeTar([{ name: 'f', data: Buffer.alloc(4096, 1) }]);
    for (const bad of [tar.subarray(0, 1000), Buffer.concat([Buffer.alloc(512, 7)]), zlib.gzipSync(tar).subarray(0, 100)]) {
      await assert.rejects(applyLayer(bufferStream(bad), s.dest), (err: unknown) => kindOf(err) === 'invalid-argument');
    }
  } finally {
    s.cleanup();
  }
});

test('cross-layer: a symlink to / in layer 1 cannot redirect layer 2', async () => {
  const s = scratch();
  try {
    const dir1 = path.join(s.dest, 'l1');
    const dir2 = path.join(s.dest, 'l2');
    fs.mkdirSync(dir1);
    fs.mkdirSync(dir2);
    await applyLayer(bufferStream(await makeTar([{ name: 'a', type: 'symlink', linkname: '/' }])), dir1);
    await applyLayer(bufferStream(await makeTar([{ name: 'a/evil', data: 'evil' }])), dir2);
    assert.equal(fs.readlinkSync(path.join(dir1, 'a')), '/');
    assert.equal(fs.readFileSync(path.join(dir2, 'a/evil'), 'utf8'), 'evil');
    assert.ok(!fs.existsSync('/evil'));
    assert.deepEqual(escaped(s), []);
  } finally {
    s.cleanup();
  }
});

test('noOverwriteDirNonDir refuses to replace a directory by a file', async () => {
  const s = scratch();
  try {
    fs.mkdirSync(path.join(s.dest, 'd'));
    await assert.rejects(extractTar(bufferStream(await makeTar([{ name: 'd', data: 'x' }])), s.dest, { noOverwriteDirNonDir: true }), /cannot overwrite directory/);
    assert.ok(fs.statSync(path.join(s.dest, 'd')).isDirectory());
  } finally {
    s.cleanup();
  }
});
