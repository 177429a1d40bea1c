/**
 * Interactive paths: median `docker exec CONTAINER true` latency, and the throughput of
 * 64 MiB through the stdout of an attached `docker run` (busybox `head -c 64M` and `dd bs=1M`),
 * stevedore vs Docker 20.10 on the same machine with the same CLI. Usage (as root):
 *   node dist-test/bench/exec-attach.js [exec-iterations=30] [attach-iterations=5]
 * Writes the "exec and attach" section of docs/benchmarks.md and prints it.
 */
import { spawn } from 'node:child_process';
import * as os from 'node:os';
import { startTarget, type TargetKind } from '../test/helpers/target';
import { fmt, importBusybox, median, timeCommand, writeSection } from './common';

const BYTES = 64 * 1024 * 1024;

/** What the container runs to write 64 MiB to its stdout, and a run that writes it inside the container. */
const WORKLOADS = {
  /** busybox head: reads and writes 4 KiB at a time (the producer is the slow part) */
  head: ['head', '-c', String(BYTES), '/dev/zero'],
  /** busybox dd: 1 MiB per write */
  dd: ['dd', 'if=/dev/zero', 'bs=1048576', 'count=64'],
} as const;
type Workload = keyof typeof WORKLOADS;

interface Result {
  exec: number;
  /** wall time of the whole `docker run` streaming 64 MiB, ms */
  attach: Record<Workload, number>;
  /** the same runs with the output written to /dev/null inside the container: the producer's floor */
  inside: Record<Workload, number>;
}

async function engine(kind: TargetKind, nExec: number, nAttach: number): Promise<Result> {
  const t = await startTarget({ kind });
  try {
    await importBusybox(t);
    const name = `bench-exec-${process.pid}`;
    const r = await t.docker(['run', '-d', '--name', name, '--network', 'none', 'busybox', 'sleep', '100000']);
    if (r.code !== 0) throw new Error(`run failed: ${r.stderr}`);
    const exec = ['exec', name, 'true'];
    for (let i = 0; i < 3; i++) await timeCommand('docker', exec, t.env);
    const execs: number[] = [];
    for (let i = 0; i < nExec; i++) execs.push(await timeCommand('docker', exec, t.env));
    await t.docker(['rm', '-f', name]);

    const attach = {} as Record<Workload, number>;
    const inside = {} as Record<Workload, number>;
    for (const w of Object.keys(WORKLOADS) as Workload[]) {
      const run = ['run', '--rm', '--network', 'none', 'busybox', ...WORKLOADS[w]];
      // the warm-up run also checks that the whole output arrives (a client more than
      // 4 MiB behind is dropped by the shim: a fast truncated run must not count)
      const got = await outputBytes('docker', run, t.env);
      if (got !== BYTES) throw new Error(`${kind}: the attached run delivered ${got} of ${BYTES} bytes`);
      const runs: number[] = [];
      for (let i = 0; i < nAttach; i++) runs.push(await timeCommand('docker', run, t.env));
      attach[w] = median(runs);
      const quiet = ['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', `${WORKLOADS[w].join(' ')} >/dev/null 2>&1`];
      const floors: number[] = [];
      for (let i = 0; i < nAttach; i++) floors.push(await timeCommand('docker', quiet, t.env));
      inside[w] = median(floors);
    }
    return { exec: median(execs), attach, inside };
  } finally {
    await t.stop();
  }
}

/** Runs a command and counts the bytes of its stdout. */
function outputBytes(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'ignore'] });
    let n = 0;
    p.stdout!.on('data', (d: Buffer) => (n += d.length));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve(n) : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}`))));
  });
}

const mibps = (ms: number) => BYTES / (1024 * 1024) / (ms / 1000);

async function main(): Promise<void> {
  const nExec = Number(process.argv[2] ?? 30);
  const nAttach = Number(process.argv[3] ?? 5);
  const ours = await engine('stevedore', nExec, nAttach);
  const docker = await engine('docker', nExec, nAttach);
  const row = (label: string, w: Workload) =>
    `| ${label} | ${fmt(ours.attach[w])} (${mibps(ours.attach[w]).toFixed(0)} MiB/s) | ${fmt(docker.attach[w])} (${mibps(docker.attach[w]).toFixed(0)} MiB/s) | stevedore's throughput is ${(docker.attach[w] / ours.attach[w]).toFixed(2)}× Docker's |`;
  const floor = (label: string, w: Workload) => `| ${label} | ${fmt(ours.inside[w])} | ${fmt(docker.inside[w])} | |`;
  const body = `Median of ${nExec} runs of \`docker exec CONTAINER true\` against a running busybox container, and of ${nAttach} runs of \`docker run --rm --network none busybox <producer>\` writing 64 MiB of zeros to its stdout, with the CLI's stdout on /dev/null (the whole command is timed: create, attach, start, 64 MiB through the attach stream and the json-file log, exit). Producers: \`head -c 67108864 /dev/zero\` (busybox head moves 4 KiB per read and write) and \`dd if=/dev/zero bs=1048576 count=64\` (1 MiB per write); "inside" rows are the same runs writing to /dev/null inside the container (no attach, no log: the producer's and the container's own floor). docker CLI 28 as the client for both engines; ${os.cpus().length} cores, kernel ${os.release()}, measured ${new Date().toISOString().slice(0, 10)}.

| | stevedore | Docker 20.10 | ratio |
|---|---|---|---|
| \`docker exec C true\` | ${fmt(ours.exec)} | ${fmt(docker.exec)} | stevedore takes ${(ours.exec / docker.exec).toFixed(2)}× Docker's time |
${row('64 MiB attached `docker run`, head', 'head')}
${row('64 MiB attached `docker run`, dd', 'dd')}
${floor('inside: head > /dev/null', 'head')}
${floor('inside: dd > /dev/null', 'dd')}

Targets: exec at most half of Docker's latency; attach throughput at least 5× Docker's.`;
  console.log(body);
  writeSection('exec and attach', body);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
