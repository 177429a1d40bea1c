import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Comparer } from '../../engine/diff';
import type { ContainerRecord } from '../containers/model';
import { initialState } from '../containers/state';
import { type CommitOptions, ContainerCommitter, commitEventRef, runtimeMountpoints } from './commit';

function tree(files: Record<string, string | null>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stv-commit-'));
  for (const [rel, content] of Object.entries(files)) {
    const p = path.join(dir, rel);
    if (content === null) fs.mkdirSync(p, { recursive: true });
    else {
      fs.mkdirSync(path.dirname(p), { recursive: true });
      fs.writeFileSync(p, content);
    }
  }
  return dir;
}

describe('commit leaves out what Docker keeps in its init layer', () => {
  it('leaves out the runtime mount points and parents holding nothing else', () => {
    const dir = tree({ 'etc/hosts': '', 'etc/hostname': '', 'etc/resolv.conf': '', dev: null, proc: null, sys: null, '.dockerenv': '' });
    try {
      assert.deepEqual([...runtimeMountpoints(dir)].sort(), ['.dockerenv', 'dev', 'etc', 'etc/hostname', 'etc/hosts', 'etc/resolv.conf', 'proc', 'sys']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
  it('keeps what the container changed: other files, non-empty mount-point files, non-empty dirs', () => {
    const dir = tree({ 'etc/hosts': '', 'etc/motd': 'hi', 'etc/hostname': 'written', 'proc/x': '', 'dev/shm': null, made: 'x' });
    try {
      assert.deepEqual([...runtimeMountpoints(dir)].sort(), ['dev', 'dev/shm', 'etc/hosts']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
  it("names the commit event's imageRef as Docker's TagImage does", () => {
    assert.equal(commitEventRef('', ''), '');
    assert.equal(commitEventRef('repo', ''), 'repo');
    assert.equal(commitEventRef('repo', 'v1'), 'repo:v1');
    assert.equal(commitEventRef('localhost:5000/a/b', 'x'), 'localhost:5000/a/b:x');
  });
});

describe('ContainerCommitter: pause → diff → commit → unpause', () => {
  const rec = (status: 'running' | 'exited'): ContainerRecord => ({
    id: 'c'.repeat(64), name: '/web', created: '2020-01-01T00:00:00Z', image: 'sha256:' + 'b'.repeat(64), imageRef: 'busybox', parentSnapshot: undefined, snapshotKey: 'snap-c',
    path: 'sh', args: [], config: { Cmd: ['sh'], Env: ['A=1'] }, hostConfig: {}, state: { ...initialState(), status }, restartCount: 0,
  });
  const comparer: Comparer = { compare: async () => ({ digest: 'sha256:' + 'd'.repeat(64), size: 1, mediaType: 'x', empty: false }) };

  function world(status: 'running' | 'exited', fail = false) {
    const calls: string[] = [];
    const containers = {
      get: (ref: string) => {
        if (ref !== 'web') throw new Error(`No such container: ${ref}`);
        return rec(status);
      },
      pause: async (id: string) => void calls.push(`pause ${id.slice(0, 1)}`),
      unpause: async (id: string) => void calls.push(`unpause ${id.slice(0, 1)}`),
      emit: (_id: string, action: string, extra?: Record<string, string>) => void calls.push(`event ${action} ${extra?.imageRef ?? ''}`),
    };
    const snapshots = {
      mounts: async (key: string) => {
        calls.push(`mounts ${key}`);
        return [{ type: 'bind' as const, source: '/x', options: [] }];
      },
    };
    let given: CommitOptions | undefined;
    const images = {
      commitContainer: async (o: CommitOptions) => {
        given = o;
        calls.push('commit');
        if (fail) throw new Error('disk full');
        return 'sha256:' + 'e'.repeat(64);
      },
    };
    return { calls, committer: new ContainerCommitter(containers, snapshots, images, comparer), given: () => given };
  }

  it('pauses a running container around the commit, merges the config, publishes commit before the unpause', async () => {
    const w = world('running');
    const id = await w.committer.commit('web', { config: { Cmd: ['echo', 'hi'], Env: null as unknown as string[] }, repo: 'repo', tag: 'v1', comment: 'c' });
    assert.equal(id, 'sha256:' + 'e'.repeat(64));
    assert.deepEqual(w.calls, ['pause c', 'mounts snap-c', 'commit', 'event commit repo:v1', 'unpause c']);
    assert.deepEqual(w.given()!.config, { Cmd: ['echo', 'hi'], Env: ['A=1'] });
    assert.equal(w.given()!.comparer, comparer);
  });

  it('does not pause with pause=false or a stopped container, and unpauses after a failure', async () => {
    const a = world('running');
    await a.committer.commit('web', { pause: false });
    assert.deepEqual(a.calls, ['mounts snap-c', 'commit', 'event commit ']);
    const b = world('exited');
    await b.committer.commit('web');
    assert.ok(!b.calls.some((c) => c.startsWith('pause')));
    const f = world('running', true);
    await assert.rejects(f.committer.commit('web'), /disk full/);
    assert.deepEqual(f.calls, ['pause c', 'mounts snap-c', 'commit', 'unpause c']);
    await assert.rejects(f.committer.commit(''), /No container specified/);
  });
});
