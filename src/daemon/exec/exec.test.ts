import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Duplex, PassThrough, Transform } from 'node:stream';
import { DEFAULT_DETACH_KEYS, DetachScanner, parseDetachKeys } from './keys';
import { buildExecProcess } from './process';
import { execInspectView, validate } from './service';
import { splice } from './splice';

describe('detach keys', () => {
  it("parses Docker's key spec", () => {
    assert.deepEqual(parseDetachKeys(''), DEFAULT_DETACH_KEYS);
    assert.deepEqual([...parseDetachKeys('ctrl-p,ctrl-q')], [16, 17]);
    assert.deepEqual([...parseDetachKeys('ctrl-a,b,CTRL-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_')], [1, 98, 0, 27, 28, 29, 30, 31]);
    assert.throws(() => parseDetachKeys('ctrl-xx'), /Invalid detach keys \(ctrl-xx\) provided/);
    assert.throws(() => parseDetachKeys('ab'), /Invalid detach keys/);
    assert.throws(() => parseDetachKeys('ctrl-1'), /Invalid detach keys/);
  });

  it('finds the sequence across chunks and passes on a broken prefix', () => {
    const s = new DetachScanner(Buffer.from([16, 17]));
    assert.deepEqual(s.push(Buffer.from('ab')), { forward: Buffer.from('ab'), detach: false });
    const a = s.push(Buffer.from([0x61, 16]));
    assert.deepEqual([...a.forward], [0x61]);
    assert.equal(a.detach, false);
    const b = s.push(Buffer.from([0x62]));
    assert.deepEqual([...b.forward], [16, 0x62], 'a prefix that does not complete is forwarded');
    s.push(Buffer.from([16]));
    const c = s.push(Buffer.from([16, 17, 0x7a]));
    assert.equal(c.detach, true);
    assert.deepEqual([...c.forward], [16], 'the first ctrl-p of "ctrl-p ctrl-p ctrl-q" is input');
  });
});

