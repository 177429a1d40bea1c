import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { kindOf } from '../errdefs';
import { MetadataDB } from '../metadata/db';
import { MAX_MOUNT_DATA, mountAll, unmountRecursive, withTempMount } from '../mount/index';
import { OverlaySnapshotter, snapshotMigrations, type SnapshotInfo } from './index';

let root: string;
let db: MetadataDB;
let sn: OverlaySnapshotter;

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'stevedore-snap-'));
  db = MetadataDB.open(path.join(root, 'metadata.db'), snapshotMigrations);
  sn = new OverlaySnapshotter(root, db);
});
afterEach(() => {
  unmountRecursive(root);
  db.close();
  fs.rmSync(root, { recursive: true, force: true });
});

const tmp = () => ({ dir: path.join(root, 'tmpmounts') });

async function rejectsKind(p: Promise<unknown>, kind: string, re?: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.equal(kindOf(err), kind, String(err));
    if (re) assert.match((err as Error).message, re);
    return true;
  });
}

async function all(sn: OverlaySnapshotter): Promise<SnapshotInfo[]> {
  const out: SnapshotInfo[] = [];
  for await (const i of sn.walk()) out.push(i);
  return out;
}

/** Adds a layer writing `files` over `parent`, committed as `name`. */
async function layer(name: string, parent: string | undefined, files: Record<string, string>): Promise<void> {
  const mounts = await sn.prepare(`extract-${name}`, parent);
  await withTempMount(mounts, (mp) => {
    for (const [f, c] of Object.entries(files)) fs.writeFileSync(path.join(mp, f), c);
  }, tmp());
  await sn.commit(name, `extract-${name}`);
}

test('prepare, commit, view: the mounts have the right shapes and contents', async () => {
  const base = await sn.prepare('k1', undefined, { labels: { a: 'b' } });
  assert.equal(base.length, 1);
  assert.equal(base[0].type, 'bind');
  assert.deepEqual(base[0].options, ['rbind', 'rw']);
  await withTempMount(base, (mp) => fs.writeFileSync(path.join(mp, 'base'), 'base'), tmp());
  await sn.commit('layer1', 'k1', { labels: { c: 'd' } });
  const st = await sn.stat('layer1');
  assert.equal(st.kind, 'committed');
  assert.deepEqual(st.labels, { a: 'b', c: 'd' });
  await rejectsKind(sn.stat('k1'), 'not-found', /snapshot k1 does not exist/);

  const v = await sn.view('v1', 'layer1');
  assert.deepEqual(v, [{ type: 'bind', source: v[0].source, options: ['rbind', 'ro'] }]);
  await withTempMount(v, (mp) => {
    assert.equal(fs.readFileSync(path.join(mp, 'base'), 'utf8'), 'base');
    assert.throws(() => fs.writeFileSync(path.join(mp, 'x'), 'x'), /EROFS/);
  }, tmp());

  const active = await sn.prepare('c1', 'layer1');
  assert.equal(active[0].type, 'overlay');
  assert.ok(active[0].options.some((o) => o.startsWith('upperdir=')));
  await withTempMount(active, (mp) => {
    assert.equal(fs.readFileSync(path.join(mp, 'base'), 'utf8'), 'base');
    fs.writeFileSync(path.join(mp, 'mine'), '12345');
    fs.rmSync(path.join(mp, 'base'));
  }, tmp());
  assert.deepEqual(await sn.mounts('c1'), active);
  const u = await sn.usage('c1');
  assert.equal(u.size, 5);
  assert.equal(u.inodes, 2); // the file and the whiteout for 'base'
  const st2 = await sn.stat('c1');
  assert.equal(st2.parent, 'layer1');
  assert.equal(st2.kind, 'active');

  await layer('layer2', 'layer1', { two: '2' });
  const v2 = await sn.view('v2', 'layer2');
  assert.equal(v2[0].type, 'overlay');
  assert.ok(!v2[0].options.some((o) => o.startsWith('upperdir=')));
  await withTempMount(v2, (mp) => assert.deepEqual(fs.readdirSync(mp).sort(), ['base', 'two']), tmp());

  const names = (await all(sn)).map((i) => `${i.name}:${i.kind}`);
  assert.deepEqual(names.sort(), ['c1:active', 'layer1:committed', 'layer2:committed', 'v1:view', 'v2:view']);
});

