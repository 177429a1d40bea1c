import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LocalContentStore } from '../content/index';
import { kindOf } from '../errdefs';
import { MetadataDB } from '../metadata/db';
import { OverlaySnapshotter, snapshotMigrations } from '../snapshots/index';
import { GarbageCollector, GcRefs, LeaseManager, gcMigrations } from './index';

let root: string;
let db: MetadataDB;
let content: LocalContentStore;
let sn: OverlaySnapshotter;
let refs: GcRefs;
let leases: LeaseManager;
let gc: GarbageCollector;

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'stevedore-gc-'));
  db = MetadataDB.open(path.join(root, 'metadata.db'), [...snapshotMigrations, ...gcMigrations]);
  content = new LocalContentStore(root);
  sn = new OverlaySnapshotter(root, db);
  refs = new GcRefs(db);
  leases = new LeaseManager(db);
  gc = new GarbageCollector(db, content, sn);
});
afterEach(() => {
  db.close();
  fs.rmSync(root, { recursive: true, force: true });
});

const sha = (s: string) => 'sha256:' + createHash('sha256').update(s).digest('hex');
const later = () => new Date(Date.now() + 60_000);

async function names(): Promise<string[]> {
  const out: string[] = [];
  for await (const s of sn.walk()) out.push(s.name);
  return out.sort();
}

async function partial(ref: string, data: string): Promise<void> {
  async function* failing(): AsyncIterable<Buffer> {
    yield Buffer.from(data);
    throw new Error('cut');
  }
  await assert.rejects(content.ingest(ref, failing(), { digest: sha(data + 'rest') }), /cut/);
}

test('orphan blobs and snapshots are removed, referenced ones and their parents kept', async () => {
  const kept = await content.put(Buffer.from('kept'));
  const orphan = await content.put(Buffer.from('orphan'));
  await sn.prepare('a');
  await sn.commit('base', 'a');
  await sn.prepare('b', 'base');
  await sn.commit('mid', 'b');
  await sn.prepare('c', 'mid');
  await sn.commit('top', 'c');
  await sn.prepare('o1');
  await sn.commit('orphan-base', 'o1');
  await sn.prepare('o2', 'orphan-base'); // an orphan chain: removed child first
  db.tx(() => refs.add({ kind: 'image', id: 'img' }, [{ kind: 'content', id: kept.digest }, { kind: 'snapshot', id: 'top' }]));

  const report = await gc.collect();
  assert.deepEqual(report.removedContent, [orphan.digest]);
  assert.deepEqual(report.removedSnapshots, ['o2', 'orphan-base']);
  assert.deepEqual(await names(), ['base', 'mid', 'top']);
  assert.equal(await content.exists(kept.digest), true);
  assert.equal(await content.exists(orphan.digest), false);
  const dirs = fs.readdirSync(sn.dir).filter((n) => n !== 'l');
  assert.equal(dirs.length, 3);

  refs.removeOwner({ kind: 'image', id: 'img' });
  const second = await gc.collect();
  assert.deepEqual(second.removedSnapshots, ['top', 'mid', 'base']);
  assert.deepEqual(second.removedContent, [kept.digest]);
  assert.deepEqual(fs.readdirSync(sn.dir), ['l']);
});

test('a leased in-flight ingest and leased resources are kept; expired leases are not', async () => {
  await partial('leased', 'abc');
  await partial('unleased', 'def');
  const blob = await content.put(Buffer.from('pulled'));
  await sn.prepare('extract');
  const lease = leases.create();
  leases.addResource(lease.id, { kind: 'ingest', id: 'leased' });
  leases.addResource(lease.id, { kind: 'content', id: blob.digest });
  leases.addResource(lease.id, { kind: 'snapshot', id: 'extract' });
  const gone = leases.create({ expiresAt: new Date(Date.now() - 1000) });
  leases.addResource(gone.id, { kind: 'ingest', id: 'unleased' });

  // an ingest being written right now is never touched, leased or not
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  async function* slow(): AsyncIterable<Buffer> {
    yield Buffer.from('x');
    await gate;
  }
  const running = content.ingest('running', slow(), { digest: sha('x') });

  const report = await gc.collect({ now: later(), ingestGracePeriodMs: 0 });
  assert.deepEqual(report.expiredLeases, [gone.id]);
  assert.deepEqual(report.removedIngests, ['unleased']);
  assert.deepEqual(report.removedContent, []);
  assert.deepEqual(report.removedSnapshots, []);
  assert.equal(await content.ingestOffset('leased'), 3);
  assert.equal(await content.ingestOffset('unleased'), 0);
  assert.equal(await content.ingestOffset('running'), 1);
  release();
  assert.equal((await running).digest, sha('x'));

  // within the grace period an unleased partial survives too
  await partial('fresh', 'ghi');
  const mid = await gc.collect();
  assert.deepEqual(mid.removedIngests, []);
  assert.deepEqual(mid.removedContent, [sha('x')]); // committed by 'running', referenced by nothing
  assert.equal(await content.ingestOffset('fresh'), 3);

  leases.delete(lease.id);
  const after = await gc.collect({ now: later(), ingestGracePeriodMs: 0 });
  assert.deepEqual(after.removedIngests.sort(), ['fresh', 'leased']);
  assert.deepEqual(after.removedSnapshots, ['extract']);
  assert.deepEqual(after.removedContent, [blob.digest]);
});

test('leases: create, conflicts, not-found, withLease, validation', async () => {
  const l = leases.create({ id: 'pull-1', labels: { ref: 'busybox' } });
  assert.equal(l.id, 'pull-1');
  assert.throws(() => leases.create({ id: 'pull-1' }), (e: unknown) => kindOf(e) === 'conflict');
  assert.throws(() => leases.addResource('nope', { kind: 'content', id: sha('a') }), (e: unknown) => kindOf(e) === 'not-found');
  assert.throws(() => leases.addResource('pull-1', { kind: 'content', id: 'sha256:../x' }), (e: unknown) => kindOf(e) === 'invalid-argument');
  leases.addResource('pull-1', { kind: 'snapshot', id: 's' });
  leases.addResource('pull-1', { kind: 'snapshot', id: 's' });
  assert.deepEqual(leases.resources('pull-1'), [{ kind: 'snapshot', id: 's' }]);
  leases.delete('pull-1');
  assert.throws(() => leases.delete('pull-1'), (e: unknown) => kindOf(e) === 'not-found');
  assert.equal(db.raw.prepare('SELECT count(*) FROM gc_refs').pluck().get(), 0);
  let inside = '';
  await leases.withLease(async (lease) => {
    inside = lease.id;
    assert.equal(leases.list().length, 1);
  });
  assert.ok(inside);
  assert.deepEqual(leases.list(), []);
});
