import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { isStevedoreError, kindOf } from '../../../engine/errdefs';
import { expandCases } from './cases.fixture';
import { EXPANDING_INSTRUCTIONS, expandWord, expandWords } from './expand';

describe('expandWord: cases checked against Docker 20.10', () => {
  for (const c of expandCases) {
    it(c.why, () => {
      if (c.error !== undefined) {
        assert.throws(() => expandWord(c.word, c.env), (err: unknown) => {
          assert.ok(isStevedoreError(err));
          assert.equal(kindOf(err), 'invalid-argument');
          assert.equal((err as Error).message, c.error);
          return true;
        });
      } else {
        assert.equal(expandWord(c.word, c.env), c.want);
      }
    });
  }
});

describe('expandWord', () => {
  it('takes a Map, a record or a KEY=value list (a later entry wins; KEY alone is empty)', () => {
    assert.equal(expandWord('$A-$B', new Map([['A', '1'], ['B', '2']])), '1-2');
    assert.equal(expandWord('$A-$B', { A: '1', B: '2' }), '1-2');
    assert.equal(expandWord('$A-$B-${B:-unset}', ['A=1', 'A=3', 'B']), '3--unset');
    assert.equal(expandWord('$A', ['A=x=y']), 'x=y');
  });
  it('a backtick escape token', () => {
    assert.equal(expandWord('`$A', { A: 'x' }, '`'), '$A');
    assert.equal(expandWord('c:\\dir\\$A', { A: 'x' }, '`'), 'c:\\dir\\x');
    assert.equal(expandWord('"a`"b"', {}, '`'), 'a"b');
  });
  it('a trailing escape is dropped', () => {
    assert.equal(expandWord('abc\\', {}), 'abc');
  });
  it('an escape at the end inside double quotes leaves the quote open', () => {
    assert.throws(() => expandWord('"abc\\', {}), { message: 'failed to process "\\"abc\\\\": unexpected end of statement while looking for matching double-quote' });
  });
  it('quotes the word in errors as Go does', () => {
    assert.throws(() => expandWord('${A:?}\t\u0001', {}), { message: 'failed to process "${A:?}\\t\\x01": A: is not allowed to be unset' });
  });
  it('a name is letters, digits and _, not starting with a digit', () => {
    assert.equal(expandWord('$A_1b.c', { A_1b: 'v' }), 'v.c');
    assert.equal(expandWord('$12x', { 12: 'tw' }), 'twx');
    assert.equal(expandWord('$1x', { 12: 'tw' }), 'x');
    assert.equal(expandWord('${12}', { 12: 'twelve' }), 'twelve');
  });
  it('nested defaults', () => {
    assert.equal(expandWord('${A:-${B:-${C:-deep}}}', {}), 'deep');
    assert.equal(expandWord('${A:+[${B}]}', { A: '1', B: '2' }), '[2]');
  });
  it('single quotes inside double quotes are literal', () => {
    assert.equal(expandWord('"it\'s $A"', { A: 'x' }), "it's x");
  });
});

describe('expandWords (EXPOSE)', () => {
  const cases: Array<[string, Record<string, string>, string[]]> = [
    ['80', {}, ['80']],
    ['$P', { P: '80 443/udp' }, ['80', '443/udp']],
    ['$P', { P: '  80   443  ' }, ['80', '443']],
    ['"$P"', { P: '80 443' }, ['80 443']],
    ['a\\ b', {}, ['a b']],
    ['x$P', { P: '1 2' }, ['x1', '2']],
    ['$NOPE', {}, []],
    ['""', {}, []],
    ["'a b' c", {}, ['a b', 'c']],
    ['${P:-8080 9090}', {}, ['8080', '9090']],
  ];
  for (const [word, env, want] of cases) it(`${word} with ${JSON.stringify(env)}`, () => assert.deepEqual(expandWords(word, env), want));
});

describe('EXPANDING_INSTRUCTIONS', () => {
  it("is Docker's list", () => {
    assert.deepEqual([...EXPANDING_INSTRUCTIONS].sort(), ['add', 'arg', 'copy', 'env', 'expose', 'from', 'label', 'stopsignal', 'user', 'volume', 'workdir']);
    for (const k of ['run', 'cmd', 'entrypoint', 'shell', 'healthcheck', 'maintainer', 'onbuild']) assert.ok(!EXPANDING_INSTRUCTIONS.has(k), k);
  });
});
