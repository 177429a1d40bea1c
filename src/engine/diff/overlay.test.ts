import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import type { Mount } from '../snapshots/types';
import { EMPTY_TAR_DIGEST, OverlayDiffer, writableDirOf } from './overlay';

/** An ingester that keeps what it is given. */
class MemoryIngester {
  readonly blobs = new Map<string, Buffer>();
  async ingest(ref: string, source: Readable, expected: { digest: string; size?: number }): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of source) chunks.push(c as Buffer);
    const b = Buffer.concat(chunks);
    assert.equal(b.length, expected.size);
    this.blobs.set(`${ref} ${expected.digest}`, b);
  }
}

describe('OverlayDiffer', () => {
  it('finds the writable directory of overlay and bind mounts', () => {
    assert.equal(writableDirOf([{ type: 'overlay', source: 'overlay', options: ['lowerdir=/l', 'upperdir=/u', 'workdir=/w'] }]), '/u');
    assert.equal(writableDirOf([{ type: 'bind', source: '/b', options: ['rbind', 'rw'] }]), '/b');
    assert.throws(() => writableDirOf([{ type: 'overlay', source: 'overlay', options: ['lowerdir=/a:/b'] }]), /not an active snapshot/);
    assert.throws(() => writableDirOf([]), /no mounts/);
  });

  it('compares a writable directory into a layer, leaving out what is excluded; an empty diff writes nothing', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stv-diff-'));
    try {
      const upper = path.join(dir, 'upper');
      fs.mkdirSync(path.join(upper, 'etc'), { recursive: true });
      fs.writeFileSync(path.join(upper, 'etc', 'hosts'), '');
      const content = new MemoryIngester();
      const differ = new OverlayDiffer(content, path.join(dir, 'tmp'));
      const mounts: Mount[] = [{ type: 'bind', source: upper, options: ['rbind', 'rw'] }];
      const seen: string[] = [];
      const empty = await differ.compare(mounts, { ingestRef: 'r0', exclude: () => new Set(['etc', 'etc/hosts']), beforeWrite: (d) => seen.push(d) });
      assert.deepEqual(empty, { digest: EMPTY_TAR_DIGEST, size: 1024, mediaType: 'application/vnd.docker.image.rootfs.diff.tar', empty: true });
      assert.equal(content.blobs.size, 0);
      assert.equal(seen.length, 0);

      fs.writeFileSync(path.join(upper, 'made'), 'new\n');
      const layer = await differ.compare(mounts, { ingestRef: 'r1', exclude: () => new Set(['etc', 'etc/hosts']), beforeWrite: (d, ref) => seen.push(`${ref} ${d}`) });
      assert.equal(layer.empty, false);
      assert.deepEqual(seen, [`r1 ${layer.digest}`]);
      assert.equal(content.blobs.get(`r1 ${layer.digest}`)?.length, layer.size);
      assert.deepEqual(fs.readdirSync(path.join(dir, 'tmp')), [], 'no temporary tar is left');

      // and back: the layer applied to another writable directory gives the same files
      const target = path.join(dir, 'target');
      fs.mkdirSync(target);
      const res = await differ.apply(Readable.from([content.blobs.get(`r1 ${layer.digest}`)!]), [{ type: 'bind', source: target, options: ['rbind', 'rw'] }]);
      assert.equal(res.diffID, layer.digest);
      assert.equal(fs.readFileSync(path.join(target, 'made'), 'utf8'), 'new\n');
      assert.equal(fs.existsSync(path.join(target, 'etc')), false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
