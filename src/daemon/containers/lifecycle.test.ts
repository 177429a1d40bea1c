/**
 * The container lifecycle on the fake task service, without root: start hooks, restart
 * policies and their back-off, AutoRemove, exits while the daemon is down, restore, and
 * the five races of issue #12, each driven deterministically (a held task call, a manual
 * clock for the back-off).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { kindOf } from '../../engine/errdefs';
import type { StartHook } from './hooks';
import { transition } from './state';
import { LifecycleHarness, eventually, settle } from './testing/harness';

let h: LifecycleHarness;
beforeEach(() => {
  h = new LifecycleHarness();
});
afterEach(async () => {
  await h.close();
});

/** Starts a container, then lets its task exit with `code` and the exit be recorded. */
async function runAndExit(id: string, code: number): Promise<void> {
  await h.svc.start(id);
  h.tasks.exit(id, code);
  await eventually(() => h.status(id) !== 'running', `exit of ${id} recorded`);
  await settle();
}

describe('transition', () => {
  it('allows what the state machine allows and refuses the rest with a conflict', () => {
    assert.equal(transition('created', 'start'), 'running');
    assert.equal(transition('running', 'exit-restart'), 'restarting');
    assert.equal(transition('restarting', 'cancel-restart'), 'exited');
    assert.equal(transition('removing', 'remove-failed'), 'dead');
    for (const [from, ev] of [['running', 'start'], ['exited', 'pause'], ['removing', 'remove'], ['created', 'exit'], ['running', 'remove']] as const) {
      assert.throws(() => transition(from, ev), (e) => kindOf(e) === 'conflict', `${ev} from ${from}`);
    }
  });
});

