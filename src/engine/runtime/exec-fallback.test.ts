import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import test from 'node:test';
import { ShimTaskService } from './shim-task-service';

test('a shim that does not know `enter` (an older one kept by live restore) gets `runtime exec`', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'stv-old-shim-'));
  const dir = path.join(root, 'shims', 'old');
  const bundle = path.join(root, 'bundle'); // only named in shim.json
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'shim.json'), JSON.stringify({ runtime: 'runc', root: path.join(root, 'rt'), args: [], bundle, tty: false }));
  const seen: string[] = [];
  const specs: string[] = [];
  // the old shim: one request line per connection, `exec` only
  const server = net.createServer((c) => {
    c.once('data', (d) => {
      const line = d.toString().trim();
      seen.push(line.split(' ')[0]!);
      specs.push(...fs.readdirSync(dir).filter((f) => f.startsWith('exec-')));
      c.end(line.startsWith('exec ') ? 'ok 4242\n' : 'error unknown request\n');
    });
  });
  await new Promise<void>((r) => server.listen(path.join(dir, 'shim.sock'), r));
  try {
    const svc = new ShimTaskService({ execRoot: root, compileSeccomp: () => undefined });
    const process = { args: ['true'], cwd: '/', user: { uid: 0, gid: 0 }, env: [] };
    const r = await svc.exec('old', { execId: 'abc', process, linux: { namespaces: [{ type: 'pid' }] }, tty: false, openStdin: false, attach: { stdin: false, stdout: false, stderr: false } });
    assert.equal(r.pid, 4242);
    // `hello` first: "error unknown request" = protocol 1, recorded; then tried as before hello
    assert.deepEqual(seen, ['hello', 'enter', 'exec']);
    const rec = JSON.parse(fs.readFileSync(path.join(dir, 'shim.json'), 'utf8')) as { protocol?: unknown };
    assert.deepEqual(rec.protocol, { version: 1, capabilities: [] });
    assert.deepEqual(specs, ['exec-abc.enter', 'exec-abc.json'], 'each request had its own spec file');
    assert.deepEqual(fs.readdirSync(dir).filter((f) => f.startsWith('exec-')), [], 'spec files removed');
    // asked once per shim: the next exec goes by the record
    seen.length = 0;
    await svc.exec('old', { execId: 'abd', process, linux: { namespaces: [{ type: 'pid' }] }, tty: false, openStdin: false, attach: { stdin: false, stdout: false, stderr: false } });
    assert.deepEqual(seen, ['enter', 'exec']);
  } finally {
    server.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('attach to a shim of protocol 1: no framing word; the other framing is not-implemented', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'stv-old-shim-'));
  const dir = path.join(root, 'shims', 'old');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'shim.json'), JSON.stringify({ runtime: 'runc', root: path.join(root, 'rt'), args: [], bundle: path.join(root, 'b'), tty: false }));
  const seen: string[] = [];
  const server = net.createServer((c) => {
    c.once('data', (d) => {
      const line = d.toString().trim();
      seen.push(line);
      c.end(line.startsWith('attach ') ? 'ok\n' : 'error unknown request\n');
    });
  });
  await new Promise<void>((r) => server.listen(path.join(dir, 'shim.sock'), r));
  try {
    const svc = new ShimTaskService({ execRoot: root, compileSeccomp: () => undefined });
    const s = await svc.attach('old', { stdin: false, stdout: true, stderr: true, framing: 'stdcopy' });
    s.destroy();
    await assert.rejects(svc.attach('old', { stdin: false, stdout: true, stderr: true, framing: 'raw' }), (e: Error & { kind?: string }) => e.kind === 'not-implemented');
    assert.deepEqual(seen, ['hello', 'attach 0 1 1']);
  } finally {
    server.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
});
