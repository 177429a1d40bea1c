import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { BuildArgs } from './buildargs';
import { checkPlatform, goDuration, parsePortSpec, shortId } from './builder';
import { cacheKey } from './backend';
import { isGitURL } from './context';

describe('BuildArgs (Docker buildargs.go)', () => {
  it('gives options over defaults, meta values to value-less ARGs', () => {
    const b = new BuildArgs(new Map<string, string | undefined>([['A', 'opt'], ['UNUSED', 'x'], ['HTTP_PROXY', 'p'], ['NULLED', undefined]]));
    b.addMetaArg('M', 'meta');
    const s = b.forStage();
    s.addArg('A', 'def');
    s.addArg('B', 'bdef');
    s.addArg('M', undefined);
    s.addArg('NULLED', undefined);
    assert.deepEqual([...s.allAllowed()].sort(), [['A', 'opt'], ['B', 'bdef'], ['HTTP_PROXY', 'p'], ['M', 'meta']]);
    assert.deepEqual(s.filterAllowed(['B=env']).sort(), ['A=opt', 'HTTP_PROXY=p', 'M=meta']);
    assert.equal(s.isReferencedOrNotBuiltin('HTTP_PROXY'), false);
    assert.equal(s.isReferencedOrNotBuiltin('A'), true);
    assert.deepEqual(b.unused(), ['UNUSED']);
  });
  it('meta args take option values', () => {
    const b = new BuildArgs(new Map([['BASE', 'alpine']]));
    b.addMetaArg('BASE', 'busybox');
    b.addMetaArg('OTHER', undefined);
    assert.deepEqual([...b.allMeta()], [['BASE', 'alpine']]);
  });
});

describe('builder helpers', () => {
  it('formats Go durations', () => {
    assert.equal(goDuration(0), '0s');
    assert.equal(goDuration(5e9), '5s');
    assert.equal(goDuration(90e9), '1m30s');
    assert.equal(goDuration(3600e9 + 1.5e9), '1h0m1.5s');
    assert.equal(goDuration(500e6), '500ms');
    assert.equal(goDuration(1500), '1.5µs');
  });
  it('parses EXPOSE ports as nat.ParsePortSpec', () => {
    assert.deepEqual(parsePortSpec('80'), ['80/tcp']);
    assert.deepEqual(parsePortSpec('53/UDP'), ['53/udp']);
    assert.deepEqual(parsePortSpec('8000-8002'), ['8000/tcp', '8001/tcp', '8002/tcp']);
    assert.throws(() => parsePortSpec('x'), /Invalid containerPort: x/);
  });
  it('accepts only this machine\'s platform', () => {
    checkPlatform('');
    checkPlatform('linux');
    assert.throws(() => checkPlatform('windows/amd64'), /not supported/);
    assert.throws(() => checkPlatform('linux/s390x-nope'), /not supported/);
  });
  it('truncates IDs', () => assert.equal(shortId('sha256:0123456789abcdef'), '0123456789ab'));
  it('keys the cache on the config but not the host name or image', () => {
    const a = cacheKey({ Hostname: 'a', Image: 'x', Cmd: ['c'], Env: ['A=1'], Labels: { b: '2', a: '1' } });
    assert.equal(a, cacheKey({ Hostname: 'b', Image: 'y', Cmd: ['c'], Env: ['A=1'], Labels: { a: '1', b: '2' } }));
    assert.notEqual(a, cacheKey({ Cmd: ['c'], Env: ['A=2'], Labels: { a: '1', b: '2' } }));
    assert.notEqual(a, cacheKey({ Cmd: ['c'], Env: ['A=1'], Labels: { a: '1', b: '2' }, WorkingDir: '/w' }));
    assert.equal(cacheKey({ Env: [] }), cacheKey({ Env: null }));
  });
  it('knows git URLs', () => {
    assert.equal(isGitURL('git://h/r'), true);
    assert.equal(isGitURL('git@github.com:x/y'), true);
    assert.equal(isGitURL('https://h/r.git#main:sub'), true);
    assert.equal(isGitURL('https://h/ctx.tar.gz'), false);
  });
});

describe('OrderedOutput (parallel stages, Dockerfile order)', () => {
  it('writes the first stage through and holds the later ones until it ends', async () => {
    const { OrderedOutput } = await import('./builder');
    const seen: string[] = [];
    const o = new OrderedOutput(3, async (m) => void seen.push(String(m.stream)));
    const [a, b, c] = [o.writer(0), o.writer(1), o.writer(2)];
    await c({ stream: 'c1' });
    await b({ stream: 'b1' });
    await a({ stream: 'a1' });
    assert.deepEqual(seen, ['a1']);
    await o.finish(2);
    assert.deepEqual(seen, ['a1']);
    await a({ stream: 'a2' });
    await o.finish(0);
    assert.deepEqual(seen, ['a1', 'a2', 'b1']);
    await b({ stream: 'b2' });
    assert.deepEqual(seen, ['a1', 'a2', 'b1', 'b2']);
    await o.finish(1);
    assert.deepEqual(seen, ['a1', 'a2', 'b1', 'b2', 'c1']);
  });
});