describe('start hooks', () => {
  it('mount the rootfs, hand their mounts to the spec, and release on exit', async () => {
    const id = await h.create({ Binds: ['/srv:/data:ro'], Mounts: [{ Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 1 << 20 } }] });
    await h.svc.start(id);
    assert.equal(h.status(id), 'running');
    assert.equal(h.mounter.mounted.size, 1);
    const dests = h.specInputs[0]!.mounts.map((m) => `${m.type} ${m.destination}`);
    assert.deepEqual(dests, ['bind /etc/resolv.conf', 'bind /etc/hostname', 'bind /etc/hosts', 'bind /data', 'tmpfs /t']);
    h.tasks.exit(id, 0);
    await eventually(() => h.status(id) === 'exited', 'exited');
    assert.equal(h.mounter.mounted.size, 0);
  });

  it('plug in: their env and netns reach the spec; a failing prepare releases the prepared ones in reverse', async () => {
    const log: string[] = [];
    const hook = (name: string, fail = false): StartHook => ({
      name,
      async prepare() {
        log.push(`prepare ${name}`);
        if (fail) throw new Error(`${name} failed`);
        return { env: [`HOOK=${name}`], netnsPath: `/run/netns/${name}` };
      },
      async release(_ctx, reason) {
        log.push(`release ${name} ${reason}`);
      },
    });
    await h.close();
    h = new LifecycleHarness([hook('net'), hook('health')]);
    const id = await h.create();
    await h.svc.start(id);
    assert.deepEqual(h.specInputs[0]!.config.Env?.slice(-2), ['HOOK=net', 'HOOK=health']);
    assert.equal(h.specInputs[0]!.netnsPath, '/run/netns/health');
    h.tasks.exit(id, 0);
    await eventually(() => h.status(id) === 'exited', 'exited');
    assert.deepEqual(log.splice(0), ['prepare net', 'prepare health', 'release health exit', 'release net exit']);
    await h.close();
    h = new LifecycleHarness([hook('net'), hook('broken', true), hook('never')]);
    const id2 = await h.create();
    await assert.rejects(h.svc.start(id2), /broken failed/);
    assert.deepEqual(log, ['prepare net', 'prepare broken', 'release net failed-start']);
    assert.equal(h.mounter.mounted.size, 0);
    await h.svc.remove(id2);
    assert.deepEqual(log.slice(3), ['release never remove', 'release broken remove', 'release net remove']);
  });

  it('leading hooks that never look into the rootfs prepare while it is mounted; either failing undoes both', async () => {
    const log: string[] = [];
    const early = (name: string, fail = false): StartHook => ({
      name,
      withoutRootfs: true,
      async prepare() {
        log.push(`prepare ${name}`);
        await settle(2); // the mount goes on meanwhile
        log.push(`prepared ${name} (rootfs mounted: ${h.mounter.mounted.size})`);
        if (fail) throw new Error(`${name} failed`);
        return { netnsPath: `/run/netns/${name}` };
      },
      async release(_ctx, reason) {
        log.push(`release ${name} ${reason}`);
      },
    });
    // the network hook is the first of the daemon's hooks; here one stands in for it
    const hooks = (h.svc as unknown as { k: { hooks: StartHook[] } }).k.hooks;
    hooks.unshift(early('net'));
    const id = await h.create();
    await h.svc.start(id);
    assert.deepEqual(log.splice(0), ['prepare net', 'prepared net (rootfs mounted: 1)']);
    assert.equal(h.specInputs[0]!.netnsPath, '/run/netns/net');
    h.tasks.exit(id, 0);
    await eventually(() => h.status(id) === 'exited', 'exited');
    assert.deepEqual(log.splice(0), ['release net exit']);

    // the hook fails while the rootfs was mounted: the rootfs goes, the hook undid itself
    hooks[0] = early('net', true);
    const id2 = await h.create();
    await assert.rejects(h.svc.start(id2), /net failed/);
    assert.equal(h.mounter.mounted.size, 0);
    assert.deepEqual(log.splice(0), ['prepare net', 'prepared net (rootfs mounted: 1)']);
    assert.equal(h.status(id2), 'created');

    // the mount fails while the hook prepared: the hook is released
    hooks[0] = early('net');
    const mounts = h.snapshots.mounts.bind(h.snapshots);
    h.snapshots.mounts = async () => {
      throw new Error('mount failed');
    };
    await assert.rejects(h.svc.start(id2), /mount failed/);
    h.snapshots.mounts = mounts;
    assert.deepEqual(log.splice(0), ['prepare net', 'prepared net (rootfs mounted: 0)', 'release net failed-start']);
    assert.equal(h.mounter.mounted.size, 0);
  });

  it('the shim starts before the preparation; a create refused then waits for it, then releases it all', async () => {
    const log: string[] = [];
    const slow: StartHook = {
      name: 'slow',
      async prepare() {
        log.push(`prepare (spawned: ${h.tasks.count('spawn', id)})`);
        await settle(2); // the refusal arrives meanwhile
        log.push('prepared');
        return {};
      },
      async release(_ctx, reason) {
        log.push(`release ${reason}`);
      },
    };
    await h.close();
    h = new LifecycleHarness([slow]);
    const id = await h.create();
    h.tasks.failNext('spawn', new Error('no shim binary'), id);
    await assert.rejects(h.svc.start(id), /no shim binary/);
    assert.deepEqual(log, ['prepare (spawned: 1)', 'prepared', 'release failed-start']);
    assert.equal(h.mounter.mounted.size, 0);
    assert.equal(h.tasks.peek(id), undefined);
    assert.equal(h.status(id), 'created');
    // and the next start goes through
    await h.svc.start(id);
    assert.equal(h.status(id), 'running');
  });

  it('a bad log max-size fails the start (invalid argument) and holds nothing: the container can be removed', async () => {
    const id = await h.create({ LogConfig: { Type: 'json-file', Config: { 'max-size': 'bogus' } } });
    await assert.rejects(h.svc.start(id), (e: unknown) => kindOf(e) === 'invalid-argument');
    assert.equal(h.mounter.mounted.size, 0);
    assert.equal(h.tasks.count('spawn', id), 0);
    await h.svc.remove(id);
    assert.equal(h.status(id), 'gone');
  });

  it('released in reverse when the start fails, with the runtime error recorded', async () => {
    const id = await h.create();
    h.tasks.failNext('create', new Error('OCI runtime create failed: boom'));
    await assert.rejects(h.svc.start(id), /boom/);
    assert.equal(h.status(id), 'created');
    assert.equal(h.mounter.mounted.size, 0);
    assert.match(h.svc.get(id).state.error, /boom/);
  });
});

