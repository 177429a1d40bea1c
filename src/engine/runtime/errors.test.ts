import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { isStevedoreError } from '../errdefs';
import { RuntimeCreateError, classify, lastRuntimeError } from './errors';
import { parseSignal } from './signals';

test('classify follows Docker: not found → 127, EACCES → 126, ENOTDIR/EISDIR → 127', () => {
  assert.equal(classify('exec: "nosuch": executable file not found in $PATH'), 'not-found');
  assert.equal(classify('exec: "/x": stat /x: no such file or directory'), 'not-found');
  assert.equal(classify('exec: "/etc/passwd": permission denied'), 'not-executable');
  assert.equal(classify('executable file `/etc` not found: Permission denied'), 'not-executable');
  assert.equal(classify('mount /a to /b: not a directory'), 'not-found');
  assert.equal(classify('cgroup: device or resource busy'), 'other');
  const e = new RuntimeCreateError('something else');
  assert.ok(isStevedoreError(e));
  assert.equal(e.kind, 'internal');
  assert.equal(e.exitCode, undefined);
});

test('lastRuntimeError takes the last error line of a json runtime log', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-rterr-'));
  try {
    const f = path.join(dir, 'runtime.log');
    fs.writeFileSync(f, 'garbage\n{"level":"error","msg":"first"}\n{"level":"warning","msg":"w"}\n{"level":"error","msg":"second"}\n');
    assert.equal(lastRuntimeError(f), 'second');
    assert.equal(lastRuntimeError(path.join(dir, 'missing')), undefined);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('parseSignal accepts numbers and names, rejects the rest', () => {
  assert.equal(parseSignal(9), 9);
  assert.equal(parseSignal('15'), 15);
  assert.equal(parseSignal('KILL'), 9);
  assert.equal(parseSignal('sigterm'), 15);
  assert.throws(() => parseSignal('NOPE'), (e) => isStevedoreError(e) && e.kind === 'invalid-argument');
  assert.throws(() => parseSignal(0), (e) => isStevedoreError(e) && e.kind === 'invalid-argument');
});
