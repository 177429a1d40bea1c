/**
 * `docker cp` of a 256 MiB directory of mixed file sizes into and out of a running
 * container: stevedore vs Docker 20.10, medians and ratios. Usage (as root, after
 * `npm run setup`):
 *   node dist-test/bench/cp.js [iterations=5]
 * Writes the "docker cp" section of docs/benchmarks.md and prints the same table.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startTarget, type TargetKind } from '../test/helpers/target';
import { fmt, importBusybox, median, timeCommand, writeSection } from './common';

/** [count, size]: 4 × 32 MiB + 64 × 1 MiB + 2048 × 16 KiB + 8192 × 4 KiB = 256 MiB, 10308 files in 40 directories. */
const MIX: Array<[number, number]> = [
  [4, 32 * 1024 * 1024],
  [64, 1024 * 1024],
  [2048, 16 * 1024],
  [8192, 4 * 1024],
];

function makeTree(dir: string): void {
  const chunk = randomBytes(1024 * 1024);
  let n = 0;
  for (const [count, size] of MIX) {
    for (let i = 0; i < count; i++, n++) {
      const sub = path.join(dir, `d${n % 40}`);
      fs.mkdirSync(sub, { recursive: true });
      const fd = fs.openSync(path.join(sub, `f${n}`), 'w');
      for (let left = size; left > 0; left -= Math.min(left, chunk.length)) fs.writeSync(fd, chunk, 0, Math.min(left, chunk.length));
      fs.closeSync(fd);
    }
  }
}

async function engine(kind: TargetKind, src: string, n: number): Promise<{ cpIn: number[]; cpOut: number[] }> {
  const t = await startTarget({ kind });
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'stv-cp-out-'));
  try {
    await importBusybox(t);
    const run = await t.docker(['run', '-d', '--name', 'cpbench', 'busybox', 'sleep', '100000']);
    if (run.code !== 0) throw new Error(run.stderr);
    const cpIn: number[] = [];
    const cpOut: number[] = [];
    for (let i = -1; i < n; i++) {
      const tin = await timeCommand('docker', ['cp', src, `cpbench:/data${i + 1}`], t.env);
      const tout = await timeCommand('docker', ['cp', `cpbench:/data${i + 1}`, path.join(out, `o${i + 1}`)], t.env);
      fs.rmSync(path.join(out, `o${i + 1}`), { recursive: true, force: true });
      await t.docker(['exec', 'cpbench', 'rm', '-rf', `/data${i + 1}`]);
      if (i >= 0) { // the first round warms caches
        cpIn.push(tin);
        cpOut.push(tout);
      }
    }
    return { cpIn, cpOut };
  } finally {
    await t.docker(['rm', '-f', 'cpbench']);
    await t.stop();
    fs.rmSync(out, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 5);
  const src = fs.mkdtempSync(path.join(os.tmpdir(), 'stv-cp-src-'));
  try {
    makeTree(src);
    const s = await engine('stevedore', src, n);
    const d = await engine('docker', src, n);
    const row = (what: string, a: number[], b: number[]) => `| ${what} | ${fmt(median(a))} | ${fmt(median(b))} | ${(median(a) / median(b)).toFixed(2)} |`;
    const body = [
      `256 MiB in 10,308 files (4 × 32 MiB, 64 × 1 MiB, 2,048 × 16 KiB, 8,192 × 4 KiB) in 40 directories, copied with the docker CLI into (a new path) and out of a running busybox container; median of ${n} runs after one warm-up (\`node dist-test/bench/cp.js ${n}\`, ${os.cpus().length} cores, ${new Date().toISOString().slice(0, 10)}).`,
      '',
      '| docker cp | stevedore | Docker 20.10 | ratio |',
      '|---|---|---|---|',
      row('host → container', s.cpIn, d.cpIn),
      row('container → host', s.cpOut, d.cpOut),
    ].join('\n');
    writeSection('docker cp', body);
    process.stdout.write(body + '\n');
  } finally {
    fs.rmSync(src, { recursive: true, force: true });
  }
}

void main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
