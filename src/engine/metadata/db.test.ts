import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { kindOf } from '../errdefs';
import { MetadataDB, type Migration } from './index';

const m1: Migration = { id: 't/001', up: (db) => db.exec('CREATE TABLE a (id INTEGER PRIMARY KEY, v TEXT NOT NULL)') };
const m2: Migration = {
  id: 't/002',
  up: (db) => db.exec('CREATE TABLE b (id INTEGER PRIMARY KEY, a_id INTEGER NOT NULL REFERENCES a(id))'),
};

test('migrations apply once, in order, and are recorded', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stevedore-meta-'));
  try {
    const file = path.join(dir, 'sub/metadata.db');
    let db = MetadataDB.open(file, [m1]);
    assert.deepEqual(db.migrate([m1, m2]), ['t/002']);
    db.close();
    db = MetadataDB.open(file, [m1, m2]);
    const ids = db.raw.prepare('SELECT id FROM schema_migrations ORDER BY id').pluck().all();
    assert.deepEqual(ids, ['t/001', 't/002']);
    assert.equal(db.raw.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(db.raw.pragma('foreign_keys', { simple: true }), 1);
    assert.equal(db.raw.pragma('synchronous', { simple: true }), 2);
    db.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a failing migration rolls back and is not recorded', () => {
  const db = MetadataDB.open(':memory:', [m1]);
  const bad: Migration = {
    id: 't/bad',
    up: (raw) => {
      raw.exec('CREATE TABLE c (x)');
      throw new Error('boom');
    },
  };
  assert.throws(() => db.migrate([bad]), /boom/);
  assert.equal(db.raw.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'c'").pluck().get(), 0);
  assert.equal(db.raw.prepare("SELECT count(*) FROM schema_migrations WHERE id = 't/bad'").pluck().get(), 0);
  assert.throws(() => db.migrate([m2, m2]), (e: unknown) => kindOf(e) === 'invalid-argument');
  db.close();
});

test('tx commits, rolls back on throw, and enforces foreign keys', () => {
  const db = MetadataDB.open(':memory:', [m1, m2]);
  const n = db.tx((raw) => raw.prepare('INSERT INTO a (v) VALUES (?)').run('x').lastInsertRowid);
  assert.equal(n, 1);
  assert.throws(() =>
    db.tx((raw) => {
      raw.prepare('INSERT INTO a (v) VALUES (?)').run('y');
      throw new Error('no');
    }),
  );
  assert.equal(db.raw.prepare('SELECT count(*) FROM a').pluck().get(), 1);
  assert.throws(() => db.tx((raw) => raw.prepare('INSERT INTO b (a_id) VALUES (42)').run()), /FOREIGN KEY/);
  db.close();
});
