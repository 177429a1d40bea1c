/**
 * The one task-id mapping: containers and execs reach the task service through the same
 * TaskIdAdapter, which shortens ids only under an exec root too deep for full ones.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { kindOf } from '../../engine/errdefs';
import type { TaskExec, TaskService } from '../../engine/runtime';
import { TaskIdAdapter, fullIdsFit, taskIdFor } from './task-ids';

const ID = 'a'.repeat(64);
const SHORT_ROOT = '/run/stevedore';
const LONG_ROOT = '/tmp/' + 'x'.repeat(60);

/** A task service that records the ids it is called with. */
function recorder(withExec: boolean): { svc: TaskService & Partial<TaskExec>; calls: string[] } {
  const calls: string[] = [];
  const rec =
    (name: string) =>
    async (id: string): Promise<never> => {
      calls.push(`${name} ${id}`);
      return undefined as never;
    };
  const svc = new Proxy({} as Record<string, unknown>, {
    get: (_t, name: string) => {
      if (!withExec && (name === 'exec' || name === 'waitExec' || name === 'resizeExec')) return undefined;
      if (name === 'then') return undefined;
      return rec(name);
    },
  }) as unknown as TaskService & Partial<TaskExec>;
  return { svc, calls };
}

describe('task ids', () => {
  it('full ids under a short exec root, 32 hex digits under a deep one', () => {
    assert.equal(fullIdsFit(SHORT_ROOT), true);
    assert.equal(fullIdsFit(LONG_ROOT), false);
    assert.equal(taskIdFor(ID, SHORT_ROOT), ID);
    assert.equal(taskIdFor(ID, LONG_ROOT), ID.slice(0, 32));
  });

  it('maps container ids for task and exec calls alike', async () => {
    for (const [root, want] of [
      [SHORT_ROOT, ID],
      [LONG_ROOT, ID.slice(0, 32)],
    ] as const) {
      const { svc, calls } = recorder(true);
      const a = new TaskIdAdapter(svc, root);
      await a.state(ID);
      await a.exec(ID, {} as never);
      await a.waitExec(ID, 'e1');
      await a.resizeExec(ID, 'e1', 24, 80);
      assert.deepEqual(calls, [`state ${want}`, `exec ${want}`, `waitExec ${want}`, `resizeExec ${want}`]);
    }
  });

  it('refuses exec calls when the task service runs no execs', async () => {
    const a = new TaskIdAdapter(recorder(false).svc, SHORT_ROOT);
    await assert.rejects(a.exec(ID, {} as never), (e) => kindOf(e) === 'not-implemented');
  });
});