describe('restart policies', () => {
  it('always: restarts after 100 ms, then 200 ms, counting restarts', async () => {
    const id = await h.create({ RestartPolicy: { Name: 'always' } });
    await runAndExit(id, 0);
    assert.equal(h.status(id), 'restarting');
    assert.deepEqual(h.clock.pending(), [100]);
    h.clock.advance(100);
    await eventually(() => h.status(id) === 'running', 'restarted');
    assert.equal(h.svc.get(id).restartCount, 1);
    h.tasks.exit(id, 1);
    await eventually(() => h.status(id) === 'restarting', 'restarting again');
    await settle();
    assert.deepEqual(h.clock.pending(), [200]);
  });

  it('on-failure:2 restarts twice after failures and never after a success', async () => {
    const id = await h.create({ RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 2 } });
    await runAndExit(id, 1);
    for (let i = 1; i <= 2; i++) {
      assert.equal(h.status(id), 'restarting', `restart ${i}`);
      h.clock.advance(60_000);
      await eventually(() => h.status(id) === 'running', `restart ${i} running`);
      h.tasks.exit(id, 1);
      await eventually(() => h.status(id) !== 'running', `exit ${i}`);
      await settle();
    }
    assert.equal(h.status(id), 'exited');
    assert.equal(h.svc.get(id).restartCount, 2);
    const ok = await h.create({ RestartPolicy: { Name: 'on-failure' } });
    await runAndExit(ok, 0);
    assert.equal(h.status(ok), 'exited');
  });

  it('unless-stopped: a stop is not followed by a restart', async () => {
    const id = await h.create({ RestartPolicy: { Name: 'unless-stopped' } });
    await h.svc.start(id);
    await h.svc.stop(id, 1);
    await settle();
    assert.equal(h.status(id), 'exited');
    assert.deepEqual(h.clock.pending(), []);
  });
});

describe('AutoRemove', () => {
  it('removes the container at its exit: row, snapshot, rootfs', async () => {
    const id = await h.create({ AutoRemove: true });
    const removed = h.svc.wait(id, 'removed');
    await h.svc.start(id);
    h.tasks.exit(id, 3);
    assert.equal(await removed, 3);
    assert.equal(h.status(id), 'gone');
    assert.equal(h.snapshots.keys.size, 0);
    assert.equal(h.mounter.mounted.size, 0);
  });
});

describe('restore', () => {
  it('reattaches to a live task and records its later exit', async () => {
    const id = await h.create();
    await h.svc.start(id);
    const svc = await h.reopen({ clean: true });
    assert.equal(svc.get(id).state.status, 'running');
    h.tasks.exit(id, 5);
    await eventually(() => h.status(id) === 'exited', 'exit after restore');
    assert.equal(svc.get(id).state.exitCode, 5);
  });

  it('records an exit that happened while the daemon was down', async () => {
    const id = await h.create();
    await h.svc.start(id);
    await h.svc.close();
    h.tasks.exit(id, 42);
    await h.reopen();
    await eventually(() => h.status(id) === 'exited', 'exit recorded at restore');
    assert.equal(h.svc.get(id).state.exitCode, 42);
  });
});

describe('a full data root', () => {
  it('keeps an exit it cannot write in memory, keeps the task, and writes it when it can', async () => {
    const id = await h.create({ RestartPolicy: { Name: 'always' } });
    await h.svc.start(id);
    const db = h.db as unknown as { tx: (...a: unknown[]) => unknown };
    const tx = db.tx;
    db.tx = () => {
      throw new Error('database or disk is full');
    };
    try {
      h.tasks.exit(id, 1);
      await eventually(() => h.status(id) === 'restarting', 'exit seen');
      await settle();
      assert.equal(h.tasks.peek(id), 'stopped', 'the task (and its exit record) stays until the exit is written');
      assert.deepEqual(h.clock.pending(), [], 'no restart before the exit is written');
    } finally {
      db.tx = tx;
    }
    await eventually(() => h.tasks.peek(id) === undefined, 'task deleted once written');
    await eventually(() => h.clock.pending().length === 1, 'restart scheduled once written');
  });
});

