/**
 * Measures the resolver process (docs/networking/dns.md, "Measurements"): query latency
 * (median, p99) for a local name over UDP and TCP and for a forwarded one, throughput with
 * 64 queries in flight, `update()` latency (write + SIGHUP + confirmed), and the
 * resolver's RSS with a small and a large table. Needs root (port 53).
 *
 *   node dist-test/src/engine/network/dns/bench.js
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ProcessNameService } from './service';
import type { ResolverNetwork } from './table';
import { RCODE, TYPE, buildMessage } from './wire';
import { FakeUpstream, query, randomLoopback } from './testing/dns-client';

function stats(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  return `median ${(q(0.5) * 1000).toFixed(0)} µs, p99 ${(q(0.99) * 1000).toFixed(0)} µs (n=${s.length})`;
}

function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0);
}

function bigTable(listen: string, networks: number, perNet: number): ResolverNetwork[] {
  const out: ResolverNetwork[] = [{ id: 'bench', name: 'bench', listen: [listen], records: [{ names: ['web'], ipv4: ['10.200.0.2'], ipv6: [] }] }];
  for (let n = 0; n < networks; n++) {
    out.push({
      id: `net${n}`,
      name: `net${n}`,
      listen: [],
      records: Array.from({ length: perNet }, (_, i) => ({
        names: [`c${n}-${i}`, `alias${i}`, (n * 1000 + i).toString(16).padStart(12, '0')],
        ipv4: [`10.${100 + (n >> 8)}.${n & 255}.${i + 2}`],
        ipv6: [],
        container: `id${n}-${i}`,
      })),
    });
  }
  return out;
}

async function main(): Promise<void> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dns-bench-'));
  const gw = randomLoopback();
  const up = randomLoopback();
  fs.writeFileSync(path.join(tmp, 'resolv.conf'), `nameserver ${up}\n`);
  const upstream = await new FakeUpstream(up, (q) =>
    buildMessage({ header: { id: q.header.id, qr: true, rd: true, ra: true, rcode: RCODE.NXDOMAIN }, questions: q.questions }),
  ).start();
  const s = new ProcessNameService({ execRoot: tmp, port: 53, resolvConf: path.join(tmp, 'resolv.conf') });
  try {
    await s.start();
    const pid = s.resolverPid!;
    console.log(`resolver RSS, empty table: ${(rssKiB(pid) / 1024).toFixed(1)} MiB`);
    await s.update(bigTable(gw, 0, 0));
    for (let i = 0; i < 200; i++) await query(gw, 'web', TYPE.A);
    const run = async (label: string, n: number, f: () => Promise<unknown>) => {
      const t: number[] = [];
      for (let i = 0; i < n; i++) {
        const a = process.hrtime.bigint();
        await f();
        t.push(Number(process.hrtime.bigint() - a) / 1e6);
      }
      console.log(`${label}: ${stats(t)}`);
    };
    await run('local A over UDP', 2000, () => query(gw, 'web', TYPE.A));
    await run('local A over TCP (new connection each)', 1000, () => query(gw, 'web', TYPE.A, { tcp: true }));
    await run('forwarded (NXDOMAIN from a loopback upstream) over UDP', 1000, () => query(gw, 'nosuch.example', TYPE.A));
    const total = 20000;
    let next = 0;
    const a = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        while (next++ < total) await query(gw, 'web', TYPE.A);
      }),
    );
    const secs = Number(process.hrtime.bigint() - a) / 1e9;
    console.log(`throughput, 64 in flight, local A over UDP: ${Math.round(total / secs)} queries/s`);
    let k = 0;
    await run('update() with a 1-network table (write, SIGHUP, confirmed)', 200, () => s.update(bigTable(gw, 0, ++k % 2)));
    console.log(`resolver RSS after the runs above: ${(rssKiB(pid) / 1024).toFixed(1)} MiB`);
    const big = bigTable(gw, 100, 100);
    await run('update() with 100 networks × 100 containers', 20, () => s.update(big));
    await run('local A over UDP, 10 000-record table', 1000, () => query(gw, 'web', TYPE.A));
    console.log(`resolver RSS with 10 000 records: ${(rssKiB(pid) / 1024).toFixed(1)} MiB`);
    console.log(`upstream saw ${upstream.queries.length} queries`);
  } finally {
    await s.stop();
    await upstream.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
