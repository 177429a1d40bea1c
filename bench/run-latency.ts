/**
 * `docker run --rm --network none busybox true` latency: stevedore vs Docker 20.10 vs a
 * bare `runc run` of an equivalent bundle. Usage (as root, after `npm run setup`):
 *   node dist-test/bench/run-latency.js [iterations=30]
 * Writes a section of docs/benchmarks.md and prints the same table.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeBusyboxRootfs } from '../test/helpers/busybox';
import { startTarget, type TargetKind } from '../test/helpers/target';
import { fmt, importBusybox, median, timeCommand, writeSection } from './common';

/**
 * Times `docker run` on one engine. For stevedore it also keeps a copy of the OCI bundle
 * it generated for that very command (`config.json` of a running twin), so the bare
 * runc run below runs *the same bundle*, as the target asks.
 */
async function engine(kind: TargetKind, n: number, keepSpec?: (spec: Record<string, any>, files: Record<string, string>) => void): Promise<number[]> {
  const t = await startTarget({ kind });
  try {
    await importBusybox(t);
    const args = ['run', '--rm', '--network', 'none', 'busybox', 'true'];
    if (keepSpec) {
      const r = await t.docker(['run', '-d', '--network', 'none', 'busybox', 'sleep', '1000']);
      const id = r.stdout.trim();
      const spec = JSON.parse(fs.readFileSync(path.join(t.execRoot, 'bundles', id, 'config.json'), 'utf8'));
      const files: Record<string, string> = {};
      for (const m of spec.mounts as Array<{ source: string; destination: string }>) {
        if (['/etc/hosts', '/etc/hostname', '/etc/resolv.conf'].includes(m.destination)) files[m.destination] = fs.readFileSync(m.source, 'utf8');
      }
      // the twin's network namespace (prepared by the daemon, `--network none`) goes with
      // it: the bare run gets a new one from runc, which costs runc the same
      for (const ns of (spec.linux?.namespaces ?? []) as Array<{ type: string; path?: string }>) if (ns.type === 'network') delete ns.path;
      keepSpec(spec, files);
      await t.docker(['rm', '-f', id]);
    }
    for (let i = 0; i < 3; i++) await timeCommand('docker', args, t.env);
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push(await timeCommand('docker', args, t.env));
    return out;
  } finally {
    await t.stop();
  }
}

/** Bare `runc run` of stevedore's own bundle for the same command, over a busybox rootfs. */
async function bareRunc(n: number, spec: Record<string, any>, files: Record<string, string>): Promise<number[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stv-bench-runc-'));
  try {
    makeBusyboxRootfs(path.join(dir, 'rootfs'));
    spec.root = { path: path.join(dir, 'rootfs'), readonly: false };
    spec.process.terminal = false;
    spec.process.args = ['true'];
    spec.linux.cgroupsPath = `/stevedore-bench/${process.pid}`;
    for (const m of spec.mounts as Array<{ source: string; destination: string }>) {
      const content = files[m.destination];
      if (content === undefined) continue;
      m.source = path.join(dir, path.basename(m.destination));
      fs.writeFileSync(m.source, content);
    }
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(spec));
    const root = path.join(dir, 'state');
    const run = (i: number) => timeCommand('runc', ['--root', root, 'run', '--bundle', dir, `bench-${process.pid}-${i}`], process.env);
    for (let i = 0; i < 3; i++) await run(-i - 1);
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push(await run(i));
    return out;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    for (const ctl of fs.readdirSync('/sys/fs/cgroup')) {
      try {
        fs.rmdirSync(path.join('/sys/fs/cgroup', ctl, 'stevedore-bench'));
      } catch {
        /* not there */
      }
    }
  }
}

/** The middle half of the runs (the machine is shared: medians alone hide the noise). */
function spread(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * (s.length - 1)))]!;
  return `${at(0.25).toFixed(0)}–${at(0.75).toFixed(0)} ms`;
}

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 30);
  let kept: { spec: Record<string, any>; files: Record<string, string> } | undefined;
  const oursRuns = await engine('stevedore', n, (spec, files) => (kept = { spec, files }));
  const dockerRuns = await engine('docker', n);
  const runcRuns = await bareRunc(n, kept!.spec, kept!.files);
  const [ours, docker, runc] = [median(oursRuns), median(dockerRuns), median(runcRuns)];
  const body = `Median of ${n} runs of \`docker run --rm --network none busybox true\` (docker CLI 28 as the client for both engines), and of a bare \`runc run\` of the same bundle (the \`config.json\` stevedore generated for that command: Docker's default capabilities, seccomp profile, masked paths, cgroup mounts; over a busybox rootfs); ${os.cpus().length} cores, kernel ${os.release()}, measured ${new Date().toISOString().slice(0, 10)}.

| | median | p25–p75 | ratio |
|---|---|---|---|
| stevedore | ${fmt(ours)} | ${spread(oursRuns)} | 1.00 |
| Docker 20.10 | ${fmt(docker)} | ${spread(dockerRuns)} | stevedore takes ${(ours / docker).toFixed(2)}× Docker's time |
| bare runc run | ${fmt(runc)} | ${spread(runcRuns)} | stevedore takes ${(ours / runc).toFixed(2)}× runc's time |

Targets: at most 1/3 of Docker's time; within 2.5× of bare runc.`;
  console.log(body);
  writeSection('docker run latency', body);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
