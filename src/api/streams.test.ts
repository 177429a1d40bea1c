import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { FrameParser, STDERR, STDOUT, detachedBody, frame, jsonProgress, writeChunk, writeLine } from './streams';

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

describe('streamed responses', () => {
  it('writeChunk and writeLine stop at once on a destroyed output instead of waiting for a drain', async () => {
    const out = new PassThrough({ highWaterMark: 4 });
    assert.equal(await writeChunk(out, 'abc'), true);
    out.destroy();
    assert.equal(await writeChunk(out, 'more'), false);
    await writeLine(out, '{}'); // resolves
    // a drain that will never come: closing the output releases the writer
    const slow = new PassThrough({ highWaterMark: 1 });
    const pending = writeChunk(slow, 'a long chunk');
    setImmediate(() => slow.destroy());
    assert.equal(await pending, false);
  });

  it('detachedBody: destroying the copy leaves the request alone and drains it', async () => {
    const req = new PassThrough();
    const body = detachedBody(req);
    req.write('first');
    const first = await new Promise<Buffer>((r) => body.once('data', r));
    assert.equal(first.toString(), 'first');
    body.on('error', () => undefined);
    const closed = new Promise((r) => body.once('close', r));
    body.destroy(new Error('bad archive'));
    await closed;
    req.end('the rest of the upload');
    await once(req, 'end');
    // read to its end, never destroyed with an error (which would reset the connection)
    assert.equal(req.readableEnded, true);
    assert.equal(req.errored, null);
  });

  it('jsonProgress: an error before the first message is thrown, after it goes in-band and the response ends', async () => {
    const started: PassThrough[] = [];
    const start = () => {
      const p = new PassThrough();
      started.push(p);
      return p as unknown as ServerResponse;
    };
    await assert.rejects(
      jsonProgress(start, async () => {
        throw new Error('early');
      }, (e) => (e as Error).message),
      /early/,
    );
    assert.equal(started.length, 0, 'no response started');
    await jsonProgress(
      start,
      async (write) => {
        await write({ status: 'Loading' });
        throw new Error('late');
      },
      (e) => (e as Error).message,
    );
    const text = started[0]!.read()!.toString();
    assert.deepEqual(text.trim().split('\n').map((l: string) => JSON.parse(l) as unknown), [{ status: 'Loading' }, { errorDetail: { message: 'late' }, error: 'late' }]);
    assert.equal(started[0]!.writableEnded, true);
  });
});
