/**
 * Throughput check (not a test): `node dist-test/src/engine/archive/bench.js <tarfile>...`
 * applies each tar (plain, gzip or zstd) into a temp dir and diffs it back, printing MB/s
 * of uncompressed tar. Numbers are in docs/layers.md.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { applyLayer } from './apply';
import { diffUpperDir } from './pack';

async function main(): Promise<void> {
  for (const file of process.argv.slice(2)) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stevedore-bench-'));
    try {
      let t = process.hrtime.bigint();
      const r = await applyLayer(fs.createReadStream(file, { highWaterMark: 1 << 20 }), dir);
      const applyS = Number(process.hrtime.bigint() - t) / 1e9;
      t = process.hrtime.bigint();
      let n = 0;
      for await (const c of diffUpperDir(dir)) n += (c as Buffer).length;
      const diffS = Number(process.hrtime.bigint() - t) / 1e9;
      const mb = r.tarSize / 1e6;
      console.log(`${path.basename(file)}: ${mb.toFixed(0)} MB tar; apply ${applyS.toFixed(2)} s (${(mb / applyS).toFixed(0)} MB/s); diff ${diffS.toFixed(2)} s (${(n / 1e6 / diffS).toFixed(0)} MB/s)`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
}

main().catch((err) => { console.error(err); process.exit(1); });
