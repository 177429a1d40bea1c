import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LocalContentStore } from '../content/local';
import { MetadataDB } from '../metadata/db';
import { mountsUnder, unmountRecursive } from '../mount/mount';
import { OverlaySnapshotter } from '../snapshots/overlay';
import { snapshotMigrations } from '../snapshots/migrations';
import { gcMigrations } from './migrations';
import { recoverStorage } from './recover';

/** Starts the worker, waits for `ticks` iterations, SIGKILLs it (by its pid) and waits for it to exit. */
async function runAndKill(root: string, ticks: number, killAfterBytes: number): Promise<void> {
  const child = spawn(process.execPath, [path.join(__dirname, 'crash-worker.fixture.js'), root], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      // kill in the middle of an iteration: after enough ticks, as soon as more output arrives
      if (out.split('\n').length > ticks && out.length >= killAfterBytes) resolve();
    });
    child.on('exit', () => reject(new Error('worker exited early: ' + err)));
  });
  process.kill(child.pid as number, 'SIGKILL');
  await exited;
}

function checkConsistent(root: string, db: MetadataDB, sn: OverlaySnapshotter): void {
  const rows = db.raw.prepare('SELECT id, link FROM snapshots').all() as { id: number; link: string }[];
  const dirs = fs.readdirSync(sn.dir).filter((n) => n !== 'l').sort();
  assert.deepEqual(dirs, rows.map((r) => String(r.id)).sort(), 'every snapshot dir has a row and every row a dir');
  assert.deepEqual(fs.readdirSync(sn.linkDir).sort(), rows.map((r) => r.link).sort());
  for (const r of rows) assert.equal(fs.readlinkSync(path.join(sn.linkDir, r.link)), `../${r.id}/fs`);
  assert.deepEqual(mountsUnder(root), []);
  const blobs = path.join(root, 'content/blobs/sha256');
  for (const hex of fs.existsSync(blobs) ? fs.readdirSync(blobs) : []) {
    const data = fs.readFileSync(path.join(blobs, hex));
    assert.equal(createHash('sha256').update(data).digest('hex'), hex, 'a committed blob always matches its digest');
  }
  const ingest = path.join(root, 'content/ingest');
  for (const d of fs.existsSync(ingest) ? fs.readdirSync(ingest) : []) {
    assert.ok(fs.existsSync(path.join(ingest, d, 'ref')) && fs.existsSync(path.join(ingest, d, 'data')));
  }
}

test('after SIGKILL at an arbitrary point, recoverStorage restores a consistent state', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'stevedore-crash-'));
  try {
    for (let round = 0; round < 4; round++) {
      await runAndKill(root, 3 + round, 1 + round * 7);
      const db = MetadataDB.open(path.join(root, 'metadata.db'), [...snapshotMigrations, ...gcMigrations]);
      try {
        const sn = new OverlaySnapshotter(root, db);
        await recoverStorage({ content: new LocalContentStore(root), snapshots: sn, tempMountDir: path.join(root, 'tmpmounts') });
        checkConsistent(root, db, sn);
      } finally {
        db.close();
      }
    }
  } finally {
    unmountRecursive(root);
    fs.rmSync(root, { recursive: true, force: true });
  }
});
