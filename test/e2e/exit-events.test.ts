/**
 * The events of a container's exit. Docker 23 and later (moby daemon/monitor.go
 * handleContainerExit) run Cleanup — the network `disconnect`, then the volume `unmount`
 * — and then publish `die`; Docker 20.10 published `die` first. stevedore follows the
 * current order; against Docker 20.10 (STEVEDORE_TEST_TARGET=docker) the test expects
 * 20.10's.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { type Target, startTarget } from '../helpers/target';
import { importBusybox } from '../helpers/busybox';
import { assertNoContainerLeftovers, dockerOk, removeAllContainers } from '../helpers/containers';
import { freeSubnet24 } from '../helpers/network';

interface Ev {
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  timeNano: number;
}

describe('exit events', () => {
  let t: Target;
  const tag = Math.random().toString(16).slice(2, 8);
  const net = `exev${tag}`;
  const vol = `exev-vol${tag}`;
  const ok = (args: string[]) => dockerOk(t, args);

  before(async () => {
    t = await startTarget({ network: true });
    await importBusybox(t);
    await ok(['network', 'create', '--subnet', freeSubnet24(), net]);
    await ok(['volume', 'create', vol]);
  });
  after(async () => {
    try {
      await removeAllContainers(t);
      await t.docker(['network', 'rm', net]);
      await t.docker(['volume', 'rm', vol]);
      await assertNoContainerLeftovers(t);
    } finally {
      await t.stop();
    }
  });

  it('run --rm on a user network with a named volume: disconnect, unmount, die (20.10: die first), then destroy', async () => {
    const name = `exev-c${tag}`;
    const since = Math.floor(Date.now() / 1000) - 1;
    const run = await t.docker(['run', '--rm', '--name', name, '--network', net, '-v', `${vol}:/data`, 'busybox', 'sh', '-c', 'exit 3']);
    assert.equal(run.code, 3, run.stderr);
    const until = Math.floor(Date.now() / 1000) + 1;
    const r = await t.request('GET', `/v1.41/events?since=${since}&until=${until}`);
    assert.equal(r.status, 200);
    const all = r.body.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Ev);
    const create = all.find((e) => e.Type === 'container' && e.Action === 'create' && e.Actor.Attributes.name === name);
    assert.ok(create, 'the container was created');
    const id = create.Actor.ID;
    const mine = all.filter((e) => e.Actor.ID === id || e.Actor.Attributes.container === id);
    const seq = mine.map((e) => `${e.Type} ${e.Action}`).filter((s) => /^(container (die|destroy)|network disconnect|volume unmount)$/.test(s));
    const modern = ['network disconnect', 'volume unmount', 'container die', 'container destroy'];
    const docker2010 = ['container die', 'network disconnect', 'volume unmount', 'container destroy'];
    assert.deepEqual(seq, t.kind === 'docker' ? docker2010 : modern);
    const die = mine.find((e) => e.Action === 'die')!;
    assert.equal(die.Actor.Attributes.exitCode, '3');
    const disconnect = mine.find((e) => e.Action === 'disconnect')!;
    assert.equal(disconnect.Actor.Attributes.name, net);
    assert.ok(t.kind === 'docker' ? disconnect.timeNano >= die.timeNano : die.timeNano >= disconnect.timeNano, 'the times follow the order');
  });
});
