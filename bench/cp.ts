/**
 * `docker cp`: stevedore vs Docker 20.10, both daemons running at once and measured in
 * alternation (run by run, the order swapped every round), medians and ratios:
 *
 * - small requests, median of 20: `HEAD /containers/{id}/archive` (the CLI's stat of
 *   the destination, as a raw API request), and the docker CLI copying one 4 KiB file
 *   in and one out (the whole command);
 * - throughput: a 256 MiB directory of mixed file sizes copied with the docker CLI into
 *   (a new path) and out of a running busybox container, median of `iterations` runs
 *   after one warm-up round.
 *
 * Nothing copied is deleted before the end: ext4 without a journal (this VM's) skips,
 * on each inode allocation, every free inode of the block group deleted in the last
 * 60 s (360 s while its inode table block is dirty; ialloc.c recently_deleted), which
 * made a 10,000-file extraction take 6–9 s instead of 0.5–1 s: the benchmark measured
 * the previous round's `rm -rf`, not the copy. The CPU rows (daemon with its reaped
 * children, and the CLI) are steadier than wall times on a shared machine.
 *
 * Usage (as root, after `npm run setup`):
 *   node dist-test/bench/cp.js [iterations=5] [directory]
 * `directory` (default the temp directory) holds the source tree, both engines' data
 * roots and the copies out: `/dev/shm` puts them all on tmpfs, which measures the
 * engines without ext4's allocator (above).
 * Writes the "docker cp" section of docs/benchmarks.md and prints the same table.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startTarget, type Target } from '../test/helpers/target';
import { fmt, importBusybox, median, timeCommand, writeSection } from './common';

/** [count, size]: 4 × 32 MiB + 64 × 1 MiB + 2048 × 16 KiB + 8192 × 4 KiB = 256 MiB, 10308 files in 40 directories. */
const MIX: Array<[number, number]> = [
  [4, 32 * 1024 * 1024],
  [64, 1024 * 1024],
  [2048, 16 * 1024],
  [8192, 4 * 1024],
];
const SMALL_RUNS = 20;

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

interface Engine {
  name: 'stevedore' | 'docker';
  t: Target;
  out: string;
  head: number[];
  smallIn: number[];
  smallOut: number[];
  cpIn: number[];
  cpOut: number[];
  /** CPU ms of the daemon (with its reaped children: Docker's docker-untar/docker-tar) and of the CLI, per 256 MiB copy */
  daemonIn: number[];
  daemonOut: number[];
  cliIn: number[];
  cliOut: number[];
}

/** CPU ms a process and its reaped children used so far (utime + stime + cutime + cstime). */
function procCpu(pid: number): number {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * (1000 / 100);
}

/** The docker CLI under /usr/bin/time: wall ms and CPU ms. */
function timeCli(args: string[], env: NodeJS.ProcessEnv): Promise<{ wall: number; cpu: number }> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const p = spawn('/usr/bin/time', ['-f', 'cpu %U %S', 'docker', ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => {
      const wall = Number(process.hrtime.bigint() - t0) / 1e6;
      const m = /cpu ([\d.]+) ([\d.]+)\s*$/.exec(err);
      if (code !== 0 || !m) reject(new Error(`docker ${args.join(' ')} exited ${code}: ${err}`));
      else resolve({ wall, cpu: (Number(m[1]) + Number(m[2])) * 1000 });
    });
  });
}

