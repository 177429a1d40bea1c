/**
 * The order of an exit's events: the `disconnect` and then the `unmount` events of the
 * start hooks' releases, then `die` (Docker's order since 23: moby daemon/monitor.go runs
 * Cleanup, then publishes `die`), with the exit recorded and the waiters told as before.
 */
import { afterEach, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { EventBus } from '../events/bus';
import type { StartHook } from './hooks';
import { LifecycleHarness, eventually } from './testing/harness';

let h: LifecycleHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/**
 * The network hook and a volumes hook as the daemon has them (the network hook prepares
 * without the rootfs and comes first); their releases publish what the network and volume
 * services publish on an exit, and an unrelated container's event.
 */
function releasing(bus: () => EventBus, seen: string[]): StartHook[] {
  const net: StartHook = {
    name: 'fake-net',
    withoutRootfs: true,
    prepare: async () => {},
    release: async (ctx, reason) => {
      seen.push(`release net ${reason}, status ${ctx.container.state.status}`);
      await new Promise((r) => setImmediate(r));
      bus().publish('network', 'disconnect', 'net1', { container: 'someone-else', name: 'app', type: 'bridge' });
      bus().publish('network', 'disconnect', 'net1', { container: ctx.container.id, name: 'app', type: 'bridge' });
    },
  };
  const vol: StartHook = {
    name: 'fake-vol',
    prepare: async () => {},
    release: async (ctx, reason) => {
      seen.push(`release vol ${reason}`);
      bus().publish('volume', 'unmount', 'data', { container: ctx.container.id, driver: 'local' });
    },
  };
  return [net, vol];
}

const line = (e: { Type: string; Action: string; Actor: { Attributes: Record<string, string> } }) => `${e.Type} ${e.Action}${e.Actor.Attributes.container ? ' ' + e.Actor.Attributes.container : ''}`;

/** A running container on a harness whose network and volume hooks publish their events (`seen`: their releases). */
async function started(): Promise<{ harness: LifecycleHarness; id: string; seen: string[] }> {
  const seen: string[] = [];
  const harness: LifecycleHarness = new LifecycleHarness(releasing((): EventBus => harness.events, seen));
  h = harness;
  const id = await harness.create({});
  await harness.svc.start(id);
  return { harness, id, seen };
}

describe('exit events', () => {
  it('the network released first, then the volumes (Docker\'s Cleanup order), then die; another container\'s event untouched', async () => {
    const { harness, id, seen } = await started();
    const waited = harness.svc.wait(id, 'not-running');
    const from = harness.events.recent().length;
    harness.tasks.exit(id, 3);
    assert.equal(await waited, 3);
    await eventually(() => harness.status(id) === 'exited', 'exited');
    const after = harness.events.recent().slice(from).map(line);
    assert.deepEqual(after, [
      'network disconnect someone-else',
      `network disconnect ${id}`,
      `volume unmount ${id}`,
      'container die',
    ]);
    const evs = harness.events.recent().slice(from);
    for (let i = 1; i < evs.length; i++) assert.ok(evs[i]!.timeNano > evs[i - 1]!.timeNano, 'times follow the order');
    assert.deepEqual(seen, ['release net exit, status running', 'release vol exit']);
    assert.equal(harness.svc.get(id).state.exitCode, 3);
  });

  it('the removal\'s releases: the network before the volumes, both before destroy', async () => {
    const { harness, id } = await started();
    const from = harness.events.recent().length;
    await harness.svc.remove(id, { force: true });
    const actions = harness.events.recent().slice(from).map(line);
    assert.ok(actions.indexOf(`network disconnect ${id}`) >= 0);
    assert.ok(actions.indexOf(`network disconnect ${id}`) < actions.indexOf(`volume unmount ${id}`), actions.join(', '));
    assert.ok(actions.indexOf(`volume unmount ${id}`) < actions.indexOf('container destroy'), actions.join(', '));
  });
});
