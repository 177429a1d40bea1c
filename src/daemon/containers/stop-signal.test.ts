/**
 * The stop signal of stop and restart (API 1.42's `signal` query, which the API layer
 * passes only from 1.42 on): the override wins over the container's StopSignal, and a bad
 * one of a running container is Docker's 500 (moby daemon/stop.go, daemon/restart.go).
 */
import { afterEach, beforeEach, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { kindOf } from '../../engine/errdefs';
import { LifecycleHarness, settle } from './testing/harness';

let h: LifecycleHarness;
beforeEach(() => {
  h = new LifecycleHarness();
});
afterEach(async () => {
  await h.close();
});

/** A container whose image-less config asks for SIGUSR1 (10) as its stop signal, started. */
async function started(): Promise<string> {
  const { id } = await h.svc.create({ config: { Image: 'busybox', Cmd: ['sleep', '1000'], StopSignal: 'SIGUSR1' }, hostConfig: {} });
  await h.svc.start(id);
  return id;
}

const kills = (id: string) => h.tasks.calls.filter((c) => c.startsWith(`kill ${id} `));

describe('stop signal', () => {
  it('stop without an override sends the StopSignal', async () => {
    const id = await started();
    await h.svc.stop(id, 5);
    assert.deepEqual(kills(id), [`kill ${id} 10`]);
    assert.equal(h.svc.get(id).state.exitCode, 138);
  });

  it('stop with an override sends it instead of the StopSignal', async () => {
    const id = await started();
    await h.svc.stop(id, 5, 'SIGINT');
    assert.deepEqual(kills(id), [`kill ${id} 2`]);
    assert.equal(h.svc.get(id).state.exitCode, 130);
  });

  it('a bad override of a running container is a 500 naming the container as given, and sends nothing', async () => {
    const id = await started();
    const err = await h.svc.stop(id.slice(0, 12), 5, 'FOO').then(() => undefined, (e: unknown) => e);
    assert.equal(kindOf(err), 'internal');
    assert.equal((err as Error).message, `cannot stop container: ${id.slice(0, 12)}: invalid signal: FOO`);
    assert.deepEqual(kills(id), []);
    assert.equal(h.status(id), 'running');
  });

  it('a bad override of a stopped container is not-modified (checked after the state, as moby)', async () => {
    const { id } = await h.svc.create({ config: { Image: 'busybox', Cmd: ['true'] }, hostConfig: {} });
    assert.equal(kindOf(await h.svc.stop(id, 5, 'FOO').then(() => undefined, (e: unknown) => e)), 'not-modified');
  });

  it('restart with an override stops with it, then starts again', async () => {
    const id = await started();
    await h.svc.restart(id, 5, '2');
    await settle();
    assert.deepEqual(kills(id), [`kill ${id} 2`]);
    assert.equal(h.status(id), 'running');
  });

  it('restart with a bad override: a 500 for a running container; ignored for one not running', async () => {
    const id = await started();
    const err = await h.svc.restart(id, 5, 'SIGFOO').then(() => undefined, (e: unknown) => e);
    assert.equal(kindOf(err), 'internal');
    assert.equal((err as Error).message, `Cannot restart container ${id}: invalid signal: SIGFOO`);
    assert.deepEqual(kills(id), []);
    await h.svc.stop(id, 5);
    await h.svc.restart(id, 5, 'SIGFOO');
    assert.equal(h.status(id), 'running');
  });
});
