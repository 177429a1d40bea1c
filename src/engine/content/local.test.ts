import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { kindOf } from '../errdefs';
import { LocalContentStore, validateDigest } from './index';

let root: string;
let store: LocalContentStore;

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'stevedore-content-'));
  store = new LocalContentStore(root);
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

const sha = (b: Buffer | string) => 'sha256:' + createHash('sha256').update(b).digest('hex');
const blob = Buffer.from('hello, content store\n'.repeat(1000));

async function* chunks(b: Buffer, size = 1000): AsyncIterable<Buffer> {
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

async function collect(r: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

async function rejectsKind(p: Promise<unknown>, kind: string, re?: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.equal(kindOf(err), kind, String(err));
    if (re) assert.match((err as Error).message, re);
    return true;
  });
}

function ingestDirs(): string[] {
  const d = path.join(root, 'content/ingest');
  return fs.existsSync(d) ? fs.readdirSync(d) : [];
}

test('a good blob is committed read-only and readable', async () => {
  const d = sha(blob);
  const progress: number[] = [];
  const info = await store.ingest('ref-1', chunks(blob), { digest: d, size: blob.length }, { onProgress: (n) => progress.push(n) });
  assert.equal(info.digest, d);
  assert.equal(info.size, blob.length);
  assert.equal(progress.at(-1), blob.length);
  const file = path.join(root, 'content/blobs/sha256', d.slice(7));
  assert.equal(fs.statSync(file).mode & 0o777, 0o444);
  assert.deepEqual(await store.readAll(d), blob);
  assert.deepEqual(await collect(await store.reader(d, { start: 5 })), blob.subarray(5));
  assert.equal(await store.exists(d), true);
  assert.equal((await store.info(d)).size, blob.length);
  assert.deepEqual(ingestDirs(), []);
  assert.equal(await store.ingestOffset('ref-1'), 0);
});

test('wrong digest removes the partial data and throws invalid-argument', async () => {
  await rejectsKind(store.ingest('r', chunks(blob), { digest: sha('other') }), 'invalid-argument', /digest mismatch/);
  assert.deepEqual(ingestDirs(), []);
  assert.equal(await store.exists(sha('other')), false);
  assert.equal(await store.exists(sha(blob)), false);
});

test('too many bytes for the expected size fails early and removes the partial data', async () => {
  await rejectsKind(store.ingest('r', chunks(blob), { digest: sha(blob), size: 10 }), 'invalid-argument', /more than the expected 10/);
  assert.deepEqual(ingestDirs(), []);
});

test('a wrong size for an already committed blob is rejected', async () => {
  await store.put(blob);
  await rejectsKind(store.ingest('r', chunks(blob), { digest: sha(blob), size: 3 }), 'invalid-argument', /unexpected size/);
});

test('a truncated stream is rejected, keeps its partial data and resumes', async () => {
  const half = Math.floor(blob.length / 2) + 7;
  await rejectsKind(
    store.ingest('r', chunks(blob.subarray(0, half)), { digest: sha(blob), size: blob.length }),
    'invalid-argument',
    /truncated: received \d+ of \d+ bytes/,
  );
  assert.equal(await store.exists(sha(blob)), false);
  assert.equal(await store.ingestOffset('r'), half);
  const info = await store.ingest('r', chunks(blob.subarray(half)), { digest: sha(blob), size: blob.length });
  assert.equal(info.size, blob.length);
  assert.deepEqual(await store.readAll(sha(blob)), blob);
});

test('a truncated stream without a known size fails the digest check', async () => {
  await rejectsKind(store.ingest('r', chunks(blob.subarray(0, 100)), { digest: sha(blob) }), 'invalid-argument', /digest mismatch/);
  assert.deepEqual(ingestDirs(), []);
});

test('resume after a failed source re-hashes the existing bytes', async () => {
  const cut = 4321;
  async function* failing(): AsyncIterable<Buffer> {
    yield blob.subarray(0, cut);
    throw new Error('connection reset');
  }
  await assert.rejects(store.ingest('r', failing(), { digest: sha(blob), size: blob.length }), /connection reset/);
  assert.equal(await store.ingestOffset('r'), cut);
  // the hash must include the bytes already on disk: a resume with only the tail succeeds
  const info = await store.ingest('r', Readable.from(chunks(blob.subarray(cut))), { digest: sha(blob), size: blob.length });
  assert.equal(info.digest, sha(blob));
  assert.deepEqual(await store.readAll(sha(blob)), blob);
});