async function setup(name: Engine['name'], out: string, base: string): Promise<Engine> {
  const dir = fs.mkdtempSync(path.join(base, 'stv-'));
  let t: Target;
  try {
    t = await startTarget({ kind: name, dir });
  } catch (err) {
    // (startTarget leaves a directory it was given to its caller)
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  try {
    await importBusybox(t);
    const run = await t.docker(['run', '-d', '--name', 'cpbench', 'busybox', 'sleep', '100000']);
    if (run.code !== 0) throw new Error(run.stderr);
  } catch (err) {
    await t.stop();
    fs.rmSync(t.dir, { recursive: true, force: true });
    throw err;
  }
  return { name, t, out, head: [], smallIn: [], smallOut: [], cpIn: [], cpOut: [], daemonIn: [], daemonOut: [], cliIn: [], cliOut: [] };
}

async function timeHead(e: Engine): Promise<number> {
  const t0 = process.hrtime.bigint();
  const r = await e.t.request('HEAD', '/containers/cpbench/archive?path=%2Fetc%2Fpasswd');
  if (r.status !== 200) throw new Error(`HEAD: ${r.status}`);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

async function small(e: Engine, file: string, i: number): Promise<void> {
  e.head.push(await timeHead(e));
  e.smallIn.push(await timeCommand('docker', ['cp', file, `cpbench:/tmp/s${i}`], e.t.env));
  e.smallOut.push(await timeCommand('docker', ['cp', 'cpbench:/etc/passwd', path.join(e.out, `${e.name}-s${i}`)], e.t.env));
}

async function big(e: Engine, src: string, i: number, keep: boolean): Promise<void> {
  const c0 = procCpu(e.t.pid);
  const tin = await timeCli(['cp', src, `cpbench:/data${i}`], e.t.env);
  const c1 = procCpu(e.t.pid);
  const tout = await timeCli(['cp', `cpbench:/data${i}`, path.join(e.out, `${e.name}-o${i}`)], e.t.env);
  const c2 = procCpu(e.t.pid);
  if (keep) {
    e.cpIn.push(tin.wall);
    e.cpOut.push(tout.wall);
    e.cliIn.push(tin.cpu);
    e.cliOut.push(tout.cpu);
    e.daemonIn.push(c1 - c0);
    e.daemonOut.push(c2 - c1);
  }
}

/** The file system type of `dir` (from /proc/mounts: the longest mount point above it). */
function fsType(dir: string): string {
  let best = '';
  let type = '?';
  for (const line of fs.readFileSync('/proc/mounts', 'utf8').split('\n')) {
    const [, mnt, t] = line.split(' ');
    if (mnt && t && (dir === mnt || dir.startsWith(mnt === '/' ? '/' : `${mnt}/`)) && mnt.length > best.length) {
      best = mnt;
      type = t;
    }
  }
  return type;
}

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 5);
  const base = process.argv[3] ?? os.tmpdir();
  const src = fs.mkdtempSync(path.join(base, 'stv-cp-src-'));
  // one output directory for both engines: their copies out are siblings, so ext4
  // places them alike (a directory's inodes come from its parent's block group first)
  const out = fs.mkdtempSync(path.join(base, 'stv-cp-out-'));
  const engines: Engine[] = [];
  try {
    makeTree(src);
    const one = path.join(src, 'one');
    fs.writeFileSync(one, randomBytes(4096));
    // one at a time: an engine started before the other's setup fails is still stopped below
    for (const name of ['stevedore', 'docker'] as const) engines.push(await setup(name, out, base));
    // small requests: one warm-up, then alternating, the order swapped every round
    for (const e of engines) await small(e, one, -1);
    for (const e of engines) e.head.length = e.smallIn.length = e.smallOut.length = 0;
    for (let i = 0; i < SMALL_RUNS; i++) for (const e of i % 2 ? [...engines].reverse() : engines) await small(e, one, i);
    // 256 MiB: a warm-up round, then n, alternating
    for (let i = -1; i < n; i++) for (const e of i % 2 ? [...engines].reverse() : engines) await big(e, src, i + 1, i >= 0);
    const [s, d] = engines as [Engine, Engine];
    const row = (what: string, a: number[], b: number[]) => `| ${what} | ${fmt(median(a))} | ${fmt(median(b))} | ${(median(a) / median(b)).toFixed(2)} |`;
    const load = os.loadavg()[0]!.toFixed(1);
    const body = [
      `Both daemons running at once and measured in alternation (the order swapped every round); files in ${base} (${fsType(base)}); ${os.cpus().length} cores, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, load average ${load} at the end (\`node dist-test/bench/cp.js ${n}${process.argv[3] ? ` ${base}` : ''}\`). Small requests: median of ${SMALL_RUNS} after one warm-up — the HEAD is a raw API request (what \`docker cp\` sends first), the 1-file copies are whole docker CLI commands (4 KiB in, /etc/passwd out). 256 MiB: 10,308 files (4 × 32 MiB, 64 × 1 MiB, 2,048 × 16 KiB, 8,192 × 4 KiB) in 40 directories, into a new path and out of a running busybox container, median of ${n} runs after one warm-up; nothing is deleted until the end (see below). CPU: the daemon's (with its reaped children: Docker's \`docker-untar\`/\`docker-tar\`) and the CLI's, per copy, medians.`,
      '',
      '| docker cp | stevedore | Docker 20.10 | ratio |',
      '|---|---|---|---|',
      row('HEAD /containers/{id}/archive', s.head, d.head),
      row('1 file, host → container', s.smallIn, d.smallIn),
      row('1 file, container → host', s.smallOut, d.smallOut),
      row('256 MiB, host → container', s.cpIn, d.cpIn),
      row('256 MiB, container → host', s.cpOut, d.cpOut),
      row('256 MiB in: daemon CPU', s.daemonIn, d.daemonIn),
      row('256 MiB in: docker CLI CPU', s.cliIn, d.cliIn),
      row('256 MiB out: daemon CPU', s.daemonOut, d.daemonOut),
      row('256 MiB out: docker CLI CPU', s.cliOut, d.cliOut),
    ].join('\n');
    writeSection('docker cp', body);
    process.stdout.write(body + '\n');
    for (const e of engines) process.stdout.write(`${e.name}: in ${e.cpIn.map((x) => x.toFixed(0)).join(' ')} / out ${e.cpOut.map((x) => x.toFixed(0)).join(' ')} ms\n`);
  } finally {
    for (const e of engines) {
      await e.t.docker(['rm', '-f', 'cpbench']);
      await e.t.stop();
      fs.rmSync(e.t.dir, { recursive: true, force: true });
    }
    fs.rmSync(out, { recursive: true, force: true });
    fs.rmSync(src, { recursive: true, force: true });
  }
}

void main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