test('errors: duplicates, missing or uncommitted parents, children, views', async () => {
  await sn.prepare('a');
  await rejectsKind(sn.prepare('a'), 'conflict', /snapshot a: already exists/);
  await rejectsKind(sn.prepare('b', 'missing'), 'not-found', /parent snapshot missing does not exist/);
  await rejectsKind(sn.prepare('b', 'a'), 'invalid-argument', /not committed/);
  await sn.commit('A', 'a');
  await rejectsKind(sn.mounts('A'), 'invalid-argument');
  await sn.prepare('b', 'A');
  await rejectsKind(sn.commit('A', 'b'), 'conflict', /already exists/);
  await rejectsKind(sn.remove('A'), 'conflict', /child/);
  await sn.view('v', 'A');
  await rejectsKind(sn.commit('V', 'v'), 'invalid-argument', /view/);
  await rejectsKind(sn.prepare(''), 'invalid-argument');
  await rejectsKind(sn.remove('nope'), 'not-found');
  assert.equal((await all(sn)).length, 3);
});

test('remove deletes the row, then the directory and the link', async () => {
  await sn.prepare('a');
  const id = fs.readdirSync(sn.dir).filter((n) => n !== 'l');
  assert.equal(id.length, 1);
  assert.equal(fs.readdirSync(sn.linkDir).length, 1);
  await sn.remove('a');
  assert.deepEqual(fs.readdirSync(sn.dir), ['l']);
  assert.deepEqual(fs.readdirSync(sn.linkDir), []);
  assert.deepEqual(await all(sn), []);
});

test('a chain of 120 layers mounts (relative lowerdir through the link folder)', async () => {
  let parent: string | undefined;
  for (let i = 0; i < 120; i++) {
    const name = `sha256:${String(i).padStart(64, '0')}`;
    // write directly into the layer's own directory: faster than mounting each one
    await sn.prepare(`x${i}`, parent);
    const id = fs.readdirSync(sn.dir).filter((n) => n !== 'l').map(Number).sort((a, b) => a - b).at(-1);
    fs.writeFileSync(path.join(sn.dir, String(id), 'fs', `f${i}`), String(i));
    fs.writeFileSync(path.join(sn.dir, String(id), 'fs', 'top'), String(i));
    await sn.commit(name, `x${i}`);
    parent = name;
  }
  const mounts = await sn.prepare('container', parent);
  const lower = mounts[0].options.find((o) => o.startsWith('lowerdir=')) as string;
  assert.equal(lower.split(':').length, 120);
  assert.ok(mounts[0].options.join(',').length > MAX_MOUNT_DATA, 'the absolute form must not fit, or this test proves nothing');
  const target = path.join(root, 'rootfs');
  fs.mkdirSync(target);
  const cwd = process.cwd();
  mountAll(mounts, target);
  try {
    assert.equal(process.cwd(), cwd);
    assert.equal(fs.readFileSync(path.join(target, 'top'), 'utf8'), '119');
    for (let i = 0; i < 120; i++) assert.equal(fs.readFileSync(path.join(target, `f${i}`), 'utf8'), String(i));
    fs.writeFileSync(path.join(target, 'written'), 'w');
  } finally {
    unmountRecursive(target);
  }
  assert.equal((await sn.usage('container')).inodes, 1);
});

