import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { kindOf } from '../../engine/errdefs';
import { parseNormalizedNamed } from '../../engine/reference';
import { upperDirOf } from '../../engine/images/unpack';
import { EventBus } from '../events/bus';
import type { ImageStorage } from './storage';
import { type ImageStorageFixture, openImageStorageFixture } from './storage.fixture';

describe('ImageService.prune (storage, overlay; needs root)', () => {
  let fx: ImageStorageFixture | undefined;
  let s: ImageStorage;
  const events = new EventBus();
  let base: string;

  /** Commits a child of `parent` with one file of `bytes` bytes and `labels`. */
  const commit = async (parent: string, name: string, bytes: number, labels: Record<string, string>, repo?: string, tag?: string) => {
    const p = await s.images.get(parent);
    const mounts = await s.snapshotter.prepare(`ctr-${name}`, p.chainId);
    fs.writeFileSync(path.join(upperDirOf(mounts), name), 'x'.repeat(bytes));
    const changes = Object.entries(labels).map(([k, v]) => `LABEL ${k}=${v}`);
    const id = await s.images.commitContainer({ upper: mounts, comparer: s.differ, parentImageId: parent, config: {}, comment: '', author: '', changes, ...(repo ? { repo } : {}), ...(tag ? { tag } : {}), containerId: name });
    await s.snapshotter.remove(`ctr-${name}`);
    return id;
  };
  const prune = (f: Record<string, string[]>) => s.images.prune(new Map(Object.entries(f)));

  const importBase = () => s.images.import(fs.createReadStream(fx!.rootfsTar), { ref: parseNormalizedNamed('base:latest') });

  before(async () => {
    fx = await openImageStorageFixture('imgprune', events);
    s = fx.storage;
    base = await importBase();
  });
  after(() => fx?.close());

  it('takes dangling images by default, counting the layers released, and publishes prune', async () => {
    const dangling = await commit(base, 'd1', 1000, { k: 'v' });
    const tagged = await commit(base, 't1', 10, {}, 'tagged', 'v1');
    const r = await prune({});
    // the image and its own layer (a chain ID); the tagged parent stays
    assert.deepEqual(r.ImagesDeleted!.slice(0, 1), [{ Deleted: dangling }]);
    assert.equal(r.ImagesDeleted!.length, 2);
    assert.ok(r.SpaceReclaimed >= 1000, String(r.SpaceReclaimed));
    const ev = events.recent().filter((e) => e.Type === 'image' && e.Action === 'prune');
    assert.deepEqual(ev.at(-1)!.Actor.Attributes, { reclaimed: String(r.SpaceReclaimed) });
    assert.deepEqual(await prune({}), { ImagesDeleted: null, SpaceReclaimed: 0 });
    await s.images.remove(tagged);
  });

  it('with dangling=false takes unused tagged images, keeps used ones, and filters by label, label! and until', async () => {
    const a = await commit(base, 'a', 10, { grp: 'a' }, 'img', 'a');
    const b = await commit(base, 'b', 10, { grp: 'b' }, 'img', 'b');
    await assert.rejects(prune({ dangling: ['maybe'] }), (e: unknown) => kindOf(e) === 'invalid-argument' && (e as Error).message === "Invalid filter 'dangling=[maybe]'");
    await assert.rejects(prune({ reference: ['x'] }), (e: unknown) => kindOf(e) === 'invalid-argument' && (e as Error).message === "Invalid filter 'reference'");
    assert.deepEqual(await prune({ dangling: ['false'], until: ['2000-01-01T00:00:00Z'] }), { ImagesDeleted: null, SpaceReclaimed: 0 });
    s.images.setContainerChecker((img) => (img === a ? [{ id: 'e'.repeat(64), running: false }] : []));
    let r = await prune({ dangling: ['false'], label: ['grp=a'] });
    assert.equal(r.ImagesDeleted, null);
    s.images.setContainerChecker(() => []);
    const since = events.recent().length;
    r = await prune({ dangling: ['0'], 'label!': ['grp=a'], label: ['grp'] });
    assert.deepEqual(r.ImagesDeleted!.slice(0, 2), [{ Untagged: 'img:b' }, { Deleted: b }]);
    // the untag carries the image's labels, the delete only its name (the image is gone)
    const later = events.recent().slice(since);
    assert.deepEqual(later.find((e) => e.Action === 'untag')!.Actor.Attributes, { grp: 'b', name: b });
    assert.deepEqual(later.find((e) => e.Action === 'delete')!.Actor.Attributes, { name: b });
    r = await prune({ dangling: ['false'] });
    // img:a goes; base is untagged, then deleted once its last child is gone
    assert.deepEqual(r.ImagesDeleted!.filter((x) => 'Untagged' in x).map((x) => (x as { Untagged: string }).Untagged).sort(), ['base:latest', 'img:a']);
    assert.ok(r.ImagesDeleted!.some((x) => 'Deleted' in x && x.Deleted === base));
    assert.equal(s.images.count(), 0);
    base = await importBase();
  });

  it('refuses a second prune while one runs', async () => {
    const first = prune({});
    await assert.rejects(prune({}), (e: unknown) => kindOf(e) === 'conflict' && (e as Error).message === 'a prune operation is already running');
    await first;
    await prune({});
  });
});
