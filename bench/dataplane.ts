/**
 * The network data plane's cost per container (docs/networking/dataplane.md): a
 * namespace, a veth pair on a bridge with an IPv4 and an IPv6 address and default
 * routes, then their removal — through the addon's netlink path and through iproute2
 * (`ip -batch`, `nsenter … ip -batch`, `unshare --net=<file>` for the namespace, what
 * `ip netns add` does). Usage (as root): node dist-test/bench/dataplane.js [containers=20]
 * Prints medians in ms; changes nothing outside its own random bridge and namespaces.
 */
import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { IpLinkOps } from '../src/engine/network/link-ip';
import { NetlinkLinkOps } from '../src/engine/network/links';
import { NativeNetnsManager } from '../src/engine/network/netns';
import type { LinkOps } from '../src/engine/network/types';
import { median } from './common';

const n = Number(process.argv[2] ?? 20);
const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
const hex = (k: number) => crypto.randomBytes(k).toString('hex').slice(0, k);

async function time(fn: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return ms(t0);
}

/** `ip netns add`'s way: unshare(1) a namespace bind-mounted onto a file. */
async function unshareNetns(p: string): Promise<void> {
  fs.writeFileSync(p, '');
  const r = spawnSync('unshare', [`--net=${p}`, 'ip', 'link', 'set', 'lo', 'up']);
  if (r.status !== 0) throw new Error(`unshare: ${r.stderr}`);
}

async function main(): Promise<void> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'stevedore-bench-dp-'));
  const netns = new NativeNetnsManager(root);
  const br = `stvbn${hex(8)}`;
  const rows: [string, number, number][] = [];
  const nl = new NetlinkLinkOps();
  try {
    await nl.ensureBridge({ name: br, addresses: ['10.253.77.1/24', 'fd77:1234:5678:9abc::1/64'] });
    for (const [label, ops] of [
      ['netlink', nl],
      ['ip -batch', new IpLinkOps()],
    ] as [string, LinkOps][]) {
      const ns: number[] = [];
      const add: number[] = [];
      const del: number[] = [];
      const nsDel: number[] = [];
      const h = monitorEventLoopDelay({ resolution: 1 });
      h.enable();
      const eps = Array.from({ length: n }, (_, i) => ({ name: `b${hex(12)}`, veth: `veth${hex(7)}`, i: i + 2 }));
      for (const e of eps) {
        const p = netns.pathOf(e.name);
        ns.push(
          await time(async () => {
            if (label === 'netlink') return netns.create(e.name);
            fs.mkdirSync(netns.dir, { recursive: true });
            return unshareNetns(p);
          }),
        );
        add.push(
          await time(() =>
            ops.addEndpoint({
              bridge: br,
              hostIfName: e.veth,
              netnsPath: p,
              ifName: 'eth0',
              mac: `02:42:0a:fd:4d:${e.i.toString(16).padStart(2, '0')}`,
              addresses: [`10.253.77.${e.i}/24`, `fd77:1234:5678:9abc::${e.i.toString(16)}/64`],
              gateway4: '10.253.77.1',
              gateway6: 'fd77:1234:5678:9abc::1',
            }),
          ),
        );
      }
      for (const e of eps) {
        del.push(await time(() => ops.removeEndpoint(e.veth)));
        nsDel.push(await time(() => netns.remove(e.name)));
      }
      h.disable();
      const tot = eps.map((_, i) => ns[i] + add[i] + del[i] + nsDel[i]);
      rows.push(
        [`${label}: namespace create`, median(ns), Math.max(...ns)],
        [`${label}: endpoint add`, median(add), Math.max(...add)],
        [`${label}: endpoint remove`, median(del), Math.max(...del)],
        [`${label}: namespace remove`, median(nsDel), Math.max(...nsDel)],
        [`${label}: whole container (4 steps)`, median(tot), Math.max(...tot)],
        [`${label}: event loop delay, max`, h.max / 1e6, h.max / 1e6],
      );
    }
    // a stop that only removes the namespace: the kernel deletes the pair in its own time
    const stop: number[] = [];
    const gone: number[] = [];
    for (let i = 0; i < n; i++) {
      const name = `b${hex(12)}`;
      const veth = `veth${hex(7)}`;
      const p = await netns.create(name);
      await nl.addEndpoint({ bridge: br, hostIfName: veth, netnsPath: p, ifName: 'eth0', mac: '02:42:0a:fd:4d:02', addresses: ['10.253.77.2/24'], gateway4: '10.253.77.1' });
      const t0 = process.hrtime.bigint();
      await netns.remove(name);
      stop.push(ms(t0));
      while ((await nl.linkAddresses(veth)) !== undefined) await new Promise((r) => setTimeout(r, 1));
      gone.push(ms(t0));
    }
    rows.push(
      ['netlink: stop by namespace removal only', median(stop), Math.max(...stop)],
      ['  … until the kernel has deleted the veth pair', median(gone), Math.max(...gone)],
    );
  } finally {
    await nl.deleteBridge(br).catch(() => undefined);
    for (const name of await netns.list()) await netns.remove(name).catch(() => undefined);
    fs.rmSync(root, { recursive: true, force: true });
  }
  console.log(`| ${n} containers, ms | median | max |\n|---|---:|---:|`);
  for (const [k, med, max] of rows) console.log(`| ${k} | ${med.toFixed(2)} | ${max.toFixed(2)} |`);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
