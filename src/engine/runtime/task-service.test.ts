import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isStevedoreError } from '../errdefs';
import { collect, demux, ensureCrunUsable, leftoverCgroups, RuntimeFixture, shimsUnder } from './bundle-fixture';
import { RuntimeCreateError } from './errors';


function logEntries(file: string): { log: string; stream: string; time: string }[] {
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

/** Children of this process left as zombies (state Z in /proc/<pid>/stat). */
function zombieChildren(): number[] {
  const out: number[] = [];
  for (const e of fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
    } catch {
      continue;
    }
    const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (state === 'Z' && Number(ppid) === process.pid) out.push(Number(e));
  }
  return out;
}

/** Waits for `file`; fails if `settled` settles first (the shim died before its pid file) or after ~10 s. */
async function untilFile(file: string, settled: Promise<unknown>): Promise<void> {
  let done = false;
  settled.then(() => (done = true), () => (done = true));
  for (let i = 0; i < 2000 && !fs.existsSync(file); i++) {
    if (done) assert.fail(`the create settled before ${file} existed`);
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.ok(fs.existsSync(file), `${file} never appeared`);
}

for (const runtime of ['runc', 'crun']) {
  describe(`ShimTaskService with ${runtime}`, () => {
    let fx: RuntimeFixture;
    let undoCrun = () => {};

    before(() => {
      if (runtime === 'crun') undoCrun = ensureCrunUsable();
      fx = new RuntimeFixture(runtime);
    });

    after(async () => {
      const execRoot = fx.execRoot;
      const left = await fx.cleanup();
      undoCrun();
      assert.deepEqual(left, []);
      assert.deepEqual(shimsUnder(execRoot), []);
      assert.deepEqual(leftoverCgroups(), []);
    });

    test('echo hi: json-file log line, exit 0, then delete cleans up', async () => {
      const id = `${runtime}-echo`;
      const { pid } = await fx.svc.start({ id, bundle: fx.bundle(id, ['echo', 'hi']), logPath: fx.logPath(id), tty: false, openStdin: false, stdinOnce: false });
      assert.ok(pid > 1);
      const st = await fx.svc.wait(id);
      assert.equal(st.exitCode, 0);
      assert.equal(st.signal, undefined);
      assert.equal(st.oomKilled, false);
      assert.ok(st.finishedAt instanceof Date && !Number.isNaN(st.finishedAt.getTime()));
      const entries = logEntries(fx.logPath(id));
      assert.equal(entries.length, 1);
      assert.equal(entries[0].log, 'hi\n');
      assert.equal(entries[0].stream, 'stdout');
      assert.match(entries[0].time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/);
      assert.equal(await fx.svc.state(id), 'stopped');
      assert.deepEqual(await fx.svc.list(), [id]);
      // waiting again answers from the recorded status
      assert.equal((await fx.svc.wait(id)).exitCode, 0);
      await fx.svc.delete(id);
      assert.deepEqual(await fx.svc.list(), []);
      assert.equal(fs.existsSync(`${fx.execRoot}/shims/${id}`), false);
      await assert.rejects(fx.svc.wait(id), (e) => isStevedoreError(e) && e.kind === 'not-found');
    });

    test('the shim daemonizes; its first process (posix_spawn, our child) is reaped', async () => {
      const id = `${runtime}-reaped`;
      await fx.svc.start({ id, bundle: fx.bundle(id, ['true']), logPath: fx.logPath(id), tty: false, openStdin: false, stdinOnce: false });
      assert.equal((await fx.svc.wait(id)).exitCode, 0);
      const shimPid = Number(fs.readFileSync(`${fx.execRoot}/shims/${id}/shim.pid`, 'utf8'));
      const stat = fs.readFileSync(`/proc/${shimPid}/stat`, 'utf8');
      const [, ppid, , sid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      assert.notEqual(Number(ppid), process.pid); // not our child: the one we started exited
      assert.notEqual(Number(sid), Number(fs.readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ')[3])); // another session
      assert.deepEqual(zombieChildren(), []);
      await fx.svc.delete(id);
      assert.deepEqual(zombieChildren(), []);
    });

    test('bundleReady: the shim waits at its gate (alive, nothing created) until the bundle is ready', async () => {
      const id = `${runtime}-gate`;
      const bundle = fx.bundle(id, ['echo', 'gated']);
      let ready!: () => void;
      const bundleReady = new Promise<void>((r) => (ready = r));
      const created = fx.svc.create({ id, bundle, logPath: fx.logPath(id), tty: false, openStdin: false, stdinOnce: false, bundleReady });
      const pidFile = `${fx.execRoot}/shims/${id}/shim.pid`;
      await untilFile(pidFile, created);
      try {
        const shimPid = Number(fs.readFileSync(pidFile, 'utf8'));
        process.kill(shimPid, 0); // alive
        assert.equal(fs.existsSync(`${fx.execRoot}/runtime/${runtime}/${id}`), false); // the runtime has created nothing yet
        assert.equal(fs.existsSync(fx.logPath(id)), false); // nor the sink its log
      } finally {
        ready();
      }
      const { pid } = await created;
      assert.ok(pid > 1);
      await fx.svc.startCreated(id);
      assert.equal((await fx.svc.wait(id)).exitCode, 0);
      assert.deepEqual(logEntries(fx.logPath(id)).map((e) => e.log), ['gated\n']);
      await fx.svc.delete(id);
      assert.deepEqual(zombieChildren(), []);
    });

    test('bundleReady rejected: the create rejects with its reason; the shim leaves, its state dir goes', async () => {
      const id = `${runtime}-gate-cancel`;
      const bundle = fx.bundle(id, ['true']);
      let fail!: (e: Error) => void;
      const bundleReady = new Promise<void>((_, rej) => (fail = rej));
      const created = fx.svc.create({ id, bundle, logPath: fx.logPath(id), tty: false, openStdin: false, stdinOnce: false, bundleReady });
      const pidFile = `${fx.execRoot}/shims/${id}/shim.pid`;
      await untilFile(pidFile, created);
      const shimPid = Number(fs.readFileSync(pidFile, 'utf8'));
      const reason = new Error('the mount failed');
      fail(reason);
      await assert.rejects(created, (e) => e === reason);
      assert.equal(fs.existsSync(`${fx.execRoot}/shims/${id}`), false);
      // gone: its end of the socket closed as it exited (the kernel closes the files
      // before the process is a zombie, which its new parent then reaps)
      const exited = () => {
        try {
          const stat = fs.readFileSync(`/proc/${shimPid}/stat`, 'utf8');
          return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
        } catch {
          return true; // reaped
        }
      };
      for (let i = 0; i < 500 && !exited(); i++) await new Promise((r) => setTimeout(r, 10));
      assert.ok(exited());
      assert.equal(fs.existsSync(`${fx.execRoot}/runtime/${runtime}/${id}`), false);
      assert.equal(fs.existsSync(fx.logPath(id)), false);
      assert.deepEqual(zombieChildren(), []);
      // the same id is free again
      await fx.svc.start({ id, bundle, logPath: fx.logPath(id), tty: false, openStdin: false, stdinOnce: false });
      assert.equal((await fx.svc.wait(id)).exitCode, 0);
      await fx.svc.delete(id);
    });

    test('exit code, stderr, partial line and escaping', async () => {
      const id = `${runtime}-exit3`;
      const script = 'echo "<a&b> \\"q\\" tab\tx"; echo oops >&2; printf "\\377\\342\\200\\250\\001\\n"; printf partial; exit 3';
      await fx.svc.start({ id, bundle: fx.bundle(id, ['sh', '-c', script]), logPath: fx.logPath(id), tty: false, openStdin: false, stdinOnce: false });
      assert.equal((await fx.svc.wait(id)).exitCode, 3);
      const raw = fs.readFileSync(fx.logPath(id), 'utf8');
      assert.ok(raw.includes('"log":"\\u003ca\\u0026b\\u003e \\"q\\" tab\\tx\\n"'), raw);
      const entries = logEntries(fx.logPath(id));
      const byStream = (s: string) => entries.filter((e) => e.stream === s).map((e) => e.log);
      assert.ok(raw.includes('"log":"\\ufffd\\u2028\\u0001\\n"'), raw);
      assert.deepEqual(byStream('stdout'), ['<a&b> "q" tab\tx\n', '\ufffd\u2028\u0001\n', 'partial']);
      assert.deepEqual(byStream('stderr'), ['oops\n']);
      await fx.svc.delete(id);
    });

    test('the container inherits no blocked or ignored signals from the shim', async () => {
      const id = `${runtime}-sigmask`;
      await fx.svc.start({ id, bundle: fx.bundle(id, ['grep', '-E', '^Sig(Ign|Blk)', '/proc/self/status']), logPath: fx.logPath(id), tty: false, openStdin: false, stdinOnce: false });
      assert.equal((await fx.svc.wait(id)).exitCode, 0);
      assert.deepEqual(logEntries(fx.logPath(id)).map((e) => e.log.replace(/\s+/g, ' ')), ['SigBlk: 0000000000000000 ', 'SigIgn: 0000000000000000 ']);
      await fx.svc.delete(id);
    });

    test('a missing executable is classified not-found (127)', async () => {
      const id = `${runtime}-missing`;
      await assert.rejects(
        fx.svc.start({ id, bundle: fx.bundle(id, ['/no/such/cmd']), tty: false, openStdin: false, stdinOnce: false }),
        (e: unknown) => {
          assert.ok(e instanceof RuntimeCreateError, String(e));
          assert.equal(e.reason, 'not-found');
          assert.equal(e.exitCode, 127);
          assert.equal(e.kind, 'invalid-argument');
          assert.match(e.message, /^OCI runtime create failed: .*no/i);
          return true;
        },
      );
      assert.deepEqual(await fx.svc.list(), []);
      assert.equal(fs.existsSync(`${fx.execRoot}/shims/${id}`), false);
    });

    test('a non-executable file is classified not-executable (126)', async () => {
      const id = `${runtime}-noexec`;
      await assert.rejects(
        fx.svc.start({ id, bundle: fx.bundle(id, ['/etc/passwd']), tty: false, openStdin: false, stdinOnce: false }),
        (e: unknown) => e instanceof RuntimeCreateError && e.reason === 'not-executable' && e.exitCode === 126,
      );
      assert.deepEqual(await fx.svc.list(), []);
    });

    test('SIGKILL gives 137 with signal 9', async () => {
      const id = `${runtime}-kill`;
      await fx.svc.start({ id, bundle: fx.bundle(id, ['sleep', '1000']), tty: false, openStdin: false, stdinOnce: false });
      assert.equal(await fx.svc.state(id), 'running');
      const pids = await fx.svc.ps(id);
      assert.equal(pids.length, 1);
      await fx.svc.kill(id, 'SIGKILL');
      const st = await fx.svc.wait(id);
      assert.equal(st.exitCode, 137);
      assert.equal(st.signal, 9);
      await assert.rejects(fx.svc.kill(id, 9), (e) => isStevedoreError(e) && e.kind === 'conflict');
      await fx.svc.delete(id);
    });

    test('SIGTERM reaches a process that handles it: 143', async () => {
      const id = `${runtime}-term`;
      const script = 'trap "exit 143" TERM; echo ready; sleep 1000 & wait';
      await fx.svc.create({ id, bundle: fx.bundle(id, ['sh', '-c', script]), tty: false, openStdin: false, stdinOnce: false });
      const s = await fx.svc.attach(id, { stdin: false, stdout: true, stderr: true });
      const got = collect(s);
      const ready = new Promise<void>((resolve) => s.on('data', (b: Buffer) => b.includes('ready') && resolve()));
      await fx.svc.startCreated(id);
      await ready; // the trap is installed
      await fx.svc.kill(id, 'TERM');
      assert.equal((await fx.svc.wait(id)).exitCode, 143);
      assert.deepEqual(demux(await got), { stdout: 'ready\n', stderr: '' });
      await fx.svc.delete(id);
    });

    test('attach: framed live output and stdin through cat, stdin-once closes stdin', async () => {
      const id = `${runtime}-cat`;
      await fx.svc.create({ id, bundle: fx.bundle(id, ['sh', '-c', 'echo start >&2; cat; echo done >&2']), logPath: fx.logPath(id), tty: false, openStdin: true, stdinOnce: true });
      const a = await fx.svc.attach(id, { stdin: true, stdout: true, stderr: true });
      const b = await fx.svc.attach(id, { stdin: false, stdout: true, stderr: false });
      const outA = collect(a);
      const outB = collect(b);
      await fx.svc.startCreated(id);
      a.write('hello\n');
      a.write('world\n');
      a.end(); // half-close: stdin-once closes the container's stdin, cat ends
      assert.equal((await fx.svc.wait(id)).exitCode, 0);
      assert.deepEqual(demux(await outA), { stdout: 'hello\nworld\n', stderr: 'start\ndone\n' });
      assert.deepEqual(demux(await outB), { stdout: 'hello\nworld\n', stderr: '' });
      const entries = logEntries(fx.logPath(id));
      assert.deepEqual(entries.filter((e) => e.stream === 'stdout').map((e) => e.log), ['hello\n', 'world\n']);
      await assert.rejects(fx.svc.attach(id, { stdin: false, stdout: true, stderr: true }), (e) => isStevedoreError(e) && e.kind === 'conflict');
      await fx.svc.delete(id);
    });

    test('attachOutput: the shim writes to a handed-over connection and closes it at exit', async () => {
      const id = `${runtime}-handover`;
      const script = 'echo start >&2; head -c 300000 /dev/zero; echo; echo done';
      await fx.svc.create({ id, bundle: fx.bundle(id, ['sh', '-c', script]), logPath: fx.logPath(id), tty: false, openStdin: false, stdinOnce: false });
      // a connected pair of sockets: the server side is handed over, the client side reads
      const sockPath = path.join(fx.dir, `${id}.sock`);
      const server = net.createServer();
      await new Promise<void>((r) => server.listen(sockPath, r));
      const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
      const client = net.createConnection(sockPath);
      const handed = await accepted;
      const got = collect(client);
      const copied = await fx.svc.attach(id, { stdin: false, stdout: true, stderr: true });
      const viaCopy = collect(copied);
      await fx.svc.attachOutput(id, { stdout: true, stderr: true }, handed);
      assert.equal(handed.destroyed, true); // this process's descriptor is closed; the shim holds the connection
      await fx.svc.startCreated(id);
      assert.equal((await fx.svc.wait(id)).exitCode, 0);
      const raw = await got; // ends: the shim closed the last copy of the connection
      const expected = { stdout: '\0'.repeat(300000) + '\ndone\n', stderr: 'start\n' };
      assert.deepEqual(demux(raw), expected);
      assert.deepEqual(demux(await viaCopy), expected); // every client sees the same output
      for (let off = 0; off < raw.length; off += 8 + raw.readUInt32BE(off + 4)) {
        assert.ok(raw.readUInt32BE(off + 4) <= 32768, 'frames of at most 32 KiB, as Docker sends them');
      }
      const logged = logEntries(fx.logPath(id)).filter((e) => e.stream === 'stdout');
      assert.equal(logged.map((e) => e.log).join(''), expected.stdout);
      assert.ok(logged.every((e) => e.log.length <= 16384));
      // after the exit: refused, and the socket is left to the caller
      const lateAccepted = new Promise<net.Socket>((r) => server.once('connection', r));
      const lateClient = net.createConnection(sockPath);
      const late = await lateAccepted;
      await assert.rejects(fx.svc.attachOutput(id, { stdout: true, stderr: true }, late), (e) => isStevedoreError(e) && e.kind === 'conflict');
      assert.equal(late.destroyed, false);
      await assert.rejects(fx.svc.attachOutput(id, { stdout: true, stderr: true }, new net.Socket()), (e) => isStevedoreError(e) && e.kind === 'not-implemented');
      late.destroy();
      lateClient.destroy();
      server.close();
      await fx.svc.delete(id);
    });

    test('json-file: runs of escaped bytes (NUL, quotes, tabs) encode as Docker does', async () => {
      const id = `${runtime}-runs`;
      const script = "printf 'a\\000\\000\\000b\\t\\t<<>>&&\\134\\134\\042\\042x\\n'; head -c 20000 /dev/zero";
      await fx.svc.start({ id, bundle: fx.bundle(id, ['sh', '-c', script]), logPath: fx.logPath(id), tty: false, openStdin: false, stdinOnce: false });
      assert.equal((await fx.svc.wait(id)).exitCode, 0);
      const raw = fs.readFileSync(fx.logPath(id), 'utf8');
      assert.ok(raw.startsWith('{"log":"a\\u0000\\u0000\\u0000b\\t\\t\\u003c\\u003c\\u003e\\u003e\\u0026\\u0026\\\\\\\\\\"\\"x\\n","stream":"stdout","time":"'), raw.slice(0, 200));
      const logs = logEntries(fx.logPath(id)).map((e) => e.log);
      // a line longer than 16 KiB is split into 16 KiB entries
      assert.deepEqual(logs, ['a\0\0\0b\t\t<<>>&&\\\\""x\n', '\0'.repeat(16384), '\0'.repeat(20000 - 16384)]);
      await fx.svc.delete(id);
    });

    test('close-stdin without attach; start of an unknown id is not-found', async () => {
      const id = `${runtime}-closein`;
      await fx.svc.start({ id, bundle: fx.bundle(id, ['sh', '-c', 'cat; exit 5']), tty: false, openStdin: true, stdinOnce: false });
      await fx.svc.closeStdin(id);
      assert.equal((await fx.svc.wait(id)).exitCode, 5);
      await fx.svc.delete(id);
      await assert.rejects(fx.svc.startCreated('nope'), (e) => isStevedoreError(e) && e.kind === 'not-found');
    });
  });
}
