import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { nullLogger } from '../../engine/log';
import type { ContainerRecord } from '../containers/model';
import { EventBus } from '../events/bus';
import { ExecService, type ExecContainers } from './service';

const ID = 'c'.repeat(64);
const running = { id: ID, name: '/ctr', imageRef: 'busybox', config: { User: '' }, state: { status: 'running' } } as unknown as ContainerRecord;

function service(containers: ExecContainers): ExecService {
  return new ExecService({ containers, tasks: {} as never, taskId: (id) => id, events: new EventBus(), log: nullLogger });
}

describe('exec service', () => {
  it("creates without copying the container's record once per exec it keeps (the prune asks `exists`)", () => {
    let gets = 0;
    const known = new Set([ID]);
    const s = service({
      get: () => (gets++, structuredClone(running)),
      exists: (id) => known.has(id),
      rootfsDir: () => '/nonexistent',
    });
    for (let i = 0; i < 50; i++) s.create(ID, { Cmd: ['true'], AttachStdout: true });
    assert.equal(gets, 50, 'one lookup per create, none per kept exec');
  });

  it('keeps the create\'s console size on the exec: its start uses it unless the start gives its own', async () => {
    const sizes: unknown[] = [];
    const c = { ...structuredClone(running), hostConfig: {} } as ContainerRecord;
    const s = new ExecService({
      containers: { get: () => structuredClone(c), exists: () => true, rootfsDir: () => '/nonexistent/rootfs' },
      tasks: {
        exec: async (_id, opts) => (sizes.push(opts.process.consoleSize), { pid: 1 }),
        waitExec: () => new Promise(() => {}),
        resizeExec: async () => {},
      },
      specs: { find: () => ({ spec: { process: { terminal: false, user: { uid: 0, gid: 0 }, args: ['sh'], env: ['HOME=/root'], cwd: '/' }, linux: { namespaces: [] } } }) },
      taskId: (id) => id,
      events: new EventBus(),
      log: nullLogger,
    });
    const tty = { Cmd: ['sh'], Tty: true };
    const a = s.create(ID, tty, { consoleSize: { height: 20, width: 60 } });
    assert.deepEqual(s.get(a.id).consoleSize, { height: 20, width: 60 });
    await s.start(a.id, { detach: true });
    const b = s.create(ID, tty, { consoleSize: { height: 20, width: 60 } });
    await s.start(b.id, { detach: true, tty: true, consoleSize: { height: 5, width: 7 } });
    const none = s.create(ID, tty);
    await s.start(none.id, { detach: true });
    const noTty = s.create(ID, { Cmd: ['sh'] }, { consoleSize: { height: 20, width: 60 } });
    await s.start(noTty.id, { detach: true });
    assert.deepEqual(sizes, [{ height: 20, width: 60 }, { height: 5, width: 7 }, undefined, undefined]);
  });

  it("forgets the execs of a container that is gone", () => {
    const known = new Set([ID]);
    const s = service({ get: () => structuredClone(running), exists: (id) => known.has(id), rootfsDir: () => '/nonexistent' });
    const { id } = s.create(ID, { Cmd: ['true'] });
    known.delete(ID);
    s.create(ID, { Cmd: ['true'] });
    assert.throws(() => s.get(id), /No such exec instance/);
  });
});