test('recover repairs the states a crash can leave', async () => {
  await layer('L1', undefined, { one: '1' });
  await layer('L2', 'L1', { two: '2' });
  await sn.prepare('c', 'L2');
  await layer('M1', undefined, { m: 'm' });
  const ids = new Map<string, string>();
  for (const n of fs.readdirSync(sn.dir).filter((x) => x !== 'l')) {
    const link = fs.readdirSync(sn.linkDir).find((l) => fs.readlinkSync(path.join(sn.linkDir, l)) === `../${n}/fs`) as string;
    ids.set(n, link);
  }
  // crash between mkdir and insert: a directory and a link with no row
  fs.mkdirSync(path.join(sn.dir, '999', 'fs'), { recursive: true });
  fs.symlinkSync('../999/fs', path.join(sn.linkDir, 'orphanlink00'));
  // a layer's directory vanished: it and its descendants go
  const l2 = (db.raw.prepare("SELECT id FROM snapshots WHERE key = 'L2'").pluck().get() as number).toString();
  fs.rmSync(path.join(sn.dir, l2), { recursive: true });
  // a link vanished: recreated
  const m1 = db.raw.prepare("SELECT id, link FROM snapshots WHERE key = 'M1'").get() as { id: number; link: string };
  fs.rmSync(path.join(sn.linkDir, m1.link));
  // a directory with something mounted in it is never deleted
  fs.mkdirSync(path.join(sn.dir, '1000'));
  const busy = path.join(sn.dir, '1000');
  mountAll([{ type: 'bind', source: path.join(root, 'tmpmounts'), options: ['bind'] }], busy);

  const report = sn.recover();
  assert.deepEqual(report.removedRows.sort(), ['L2', 'c']);
  assert.equal(report.repairedLinks, 1);
  assert.ok(report.removedLinks >= 3); // orphanlink00 + the links of L2 and c
  assert.equal(fs.existsSync(path.join(sn.dir, '999')), false);
  assert.equal(fs.existsSync(busy), true);
  unmountRecursive(busy);
  assert.deepEqual((await all(sn)).map((i) => i.name).sort(), ['L1', 'M1']);
  assert.equal(fs.readlinkSync(path.join(sn.linkDir, m1.link)), `../${m1.id}/fs`);
  // everything left is consistent: L1 still works as a parent
  await withTempMount(await sn.view('check', 'M1'), (mp) => assert.equal(fs.readFileSync(path.join(mp, 'm'), 'utf8'), 'm'), tmp());
  assert.equal(sn.cleanup().removedDirs, 1); // the formerly busy dir, now unmounted
  const left = fs.readdirSync(sn.dir).filter((n) => n !== 'l').sort();
  const rows = (db.raw.prepare('SELECT id FROM snapshots').pluck().all() as number[]).map(String).sort();
  assert.deepEqual(left, rows);
  assert.equal(ids.size, 4);
});

test('removeWith: the owner row goes in the same transaction; a failing `also` removes nothing', async () => {
  await sn.prepare('base-w', undefined);
  await sn.commit('base', 'base-w');
  await sn.prepare('c1', 'base');
  db.raw.exec('CREATE TABLE owners (id TEXT PRIMARY KEY) STRICT');
  db.raw.prepare("INSERT INTO owners VALUES ('c1')").run();
  const upper = (await sn.mounts('c1'))[0]!.options.find((o) => o.startsWith('upperdir='))!.slice('upperdir='.length);
  await assert.rejects(
    sn.removeWith('c1', (raw) => {
      raw.prepare("DELETE FROM owners WHERE id = 'c1'").run();
      throw new Error('owner refused');
    }),
    /owner refused/,
  );
  assert.equal((await sn.stat('c1')).name, 'c1');
  assert.ok(fs.existsSync(upper));
  assert.equal(db.raw.prepare('SELECT count(*) FROM owners').pluck().get(), 1);
  await sn.removeWith('c1', (raw) => {
    raw.prepare("DELETE FROM owners WHERE id = 'c1'").run();
  });
  await rejectsKind(sn.stat('c1'), 'not-found');
  assert.ok(!fs.existsSync(path.dirname(upper)));
  assert.equal(db.raw.prepare('SELECT count(*) FROM owners').pluck().get(), 0);
});
