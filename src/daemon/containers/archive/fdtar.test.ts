/**
 * fdtar.ts without a container: what the extractor writes (content, owners, modes,
 * times, links, replacements, Docker's noOverwriteDirNonDir) — and what the archiver
 * reads back. Needs root (chown, mknod).
 */
import { after, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { encodeHeader, END_OF_ARCHIVE, paddingFor, type TarHeader } from '../../../engine/archive/tarheader';
import { extractAt, tarAt } from './fdtar';
import { closeQuietly, viewNative } from './rootview';

function tar(entries: Array<TarHeader & { data?: string }>): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const data = Buffer.from(e.data ?? '');
    parts.push(encodeHeader({ ...e, size: e.type === 'file' ? data.length : 0 }));
    if (e.type === 'file' && data.length > 0) parts.push(data, paddingFor(data.length));
  }
  parts.push(END_OF_ARCHIVE);
  return Buffer.concat(parts);
}

const file = (name: string, data: string, extra: Partial<TarHeader> = {}): TarHeader & { data: string } => ({ name, type: 'file', mode: 0o644, uid: 0, gid: 0, size: 0, mtime: 1_000_000_000, data, ...extra });
const dir = (name: string, extra: Partial<TarHeader> = {}): TarHeader => ({ name, type: 'directory', mode: 0o755, uid: 0, gid: 0, size: 0, mtime: 1_000_000_000, ...extra });

