/**
 * Namespaces across the metadata stores: two namespaces do not see each other's images,
 * snapshots, leases or references; one collection keeps what either references; and the
 * migration upgrades a database made by the schema before namespaces in place.
 */
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LocalContentStore } from '../content/local';
import { kindOf } from '../errdefs';
import { GarbageCollector, GcRefs, LeaseManager, gcMigrations } from '../gc/index';
import { ImageStore } from '../images/store';
import { imageMigrations } from '../images/migrations';
import type { ImageRecord } from '../images/types';
import { OverlaySnapshotter, snapshotMigrations } from '../snapshots/index';
import { MetadataDB, type Migration } from './db';
import { LEGACY_NAMESPACE, MOBY_NAMESPACE, validateNamespace } from './namespaces';

const sha = (s: string) => 'sha256:' + createHash('sha256').update(s).digest('hex');
const ALL = [...snapshotMigrations, ...gcMigrations, ...imageMigrations];

let root: string;
let db: MetadataDB;

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'stevedore-ns-'));
});
afterEach(() => {
  db?.close();
  fs.rmSync(root, { recursive: true, force: true });
});

async function names(sn: OverlaySnapshotter): Promise<string[]> {
  const out: string[] = [];
  for await (const s of sn.walk()) out.push(s.name);
  return out.sort();
}

function image(id: string, chainId?: string): ImageRecord {
  const rec: ImageRecord = { id, layers: [], createdAt: 1 };
  if (chainId) {
    rec.layers = [{ digest: sha('layer'), mediaType: 'x', size: 1, diffID: chainId, unpackedSize: 1 }];
    rec.chainId = chainId;
  }
  return rec;
}

