/**
 * The copy helper's confinement, deterministically: a container root whose directory is
 * a link to `/` (what the hostile e2e test swaps in at random times) — every read and
 * write lands inside the container's root, never on the host. Needs root (chroot).
 */
import { after, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { HelperArgs } from './helper';

const HELPER = path.join(__dirname, 'helper.js');

function runHelper(op: string, a: HelperArgs, input?: Buffer): { result: unknown; stdout: Buffer } {
  const r = spawnSync('/usr/bin/unshare', ['--mount', '--propagation', 'private', process.execPath, HELPER, op, JSON.stringify(a)], {
    input,
    stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
    maxBuffer: 64 * 1024 * 1024,
  });
  const control = (r.output[3] as Buffer | null)?.toString() ?? '';
  return { result: JSON.parse(control.split('\n')[0] || 'null'), stdout: r.stdout };
}

describe('copy helper confinement', { skip: process.getuid?.() !== 0 ? 'needs root' : false }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stv-helper-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const root = path.join(dir, 'root');
  const secret = path.join(dir, 'secret');
  fs.mkdirSync(path.join(root, 'w'), { recursive: true });
  fs.symlinkSync('/', path.join(root, 'w/d'));
  fs.mkdirSync(secret);
  fs.writeFileSync(path.join(secret, 'marker'), 'HOST\n');

  it('resolves a link to / as the container root when reading', () => {
    const { result } = runHelper('stat', { root, path: `/w/d${secret}/marker` });
    assert.deepEqual(result, { ok: false, kind: 'path-not-found', code: 'ENOENT', message: `lstat ${secret}/marker: no such file or directory` });
    const whole = runHelper('get', { root, path: '/w/d/' });
    assert.equal((whole.result as { ok: boolean }).ok, true);
    const names = execFileSync('tar', ['-t'], { input: whole.stdout }).toString().split('\n');
    assert.ok(names.includes('d/w/d'), names.join(','));
    assert.ok(!names.some((n) => n.includes('secret')));
  });

  it('writes through a link to / into the container root, not the host', () => {
    const src = path.join(dir, 'src');
    fs.mkdirSync(path.join(src, secret.slice(1)), { recursive: true });
    fs.writeFileSync(path.join(src, secret.slice(1), 'marker'), 'overwritten\n');
    const tar = execFileSync('tar', ['-C', src, '-c', secret.slice(1).split('/')[0]!]);
    const { result } = runHelper('put', { root, path: '/w/d' }, tar);
    assert.deepEqual(result, { ok: true });
    assert.equal(fs.readFileSync(path.join(secret, 'marker'), 'utf8'), 'HOST\n');
    assert.equal(fs.readFileSync(path.join(root, secret, 'marker'), 'utf8'), 'overwritten\n');
  });

  it('attaches mounts at their destinations inside the root, read-only when asked', () => {
    const vol = path.join(dir, 'vol');
    fs.mkdirSync(vol);
    fs.writeFileSync(path.join(vol, 'v'), 'in the volume\n');
    const got = runHelper('get', { root, path: '/mnt/v/v', attach: [{ source: vol, destination: '/mnt/v', readOnly: true }] });
    assert.equal((got.result as { ok: boolean }).ok, true);
    assert.equal(execFileSync('tar', ['-xO'], { input: got.stdout }).toString(), 'in the volume\n');
    const tar = execFileSync('tar', ['-C', vol, '-c', 'v']);
    const put = runHelper('put', { root, path: '/mnt/v', attach: [{ source: vol, destination: '/mnt/v', readOnly: true }] }, tar);
    assert.equal((put.result as { ok: boolean }).ok, false); // EROFS: the mount is read-only
    assert.equal(fs.readFileSync(path.join(vol, 'v'), 'utf8'), 'in the volume\n');
    assert.ok(fs.statSync(path.join(root, 'mnt/v')).isDirectory()); // the mount point, made in the root
  });
});