describe('exec process spec', () => {
  const base = {
    terminal: false,
    user: { uid: 0, gid: 0, additionalGids: [10] },
    args: ['sleep', '100'],
    env: ['PATH=/usr/bin:/bin', 'HOSTNAME=abc', 'KEEP=1'],
    cwd: '/srv',
    capabilities: { bounding: ['CAP_CHOWN'], effective: ['CAP_CHOWN'], permitted: ['CAP_CHOWN'] },
    noNewPrivileges: true,
    apparmorProfile: 'docker-default',
    rlimits: [{ type: 'RLIMIT_NOFILE', soft: 1024, hard: 1024 }],
  };

  it("keeps the container's settings and merges Env, WorkingDir, tty", async () => {
    const p = await buildExecProcess({ ...base, env: [...base.env, 'HOME=/h'] }, { cmd: ['sh', '-c', 'x'], env: ['KEEP=2', 'NEW=y'], user: '', workingDir: '', privileged: false, tty: true }, '/nonexistent');
    assert.deepEqual(p.args, ['sh', '-c', 'x']);
    assert.deepEqual(p.env, ['PATH=/usr/bin:/bin', 'HOSTNAME=abc', 'KEEP=2', 'HOME=/h', 'TERM=xterm', 'NEW=y']);
    assert.equal(p.cwd, '/srv');
    assert.equal(p.terminal, true);
    assert.deepEqual(p.user, base.user);
    assert.deepEqual(p.capabilities, base.capabilities);
    assert.equal(p.noNewPrivileges, true);
    assert.deepEqual(p.rlimits, base.rlimits);
  });

  it("resolves the user in the container's /etc/passwd and gives a privileged exec every capability", async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'stv-exec-'));
    try {
      fs.mkdirSync(path.join(root, 'etc'));
      fs.writeFileSync(path.join(root, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\nweb:x:33:33::/var/www:/bin/false\n');
      fs.writeFileSync(path.join(root, 'etc/group'), 'root:x:0:\nweb:x:33:\nusers:x:100:web\n');
      const p = await buildExecProcess(base, { cmd: ['id'], env: [], user: 'web', workingDir: '/tmp', privileged: true, tty: false }, root);
      assert.equal(p.user.uid, 33);
      assert.equal(p.user.gid, 33);
      assert.ok(p.user.additionalGids?.includes(100));
      assert.equal(p.cwd, '/tmp');
      assert.ok(p.env!.includes('HOME=/var/www'), "HOME from the user's passwd entry when the environment has none (as runc)");
      const anon = await buildExecProcess(base, { cmd: ['id'], env: [], user: '4242', workingDir: '', privileged: false, tty: false }, root);
      assert.ok(anon.env!.includes('HOME=/'), 'a uid without a passwd entry gets HOME=/');
      assert.ok(p.capabilities!.bounding!.includes('CAP_SYS_ADMIN'));
      assert.deepEqual(p.capabilities!.effective, p.capabilities!.bounding);
      assert.equal(p.apparmorProfile, 'unconfined');
      await assert.rejects(
        buildExecProcess(base, { cmd: ['id'], env: [], user: 'nosuchuser', workingDir: '', privileged: false, tty: false }, root),
        /unable to find user nosuchuser/,
      );
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('exec config', () => {
  it("validates the create body with Docker's messages", () => {
    assert.throws(() => validate({ Cmd: [] }), /No exec command specified/);
    assert.throws(() => validate({ Cmd: 'ls' as unknown, Tty: 'yes' }), /Tty must be a boolean/);
    assert.throws(() => validate({ Cmd: ['ls'], DetachKeys: 'nope' }), /Invalid escape keys \(nope\) provided/);
    const v = validate({ Cmd: ['ls', '-l'], AttachStdout: true, User: 'nobody' });
    assert.deepEqual(v.cmd, ['ls', '-l']);
    const view = execInspectView({ id: 'e', containerId: 'c', status: 'created', pid: 0, exitCode: null, ...v });
    assert.deepEqual(Object.keys(view), ['ID', 'Running', 'ExitCode', 'ProcessConfig', 'OpenStdin', 'OpenStderr', 'OpenStdout', 'CanRemove', 'ContainerID', 'DetachKeys', 'Pid']);
    assert.deepEqual(view.ProcessConfig, { tty: false, entrypoint: 'ls', arguments: ['-l'], privileged: false, user: 'nobody' });
  });
});

describe('splice', () => {
  const pair = () => {
    // client: what the test writes is read by splice; what splice writes is collected
    const clientIn = new PassThrough();
    const clientOut: Buffer[] = [];
    const client = new Duplex({
      read() {},
      write(c: Buffer, _e: string, cb: () => void) {
        clientOut.push(c);
        cb();
      },
    });
    clientIn.on('data', (d: Buffer) => client.push(d));
    clientIn.on('end', () => client.push(null));
    const taskIn: Buffer[] = [];
    let taskEnded = false;
    const task = new Duplex({
      read() {},
      write(c: Buffer, _e: string, cb: () => void) {
        taskIn.push(c);
        cb();
      },
      final(cb: () => void) {
        taskEnded = true;
        cb();
      },
    });
    return { clientIn, clientOut, client, task, taskIn, ended: () => taskEnded };
  };

  it('detaches on the keys with a tty, without closing the process stdin', async () => {
    const p = pair();
    const done = splice(p.client, p.task, { stdin: true, tty: true, detachKeys: Buffer.from([1, 2]), closeStdin: false });
    p.task.push(Buffer.from('out'));
    p.clientIn.write(Buffer.from([0x78, 1]));
    p.clientIn.write(Buffer.from([2, 0x79]));
    assert.equal(await done, 'detached');
    assert.equal(Buffer.concat(p.taskIn).toString(), 'x');
    assert.equal(p.ended(), false);
    assert.equal(Buffer.concat(p.clientOut).toString(), 'out');
  });

  it('half-closes the process stdin without a tty and ends when the output ends', async () => {
    const p = pair();
    let waited = false;
    const done = splice(p.client, p.task, {
      stdin: true,
      tty: false,
      closeStdin: true,
      beforeClose: async () => {
        waited = true;
      },
    });
    p.clientIn.end('in');
    await new Promise((r) => setImmediate(r));
    assert.equal(p.ended(), true);
    p.task.push(Buffer.from('bye'));
    p.task.push(null);
    assert.equal(await done, 'ended');
    assert.equal(waited, true);
    assert.equal(Buffer.concat(p.clientOut).toString(), 'bye');
  });

  it('sends the output through the given transform (an exec started with the other framing) and still ends', async () => {
    const p = pair();
    const upper = new Transform({
      transform(c: Buffer, _e, cb) {
        cb(null, Buffer.from(c.toString().toUpperCase()));
      },
    });
    const done = splice(p.client, p.task, { stdin: false, tty: false, closeStdin: true, output: upper });
    p.task.push(Buffer.from('one '));
    p.task.push(Buffer.from('two'));
    p.task.push(null);
    assert.equal(await done, 'ended');
    assert.equal(Buffer.concat(p.clientOut).toString(), 'ONE TWO');
  });
});
