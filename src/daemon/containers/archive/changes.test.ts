import { after, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { nativeSys, S_IFCHR } from '../../../engine/sys/native';
import { containerChanges } from './changes';

describe('docker diff over an overlay upper directory', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stv-changes-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('lists deleted, modified and added entries with their parents, as Docker does', () => {
    const lower = path.join(dir, 'lower');
    const upper = path.join(dir, 'upper');
    for (const d of ['etc', 'bin', 'same', 'proc']) fs.mkdirSync(path.join(lower, d), { recursive: true });
    fs.writeFileSync(path.join(lower, 'etc/passwd'), 'root\n');
    fs.writeFileSync(path.join(lower, 'bin/vi'), 'vi');
    // upper: etc/passwd modified, bin/vi deleted (whiteout), new file, same/ copied up unchanged with a new child,
    // and the runtime's empty mount point proc/ (left out)
    for (const d of ['etc', 'bin', 'same', 'proc', 'newdir']) fs.mkdirSync(path.join(upper, d), { recursive: true });
    fs.writeFileSync(path.join(upper, 'etc/passwd'), 'root\nx\n');
    nativeSys().mknod(path.join(upper, 'bin/vi'), S_IFCHR, 0, 0);
    fs.writeFileSync(path.join(upper, 'newdir/f'), 'f');
    fs.writeFileSync(path.join(upper, 'same/child'), 'c');
    const st = fs.statSync(path.join(lower, 'same'));
    fs.chmodSync(path.join(upper, 'same'), st.mode & 0o7777);
    fs.utimesSync(path.join(upper, 'same'), st.atime, st.mtime);
    fs.utimesSync(path.join(upper, 'bin'), new Date(0), new Date(0));
    fs.utimesSync(path.join(upper, 'etc'), new Date(1000), new Date(1000));
    const got = containerChanges([{ type: 'overlay', source: 'overlay', options: [`lowerdir=${lower}`, `upperdir=${upper}`, `workdir=${dir}/work`] }]);
    const sorted = [...got].sort((a, b) => (a.Path < b.Path ? -1 : 1));
    assert.deepEqual(sorted, [
      { Path: '/bin', Kind: 0 },
      { Path: '/bin/vi', Kind: 2 },
      { Path: '/etc', Kind: 0 },
      { Path: '/etc/passwd', Kind: 0 },
      { Path: '/newdir', Kind: 1 },
      { Path: '/newdir/f', Kind: 1 },
      { Path: '/same', Kind: 0 },
      { Path: '/same/child', Kind: 1 },
    ]);
    // every child after its parent; /same is listed only because of its added child, right before it
    const at = (p: string) => got.findIndex((c) => c.Path === p);
    assert.equal(at('/same') + 1, at('/same/child'));
    assert.ok(at('/bin') < at('/bin/vi') && at('/newdir') < at('/newdir/f'));
  });
});
