/**
 * The Docker daemon on the engine's containers (engine/containers): a start stores the
 * spec on the engine record in namespace `moby` and writes the bundle from it; removal
 * drops the record; another namespace sees none of it.
 */
import { afterEach, beforeEach, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ContainerRecordStore } from '../../engine/containers';
import { LifecycleHarness, eventually } from './testing/harness';

let h: LifecycleHarness;
beforeEach(() => {
  h = new LifecycleHarness();
});
afterEach(async () => {
  await h.close();
});

describe("the daemon's containers on the engine's records", () => {
  it('start stores the spec on the record, the bundle comes from it, rm drops the record', async () => {
    const id = await h.create();
    const moby = new ContainerRecordStore(h.db, { namespace: 'moby' });
    await h.svc.start(id);
    const r = moby.get(id);
    assert.equal(r.snapshotKey, h.svc.get(id).snapshotKey);
    assert.equal(r.runtime.name, 'runc');
    const rootfs = h.svc.rootfsDir(id);
    assert.equal(r.spec?.root.path, rootfs);
    const written = JSON.parse(fs.readFileSync(path.join(path.dirname(rootfs), 'config.json'), 'utf8')) as { root: { path: string } };
    assert.equal(written.root.path, rootfs);
    assert.ok(h.mounter.mounted.has(rootfs));
    assert.equal(new ContainerRecordStore(h.db, { namespace: 'k8s.io' }).find(id), undefined);
    h.tasks.exit(id, 0);
    await eventually(() => h.status(id) === 'exited', 'exited');
    assert.equal(h.mounter.mounted.size, 0, 'unmounted at exit');
    // the bundle directory goes in the background (off the exit's critical path)
    await eventually(() => !fs.existsSync(path.dirname(rootfs)), 'bundle removed after the exit');
    assert.ok(moby.find(id), 'the record outlives the run');
    await h.svc.remove(id);
    assert.equal(moby.find(id), undefined);
  });
});