test('an aborted ingest keeps its partial data', async () => {
  const ac = new AbortController();
  async function* slow(): AsyncIterable<Buffer> {
    yield blob.subarray(0, 100);
    ac.abort(new Error('stop'));
    yield blob.subarray(100, 200);
  }
  await assert.rejects(store.ingest('r', slow(), { digest: sha(blob) }, { signal: ac.signal }), /stop/);
  assert.equal(await store.ingestOffset('r'), 100);
  await store.abort('r');
  assert.equal(await store.ingestOffset('r'), 0);
  assert.deepEqual(ingestDirs(), []);
});

test('concurrent ingests of the same ref do not corrupt each other', async () => {
  const d = sha(blob);
  const results = await Promise.all([
    store.ingest('same', chunks(blob, 77), { digest: d, size: blob.length }),
    store.ingest('same', chunks(blob, 131), { digest: d, size: blob.length }),
    store.ingest('other', chunks(blob, 999), { digest: d, size: blob.length }),
  ]);
  for (const r of results) assert.equal(r.digest, d);
  assert.deepEqual(await store.readAll(d), blob);
  assert.deepEqual(ingestDirs(), []);
});

test('an already committed blob returns its info and does not read the source', async () => {
  const info = await store.put(blob);
  let pulled = 0;
  const src = new Readable({ read() { pulled++; this.push(blob); } });
  const again = await store.ingest('x', src, { digest: info.digest, size: blob.length });
  assert.equal(again.digest, info.digest);
  assert.equal(pulled, 0);
  assert.equal(src.destroyed, true);
});

test('malformed digests are rejected before touching the disk', async () => {
  const bad = [
    'sha256:../../x',
    'sha256:' + 'A'.repeat(64),
    'sha256:abc',
    'sha256:' + 'a'.repeat(65),
    'md5:' + 'a'.repeat(32),
    'sha256:' + 'a'.repeat(63) + '/',
    '',
  ];
  for (const d of bad) {
    assert.throws(() => validateDigest(d), (e: unknown) => kindOf(e) === 'invalid-argument');
    await rejectsKind(store.info(d), 'invalid-argument');
    await rejectsKind(store.exists(d), 'invalid-argument');
    await rejectsKind(store.reader(d), 'invalid-argument');
    await rejectsKind(store.readAll(d), 'invalid-argument');
    await rejectsKind(store.delete(d), 'invalid-argument');
    await rejectsKind(store.put(blob, d), 'invalid-argument');
    await rejectsKind(store.ingest('r', chunks(blob), { digest: d }), 'invalid-argument');
  }
  assert.deepEqual(fs.readdirSync(root), []);
  assert.equal(validateDigest(sha('x')), sha('x'));
  assert.equal(validateDigest('sha512:' + 'b'.repeat(128)), 'sha512:' + 'b'.repeat(128));
});

test('put verifies the expected digest; missing blobs are not-found', async () => {
  await rejectsKind(store.put(blob, sha('nope')), 'invalid-argument', /mismatch/);
  const info = await store.put(blob, sha(blob));
  assert.equal(info.size, blob.length);
  assert.deepEqual(ingestDirs(), []);
  const missing = sha('missing');
  await rejectsKind(store.info(missing), 'not-found', new RegExp(`content digest ${missing} not found`));
  await rejectsKind(store.reader(missing), 'not-found');
  await rejectsKind(store.delete(missing), 'not-found');
});

test('readAll refuses blobs larger than maxSize', async () => {
  const info = await store.put(blob);
  await rejectsKind(store.readAll(info.digest, { maxSize: 100 }), 'invalid-argument', /larger than/);
});

test('list and delete', async () => {
  const a = await store.put(Buffer.from('a'));
  const b = await store.put(Buffer.from('b'));
  fs.writeFileSync(path.join(root, 'content/blobs/sha256/not-a-digest'), 'x');
  const listed: string[] = [];
  for await (const i of store.list()) listed.push(i.digest);
  assert.deepEqual(listed.sort(), [a.digest, b.digest].sort());
  await store.delete(a.digest);
  assert.equal(await store.exists(a.digest), false);
  assert.equal(await store.exists(b.digest), true);
});

test('recover removes ingest dirs that cannot be resumed and keeps the rest', async () => {
  await assert.rejects(store.ingest('keep', chunks(blob.subarray(0, 10)), { digest: sha(blob), size: blob.length }));
  const ingest = path.join(root, 'content/ingest');
  fs.mkdirSync(path.join(ingest, 'no-ref-file'));
  const putLeftover = path.join(ingest, createHash('sha256').update('put:abc').digest('hex'));
  fs.mkdirSync(putLeftover);
  fs.writeFileSync(path.join(putLeftover, 'ref'), 'put:abc');
  fs.writeFileSync(path.join(putLeftover, 'data'), 'x');
  assert.equal(await store.recover(), 2);
  assert.equal(await store.ingestOffset('keep'), 10);
  const refs: string[] = [];
  for await (const s of store.listIngests()) refs.push(s.ref);
  assert.deepEqual(refs, ['keep']);
});
