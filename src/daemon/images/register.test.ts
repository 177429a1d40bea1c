import { after, before, beforeEach, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { nullLogger } from '../../engine/log';
import { parseNormalizedNamed } from '../../engine/reference';
import { EventBus } from '../events/bus';
import { IMAGE_LEASE_LABEL, type RegisterProgress } from './register';
import { type ImageStorage, openImageStorage } from './storage';

const sha = (b: Buffer) => 'sha256:' + createHash('sha256').update(b).digest('hex');
type LayerEvent = Parameters<NonNullable<RegisterProgress['onLayer']>>[0];

/** A deferred "this layer's blob is in the store". */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('beginFromContent: unpacking while blobs arrive (overlay; needs root)', () => {
  let dir: string;
  let s: ImageStorage;
  const layers: Array<{ bytes: Buffer; digest: string; diffID: string }> = [];
  let configDigest: string;
  let configBytes: Buffer;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stv-register-'));
    s = await openImageStorage({ dataRoot: path.join(dir, 'root'), execRoot: path.join(dir, 'exec'), events: new EventBus(), log: nullLogger });
    for (let i = 0; i < 3; i++) {
      const tree = path.join(dir, `tree${i}`);
      fs.mkdirSync(tree);
      fs.writeFileSync(path.join(tree, `file${i}`), Buffer.alloc(300_000, i + 1));
      const tar = execFileSync('tar', ['--numeric-owner', '-C', tree, '-cf', '-', '.'], { maxBuffer: 16 << 20 });
      const bytes = zlib.gzipSync(tar);
      layers.push({ bytes, digest: sha(bytes), diffID: sha(tar) });
    }
    configBytes = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffID) } }));
    configDigest = sha(configBytes);
  });
  // each test stores the config again: deleting an image (or collecting) removes it
  beforeEach(async () => {
    await s.content.put(configBytes, configDigest);
  });
  after(() => {
    s.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const imageLeases = () => s.leases.list().filter((l) => l.labels[IMAGE_LEASE_LABEL] !== undefined);
  const snapshots = async () => {
    const out: string[] = [];
    for await (const x of s.snapshotter.walk()) out.push(x.name);
    return out;
  };
  const blobs = (n: number) => layers.slice(0, n).map((l) => ({ digest: l.digest, mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: l.bytes.length }));

  it('unpacks each layer once it is ready, bottom-up, and records the image only at commit', async () => {
    const ready = layers.map(() => deferred());
    const events: LayerEvent[] = [];
    let waitFor: { index: number; state: string; resolve: () => void } | undefined;
    const reached = (index: number, state: string) => new Promise<void>((resolve) => (waitFor = { index, state, resolve }));
    await s.content.put(layers[0]!.bytes, layers[0]!.digest);
    const pending = await s.images.beginFromContent({
      configDigest,
      layers: blobs(3).map((b, i) => ({ ...b, ready: () => ready[i]!.promise })),
      onProgress: (e) => {
        events.push(e);
        if (waitFor && e.index === waitFor.index && e.state === waitFor.state) waitFor.resolve();
      },
    });
    // layer 2 arrives before layer 1: it still waits for layer 1
    const done0 = reached(0, 'done');
    ready[0]!.resolve();
    await done0;
    await s.content.put(layers[2]!.bytes, layers[2]!.digest);
    ready[2]!.resolve();
    await new Promise((r) => setImmediate(r));
    assert.ok(!events.some((e) => e.index > 0), JSON.stringify(events));
    assert.equal(s.images.count(), 0);
    await s.content.put(layers[1]!.bytes, layers[1]!.digest);
    ready[1]!.resolve();
    const reg = await pending.commit({ refs: [parseNormalizedNamed('overlap:1')] });
    assert.equal(reg.id, configDigest);
    assert.deepEqual(events.filter((e) => e.state !== 'progress').map((e) => `${e.index}${e.state}`), ['0extracting', '0done', '1extracting', '1done', '2extracting', '2done']);
    // read counts grow to the whole compressed blob
    for (let i = 0; i < 3; i++) {
      const reads = events.filter((e) => e.index === i && e.state === 'progress').map((e) => e.read!);
      assert.ok(reads.length > 0 && reads.every((r, k) => k === 0 || r > reads[k - 1]!));
      assert.equal(reads.at(-1), layers[i]!.bytes.length);
    }
    assert.equal(s.images.resolve('overlap:1'), configDigest);
    assert.deepEqual(imageLeases(), []);
    assert.equal((await snapshots()).length, 3);
    await s.images.remove('overlap:1');
    assert.deepEqual(await snapshots(), []);
  });

  it('discard stops an unpack waiting for a layer: nothing recorded, lease dropped, snapshots collectable', async () => {
    await s.content.put(layers[0]!.bytes, layers[0]!.digest);
    let done0!: () => void;
    const first = new Promise<void>((r) => (done0 = r));
    const pending = await s.images.beginFromContent({
      configDigest,
      layers: blobs(3).map((b, i) => ({ ...b, ready: () => (i === 0 ? Promise.resolve() : new Promise<void>(() => {})) })),
      onProgress: (e) => (e.index === 0 && e.state === 'done' ? done0() : undefined),
    });
    await first;
    assert.equal(imageLeases().length, 1);
    await pending.discard(new Error('client gone'));
    await assert.rejects(pending.unpacked, /client gone/);
    assert.equal(s.images.count(), 0);
    assert.deepEqual(imageLeases(), []);
    await s.gc.collect();
    assert.deepEqual(await snapshots(), []);
    assert.deepEqual(fs.readdirSync(path.join(dir, 'root', 'content', 'blobs', 'sha256')), []);
  });

  it('a layer that does not match its diffID fails the commit and leaves nothing registered', async () => {
    for (const l of layers) await s.content.put(l.bytes, l.digest);
    const swapped = blobs(3);
    [swapped[1], swapped[2]] = [swapped[2]!, swapped[1]!];
    const ac = new AbortController();
    const pending = await s.images.beginFromContent({ configDigest, layers: swapped, signal: ac.signal });
    await assert.rejects(pending.commit({ refs: [parseNormalizedNamed('bad:1')] }), /layer 1 does not match the image config/);
    assert.equal(s.images.count(), 0);
    assert.deepEqual(imageLeases(), []);
    await s.gc.collect();
    assert.deepEqual(await snapshots(), []);
  });
});
