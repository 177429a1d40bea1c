import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kindOf } from '../../../engine/errdefs';
import { mergeConfig } from './command';

const image = { Entrypoint: ['/entry'], Cmd: ['default'], Env: ['A=image', 'B=image'], WorkingDir: '/app', User: 'nobody' };

test('image entrypoint and cmd by default', () => {
  assert.deepEqual(mergeConfig(image, {}).args, ['/entry', 'default']);
});

test('container cmd replaces image cmd, keeps entrypoint', () => {
  assert.deepEqual(mergeConfig(image, { Cmd: ['x'] }).args, ['/entry', 'x']);
});

test('container entrypoint drops the image cmd', () => {
  assert.deepEqual(mergeConfig(image, { Entrypoint: ['/bin/sh'] }).args, ['/bin/sh']);
  assert.deepEqual(mergeConfig(image, { Entrypoint: ['/bin/sh'], Cmd: ['-c', 'x'] }).args, ['/bin/sh', '-c', 'x']);
});

test('empty entrypoint array keeps image cmd but no entrypoint; [""] resets it', () => {
  assert.deepEqual(mergeConfig(image, { Entrypoint: [] }).args, ['default']);
  assert.deepEqual(mergeConfig(image, { Entrypoint: [''], Cmd: ['ls'] }).args, ['ls']);
  assert.throws(() => mergeConfig(image, { Entrypoint: [''] }), (e: unknown) => kindOf(e) === 'invalid-argument' && (e as Error).message === 'No command specified');
  assert.throws(() => mergeConfig({}, {}), /No command specified/);
});

test('env: container first, then image entries it does not set', () => {
  assert.deepEqual(mergeConfig(image, { Env: ['B=mine', 'C=mine'] }).env, ['B=mine', 'C=mine', 'A=image']);
  assert.deepEqual(mergeConfig(image, {}).env, ['A=image', 'B=image']);
});

test('user, working dir, labels fall back to the image', () => {
  const m = mergeConfig({ ...image, Labels: { a: '1', b: '1' } }, { Labels: { b: '2' }, WorkingDir: '/w' });
  assert.equal(m.user, 'nobody');
  assert.equal(m.workingDir, '/w');
  assert.deepEqual(m.labels, { a: '1', b: '2' });
});
