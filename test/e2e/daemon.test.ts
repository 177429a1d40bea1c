/**
 * The daemon executable itself: flags, the socket, the data-root lock, clean shutdown.
 * These are about stevedored's process behaviour, so they run against stevedore only.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { type Target, startTarget, targetKind } from '../helpers/target';

const BIN = path.resolve(__dirname, '..', '..', '..', 'bin', 'stevedored');

function runDaemon(args: string[], timeoutMs = 20_000) {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: timeoutMs });
}

describe('stevedored', { skip: targetKind() === 'docker' ? 'stevedored process behaviour' : false }, () => {
  let t: Target;
  let scratch: string;
  before(async () => {
    t = await startTarget();
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'stv-d-'));
  });
  after(async () => {
    await t.stop();
    fs.rmSync(scratch, { recursive: true, force: true });
  });

  it('prints help and version, and rejects unknown flags with exit 125', () => {
    const h = runDaemon(['--help']);
    assert.equal(h.status, 0);
    assert.match(h.stdout, /--data-root/);
    const v = runDaemon(['--version']);
    assert.equal(v.status, 0);
    assert.match(v.stdout, /stevedore version/);
    const bad = runDaemon(['--no-such-flag']);
    assert.equal(bad.status, 125);
    assert.match(bad.stderr, /unknown flag: --no-such-flag/);
  });

  it('creates its unix socket with mode 0660', () => {
    assert.equal(fs.statSync(t.socket).mode & 0o777, 0o660);
  });

  it('refuses to start when a live daemon answers on the socket', () => {
    const r = runDaemon(['-H', `unix://${t.socket}`, '--data-root', path.join(scratch, 'r1'), '--exec-root', path.join(scratch, 'e1'), '--bridge', 'none']);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /already listening/);
    assert.ok(fs.existsSync(t.socket), 'the live socket is left alone');
  });

  it('refuses to share a data root with another daemon', () => {
    const r = runDaemon(['-H', `unix://${path.join(scratch, 'other.sock')}`, '--data-root', t.dataRoot, '--exec-root', path.join(scratch, 'e2'), '--bridge', 'none']);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /in use by another daemon/);
  });

  it('replaces a stale socket file and shuts down cleanly on SIGTERM', async () => {
    const sock = path.join(scratch, 'stale.sock');
    // A socket file nobody listens on: bind, then drop the listener without unlinking.
    const py = spawnSync('python3', ['-c', `import socket; s=socket.socket(socket.AF_UNIX); s.bind(${JSON.stringify(sock)})`]);
    assert.equal(py.status, 0);
    assert.ok(fs.existsSync(sock));
    const pidfile = path.join(scratch, 'd.pid');
    // --bridge none: a test daemon makes no docker0 and no firewall rules on the host
    const child = spawn(process.execPath, [BIN, '-H', `unix://${sock}`, '--data-root', path.join(scratch, 'r3'), '--exec-root', path.join(scratch, 'e3'), '--pidfile', pidfile, '--bridge', 'none'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    for (let i = 0; i < 200 && !stderr.includes('completed initialization'); i++) await new Promise((r) => setTimeout(r, 50));
    assert.match(stderr, /completed initialization/);
    await new Promise<void>((resolve, reject) => {
      const c = net.connect(sock, () => (c.destroy(), resolve()));
      c.on('error', reject);
    });
    assert.equal(fs.readFileSync(pidfile, 'utf8').trim(), String(child.pid));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.ok(!fs.existsSync(sock), 'socket removed');
    assert.ok(!fs.existsSync(pidfile), 'pidfile removed');
    for (const line of stderr.trim().split('\n')) JSON.parse(line); // structured logs
  });
});
