import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { FrameParser, STDERR, STDOUT, frame } from './streams';

describe('stdcopy frames', () => {
  it('writes the 8-byte header', () => {
    const f = frame(STDERR, Buffer.from('hi'));
    assert.deepEqual([...f.subarray(0, 8)], [2, 0, 0, 0, 0, 0, 0, 2]);
    assert.equal(f.subarray(8).toString(), 'hi');
  });
  it('splits large payloads and parses them back across arbitrary chunk boundaries', () => {
    const big = Buffer.alloc(100_000, 7);
    const wire = Buffer.concat([frame(STDOUT, big), frame(STDERR, Buffer.from('e'))]);
    const p = new FrameParser();
    const got: Array<{ stream: number; payload: Buffer }> = [];
    for (let i = 0; i < wire.length; i += 999) got.push(...p.push(wire.subarray(i, i + 999)));
    assert.equal(p.pending, 0);
    assert.equal(Buffer.concat(got.filter((g) => g.stream === STDOUT).map((g) => g.payload)).length, 100_000);
    assert.ok(got.filter((g) => g.stream === STDOUT).every((g) => g.payload.length <= 32 * 1024));
    assert.equal(got.at(-1)!.payload.toString(), 'e');
  });
});
