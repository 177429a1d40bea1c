/**
 * This checkout against the previous release of stevedore, side by side on the same
 * machine: did a change make the hot paths slower? (Issue #12's reshape asked for it.)
 * The previous release is built from git by test/helpers/previous-release.ts (cached).
 * Both daemons run at once on their own temp roots; the measurements alternate between
 * them run by run, so that a noisy moment of the machine hits both alike.
 *
 *   node dist-test/bench/release-compare.js [iterations=30] [attachRuns=5]
 *
 * Writes the "Before and after" section of docs/benchmarks.md and prints it.
 */
import * as os from 'node:os';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildPreviousRelease, PREVIOUS_RELEASE, resolvePreviousRelease, startPreviousDaemon } from '../test/helpers/previous-release';
import { startTarget, unmountBelow } from '../test/helpers/target';
import { fmt, importBusybox, median, timeCommand, writeSection } from './common';

interface Engine {
  label: string;
  env: NodeJS.ProcessEnv;
  docker(args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
}

const RUN = ['run', '--rm', '--network', 'none', 'busybox', 'true'];
const DD = ['run', '--rm', '--network', 'none', 'busybox', 'dd', 'if=/dev/zero', 'bs=1048576', 'count=64'];

async function alternate(engines: Engine[], n: number, args: (e: Engine) => string[]): Promise<number[][]> {
  const out = engines.map(() => [] as number[]);
  for (const e of engines) for (let i = 0; i < 3; i++) await timeCommand('docker', args(e), e.env); // warm-up
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < engines.length; k++) {
      const e = engines[(i + k) % engines.length]!; // the order alternates too
      out[engines.indexOf(e)]!.push(await timeCommand('docker', args(e), e.env));
    }
  }
  return out;
}

/**
 * The default previous release when an earlier run already built it: no need to ask git
 * for the commit (the constant is the full hash), so the bench runs where git cannot.
 */
function cachedPreviousRelease(): { commit: string } | undefined {
  if (process.env.STEVEDORE_PREVIOUS_RELEASE || !/^[0-9a-f]{40}$/.test(PREVIOUS_RELEASE)) return undefined;
  const root = path.join(os.tmpdir(), `stevedore-previous-${PREVIOUS_RELEASE.slice(0, 12)}-abi${process.versions.modules}`);
  return fs.existsSync(path.join(root, '.stevedore-previous.json')) ? { commit: PREVIOUS_RELEASE } : undefined;
}

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 30);
  const nAttach = Number(process.argv[3] ?? 5);
  const found = cachedPreviousRelease() ?? resolvePreviousRelease();
  if ('skip' in found) throw new Error(found.skip);
  const prev = await buildPreviousRelease(found.commit);
  const prevDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stv-bp-'));
  const old = await startPreviousDaemon(prev, prevDir);
  const cur = await startTarget({ kind: 'stevedore' });
  const containers: Array<{ e: Engine; id: string }> = [];
  try {
    const oldEnv: NodeJS.ProcessEnv = { ...process.env, DOCKER_HOST: `unix://${path.join(prevDir, 'engine.sock')}`, HOME: path.join(prevDir, 'home'), DOCKER_CONFIG: path.join(prevDir, 'home', '.docker') };
    const engines: Engine[] = [
      { label: `previous (${found.commit.slice(0, 7)})`, env: oldEnv, docker: (a) => old.docker(a) },
      { label: 'this checkout', env: cur.env, docker: (a) => cur.docker(a) },
    ];
    await importBusybox({ dir: prevDir, docker: (a: string[]) => old.docker(a) } as Parameters<typeof importBusybox>[0]);
    await importBusybox(cur);
    for (const e of engines) {
      const r = await e.docker(['run', '-d', '--network', 'none', 'busybox', 'sleep', '100000']);
      if (r.code !== 0) throw new Error(r.stderr);
      containers.push({ e, id: r.stdout.trim() });
    }
    const run = await alternate(engines, n, () => RUN);
    const exec = await alternate(engines, n, (e) => ['exec', containers.find((c) => c.e === e)!.id, 'true']);
    const dd = await alternate(engines, nAttach, () => DD);
    // besides the ratio of the medians, the median of the paired differences (each run
    // of this checkout minus the previous release's run of the same round, taken back to
    // back): the machine's drift between rounds cancels out of it
    const row = (what: string, xs: number[][]) => {
      const [a, b] = [median(xs[0]!), median(xs[1]!)];
      const paired = median(xs[1]!.map((v, i) => v - xs[0]![i]!));
      return `| ${what} | ${fmt(a)} | ${fmt(b)} | ${(b / a).toFixed(2)}× | ${paired >= 0 ? '+' : '−'}${Math.abs(paired).toFixed(1)} ms (${((a + paired) / a).toFixed(2)}×) |`;
    };
    const body = `Medians, the two daemons running at once and measured alternately (run by run, order swapped each time): ${n} runs each of \`docker ${RUN.join(' ')}\` and of \`docker exec C true\`, ${nAttach} of a 64 MiB attached \`docker run … dd bs=1M\` (CLI output to /dev/null). docker CLI 28; ${os.cpus().length} cores, kernel ${os.release()}, measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC. A ratio below 1.00 means this checkout is faster. The last column is the median of the paired differences (this checkout's run minus the previous release's run of the same round), and the ratio it gives.

| | ${engines[0]!.label} | ${engines[1]!.label} | this ÷ previous | paired difference |
|---|---|---|---|---|
${row('`docker run --rm --network none busybox true`', run)}
${row('`docker exec C true`', exec)}
${row('64 MiB attached `docker run`, dd', dd)}`;
    console.log(body);
    writeSection('Before and after (this checkout against the previous release)', body);
  } finally {
    for (const c of containers) await c.e.docker(['rm', '-f', c.id]).catch(() => undefined);
    await cur.stop();
    await old.stop();
    unmountBelow(prevDir);
    fs.rmSync(prevDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
