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

/** A hook whose release publishes what the network and volume services publish on an exit (and an unrelated event). */
function releasing(bus: () => EventBus, seen: string[]): StartHook {
  return {
    name: 'fake-net-vol',
    prepare: async () => {},
    release: async (ctx, reason) => {
      const id = ctx.container.id;
      seen.push(`release ${reason}, status ${ctx.container.state.status}`);
      // the volumes first, as the hooks release in reverse (the network hook comes first)
      bus().publish('volume', 'unmount', 'data', { container: id, driver: 'local' });
      await new Promise((r) => setImmediate(r));
      bus().publish('network', 'disconnect', 'net1', { container: 'someone-else', name: 'app', type: 'bridge' });
      bus().publish('network', 'disconnect', 'net1', { container: id, name: 'app', type: 'bridge' });
    },
  };
}

const line = (e: { Type: string; Action: string; Actor: { Attributes: Record<string, string> } }) => `${e.Type} ${e.Action}${e.Actor.Attributes.container ? ' ' + e.Actor.Attributes.container : ''}`;

describe('exit events', () => {
  it('the releases\' disconnect, then unmount (Docker\'s Cleanup order), then die; other containers\' events are not held', async () => {
    const seen: string[] = [];
    const harness: LifecycleHarness = new LifecycleHarness([releasing((): EventBus => harness.events, seen)]);
    h = harness;
    const id = await harness.create({});
    await harness.svc.start(id);
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
    assert.deepEqual(seen, ['release exit, status running']);
    assert.equal(harness.svc.get(id).state.exitCode, 3);
  });

  it('a release outside an exit (the removal) publishes at once', async () => {
    const seen: string[] = [];
    const harness: LifecycleHarness = new LifecycleHarness([releasing((): EventBus => harness.events, seen)]);
    h = harness;
    const id = await harness.create({});
    await harness.svc.start(id);
    const from = harness.events.recent().length;
    await harness.svc.remove(id, { force: true });
    const actions = harness.events.recent().slice(from).map(line);
    assert.ok(actions.indexOf(`network disconnect ${id}`) >= 0);
    assert.ok(actions.indexOf(`network disconnect ${id}`) < actions.indexOf('container destroy'), actions.join(', '));
  });
});

describe('EventBus.hold', () => {
  it('holds what it selects until released, then publishes it in order with new times; a second release does nothing', () => {
    const bus = new EventBus();
    const heard: string[] = [];
    bus.subscribe((e) => heard.push(`${e.Action} ${e.Actor.ID}`));
    const release = bus.hold((type, action) => type === 'volume' && action === 'unmount');
    bus.publish('volume', 'unmount', 'a');
    bus.publish('volume', 'mount', 'b');
    bus.publish('volume', 'unmount', 'c');
    assert.deepEqual(heard, ['mount b']);
    assert.equal(bus.recent().length, 1);
    const before = bus.recent()[0]!.timeNano;
    release();
    release();
    assert.deepEqual(heard, ['mount b', 'unmount a', 'unmount c']);
    assert.deepEqual(bus.recent().map((e) => e.Actor.ID), ['b', 'a', 'c']);
    assert.ok(bus.recent()[1]!.timeNano > before);
    bus.publish('volume', 'unmount', 'd');
    assert.deepEqual(heard.at(-1), 'unmount d', 'nothing held after the release');
  });
});
