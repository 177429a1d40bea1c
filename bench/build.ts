/**
 * `docker build` with the classic builder (DOCKER_BUILDKIT=0): stevedore vs Docker
 * 20.10, medians and ratios, for the four builds of issue #15 — a 3-step `--no-cache`
 * build from busybox, a 20-step `--no-cache` build, a two-stage build whose stages are
 * independent (`--no-cache`), and the fully cached rebuild of the 20-step one. Usage (as
 * root, after `npm run setup`):
 *   node dist-test/bench/build.js [iterations=5]
 * Writes the "docker build" section of docs/benchmarks.md and prints the same table.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startTarget, type TargetKind } from '../test/helpers/target';
import { fmt, importBusybox, median, timeCommand, writeSection } from './common';

const THREE = 'FROM busybox\nCOPY a.txt /a.txt\nRUN cat /a.txt > /b.txt\n';

function twenty(): string {
  const lines = ['FROM busybox', 'ARG V=1', 'ENV A=1 B=2', 'LABEL bench=build', 'WORKDIR /app'];
  for (let i = 0; lines.length < 20; i++) lines.push(i % 3 === 0 ? `COPY a.txt /app/a${i}.txt` : i % 3 === 1 ? `RUN echo ${i} > /app/r${i}` : `ENV STEP${i}=${i}`);
  lines.push('CMD ["ls", "/app"]');
  return lines.slice(0, 20).join('\n') + '\n';
}

const TWO_STAGE = 'FROM busybox AS one\nRUN sleep 1 && echo one > /one\nFROM busybox AS two\nRUN sleep 1 && echo two > /two\nFROM busybox\nCOPY --from=one /one /one\nCOPY --from=two /two /two\n';

interface Times {
  three: number[];
  twenty: number[];
  twoStage: number[];
  cached: number[];
}

function ctx(base: string, name: string, dockerfile: string): string {
  const dir = path.join(base, name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'Dockerfile'), dockerfile);
  fs.writeFileSync(path.join(dir, 'a.txt'), 'bench\n');
  return dir;
}

async function engine(kind: TargetKind, n: number): Promise<Times> {
  const t = await startTarget({ kind });
  const base = fs.mkdtempSync(path.join(t.dir, 'bench-build-'));
  try {
    await importBusybox(t);
    const env = { ...t.env, DOCKER_BUILDKIT: '0' };
    const dirs = { three: ctx(base, 'three', THREE), twenty: ctx(base, 'twenty', twenty()), twoStage: ctx(base, 'two', TWO_STAGE) };
    const out: Times = { three: [], twenty: [], twoStage: [], cached: [] };
    for (let i = -1; i < n; i++) {
      const a = await timeCommand('docker', ['build', '-q', '--no-cache', '-t', 'b3', dirs.three], env);
      const b = await timeCommand('docker', ['build', '-q', '--no-cache', '-t', 'b20', dirs.twenty], env);
      const c = await timeCommand('docker', ['build', '-q', '--no-cache', '-t', 'b2s', dirs.twoStage], env);
      const d = await timeCommand('docker', ['build', '-q', '-t', 'b20', dirs.twenty], env);
      if (i < 0) continue; // the first round warms caches
      out.three.push(a);
      out.twenty.push(b);
      out.twoStage.push(c);
      out.cached.push(d);
    }
    return out;
  } finally {
    const ps = await t.docker(['ps', '-aq']);
    for (const id of ps.stdout.split('\n').filter(Boolean)) await t.docker(['rm', '-f', id]);
    await t.stop();
  }
}

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 5);
  const s = await engine('stevedore', n);
  const d = await engine('docker', n);
  const row = (what: string, a: number[], b: number[]) => `| ${what} | ${fmt(median(a))} | ${fmt(median(b))} | ${(median(a) / median(b)).toFixed(2)} |`;
  const body = [
    `The docker CLI with \`DOCKER_BUILDKIT=0\` and \`-q\`, busybox base, median of ${n} runs after one warm-up round (\`node dist-test/bench/build.js ${n}\`, ${os.cpus().length} cores, ${new Date().toISOString().slice(0, 10)}). The two-stage build's stages each \`RUN sleep 1\`.`,
    '',
    '| docker build | stevedore | Docker 20.10 | ratio |',
    '|---|---|---|---|',
    row('3 steps, --no-cache', s.three, d.three),
    row('20 steps, --no-cache', s.twenty, d.twenty),
    row('two independent stages, --no-cache', s.twoStage, d.twoStage),
    row('20 steps, all cached', s.cached, d.cached),
  ].join('\n');
  writeSection('docker build', body);
  process.stdout.write(body + '\n');
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