describe('namespaces', () => {
  it('validates names as containerd does', () => {
    for (const ok of ['moby', 'k8s.io', 'default', 'a', 'a-b_c.d']) assert.equal(validateNamespace(ok), ok);
    for (const bad of ['', '.a', 'a.', 'a/b', 'a b', 'x'.repeat(77)]) assert.equal(kindOf(catchErr(() => validateNamespace(bad))), 'invalid-argument');
  });

  it('two namespaces do not see each other\'s images, snapshots, leases or references', async () => {
    db = MetadataDB.open(path.join(root, 'metadata.db'), ALL, { reserveBytes: 0 });
    const moby = { images: new ImageStore(db, { namespace: 'moby' }), sn: new OverlaySnapshotter(root, db, { namespace: 'moby' }), leases: new LeaseManager(db, { namespace: 'moby' }) };
    const k8s = { images: new ImageStore(db, { namespace: 'k8s.io' }), sn: moby.sn.withNamespace('k8s.io'), leases: new LeaseManager(db, { namespace: 'k8s.io' }) };

    // the same snapshot key in both: each its own, with its own files
    await moby.sn.prepare('chain', undefined);
    await assert.rejects(moby.sn.prepare('chain'), (e) => kindOf(e) === 'conflict');
    await k8s.sn.prepare('chain');
    assert.notEqual(moby.sn.upperDir('chain'), k8s.sn.upperDir('chain'));
    await moby.sn.commit('c1', 'chain');
    assert.deepEqual(await names(moby.sn), ['c1']);
    assert.deepEqual(await names(k8s.sn), ['chain']);
    await assert.rejects(k8s.sn.stat('c1'), (e) => kindOf(e) === 'not-found');
    // a parent is looked up in the child's namespace
    await assert.rejects(k8s.sn.prepare('child', 'c1'), (e) => kindOf(e) === 'not-found');
    assert.deepEqual(moby.sn.namespaces(), ['k8s.io', 'moby']);

    // images and tags
    const id = sha('config');
    moby.images.put(image(id, 'c1'));
    moby.images.setRef('docker.io/library/busybox:latest', id);
    assert.equal(k8s.images.find(id), undefined);
    assert.equal(k8s.images.resolve('docker.io/library/busybox:latest'), undefined);
    assert.equal(k8s.images.count(), 0);
    assert.deepEqual(k8s.images.byPrefix(id.slice(7, 12)), []);
    // the same image and tag in the other namespace: recorded there on its own
    assert.equal(k8s.images.put(image(id)), true);
    k8s.images.setRef('docker.io/library/busybox:latest', id);
    k8s.images.deleteRef('docker.io/library/busybox:latest');
    assert.equal(moby.images.resolve('docker.io/library/busybox:latest'), id);
    k8s.images.delete(id);
    assert.equal(moby.images.get(id).id, id);
    assert.deepEqual(new GcRefs(db, { namespace: 'k8s.io' }).list({ kind: 'image', id }), []);
    assert.equal(new GcRefs(db, { namespace: 'moby' }).list({ kind: 'image', id }).length, 3);

    // leases: same id in both, each lists its own
    moby.leases.create({ id: 'pull' });
    k8s.leases.create({ id: 'pull', labels: { who: 'cri' } });
    assert.deepEqual(moby.leases.list().map((l) => l.labels), [{}]);
    k8s.leases.delete('pull');
    assert.equal(moby.leases.get('pull').id, 'pull');
    assert.throws(() => k8s.leases.get('pull'), (e) => kindOf(e) === 'not-found');

    // a snapshot reference counts in its own namespace only; a blob reference in any
    const k8sRefs = new GcRefs(db, { namespace: 'k8s.io' });
    assert.equal(k8sRefs.isReferenced({ kind: 'snapshot', id: 'c1' }), false);
    assert.equal(k8sRefs.isReferenced({ kind: 'content', id }), true);
  });

  it('one collection keeps what either namespace references and removes the rest of each', async () => {
    db = MetadataDB.open(path.join(root, 'metadata.db'), ALL, { reserveBytes: 0 });
    const content = new LocalContentStore(root);
    const moby = new OverlaySnapshotter(root, db, { namespace: 'moby' });
    const k8s = moby.withNamespace('k8s.io');
    const blob = async (s: string) => {
      await content.put(Buffer.from(s), sha(s));
      return sha(s);
    };
    const [shared, onlyMoby, onlyK8s, orphan] = [await blob('shared'), await blob('moby'), await blob('k8s'), await blob('orphan')];
    for (const sn of [moby, k8s]) {
      await sn.prepare('base-a');
      await sn.commit('base', 'base-a');
      await sn.prepare('top-a', 'base');
      await sn.commit('top', 'top-a');
      await sn.prepare('loose');
    }
    new GcRefs(db, { namespace: 'moby' }).add({ kind: 'image', id: 'i' }, [
      { kind: 'content', id: shared },
      { kind: 'content', id: onlyMoby },
      { kind: 'snapshot', id: 'top' },
    ]);
    const k8sLeases = new LeaseManager(db, { namespace: 'k8s.io' });
    k8sLeases.create({ id: 'l' });
    k8sLeases.addResource('l', { kind: 'content', id: shared });
    k8sLeases.addResource('l', { kind: 'content', id: onlyK8s });
    k8sLeases.addResource('l', { kind: 'snapshot', id: 'loose' });
    // an expired lease in a third namespace goes, and so does what only it held
    const old = new LeaseManager(db, { namespace: 'other' });
    old.create({ id: 'gone', expiresAt: new Date(Date.now() - 1000) });
    old.addResource('gone', { kind: 'content', id: orphan });

    const report = await new GarbageCollector(db, content, moby).collect();
    assert.deepEqual(report.expiredLeases, ['gone']);
    assert.deepEqual(await names(moby), ['base', 'top']);
    assert.deepEqual(await names(k8s), ['loose']);
    assert.deepEqual(report.removedContent, [orphan]);
    for (const d of [shared, onlyMoby, onlyK8s]) assert.equal((await content.info(d)).digest, d);
  });
});

