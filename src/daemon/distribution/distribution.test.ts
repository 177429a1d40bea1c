import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { MetadataDB } from '../../engine/metadata/db';
import { DistributionService } from './service';
import { DistributionMetadata } from './metadata';
import { MessageQueue, ProgressThrottle, humanSize, progressBar, progressMessage } from './progress';
import { translatePullError } from './pull';
import { kindOf, unauthorized } from '../../engine/errdefs';

describe('progress messages', () => {
  it('formats sizes and bars as dockerd does', () => {
    assert.equal(humanSize(512), '512B');
    assert.equal(humanSize(32768), '32.77kB');
    assert.equal(humanSize(1048576), '1.049MB');
    assert.equal(progressBar(50, 100), `[${'='.repeat(25)}>${' '.repeat(25)}]      50B/100B`);
    assert.equal(progressBar(100, 100), `[${'='.repeat(50)}>] ` + '    100B/100B');
    assert.deepEqual(progressMessage('abc', 'Pushed'), { status: 'Pushed', progressDetail: {}, id: 'abc' });
  });

  it('throttles byte progress like dockerd: by 1 % (at most 512 KiB), at most every 100 ms, always the end', () => {
    let now = 0;
    const sent: number[] = [];
    const t = new ProgressThrottle(1000, (c) => sent.push(c), { now: () => now });
    t.update(5); // under 1 %
    t.update(20); // first line goes out at once
    t.update(40); // within 100 ms
    now = 150;
    t.update(45); // under 1 % since the last check
    t.update(60);
    t.update(1000); // the end, even within 100 ms
    t.finish();
    assert.deepEqual(sent, [20, 60, 1000]);
    const big: number[] = [];
    const b = new ProgressThrottle(1 << 30, (c) => big.push(c), { now: () => (now += 1000) });
    b.update(512 * 1024); // not more than 512 KiB yet
    b.update(512 * 1024 + 1);
    b.finish();
    assert.deepEqual(big, [512 * 1024 + 1, 1 << 30]);
  });

  it('keeps the order of queued writes and reports a failed write', async () => {
    const out: string[] = [];
    const q = new MessageQueue(async (m) => {
      await new Promise((r) => setTimeout(r, m.status === 'a' ? 5 : 0));
      out.push(m.status!);
    });
    q.push({ status: 'a' });
    q.push({ status: 'b' });
    await q.flush();
    assert.deepEqual(out, ['a', 'b']);
    const bad = new MessageQueue(async () => {
      throw new Error('gone');
    });
    bad.push({ status: 'x' });
    await assert.rejects(bad.flush(), /gone/);
  });
});

describe('references and errors', () => {
  it('takes a tag or a digest from `tag`', () => {
    const d = 'sha256:' + 'a'.repeat(64);
    assert.equal(DistributionService.pullReference('busybox', '').toString(), 'docker.io/library/busybox:latest');
    assert.equal(DistributionService.pullReference('localhost:5000/x', '1').toString(), 'localhost:5000/x:1');
    assert.equal(DistributionService.pullReference('x', d).toString(), `docker.io/library/x@${d}`);
    assert.equal(DistributionService.pullReference(`x@${d}`, undefined).toString(), `docker.io/library/x@${d}`);
    assert.throws(() => DistributionService.pullReference('UPPER', ''), /must be lowercase/);
  });

  it('answers pull access denied as not-found, other unauthorized errors as they are', () => {
    assert.equal(kindOf(translatePullError(unauthorized("pull access denied for x, repository does not exist or may require 'docker login': denied"))), 'not-found');
    assert.equal(kindOf(translatePullError(unauthorized('unauthorized: nope'))), 'unauthorized');
  });
});

describe('DistributionMetadata', () => {
  it('remembers compressed layers and the most recent sources of a blob', () => {
    const db = MetadataDB.open(':memory:');
    try {
      const m = new DistributionMetadata(db);
      new DistributionMetadata(db); // migrations are idempotent
      const diff = 'sha256:' + '1'.repeat(64);
      const desc = { mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: 'sha256:' + '2'.repeat(64), size: 10 };
      assert.equal(m.compressedFor(diff), undefined);
      m.setCompressed(diff, desc);
      assert.deepEqual(m.compressedFor(diff), desc);
      m.forgetCompressed(diff);
      assert.equal(m.compressedFor(diff), undefined);
      for (let i = 0; i < 10; i++) m.addSources([desc.digest], `reg:5000/r${i}`, 1000 + i);
      const s = m.sources(desc.digest);
      assert.equal(s.length, 8);
      assert.equal(s[0], 'reg:5000/r9');
      assert.ok(!s.includes('reg:5000/r0'));
    } finally {
      db.close();
    }
  });
});
