import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
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

/** Mounts a small tmpfs for a full-disk test; undefined (with the reason) where it cannot. */
function smallTmpfs(sizeMb: number): { dir: string; done: () => void } | string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stevedore-full-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMb}m`, 'tmpfs', dir], { stdio: 'ignore' });
  } catch {
    fs.rmSync(dir, { recursive: true, force: true });
    return 'cannot mount a tmpfs here (needs root)';
  }
  return {
    dir,
    done: () => {
      execFileSync('umount', [dir], { stdio: 'ignore' });
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Writes until the file system is full. */
function fill(file: string): void {
  const fd = fs.openSync(file, 'w');
  try {
    for (const size of [1 << 20, 4096]) {
      const b = Buffer.alloc(size, 1);
      try {
        for (;;) fs.writeSync(fd, b);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
      }
    }
  } finally {
    fs.closeSync(fd);
  }
}

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(cond(), 'condition not met within 2 s');
}

const probe = smallTmpfs(1);
const fullSkip = typeof probe === 'string' ? probe : false;
if (typeof probe !== 'string') probe.done();

test('on a full disk the reserve lets deletes, inserts and a reopen go through', { skip: fullSkip }, async () => {
  const m = smallTmpfs(24);
  if (typeof m === 'string') return;
  try {
    const file = path.join(m.dir, 'metadata.db');
    let db = MetadataDB.open(file, [m1], { reserveBytes: 4 << 20 });
    await until(() => db.reserveHeld); // the reserve is made off the open's path
    db.tx((raw) => {
      const ins = raw.prepare('INSERT INTO a (v) VALUES (?)');
      for (let i = 0; i < 2000; i++) ins.run('x'.repeat(500));
    });
    fill(path.join(m.dir, 'filler'));
    // what failed before the reserve: 'database or disk is full'
    assert.throws(() => db.raw.prepare('DELETE FROM a WHERE id < 1000').run(), /database or disk is full/);
    db.tx((raw) => raw.prepare('DELETE FROM a WHERE id < 1000').run());
    assert.equal(db.reserveHeld, false); // one part of four went
    assert.equal(db.raw.prepare('SELECT count(*) FROM a').pluck().get(), 1001);
    db.close();
    // a restart on the still-full disk opens and writes
    db = MetadataDB.open(file, [m1, m2], { reserveBytes: 4 << 20 });
    db.tx((raw) => raw.prepare('DELETE FROM a WHERE id < 1500').run());
    assert.equal(db.raw.prepare('SELECT count(*) FROM a').pluck().get(), 501);
    // space back: the reserve is made again after a write
    fs.rmSync(path.join(m.dir, 'filler'));
    db.tx((raw) => raw.prepare('INSERT INTO a (v) VALUES (?)').run('y'));
    await until(() => db.reserveHeld);
    db.close();
  } finally {
    m.done();
  }
});

test('prepare keeps one statement per SQL text and hands it out with its modes off', () => {
  const db = MetadataDB.open(':memory:', [m1]);
  try {
    db.raw.prepare('INSERT INTO a (v) VALUES (?)').run('x');
    const sql = 'SELECT id, v FROM a';
    const first = db.raw.prepare(sql);
    assert.equal(first.pluck().get(), 1);
    const again = db.raw.prepare(sql);
    assert.equal(again, first, 'the kept statement');
    assert.deepEqual(again.get(), { id: 1, v: 'x' }, 'no longer plucked');
    assert.deepEqual(db.raw.prepare(sql).raw().get(), [1, 'x']);
    assert.deepEqual(db.raw.prepare(sql).get(), { id: 1, v: 'x' }, 'no longer raw');
    // inside a transaction the callback's handle is the same one
    db.tx((raw) => assert.equal(raw.prepare(sql), first));
    // what would make a shared statement unsafe is refused
    assert.throws(() => db.raw.prepare(sql).iterate(), (e: unknown) => kindOf(e) === 'internal');
    assert.throws(() => db.raw.prepare(sql).bind(), (e: unknown) => kindOf(e) === 'internal');
    assert.deepEqual(db.raw.prepare(sql).get(), { id: 1, v: 'x' });
    // a migration clears the cache: statements compile against the new schema
    db.migrate([m1, m2]);
    assert.notEqual(db.raw.prepare(sql), first);
  } finally {
    db.close();
  }
});
