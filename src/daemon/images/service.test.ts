import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { chainIDs } from '../../engine/images/chainid';
import { upperDirOf } from '../../engine/images/unpack';
import { EventBus } from '../events/bus';
import type { ImageStorage } from './storage';
import { type ImageStorageFixture, openImageStorageFixture } from './storage.fixture';

describe('ImageService (storage, overlay; needs root)', () => {
  let fx: ImageStorageFixture | undefined;
  let s: ImageStorage;
  const events = new EventBus();
  let base: string;

  before(async () => {
    fx = await openImageStorageFixture('imgsvc', events);
    s = fx.storage;
    base = await s.images.import(fs.createReadStream(fx.rootfsTar), { changes: ['CMD ["/bin/sh"]'] });
  });
  after(() => fx?.close());

  it('imports a gzipped rootfs as an uncompressed layer and answers get()', async () => {
    const info = await s.images.get(base.slice(7, 19));
    assert.equal(info.id, base);
    assert.deepEqual(info.config.config?.Cmd, ['/bin/sh']);
    assert.equal(info.chainId, info.config.rootfs.diff_ids[0]);
    assert.deepEqual(info.repoTags, []);
    await assert.rejects(s.images.get('nope'), /No such image: nope:latest/);
    assert.ok(events.recent().some((e) => e.Action === 'import' && e.Actor.ID === base));
  });

  it('computes an image\'s layer chain IDs once and answers them for every record of it', () => {
    const rec = s.images.store.get(base);
    const chains = s.images.layerChains(rec);
    assert.deepEqual(chains, chainIDs(rec.layers.map((l) => l.diffID)));
    assert.equal(chains[chains.length - 1], rec.chainId);
    assert.equal(s.images.layerChains(s.images.store.get(base)), chains, 'the kept list, not a new one');
  });

  it('reads an image\'s config blob once, parses it for each caller, and forgets it with the image', async () => {
    const content = s.images.opts.content;
    const readAll = content.readAll.bind(content);
    let reads = 0;
    content.readAll = (async (...a: Parameters<typeof readAll>) => {
      reads++;
      return readAll(...a);
    }) as typeof content.readAll;
    try {
      const id = await s.images.import(fs.createReadStream(fx!.rootfsTar), { changes: ['CMD ["/bin/true"]'] });
      reads = 0;
      const first = await s.images.get(id);
      const second = await s.images.get(id);
      assert.equal(reads, 1, 'read once');
      assert.notEqual(first.config, second.config, 'a copy for each caller');
      assert.deepEqual(first.config, second.config);
      await s.images.remove(id);
      await assert.rejects(s.images.configBytes(id), 'not answered from memory once deleted');
    } finally {
      content.readAll = readAll;
    }
  });

  it('commits a container layer as a child image, and enforces delete conflicts', async () => {
    const parent = await s.images.get(base);
    const mounts = await s.snapshotter.prepare('ctr-1', parent.chainId);
    const upper = upperDirOf(mounts);
    fs.writeFileSync(path.join(upper, 'new-file'), 'data');
    const id = await s.images.commitContainer({ upper: mounts, comparer: s.differ, parentImageId: base, config: { Cmd: ['echo', 'hi'] }, comment: 'c1', author: 'me', changes: ['ENV X=1'], repo: 'committed', tag: 'v1', containerId: 'abc' });
    await s.snapshotter.remove('ctr-1');
    const child = await s.images.inspect('committed:v1');
    assert.equal(child.Id, id);
    assert.equal(child.Parent, base);
    assert.equal(child.RootFS.Layers!.length, 2);
    assert.deepEqual(child.Config!.Env, ['X=1']);
    assert.deepEqual(child.Config!.Cmd, ['echo', 'hi']);
    assert.equal(child.Author, 'me');
    const hist = await s.images.history(id);
    assert.deepEqual(hist.map((h) => h.Id), [id, base]);
    assert.deepEqual(hist[0]!.Tags, ['committed:v1']);
    assert.equal(hist[0]!.CreatedBy, 'echo hi');

    await assert.rejects(s.images.remove(base), /unable to delete [0-9a-f]{12} \(cannot be forced\) - image has dependent child images/);
    s.images.setContainerChecker((img) => (img === id ? [{ id: 'f'.repeat(64), running: true }] : []));
    await assert.rejects(s.images.remove('committed:v1'), /unable to remove repository reference "committed:v1" \(must force\) - container ffffffffffff is using its referenced image/);
    await assert.rejects(s.images.remove(id, { force: true }), /\(cannot be forced\) - image is being used by running container ffffffffffff/);
    s.images.setContainerChecker((img) => (img === id ? [{ id: 'e'.repeat(64), running: false }] : []));
    await assert.rejects(s.images.remove(id), /\(must be forced\) - image is being used by stopped container eeeeeeeeeeee/);
    s.images.setContainerChecker(() => []);
    const recs = await s.images.remove('committed:v1');
    // untagged, deleted, its own layer; the parent is untagged and so pruned as well
    assert.deepEqual(recs.slice(0, 2), [{ Untagged: 'committed:v1' }, { Deleted: id }]);
    assert.ok(recs.some((r) => 'Deleted' in r && r.Deleted === base), JSON.stringify(recs));
    assert.equal(s.images.count(), 0);
    // nothing left behind
    const blobs = fs.readdirSync(path.join(fx!.dir, 'root', 'content', 'blobs', 'sha256'));
    assert.deepEqual(blobs, []);
    const snaps: string[] = [];
    for await (const x of s.snapshotter.walk()) snaps.push(x.name);
    assert.deepEqual(snaps, []);
  });
});
