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

  it("forgets the execs of a container that is gone", () => {
    const known = new Set([ID]);
    const s = service({ get: () => structuredClone(running), exists: (id) => known.has(id), rootfsDir: () => '/nonexistent' });
    const { id } = s.create(ID, { Cmd: ['true'] });
    known.delete(ID);
    s.create(ID, { Cmd: ['true'] });
    assert.throws(() => s.get(id), /No such exec instance/);
  });
});