async function extract(dest: string, t: Buffer, o: { noOverwriteDirNonDir?: boolean; chown?: { uid: number; gid: number }} = {}): Promise<void> {
  const fd = fs.openSync(dest, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  try {
    await extractAt(viewNative(), fd, Readable.from([t]), o);
  } finally {
    closeQuietly(fd);
  }
}

describe('fd extractor and archiver', { skip: process.getuid?.() !== 0 ? 'needs root' : false }, () => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'stv-fdtar-'));
  after(() => fs.rmSync(base, { recursive: true, force: true }));
  let n = 0;
  const fresh = () => {
    const d = path.join(base, `d${n++}`);
    fs.mkdirSync(d);
    return d;
  };

  {
    it('writes content, owners, modes and times as the archive says', async () => {
      const d = fresh();
      const many = Array.from({ length: 100 }, (_, i) => file(`many/f${i}`, `content ${i}\n`));
      await extract(d, tar([
        dir('a', { mode: 0o750, uid: 7, gid: 8, mtime: 1_200_000_000 }),
        file('a/owned', 'x', { uid: 1000, gid: 1001, mode: 0o600 }),
        file('a/suid', '#!/bin/sh\n', { mode: 0o4755, uid: 5, gid: 5 }),
        file('a/sticky', 'y', { mode: 0o1777 }),
        { name: 'a/link', type: 'symlink', linkname: '/etc/passwd', mode: 0o777, uid: 3, gid: 3, size: 0, mtime: 1_100_000_000 },
        { name: 'a/hard', type: 'link', linkname: 'a/owned', mode: 0o600, uid: 0, gid: 0, size: 0, mtime: 1 },
        { name: 'a/fifo', type: 'fifo', mode: 0o640, uid: 2, gid: 2, size: 0, mtime: 1_000_000_000 },
        ...many,
      ]));
      const st = (p: string) => fs.lstatSync(path.join(d, p));
      assert.equal(st('a').mode & 0o7777, 0o750);
      assert.deepEqual([st('a').uid, st('a').gid, st('a').mtimeMs / 1000], [7, 8, 1_200_000_000]);
      assert.deepEqual([st('a/owned').uid, st('a/owned').gid, st('a/owned').mode & 0o7777], [1000, 1001, 0o600]);
      assert.equal(st('a/suid').mode & 0o7777, 0o4755); // chown before chmod: the setuid bit stays
      assert.equal(st('a/sticky').mode & 0o7777, 0o1777); // not taken off by the umask
      assert.equal(fs.readlinkSync(path.join(d, 'a/link')), '/etc/passwd');
      assert.deepEqual([st('a/link').uid, st('a/link').mtimeMs / 1000], [3, 1_100_000_000]);
      assert.equal(st('a/hard').ino, st('a/owned').ino);
      assert.ok(st('a/fifo').isFIFO());
      assert.equal(st('a/fifo').mode & 0o7777, 0o640);
      for (let i = 0; i < 100; i++) {
        assert.equal(fs.readFileSync(path.join(d, `many/f${i}`), 'utf8'), `content ${i}\n`);
        assert.equal(st(`many/f${i}`).mtimeMs, 1_000_000_000_000);
      }
      // the archiver reads it back the same way
      const fd = fs.openSync(d, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
      let out: Buffer;
      try {
        out = await buffer(tarAt(viewNative(), fd, 'a', { rebase: 'a' }));
      } finally {
        closeQuietly(fd);
      }
      const listing = execFileSync('tar', ['-tv', '--numeric-owner'], { input: out }).toString();
      // names sorted: the first of the two hard links is the file, the other links to it
      assert.match(listing, /^-rw------- 1000\/1001 +1 .* a\/hard$/m);
      assert.match(listing, /^hrw------- 1000\/1001 +0 .* a\/owned link to a\/hard$/m);
      assert.match(listing, /^lrwxrwxrwx 3\/3 .* a\/link -> \/etc\/passwd$/m);
      assert.match(listing, /^drwxr-x--- 7\/8 .* a\/$/m);
    });

    it('replaces what is there, and keeps the last of a name', async () => {
      const d = fresh();
      fs.mkdirSync(path.join(d, 'wasdir/sub'), { recursive: true });
      fs.writeFileSync(path.join(d, 'wasdir/sub/x'), 'old');
      fs.writeFileSync(path.join(d, 'existing'), 'old');
      fs.symlinkSync('/etc/shadow', path.join(d, 'wasLink'));
      await extract(d, tar([file('existing', 'new'), file('wasLink', 'plain'), file('twice', 'first'), file('twice', 'second'), file('wasdir', 'now a file')]));
      assert.equal(fs.readFileSync(path.join(d, 'existing'), 'utf8'), 'new');
      assert.ok(fs.lstatSync(path.join(d, 'wasLink')).isFile());
      assert.equal(fs.readFileSync(path.join(d, 'wasLink'), 'utf8'), 'plain');
      assert.equal(fs.readFileSync(path.join(d, 'twice'), 'utf8'), 'second');
      assert.equal(fs.readFileSync(path.join(d, 'wasdir'), 'utf8'), 'now a file');
    });
  }

  it("refuses Docker's noOverwriteDirNonDir cases and links on the way", async () => {
    const d = fresh();
    fs.mkdirSync(path.join(d, 'dir'));
    fs.writeFileSync(path.join(d, 'file'), 'f');
    fs.symlinkSync('/', path.join(d, 'up'));
    await assert.rejects(extract(d, tar([file('dir', 'x')]), { noOverwriteDirNonDir: true }), /cannot overwrite directory/);
    await assert.rejects(extract(d, tar([dir('file')]), { noOverwriteDirNonDir: true }), /cannot overwrite non-directory/);
    await assert.rejects(extract(d, tar([file('up/etc/stevedore-fdtar-test', 'x')])), /symbolic link/);
    await assert.rejects(extract(d, tar([file('../escape', 'x')])), /outside the destination/);
    assert.ok(!fs.existsSync('/etc/stevedore-fdtar-test'));
  });

  it('owns every node by copyUIDGID when asked', async () => {
    const d = fresh();
    await extract(d, tar([dir('o', { uid: 1 }), file('o/f', 'x', { uid: 2, gid: 2 })]), { chown: { uid: 4242, gid: 4343 } });
    for (const p of ['o', 'o/f']) {
      const st = fs.lstatSync(path.join(d, p));
      assert.deepEqual([st.uid, st.gid], [4242, 4343]);
    }
  });

  it('fails a truncated archive', async () => {
    const d = fresh();
    const whole = tar([file('big', 'y'.repeat(5000))]);
    await assert.rejects(extract(d, whole.subarray(0, 2048)));
  });
});
