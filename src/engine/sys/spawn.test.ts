import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { nativeSys } from './native';
import { projectRoot } from './project';
import { spawnWithReadyPipe } from './spawn';

/** Children of this process in state Z (from /proc/<pid>/stat). */
function zombieChildren(): number[] {
  const out: number[] = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // state, ppid, …
    if (f[0] === 'Z' && Number(f[1]) === process.pid) out.push(Number(e));
  }
  return out;
}

/** The Sig* lines of /proc/<pid>/status as numbers. */
function sigMasks(pid: number | 'self'): { blk: bigint; ign: bigint } {
  const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const get = (k: string) => BigInt('0x' + new RegExp(`^${k}:\\s*([0-9a-f]+)$`, 'm').exec(s)![1]);
  return { blk: get('SigBlk'), ign: get('SigIgn') };
}

/** Resolves once `pid` (a sleep) is in nanosleep: past its start-up, which opens files. */
async function untilSleeping(pid: number): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (/nanosleep/.test(fs.readFileSync(`/proc/${pid}/wchan`, 'utf8'))) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`process ${pid} never went to sleep`);
}

/** Each fd of `pid` → its link target. */
function fdTable(pid: number): Record<string, string> {
  const t: Record<string, string> = {};
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) t[fd] = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
  return t;
}

test('ready line, exit status and reaping: no zombie is left', async () => {
  const cases: Array<[string, string, number | null]> = [
    ['echo "ok 42" >&3; echo ignored >&3', 'ok 42', 0], // line, then exit
    ['printf partial >&3; exit 7', 'partial', 7], // EOF without a newline
    ['exit 0', '', 0], // EOF, nothing written
    ['echo up >&3; sleep 0.2; exit 3', 'up', 3], // exits well after its line
    ['(sleep 0.1 >/dev/null 2>&1 &); echo daemonized >&3', 'daemonized', 0], // a descendant keeps fd 3 open
  ];
  const procs = cases.map(([script]) => spawnWithReadyPipe('/bin/sh', ['-c', script]));
  for (const [i, p] of procs.entries()) {
    assert.ok(p.pid > 0);
    assert.equal(await p.line, cases[i]![1]);
    assert.deepEqual(await p.exit, { code: cases[i]![2], signal: null });
  }
  assert.deepEqual(zombieChildren(), []);
  const killed = spawnWithReadyPipe('/bin/sleep', ['30']);
  process.kill(killed.pid, 'SIGKILL');
  assert.equal(await killed.line, ''); // EOF: its fd 3 closed with it
  assert.deepEqual(await killed.exit, { code: null, signal: 9 });
  assert.deepEqual(zombieChildren(), []);
});

test('a gate: the program reads "go" on fd 3 and answers; cancel gives it EOF', async () => {
  // reads one line from fd 3, then answers on it what it read (EOF: "eof")
  const script = 'if read -r l <&3; then echo "got $l" >&3; else echo eof >&3; fi';
  const go = spawnWithReadyPipe('/bin/sh', ['-c', script]);
  go.go();
  assert.equal(await go.line, 'got go');
  assert.deepEqual(await go.exit, { code: 0, signal: null });
  const cancelled = spawnWithReadyPipe('/bin/sh', ['-c', script]);
  cancelled.cancel();
  assert.equal(await cancelled.line, 'eof');
  assert.deepEqual(await cancelled.exit, { code: 0, signal: null });
  // a "go" written after the program has gone (before the loop has seen its EOF: the
  // wait below does not yield) is its EOF, not an error
  const gone = spawnWithReadyPipe('/bin/sh', ['-c', 'exit 4']);
  const nap = new Int32Array(new SharedArrayBuffer(4));
  for (let i = 0; i < 5000 && !fs.readFileSync(`/proc/${gone.pid}/stat`, 'utf8').split(') ')[1]!.startsWith('Z'); i++) Atomics.wait(nap, 0, 0, 1);
  gone.go();
  assert.equal(await gone.line, '');
  assert.deepEqual(await gone.exit, { code: 4, signal: null });
  assert.deepEqual(zombieChildren(), []);
});

test('the child: stdio on /dev/null, the ready socket on fd 3, no other fd; empty mask, default dispositions', async () => {
  // Node ignores SIGPIPE: the precondition that makes the SigIgn check mean something
  assert.notEqual(sigMasks('self').ign & (1n << 12n), 0n);
  const p = spawnWithReadyPipe('/bin/sleep', ['30']);
  try {
    await untilSleeping(p.pid);
    const fds = fdTable(p.pid);
    assert.deepEqual(Object.keys(fds).sort(), ['0', '1', '2', '3']);
    for (const fd of ['0', '1', '2']) assert.equal(fds[fd], '/dev/null');
    assert.match(fds['3']!, /^socket:\[\d+\]$/);
    assert.deepEqual(sigMasks(p.pid), { blk: 0n, ign: 0n });
    const sess = fs.readFileSync(`/proc/${p.pid}/stat`, 'utf8');
    const f = sess.slice(sess.lastIndexOf(')') + 2).split(' ');
    assert.equal(Number(f[3]), p.pid); // session id: a session of its own
  } finally {
    process.kill(p.pid, 'SIGKILL');
  }
  await p.line;
  assert.equal((await p.exit).signal, 9);
  assert.deepEqual(zombieChildren(), []);
});

