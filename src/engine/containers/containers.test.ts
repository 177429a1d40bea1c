import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { kindOf } from '../errdefs';
import { MetadataDB } from '../metadata';
import type { Mount } from '../mount/types';
import type { Spec } from '../oci/spec';
import { FakeTaskService } from '../runtime/fake-task-service';
import { EngineContainers } from './containers';

class Mounter {
  readonly mounted = new Map<string, Mount[]>();
  mountAll(m: Mount[], target: string): void {
    this.mounted.set(target, m);
  }
  unmount(target: string): void {
    this.mounted.delete(target);
  }
}

const snapshots = { mounts: async (key: string): Promise<Mount[]> => [{ type: 'overlay', source: 'overlay', options: [`upperdir=/s/${key}`] }] };

function spec(): Spec {
  return { ociVersion: '1.0.2', process: { terminal: false, user: { uid: 0, gid: 0 }, args: ['sh'], cwd: '/' }, root: { path: 'rootfs' }, linux: {} } as Spec;
}

describe('engine containers', () => {
  let dir: string;
  let db: MetadataDB;
  let tasks: FakeTaskService;
  let mounter: Mounter;
  const open = (namespace?: string) =>
    new EngineContainers({ db, ...(namespace ? { namespace } : {}), snapshots, mounter, tasks, bundleDir: (id) => path.join(dir, namespace ?? 'default', id) });

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'engine-containers-'));
    db = MetadataDB.open(':memory:');
    tasks = new FakeTaskService();
    mounter = new Mounter();
  });
  afterEach(() => {
    db.raw.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('creates, gets, updates, lists and deletes records', () => {
    const e = open();
    const r = e.create({ id: 'c1', snapshotKey: 'k1', labels: { a: 'b' } });
    assert.equal(r.namespace, 'default');
    assert.equal(r.snapshotter, 'overlayfs');
    assert.deepEqual(r.runtime, { name: 'runc' });
    assert.equal(kindOf(catchErr(() => e.create({ id: 'c1', snapshotKey: 'k' }))), 'conflict');
    assert.equal(kindOf(catchErr(() => e.create({ id: '-bad', snapshotKey: 'k' }))), 'invalid-argument');
    assert.equal(e.get('c1').spec, undefined);
    e.update('c1', { spec: spec() });
    assert.deepEqual(e.get('c1').spec, spec());
    assert.deepEqual(e.get('c1').labels, { a: 'b' });
    e.update('c1', { labels: { x: 'y' } });
    assert.deepEqual(e.get('c1').labels, { x: 'y' });
    assert.deepEqual(e.get('c1').spec, spec());
    assert.deepEqual(e.list().map((x) => x.id), ['c1']);
    e.ensure({ id: 'c1', snapshotKey: 'other' });
    assert.equal(e.get('c1').snapshotKey, 'k1');
    e.ensure({ id: 'c2', snapshotKey: 'k2' });
    assert.equal(e.get('c2').snapshotKey, 'k2');
    assert.equal(e.delete('c2'), true);
    assert.equal(kindOf(catchErr(() => e.update('nope', { labels: {} }))), 'not-found');
    assert.equal(e.delete('c1'), true);
    assert.equal(e.delete('c1'), false);
    assert.equal(kindOf(catchErr(() => e.get('c1'))), 'not-found');
  });

  it('keeps namespaces apart', () => {
    const a = open('moby');
    const b = open('k8s.io');
    a.create({ id: 'same', snapshotKey: 'ka' });
    b.create({ id: 'same', snapshotKey: 'kb' });
    a.create({ id: 'only-a', snapshotKey: 'k' });
    assert.deepEqual(a.list().map((x) => x.id).sort(), ['only-a', 'same']);
    assert.deepEqual(b.list().map((x) => x.id), ['same']);
    assert.equal(b.get('same').snapshotKey, 'kb');
    assert.equal(b.find('only-a'), undefined);
    b.update('same', { labels: { b: '1' } });
    assert.deepEqual(a.get('same').labels, {});
    b.delete('same');
    assert.equal(a.get('same').snapshotKey, 'ka');
  });

  it('runs the sequence: mount, bundle from the record spec, task, start, cleanup', async () => {
    const e = open();
    e.create({ id: 'c1', snapshotKey: 'k1', spec: spec() });
    const { pid } = await e.prepare('c1', { tty: false, openStdin: false, stdinOnce: false, log: { kind: 'none' } });
    assert.ok(pid > 0);
    const rootfs = e.rootfsDir('c1');
    assert.ok(mounter.mounted.has(rootfs));
    const written = JSON.parse(fs.readFileSync(path.join(e.bundleDir('c1'), 'config.json'), 'utf8')) as Spec;
    assert.equal(written.root.path, rootfs);
    assert.deepEqual(written.process.args, ['sh']);
    assert.equal(tasks.peek('c1'), 'created');
    await e.start('c1');
    assert.equal(tasks.peek('c1'), 'running');
    tasks.exit('c1', 0);
    await e.cleanup('c1');
    assert.equal(tasks.peek('c1'), undefined);
    assert.equal(mounter.mounted.size, 0);
    assert.equal(fs.existsSync(e.bundleDir('c1')), false);
    await e.cleanup('c1'); // idempotent
    assert.ok(e.get('c1'), 'the record stays');
  });

  it('mounts volatile when asked', async () => {
    const e = open();
    e.create({ id: 'c1', snapshotKey: 'k1' });
    await e.mount('c1', { volatile: true });
    const m = mounter.mounted.get(e.rootfsDir('c1'));
    assert.ok(m?.[0]?.options?.includes('volatile'));
  });

  it('a task that cannot be created leaves nothing mounted', async () => {
    const e = open();
    e.create({ id: 'c1', snapshotKey: 'k1', spec: spec() });
    tasks.failNext('create', new Error('runc create failed'), 'c1');
    await assert.rejects(e.prepare('c1', { tty: false, openStdin: false, stdinOnce: false }), /runc create failed/);
    assert.equal(mounter.mounted.size, 0);
    assert.equal(fs.existsSync(e.bundleDir('c1')), false);
  });

  it('refuses a task without a spec', async () => {
    const e = open();
    e.create({ id: 'c1', snapshotKey: 'k1' });
    await assert.rejects(e.createTask('c1', { tty: false, openStdin: false, stdinOnce: false }), (err) => kindOf(err) === 'invalid-argument');
  });
});

function catchErr(f: () => unknown): unknown {
  try {
    f();
  } catch (err) {
    return err;
  }
  return undefined;
}
