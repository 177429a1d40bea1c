import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { collect, demux, suiteFixture } from './bundle-fixture';

const MIB = 1024 * 1024;
// 16 MiB of output, four times what an observer may fall behind
const WRITER = ['sh', '-c', 'head -c 16777216 /dev/zero; echo done'];


function loggedBytes(file: string): number {
  let n = 0;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) if (line) n += (JSON.parse(line) as { log: string }).log.length;
  return n;
}

describe('slow attach clients', () => {
  const fixture = suiteFixture();

  test("the container's own client (attached before start) loses nothing: the output waits for it", async () => {
    const id = 'slow-primary';
    await fixture().svc.create({ id, bundle: fixture().bundle(id, WRITER), logPath: fixture().logPath(id), tty: false, openStdin: false, stdinOnce: false });
    const s = await fixture().svc.attach(id, { stdin: false, stdout: true, stderr: true });
    s.pause(); // a consumer that does not read for a while
    await fixture().svc.startCreated(id);
    await sleep(1500);
    assert.equal(await fixture().svc.state(id), 'running', 'the writer waits for its reader');
    const out = collect(s);
    s.resume();
    const { stdout } = demux(await out);
    assert.equal(stdout.length, 16 * MIB + 5);
    assert.ok(stdout.endsWith('done\n'));
    assert.equal((await fixture().svc.wait(id)).exitCode, 0);
    assert.equal(loggedBytes(fixture().logPath(id)), 16 * MIB + 5, 'the log is complete');
    await fixture().svc.delete(id);
  });

  test('an observer (attached to the running container) that falls 4 MiB behind is dropped, the container goes on', async () => {
    const id = 'slow-observer';
    await fixture().svc.create({ id, bundle: fixture().bundle(id, ['sh', '-c', 'sleep 0.5; head -c 16777216 /dev/zero; echo done']), logPath: fixture().logPath(id), tty: false, openStdin: false, stdinOnce: false });
    await fixture().svc.startCreated(id);
    const s = await fixture().svc.attach(id, { stdin: false, stdout: true, stderr: true });
    s.pause();
    assert.equal((await fixture().svc.wait(id)).exitCode, 0, 'the container was not held up');
    const out = collect(s);
    s.resume();
    const got = (await out).length; // cut anywhere, even inside a frame
    assert.ok(got < 16 * MIB, `the observer was cut off (got ${got} bytes)`);
    assert.equal(loggedBytes(fixture().logPath(id)), 16 * MIB + 5, 'the log is complete');
    await fixture().svc.delete(id);
  });
});
