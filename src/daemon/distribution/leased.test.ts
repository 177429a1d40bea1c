import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { LocalContentStore } from '../../engine/content';
import { LeaseManager, gcMigrations } from '../../engine/gc';
import { MetadataDB } from '../../engine/metadata';
import { dropLease, leasedStore } from './leased';

const sha = (b: Buffer) => 'sha256:' + createHash('sha256').update(b).digest('hex');

test('a failed pull drops its lease, its partial downloads and the blobs only it held, at once', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'stevedore-leased-'));
  const db = MetadataDB.open(path.join(root, 'metadata.db'), gcMigrations, { reserveBytes: 0 });
  try {
    const content = new LocalContentStore(root);
    const leases = new LeaseManager(db);
    const failed = leases.create({ expiresAt: new Date(Date.now() + 24 * 3600_000) });
    const other = leases.create({ expiresAt: new Date(Date.now() + 24 * 3600_000) });
    const mine = Buffer.from('only the failed pull has this');
    const shared = Buffer.from('another pull has this too');
    const store = leasedStore(content, leases, failed);
    await store.put(mine, sha(mine));
    await store.put(shared, sha(shared));
    await leasedStore(content, leases, other).put(shared, sha(shared));
    // a download cut short: its partial data stays in the ingest area
    const big = Buffer.alloc(4096, 7);
    await assert.rejects(store.ingest('pull-layer', Readable.from([big.subarray(0, 1000)]), { digest: sha(big), size: big.length }), /truncated/);
    assert.equal(await content.ingestOffset('pull-layer'), 1000);

    await dropLease(content, leases, failed, { freeHeld: true });
    assert.deepEqual(leases.list().map((l) => l.id), [other.id]);
    assert.equal(await content.ingestOffset('pull-layer'), 0, 'partial download removed');
    assert.equal(await content.exists(sha(mine)), false, 'unreferenced blob removed');
    assert.equal(await content.exists(sha(shared)), true, 'blob another pull holds kept');

    // a pull that succeeded only drops its lease (the image holds what it needs)
    await dropLease(content, leases, other, { freeHeld: false });
    assert.equal(await content.exists(sha(shared)), true);
    assert.deepEqual(leases.list(), []);
  } finally {
    db.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
});