test('fds the daemon has without close-on-exec are not inherited', () => {
  // a helper Node process with fds 30 and 63 open without O_CLOEXEC (bash's
  // redirections, then exec; Node marks the low ones close-on-exec at start-up) starts
  // a sleep through a small shell (sh execs it) and reports the sleep's fd table once
  // it sleeps (its start-up opens locale files)
  const addon = path.join(projectRoot(), 'native/addon/build/Release/stevedore_native.node');
  const helper = `
    const fs = require('fs');
    const n = require(${JSON.stringify(addon)});
    const cloexec = (fd) => (parseInt(/^flags:\\s*(\\d+)/m.exec(fs.readFileSync('/proc/self/fdinfo/' + fd, 'utf8'))[1], 8) & 0o2000000) !== 0;
    const r = n.spawnReady('/bin/sh', ['sh', '-c', 'exec sleep 30'], null, null);
    const wait = () => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
    for (let i = 0; !/nanosleep/.test(fs.readFileSync('/proc/' + r.pid + '/wchan', 'utf8')); i++) {
      if (i > 2000) throw new Error('the sleep never went to sleep');
      wait();
    }
    const child = {};
    for (const fd of fs.readdirSync('/proc/' + r.pid + '/fd')) child[fd] = fs.readlinkSync('/proc/' + r.pid + '/fd/' + fd);
    const own = { 30: fs.readlinkSync('/proc/self/fd/30'), 63: fs.readlinkSync('/proc/self/fd/63'), cloexec: cloexec(30) || cloexec(63) };
    process.kill(r.pid, 'SIGKILL');
    while (!n.waitpidNoHang(r.pid)) wait();
    fs.closeSync(r.readyFd);
    process.stdout.write(JSON.stringify({ child, own }));`;
  const res = spawnSync('/bin/bash', ['-c', 'exec "$0" -e "$1" 30</dev/null 63</dev/null', process.execPath, helper], {
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: 30_000,
  });
  assert.equal(res.status, 0);
  const { child, own } = JSON.parse(res.stdout.toString()) as { child: Record<string, string>; own: Record<string, string | boolean> };
  assert.deepEqual(own, { 30: '/dev/null', 63: '/dev/null', cloexec: false }); // the helper really had them, inheritable
  assert.deepEqual(Object.keys(child).sort(), ['0', '1', '2', '3'], JSON.stringify(child));
  assert.match(child['3']!, /^socket:/);
});

test('stdio on given fds and a given environment', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stv-spawn-'));
  try {
    const out = fs.openSync(path.join(dir, 'out'), 'w');
    let p;
    try {
      p = spawnWithReadyPipe('/bin/sh', ['-c', 'echo out; echo err >&2; echo "$A:${B-unset}" >&3'], { stdio: [-1, out, out], env: { A: 'x y', B: undefined } });
    } finally {
      fs.closeSync(out);
    }
    assert.equal(await p.line, 'x y:unset');
    assert.deepEqual(await p.exit, { code: 0, signal: null });
    assert.equal(fs.readFileSync(path.join(dir, 'out'), 'utf8'), 'out\nerr\n');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a ready line longer than maxLine rejects; the process is still reaped', async () => {
  const p = spawnWithReadyPipe('/bin/sh', ['-c', 'printf "%0100d\\n" 0 >&3'], { maxLine: 10 });
  await assert.rejects(p.line, /longer than 10 bytes/);
  assert.equal((await p.exit).code, 0);
  assert.deepEqual(zombieChildren(), []);
});

test('errors: a missing or non-executable binary, bad arguments; no fd is left open', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stv-spawn-'));
  const plain = path.join(dir, 'not-executable');
  fs.writeFileSync(plain, '#!/bin/sh\n', { mode: 0o644 });
  const before = fs.readdirSync('/proc/self/fd').length;
  try {
    assert.throws(() => spawnWithReadyPipe('/nonexistent/shim', []), (e: NodeJS.ErrnoException) => e.code === 'ENOENT' && e.syscall === 'posix_spawn');
    assert.throws(() => spawnWithReadyPipe(plain, []), (e: NodeJS.ErrnoException) => e.code === 'EACCES');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const sys = nativeSys();
  assert.throws(() => sys.spawnReady('/bin/true', [], null, null), TypeError); // argv[0] missing
  assert.throws(() => sys.spawnReady('/bin/true', ['true', 'a\0b'], null, null), TypeError);
  assert.throws(() => sys.spawnReady('/bin/true', ['true'], null, [1, 2, 0]), TypeError); // 1 → 0 would be clobbered
  assert.throws(() => sys.waitpidNoHang(0), RangeError); // would wait for any child
  assert.throws(() => sys.waitpidNoHang(1), (e: NodeJS.ErrnoException) => e.code === 'ECHILD');
  assert.equal(fs.readdirSync('/proc/self/fd').length, before);
  assert.deepEqual(zombieChildren(), []);
});