describe('the namespaces migration', () => {
  /** The schema as released before namespaces: each module's first migration. */
  const previous: Migration[] = ALL.filter((m) => m.id.endsWith('/001-create'));

  it('upgrades a database of the previous schema in place: every row becomes moby\'s', async () => {
    const file = path.join(root, 'metadata.db');
    const old = MetadataDB.open(file, previous, { reserveBytes: 0 });
    const now = Date.now();
    const img = sha('config');
    old.tx((raw) => {
      const snap = raw.prepare('INSERT INTO snapshots (id, key, parent_id, kind, link, labels, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
      snap.run(1, 'base', null, 'committed', 'AAAAAAAAAAAA', '{}', now, now);
      snap.run(2, 'top', 1, 'committed', 'BBBBBBBBBBBB', '{"x":"y"}', now, now);
      snap.run(5, 'container-rw', 2, 'active', 'CCCCCCCCCCCC', '{}', now, now);
      raw.prepare('DELETE FROM snapshots WHERE id = 5').run();
      snap.run(6, 'container-rw', 2, 'active', 'DDDDDDDDDDDD', '{}', now, now);
      raw.prepare("INSERT INTO leases (id, created_at, expires_at, labels) VALUES ('pull-1', ?, NULL, '{}')").run(now);
      const ref = raw.prepare('INSERT INTO gc_refs (owner_kind, owner_id, resource_kind, resource_id) VALUES (?, ?, ?, ?)');
      ref.run('image', img, 'content', img);
      ref.run('image', img, 'snapshot', 'top');
      ref.run('container', 'c'.repeat(64), 'snapshot', 'container-rw');
      ref.run('lease', 'pull-1', 'content', sha('partial'));
      raw
        .prepare('INSERT INTO images (id, manifest_digest, layers, chain_id, parent, created_at, last_tag_time) VALUES (?, NULL, ?, ?, NULL, ?, NULL)')
        .run(img, '[]', 'top', now);
      raw.prepare('INSERT INTO image_refs (ref, image_id, created_at) VALUES (?, ?, ?)').run('docker.io/library/busybox:latest', img, now);
    });
    old.close();

    db = MetadataDB.open(file, ALL, { reserveBytes: 0 });
    const applied = db.raw.prepare("SELECT id FROM schema_migrations WHERE id LIKE '%/002-namespaces' ORDER BY id").pluck().all();
    assert.deepEqual(applied, ['gc/002-namespaces', 'images/002-namespaces', 'snapshots/002-namespaces']);
    for (const t of ['snapshots', 'leases', 'gc_refs', 'images', 'image_refs']) {
      assert.deepEqual(db.raw.prepare(`SELECT DISTINCT namespace FROM ${t}`).pluck().all(), [LEGACY_NAMESPACE], t);
    }
    assert.equal(LEGACY_NAMESPACE, MOBY_NAMESPACE);
    assert.deepEqual(db.raw.pragma('foreign_key_check'), []);
    assert.equal(db.raw.pragma('foreign_keys', { simple: true }), 1);

    // the Docker front end sees everything as before
    const sn = new OverlaySnapshotter(root, db, { namespace: 'moby' });
    assert.deepEqual(await names(sn), ['base', 'container-rw', 'top']);
    assert.deepEqual((await sn.stat('top')).labels, { x: 'y' });
    assert.equal((await sn.stat('container-rw')).parent, 'top');
    const [m] = await sn.mounts('container-rw');
    assert.match(m!.options[0]!, /^lowerdir=.*BBBBBBBBBBBB:.*AAAAAAAAAAAA$/);
    assert.ok(sn.upperDir('container-rw').endsWith(path.join('snapshots', '6', 'fs')));
    const images = new ImageStore(db, { namespace: 'moby' });
    assert.equal(images.resolve('docker.io/library/busybox:latest'), img);
    assert.equal(images.get(img).chainId, 'top');
    assert.equal(new LeaseManager(db, { namespace: 'moby' }).get('pull-1').id, 'pull-1');
    assert.equal(new GcRefs(db, { namespace: 'moby' }).isReferenced({ kind: 'snapshot', id: 'container-rw' }), true);
    // and another namespace sees none of it
    assert.equal(new ImageStore(db, { namespace: 'k8s.io' }).count(), 0);
    assert.deepEqual(await names(sn.withNamespace('k8s.io')), []);

    // keys and foreign keys still hold after the rebuild
    await assert.rejects(sn.remove('top'), (e) => kindOf(e) === 'conflict');
    images.delete(img, { force: true });
    assert.equal(db.raw.prepare('SELECT count(*) FROM image_refs').pluck().get(), 0);
    // the AUTOINCREMENT sequence survived: a new snapshot never reuses a removed one's directory
    await sn.prepare('fresh');
    assert.ok(sn.upperDir('fresh').endsWith(path.join('snapshots', '7', 'fs')));

    // reopening applies nothing again
    db.close();
    db = MetadataDB.open(file, ALL, { reserveBytes: 0 });
    assert.deepEqual(db.migrate(ALL), []);
  });

  it('a migration that breaks a foreign key rolls back and leaves enforcement on', () => {
    db = MetadataDB.open(':memory:', [
      { id: 't/001', up: (raw) => raw.exec('CREATE TABLE p (id INTEGER PRIMARY KEY); CREATE TABLE c (p_id INTEGER REFERENCES p(id))') },
    ]);
    const bad: Migration = { id: 't/002', rebuildsTables: true, up: (raw) => raw.exec('INSERT INTO c VALUES (42)') };
    assert.throws(() => db.migrate([bad]), /broken foreign key/);
    assert.equal(db.raw.prepare('SELECT count(*) FROM c').pluck().get(), 0);
    assert.equal(db.raw.pragma('foreign_keys', { simple: true }), 1);
  });
});

function catchErr(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}
