import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import test from 'node:test';
import { mountAll, unmount } from './mount';
import type { Mount } from './types';
import { mountVolatile, volatileMounts } from './volatile';

const optionsOf = (target: string) =>
  fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.split(' ')[4] === target) ?? '';

test('volatileMounts adds the option to overlays only', () => {
  const bind: Mount = { type: 'bind', source: '/x', options: ['rbind'] };
  const ov: Mount = { type: 'overlay', source: 'overlay', options: ['lowerdir=/l', 'upperdir=/u', 'workdir=/nonexistent-w'] };
  const [b, o] = volatileMounts([bind, ov]);
  assert.equal(b, bind);
  assert.deepEqual(o!.options, [...ov.options, 'volatile']);
  assert.deepEqual(ov.options.length, 3, 'input untouched');
});

test('a volatile rootfs can be mounted again after its unmount (same boot), keeping its files', { skip: process.getuid?.() !== 0 ? 'needs root' : false }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stv-volatile-'));
  const [l, u, w, m] = ['l', 'u', 'w', 'm'].map((d) => path.join(dir, d));
  for (const d of [l!, u!, w!, m!]) fs.mkdirSync(d);
  fs.writeFileSync(path.join(l!, 'base'), 'lower');
  const mounts: Mount[] = [{ type: 'overlay', source: 'overlay', options: [`lowerdir=${l}`, `upperdir=${u}`, `workdir=${w}`] }];
  try {
    mountVolatile(mounts, m!, mountAll);
    assert.match(optionsOf(m!), /volatile/);
    fs.writeFileSync(path.join(m!, 'written'), 'upper');
    unmount(m!);
    assert.ok(fs.existsSync(path.join(w!, 'work', 'incompat', 'volatile')), 'the kernel leaves its marker');
    // a plain remount is refused while the marker is there; ours clears it
    assert.throws(() => mountAll(mounts, m!));
    mountVolatile(mounts, m!, mountAll);
    assert.equal(fs.readFileSync(path.join(m!, 'written'), 'utf8'), 'upper');
    assert.equal(fs.readFileSync(path.join(m!, 'base'), 'utf8'), 'lower');
    unmount(m!);
  } finally {
    try {
      unmount(m!);
    } catch {
      // not mounted
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
