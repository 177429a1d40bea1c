/**
 * The process that enters a running container for `docker exec` makes itself
 * non-dumpable before it joins the container's cgroups and namespaces, as runc's
 * nsexec does (the CVE-2016-9962 class: otherwise a process in the container could
 * ptrace it, or open its /proc/<pid>/ files, while it still holds host resources).
 *
 * The window is a few microseconds, so the test does not race for it: it traces the
 * container's shim (the parent of the container's init, on both engines) with strace
 * while `docker exec` runs, and checks that `prctl(PR_SET_DUMPABLE, 0)` comes before the
 * first `setns`. On Docker the traced setns is runc's own (runc exec → runc init);
 * on stevedore it is the shim's direct exec (native/shim/enter.c).
 */
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { importBusybox } from '../helpers/busybox';
import { removeAllContainers } from '../helpers/containers';
import { startTarget, type Target } from '../helpers/target';

function parentOf(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // the command may contain spaces and parentheses: fields start after the last ')'
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

function tracerOf(pid: number): number {
  const m = /^TracerPid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

describe('exec hardening', { timeout: 120_000 }, () => {
  let t: Target;
  before(async () => {
    t = await startTarget();
    await importBusybox(t);
  });
  after(async () => {
    if (t) {
      await removeAllContainers(t);
      await t.stop();
    }
  });

  it('makes the entering process non-dumpable before it joins the container', async () => {
    const run = await t.docker(['run', '-d', 'busybox', 'sleep', '600']);
    assert.equal(run.code, 0, run.stderr);
    const cid = run.stdout.trim();
    const init = Number((await t.docker(['inspect', '-f', '{{.State.Pid}}', cid])).stdout.trim());
    assert.ok(init > 0);
    const shim = parentOf(init);
    const out = path.join(t.dir, 'strace.out');
    const tracer = spawn('strace', ['-f', '-qq', '-e', 'trace=prctl,setns', '-o', out, '-p', String(shim)], { stdio: 'ignore' });
    try {
      for (let i = 0; i < 200 && tracerOf(shim) === 0; i++) await sleep(20);
      assert.notEqual(tracerOf(shim), 0, 'strace did not attach to the shim');
      const ex = await t.docker(['exec', cid, 'true']);
      assert.equal(ex.code, 0, ex.stderr);
    } finally {
      tracer.kill('SIGINT');
      await new Promise((r) => tracer.once('exit', r));
    }
    const lines = fs.readFileSync(out, 'utf8').split('\n');
    const firstSetns = lines.findIndex((l) => /\bsetns\(/.test(l) && !/= -1/.test(l));
    const firstNonDumpable = lines.findIndex((l) => /prctl\(PR_SET_DUMPABLE, (SUID_DUMP_DISABLE|0)\)\s*= 0/.test(l));
    assert.ok(firstSetns >= 0, `no setns traced:\n${lines.slice(0, 40).join('\n')}`);
    assert.ok(firstNonDumpable >= 0 && firstNonDumpable < firstSetns, `setns before PR_SET_DUMPABLE 0:\n${lines.slice(0, 40).join('\n')}`);
  });
});
