/**
 * Container helpers for e2e tests: remove every container of a target, and check that
 * nothing of them is left on the host (shim processes, runtime state, cgroups).
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Target } from './target';

/**
 * Runs `docker args` on the target and asserts that it exits 0 (the message holds its
 * stderr and, on stevedore, the end of the daemon's log); returns its stdout.
 */
export async function dockerOk(t: Target, args: string[], opts?: { input?: string }): Promise<string> {
  const r = await t.docker(args, opts);
  assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}\n${t.kind === 'stevedore' ? t.logs().slice(-2000) : ''}`);
  return r.stdout;
}

/** `docker rm -f` of every container of the target. */
export async function removeAllContainers(t: Target): Promise<void> {
  const ids = (await t.docker(['ps', '-aq'])).stdout.trim().split('\n').filter(Boolean);
  if (ids.length) await t.docker(['rm', '-f', ...ids]);
}

/** Pids of live processes whose command line mentions `needle`. */
export function processesMentioning(needle: string): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8');
      if (cmd.includes(needle) && !cmd.includes('node --test')) out.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return out;
}

/**
 * Asserts that no shim, runtime state or container cgroup of the (stevedore) target is
 * left. The runtime teardown of an exited container finishes in the background (the
 * shim runs `runtime delete` and exits; see docs/containers.md), and so does the deletion
 * of a removed container's directory, so this first waits, boundedly, for both.
 */
export async function assertNoContainerLeftovers(t: Target): Promise<void> {
  if (t.kind !== 'stevedore') return;
  const shimsDir = path.join(t.execRoot, 'shims');
  const containers = path.join(t.dataRoot, 'containers');
  const entries = (dir: string) => (fs.existsSync(dir) ? fs.readdirSync(dir) : []);
  for (let i = 0; i < 300; i++) {
    const busy = processesMentioning(shimsDir).length > 0 || entries(shimsDir).length > 0 || entries(containers).length > 0;
    if (!busy) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.deepEqual(processesMentioning(path.join(t.execRoot, 'shims')), [], 'shim processes left');
  const rtRoot = path.join(t.execRoot, 'runtime', 'runc');
  const states = fs.existsSync(rtRoot) ? fs.readdirSync(rtRoot) : [];
  assert.deepEqual(states, [], 'runc state left');
  assert.deepEqual(entries(shimsDir), [], 'shim state dirs left');
  assert.deepEqual(entries(containers), [], 'container dirs left');
  for (const ctl of ['memory', 'pids', 'cpu', 'unified']) {
    const dir = path.join('/sys/fs/cgroup', ctl, 'stevedore');
    const left = fs.existsSync(dir) ? fs.readdirSync(dir).filter((n) => /^[0-9a-f]{64}$/.test(n)) : [];
    const ours = left.filter((id) => fs.existsSync(path.join(t.dataRoot, 'containers', id)));
    assert.deepEqual(ours, [], `cgroups left in ${dir}`);
  }
}