describe('the five races of issue #12', () => {
  it('(1) rm -f racing a start: the start finishes, then the container is killed and removed', async () => {
    const id = await h.create();
    const held = h.tasks.hold('startCreated', id);
    const start = h.svc.start(id);
    await held.reached;
    const rm = h.svc.remove(id, { force: true });
    await settle();
    held.release();
    await start;
    await rm;
    assert.equal(h.status(id), 'gone');
    assert.equal(h.tasks.peek(id), undefined);
    assert.equal(h.mounter.mounted.size, 0);
  });

  it('(1) a start after rm -f claimed the container is refused', async () => {
    const id = await h.create();
    await h.svc.start(id);
    const held = h.tasks.hold('delete', id);
    const rm = h.svc.remove(id, { force: true });
    await held.reached;
    await assert.rejects(h.svc.start(id), /marked for removal/);
    held.release();
    await rm;
    assert.equal(h.status(id), 'gone');
  });

  it('(1) rm -f racing a policy restart removes the container', async () => {
    const id = await h.create({ RestartPolicy: { Name: 'always' } });
    await runAndExit(id, 1);
    assert.equal(h.status(id), 'restarting');
    const held = h.tasks.hold('startCreated', id);
    h.clock.advance(100); // the back-off ends: the policy's start runs and is held
    await held.reached;
    const rm = h.svc.remove(id, { force: true });
    await settle();
    held.release();
    await rm;
    assert.equal(h.status(id), 'gone');
    assert.equal(h.tasks.peek(id), undefined);
    assert.deepEqual(h.clock.pending(), []);
  });

  it('(2) stop of a container whose back-off timer has just fired leaves it stopped', async () => {
    const id = await h.create({ RestartPolicy: { Name: 'always' } });
    await runAndExit(id, 1);
    const held = h.tasks.hold('create', id);
    h.clock.advance(100); // the timer fires: the restart waits for its task
    await held.reached;
    const stop = h.svc.stop(id, 1); // between the timer and the lock
    await settle();
    held.release();
    await stop;
    await settle();
    assert.equal(h.status(id), 'exited');
    assert.equal(h.svc.get(id).state.manuallyStopped, true);
    assert.deepEqual(h.clock.pending(), []);
  });

  it('(2) stop in back-off cancels the restart', async () => {
    const id = await h.create({ RestartPolicy: { Name: 'always' } });
    await runAndExit(id, 1);
    await h.svc.stop(id, 1);
    h.clock.advance(60_000);
    await settle();
    assert.equal(h.status(id), 'exited');
    assert.equal(h.tasks.count('create', id), 1);
  });

  it('restart of a container in back-off stops it first (signal checked, back-off cancelled), then starts it', async () => {
    const id = await h.create({ RestartPolicy: { Name: 'always' } });
    await runAndExit(id, 1);
    assert.equal(h.status(id), 'restarting');
    await assert.rejects(h.svc.restart(id, 1, 'SIGBOGUS'), (e: unknown) => kindOf(e) === 'internal' && (e as Error).message === `Cannot restart container ${id}: invalid signal: SIGBOGUS`);
    assert.equal(h.status(id), 'restarting', 'a refused restart changes nothing');
    const seen: string[] = [];
    const unsubscribe = h.events.subscribe((ev) => ev.Actor.ID === id && seen.push(ev.Action));
    await h.svc.restart(id, 1);
    unsubscribe();
    assert.deepEqual(seen, ['stop', 'start', 'restart']);
    assert.equal(h.status(id), 'running');
    h.clock.advance(60_000);
    await settle();
    assert.equal(h.tasks.count('create', id), 2, 'the back-off\'s start never ran');
  });

  it('(3) kill of a container in back-off succeeds and ends the restart loop', async () => {
    const id = await h.create({ RestartPolicy: { Name: 'always' } });
    await runAndExit(id, 1);
    assert.equal(h.status(id), 'restarting');
    await h.svc.kill(id);
    assert.equal(h.status(id), 'exited');
    h.clock.advance(60_000);
    await settle();
    assert.equal(h.status(id), 'exited');
    assert.equal(h.tasks.count('create', id), 1);
  });

  it('(4) after a daemon restart, always / unless-stopped containers that were exited or in back-off start again', async () => {
    const stopped = await h.create({ RestartPolicy: { Name: 'always' } });
    await h.svc.start(stopped);
    await h.svc.stop(stopped, 1);
    const backoff = await h.create({ RestartPolicy: { Name: 'unless-stopped' } });
    await runAndExit(backoff, 1);
    assert.equal(h.status(backoff), 'restarting');
    const userStopped = await h.create({ RestartPolicy: { Name: 'unless-stopped' } });
    await h.svc.start(userStopped);
    await h.svc.stop(userStopped, 1);
    await h.reopen({ clean: true });
    await eventually(() => h.status(stopped) === 'running' && h.status(backoff) === 'running', 'restarted at boot');
    assert.equal(h.status(userStopped), 'exited');
  });

  it('an auto-removed exit is recorded by the removal\'s commit; a daemon killed in between removes it at restore', async () => {
    // a hook whose release for the removal waits: the daemon dies there, after the exit
    // was handled in memory and before the removal's commit
    let reached!: () => void;
    const atRemoval = new Promise<void>((r) => (reached = r));
    const never = new Promise<void>(() => {});
    const stall: StartHook = {
      name: 'stall',
      prepare: async () => ({}),
      release: async (_ctx, reason) => {
        if (reason !== 'remove' || stalled) return;
        stalled = true;
        reached();
        await never;
      },
    };
    let stalled = false;
    await h.close();
    h = new LifecycleHarness([stall]);
    const id = await h.create({ AutoRemove: true });
    await h.svc.start(id);
    const exited = h.svc.wait(id, 'next-exit');
    h.tasks.exit(id, 7);
    assert.equal(await exited, 7, 'waiters learn the exit before the removal');
    await atRemoval;
    assert.equal(h.status(id), 'removing');
    const onDisk = h.db.raw.prepare('SELECT state FROM containers WHERE id = ?').get(id) as { state: string };
    assert.equal(JSON.parse(onDisk.state).status, 'running', 'no commit of its own for the exit');
    await h.reopen(); // the old daemon is gone without a word
    await eventually(() => h.status(id) === 'gone', 'removed at restore');
    assert.equal(h.mounter.mounted.size, 0);
    assert.equal(h.snapshots.keys.size, 0);
  });

  it('an exit tells the hooks whether the container\'s removal follows (AutoRemove, not stopped by a restart)', async () => {
    const seen: Array<boolean | undefined> = [];
    const probe: StartHook = {
      name: 'probe',
      prepare: async () => ({}),
      release: async (ctx, reason) => void (reason === 'exit' && seen.push(ctx.removalFollows)),
    };
    await h.close();
    h = new LifecycleHarness([probe]);
    const plain = await h.create();
    await runAndExit(plain, 0);
    const rm = await h.create({ AutoRemove: true });
    await h.svc.start(rm);
    await h.svc.restart(rm, 1);
    assert.equal(h.status(rm), 'running', 'kept through its restart');
    h.tasks.exit(rm, 0);
    await eventually(() => h.status(rm) === 'gone', 'removed after its exit');
    assert.deepEqual(seen, [undefined, undefined, true]);
  });

  it('a removal takes the container\'s directory out of its place before it reports; what a crash left of one is deleted at restore', async () => {
    const containers = path.join(h.dir, 'root', 'containers');
    const kept = await h.create();
    const id = await h.create();
    await h.svc.start(id);
    const removed = h.svc.wait(id, 'removed');
    const dir = path.join(containers, id);
    let atReport: { inPlace: boolean; entries: string[] } | undefined;
    void removed.then(() => (atReport = { inPlace: fs.existsSync(dir), entries: fs.readdirSync(containers).sort() }));
    await h.svc.remove(id, { force: true });
    await removed;
    assert.deepEqual(atReport, { inPlace: false, entries: [`.removed-${id}`, kept].sort() }, 'renamed away when waiters hear of the removal, deleted after');
    await eventually(() => fs.readdirSync(containers).length === 1, 'the discarded directory deleted');
    assert.deepEqual(fs.readdirSync(containers), [kept]);
    // a daemon killed between the rename and the deletion
    const left = path.join(containers, `.removed-${'e'.repeat(64)}`);
    fs.mkdirSync(path.join(left, 'sub'), { recursive: true });
    fs.writeFileSync(path.join(left, 'sub', 'x-json.log'), 'log');
    await h.reopen();
    await eventually(() => !fs.existsSync(left), 'deleted at restore');
    assert.deepEqual(fs.readdirSync(containers), [kept], 'a container\'s own directory stays');
  });

  it('(5) a --rm container whose start a daemon kill cut off is removed at restore, rootfs unmounted', async () => {
    const id = await h.create({ AutoRemove: true });
    const held = h.tasks.hold('create', id);
    const start = h.svc.start(id).catch((e: unknown) => e);
    await held.reached;
    assert.equal(h.mounter.mounted.size, 1, 'rootfs mounted when the daemon dies');
    await h.reopen(); // the old daemon is gone without a word
    assert.equal(h.status(id), 'gone');
    assert.equal(h.mounter.mounted.size, 0);
    assert.equal(h.snapshots.keys.size, 0);
    held.fail(new Error('daemon killed'));
    await start;
  });
});
