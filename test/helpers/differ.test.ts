/**
 * The differential suite's comparison itself (test/helpers/differ.ts), no engine needed:
 * what it must tell apart for the checks of test/e2e/differential.test.ts to mean anything.
 */
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { compareShapes } from './differ';

describe('differ', () => {
  it('tells null from [] and from {}', () => {
    const keys = (a: unknown, b: unknown) => compareShapes('c', a, b).map((d) => d.key);
    assert.deepEqual(keys({ x: null }, { x: [] }), ['c .x type']);
    assert.deepEqual(keys({ x: [] }, { x: null }), ['c .x type']);
    assert.deepEqual(keys({ x: {} }, { x: null }), ['c .x type']);
    assert.deepEqual(keys({ x: [] }, { x: [] }), []);
    assert.deepEqual(keys({ x: [1] }, { x: [] }), ['c .x emptiness']);
  });
  it('tells nanosecond times from millisecond ones, and MACs and addresses from text', () => {
    const keys = (a: unknown, b: unknown) => compareShapes('c', a, b).map((d) => d.key);
    assert.deepEqual(keys('2026-12-02T23:55:44.123Z', '2026-12-02T23:55:44.123456789Z'), ['c . format']);
    assert.deepEqual(keys('2026-12-02T23:55:44.1234567Z', '2026-12-02T23:55:44.123456789Z'), []);
    assert.deepEqual(keys('2026-12-02T23:55:44Z', '2026-12-02T23:55:44.123456789Z'), ['c . format']);
    assert.deepEqual(keys('02:42:0a:00:00:02', 'x2:42:0a:00:00:02'), ['c . format']);
    assert.deepEqual(keys('10.1.2.3', '10.1.2.0/24'), ['c . format']);
  });
  it('compares values only where asked, a `*` standing for any key', () => {
    const a = { 'container:create': { status: 'create', time: 1 }, 'network:connect': { status: 'connect', time: 1 } };
    const b = { 'container:create': { status: 'created', time: 2 }, 'network:connect': { status: 'connect', time: 3 } };
    assert.deepEqual(compareShapes('c', a, b).map((d) => d.key), []);
    assert.deepEqual(compareShapes('c', a, b, { values: ['.*.status'] }).map((d) => d.key), ['c .container:create.status value']);
  });
  it('names objects of data keys as maps: values compared by position, keys not', () => {
    assert.deepEqual(compareShapes('c', { L: { a: '1' } }, { L: { b: '2' } }, { maps: ['.L'] }).map((d) => d.key), []);
    assert.deepEqual(compareShapes('c', { L: { a: '1' } }, { L: { b: '2' } }).map((d) => d.key), ['c .L.a only-stevedore', 'c .L.b only-docker']);
    assert.deepEqual(compareShapes('c', { L: { a: '1' } }, { L: {} }, { maps: ['.L'] }).map((d) => d.key), ['c .L emptiness']);
  });
});
