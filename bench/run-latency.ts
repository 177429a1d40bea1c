/**
 * `docker run --rm --network none busybox true` latency: stevedore vs Docker 20.10 vs a
 * bare `runc run` of an equivalent bundle. Usage (as root, after `npm run setup`):
 *   node dist/bench/run-latency.js [iterations=30]
 * Writes a section of docs/benchmarks.md and prints the same table.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeBusyboxRootfs } from '../test/helpers/busybox';
import { startTarget, type TargetKind } from '../test/helpers/target';
import { fmt, importBusybox, median, timeCommand, writeSection } from './common';

async function engine(kind: TargetKind, n: number): Promise<number[]> {
  const t = await startTarget({ kind });
  try {
    await importBusybox(t);
    const args = ['run', '--rm', '--network', 'none', 'busybox', 'true'];
    for (let i = 0; i < 3; i++) await timeCommand('docker', args, t.env);
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push(await timeCommand('docker', args, t.env));
    return out;
  } finally {
    await t.stop();
  }
}

async function bareRunc(n: number): Promise<number[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stv-bench-runc-'));
  try {
    makeBusyboxRootfs(path.join(dir, 'rootfs'));
    execFileSync('runc', ['spec'], { cwd: dir });
    const spec = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    spec.process.terminal = false;
    spec.process.args = ['true'];
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(spec));
    const root = path.join(dir, 'state');
    const run = (i: number) => timeCommand('runc', ['--root', root, 'run', '--bundle', dir, `bench-${process.pid}-${i}`], process.env);
    for (let i = 0; i < 3; i++) await run(-i - 1);
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push(await run(i));
    return out;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 30);
  const ours = median(await engine('stevedore', n));
  const docker = median(await engine('docker', n));
  const runc = median(await bareRunc(n));
  const body = `Median of ${n} runs of \`docker run --rm --network none busybox true\` (docker CLI 28 as the client for both engines), and of a bare \`runc run\` of a busybox bundle made by \`runc spec\`; ${os.cpus().length} cores, kernel ${os.release()}, measured ${new Date().toISOString().slice(0, 10)}.

| | median | ratio |
|---|---|---|
| stevedore | ${fmt(ours)} | 1.00 |
| Docker 20.10 | ${fmt(docker)} | stevedore takes ${(ours / docker).toFixed(2)}× Docker's time |
| bare runc run | ${fmt(runc)} | stevedore takes ${(ours / runc).toFixed(2)}× runc's time |

Targets: at most 1/3 of Docker's time; within 2.5× of bare runc.`;
  console.log(body);
  writeSection('docker run latency', body);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
