/**
 * Test fixture for crash.test.ts: works the storage core in a loop, printing a line per
 * iteration, until the test SIGKILLs it. Usage: node crash-worker.fixture.js <root>
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LocalContentStore } from '../content/local';
import { MetadataDB } from '../metadata/db';
import { withTempMount } from '../mount/temp';
import { OverlaySnapshotter } from '../snapshots/overlay';
import { snapshotMigrations } from '../snapshots/migrations';
import { gcMigrations } from './migrations';
import { GarbageCollector } from './collector';
import { GcRefs } from './refs';

async function main(root: string): Promise<void> {
  const db = MetadataDB.open(path.join(root, 'metadata.db'), [...snapshotMigrations, ...gcMigrations]);
  const content = new LocalContentStore(root);
  const sn = new OverlaySnapshotter(root, db);
  const refs = new GcRefs(db);
  const gc = new GarbageCollector(db, content, sn);
  const tmp = { dir: path.join(root, 'tmpmounts') };
  let parent: string | undefined;
  for (let i = 0; ; i++) {
    const key = `k-${process.pid}-${i}`;
    const mounts = await sn.prepare(key, parent);
    await withTempMount(mounts, (mp) => fs.writeFileSync(path.join(mp, `f${i}`), Buffer.alloc(20000, i)), tmp);
    const name = `n-${process.pid}-${i}`;
    await sn.commit(name, key);
    const blob = await content.put(Buffer.alloc(50000 + i, i));
    refs.add({ kind: 'image', id: name }, [{ kind: 'snapshot', id: name }, { kind: 'content', id: blob.digest }]);
    if (i % 3 === 2) {
      refs.removeOwner({ kind: 'image', id: name });
      await gc.collect();
    }
    parent = i % 3 === 2 ? undefined : name;
    process.stdout.write(`tick ${i}\n`);
  }
}

main(process.argv[2]).catch((err) => {
  process.stderr.write(String(err?.stack ?? err) + '\n');
  process.exit(1);
});
