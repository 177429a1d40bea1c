/**
 * Interactive paths: median `docker exec CONTAINER true` latency, and the throughput of
 * 64 MiB through the stdout of an attached `docker run` (`head -c 67108864 /dev/zero`),
 * stevedore vs Docker 20.10 on the same machine with the same CLI. Usage (as root):
 *   node dist/bench/exec-attach.js [exec-iterations=30] [attach-iterations=5]
 * Writes the "exec and attach" section of docs/benchmarks.md and prints it.
 */
import * as os from 'node:os';
import { startTarget, type TargetKind } from '../test/helpers/target';
import { fmt, importBusybox, median, timeCommand, writeSection } from './common';

const BYTES = 64 * 1024 * 1024;

interface Result {
  exec: number;
  /** wall time of the whole `docker run` streaming 64 MiB, ms */
  attach: number;
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

    const run = ['run', '--rm', '--network', 'none', 'busybox', 'head', '-c', String(BYTES), '/dev/zero'];
    await timeCommand('docker', run, t.env);
    const runs: number[] = [];
    for (let i = 0; i < nAttach; i++) runs.push(await timeCommand('docker', run, t.env));
    return { exec: median(execs), attach: median(runs) };
  } finally {
    await t.stop();
  }
}

const mibps = (ms: number) => BYTES / (1024 * 1024) / (ms / 1000);

async function main(): Promise<void> {
  const nExec = Number(process.argv[2] ?? 30);
  const nAttach = Number(process.argv[3] ?? 5);
  const ours = await engine('stevedore', nExec, nAttach);
  const docker = await engine('docker', nExec, nAttach);
  const body = `Median of ${nExec} runs of \`docker exec CONTAINER true\` against a running busybox container, and of ${nAttach} runs of \`docker run --rm --network none busybox head -c 67108864 /dev/zero\` with the CLI's stdout on /dev/null (the whole command is timed: create, attach, start, 64 MiB through the attach stream and the json-file log, exit); docker CLI 28 as the client for both engines; ${os.cpus().length} cores, kernel ${os.release()}, measured ${new Date().toISOString().slice(0, 10)}.

| | stevedore | Docker 20.10 | ratio |
|---|---|---|---|
| \`docker exec C true\` | ${fmt(ours.exec)} | ${fmt(docker.exec)} | stevedore takes ${(ours.exec / docker.exec).toFixed(2)}× Docker's time |
| 64 MiB attached \`docker run\` | ${fmt(ours.attach)} (${mibps(ours.attach).toFixed(0)} MiB/s) | ${fmt(docker.attach)} (${mibps(docker.attach).toFixed(0)} MiB/s) | stevedore's throughput is ${(docker.attach / ours.attach).toFixed(2)}× Docker's |

Targets: exec at most half of Docker's latency; attach throughput at least 5× Docker's.`;
  console.log(body);
  writeSection('exec and attach', body);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
