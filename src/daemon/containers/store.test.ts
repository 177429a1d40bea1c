/**
 * The containers table: namespaces keep two front ends' containers apart, and the
 * namespaces migration upgrades a table of the previous schema in place.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { kindOf } from '../../engine/errdefs';
import { gcMigrations } from '../../engine/gc';
import { MetadataDB } from '../../engine/metadata';
import type { ContainerRecord } from './model';
import { ContainerStore, addGcRef, containerMigrations, removeGcRef } from './store';

function record(id: string, name: string): ContainerRecord {
  return {
    id,
    name,
    created: '2026-01-01T00:00:00.000000000Z',
    image: 'sha256:' + 'a'.repeat(64),
    imageRef: 'busybox',
    parentSnapshot: 'sha256:' + 'b'.repeat(64),
    snapshotKey: id,
    path: 'sh',
    args: [],
    config: {} as ContainerRecord['config'],
    hostConfig: {} as ContainerRecord['hostConfig'],
    state: { status: 'created' } as unknown as ContainerRecord['state'],
    restartCount: 0,
  };
}

describe('ContainerStore namespaces', () => {
  it('names and ids are per namespace; one namespace does not see another', () => {
    const db = MetadataDB.open(':memory:', [...gcMigrations, ...containerMigrations]);
    try {
      const moby = new ContainerStore(db);
      const k8s = new ContainerStore(db, { namespace: 'k8s.io' });
      assert.equal(moby.namespace, 'moby');
      const a = record('1'.repeat(64), '/web');
      moby.insert(a, (raw) => addGcRef(raw, a.id));
      assert.throws(() => moby.insert(record('2'.repeat(64), '/web')), (e) => kindOf(e) === 'conflict');
      // the same name, and even the same id, in another namespace
      k8s.insert(record('2'.repeat(64), '/web'), (raw) => addGcRef(raw, '2'.repeat(64), 'k8s.io'));
      k8s.insert(record('1'.repeat(64), '/other'));
      assert.deepEqual(moby.all().map((c) => c.name), ['/web']);
      assert.deepEqual(k8s.all().map((c) => c.name).sort(), ['/other', '/web']);
      assert.equal(k8s.get('1'.repeat(64))?.name, '/other');
      assert.throws(() => moby.save(record('2'.repeat(64), '/x')), (e) => kindOf(e) === 'not-found');
      moby.delete(a.id, (raw) => removeGcRef(raw, a.id));
      assert.equal(moby.get(a.id), undefined);
      assert.equal(k8s.get('1'.repeat(64))?.name, '/other');
      assert.deepEqual(db.raw.prepare('SELECT namespace, owner_id FROM gc_refs').all(), [{ namespace: 'k8s.io', owner_id: '2'.repeat(64) }]);
    } finally {
      db.close();
    }
  });

  it('the migration moves the containers of the previous schema into moby', () => {
    const db = MetadataDB.open(':memory:', [...gcMigrations, ...containerMigrations.filter((m) => m.id === 'containers/001-create')]);
    try {
      db.raw
        .prepare(
          `INSERT INTO containers (id, name, created, image, snapshot_key, restart_count, state, config, host_config, extra)
           VALUES (?, '/old', '2026-01-01T00:00:00Z', 'sha256:x', ?, 3, '{"status":"running"}', '{}', '{}', '{"imageRef":"busybox","path":"sh","args":["-c","true"]}')`,
        )
        .run('9'.repeat(64), '9'.repeat(64));
      assert.deepEqual(db.migrate(containerMigrations), ['containers/002-namespaces']);
      const moby = new ContainerStore(db);
      const c = moby.get('9'.repeat(64));
      assert.equal(c?.name, '/old');
      assert.equal(c?.restartCount, 3);
      assert.deepEqual(c?.args, ['-c', 'true']);
      assert.deepEqual(new ContainerStore(db, { namespace: 'k8s.io' }).all(), []);
      assert.throws(() => moby.insert(record('8'.repeat(64), '/old')), (e) => kindOf(e) === 'conflict');
    } finally {
      db.close();
    }
  });
});
