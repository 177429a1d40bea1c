import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { filterContainers } from './list';
import { readJsonLog, parseTimestamp } from './logs';
import type { ContainerRecord } from './model';
import { newId, normalizeName, resolve } from './names';
import { resolvConf } from './files';
import { canKill, canRemove, canStart, initialState } from './state';
import { parsePs } from './top';
import { parseCreateBody } from './validate';

function rec(id: string, name: string, created: string, status: ContainerRecord['state']['status'], labels: Record<string, string> = {}): ContainerRecord {
  return {
    id, name, created, image: 'sha256:' + 'a'.repeat(64), imageRef: 'busybox', parentSnapshot: undefined, snapshotKey: id, path: 'sh', args: [],
    config: { Labels: labels }, hostConfig: { NetworkMode: 'default' }, state: { ...initialState(), status }, restartCount: 0,
  };
}

describe('container state machine', () => {
  it('allows only what Docker allows', () => {
    assert.ok(canStart('created') && canStart('exited') && !canStart('running') && !canStart('paused'));
    assert.ok(canKill('running') && canKill('paused') && !canKill('exited'));
    assert.ok(canRemove('exited') && canRemove('created') && !canRemove('running') && !canRemove('removing'));
  });
});

describe('names and ids', () => {
  it('generates 64-hex ids and validates names', () => {
    assert.match(newId(), /^[0-9a-f]{64}$/);
    assert.equal(normalizeName('web-1'), '/web-1');
    assert.equal(normalizeName('/web'), '/web');
    assert.throws(() => normalizeName('a b'), /Invalid container name/);
    assert.throws(() => normalizeName('x'), /Invalid container name/);
  });
  it('resolves full id, then name, then a unique prefix', () => {
    const a = { id: 'abc1' + '0'.repeat(60), name: '/abc2' };
    const b = { id: 'abc2' + '0'.repeat(60), name: '/b' };
    assert.equal(resolve('abc2', [a, b]), a); // a name wins over a prefix
    assert.equal(resolve('abc1', [a, b]), a);
    assert.throws(() => resolve('abc', [a, b]), /Multiple IDs found with provided prefix: abc/);
    assert.throws(() => resolve('nope', [a, b]), /No such container: nope/);
  });
});

describe('list filters', () => {
  const all = [
    rec('1'.repeat(64), '/one', '2020-01-01T00:00:01Z', 'running', { k: '1' }),
    rec('2'.repeat(64), '/two', '2020-01-01T00:00:02Z', 'exited', { k: '2' }),
  ];
  const names = (o: Parameters<typeof filterContainers>[1]) => filterContainers(all, o, () => true).map((c) => c.name);
  it('shows running containers unless all or a status filter is given, newest first', () => {
    assert.deepEqual(names({ all: false, filters: new Map() }), ['/one']);
    assert.deepEqual(names({ all: true, filters: new Map() }), ['/two', '/one']);
    assert.deepEqual(names({ all: false, filters: new Map([['status', ['exited']]]) }), ['/two']);
    assert.deepEqual(names({ all: true, filters: new Map([['label', ['k=1']]]) }), ['/one']);
    assert.deepEqual(names({ all: true, filters: new Map([['since', ['one']]]) }), ['/two']);
  });
  it('rejects unknown keys and bad values', () => {
    assert.throws(() => names({ all: true, filters: new Map([['nope', ['x']]]) }), /Invalid filter 'nope'/);
    assert.throws(() => names({ all: true, filters: new Map([['status', ['sleeping']]]) }), /Invalid filter 'status=sleeping'/);
  });
});

describe('json-file logs', () => {
  it('reads rotated files in order with tail, stream and time filters', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stv-logs-'));
    try {
      const log = path.join(dir, 'c-json.log');
      const line = (s: string, stream: string, sec: number) => JSON.stringify({ log: s + '\n', stream, time: `2020-01-01T00:00:0${sec}.000000001Z` }) + '\n';
      fs.writeFileSync(log + '.1', line('a', 'stdout', 1) + line('b', 'stderr', 2));
      fs.writeFileSync(log, line('c', 'stdout', 3) + '{"torn');
      const read = async (o: Partial<Parameters<typeof readJsonLog>[1]>) => {
        const out: string[] = [];
        for await (const e of readJsonLog(log, { stdout: true, stderr: true, follow: false, isLive: () => false, ...o })) out.push(e.log.toString().trim());
        return out;
      };
      assert.deepEqual(await read({}), ['a', 'b', 'c']);
      assert.deepEqual(await read({ stderr: false }), ['a', 'c']);
      assert.deepEqual(await read({ tail: 2 }), ['b', 'c']);
      assert.deepEqual(await read({ tail: 0 }), []);
      assert.deepEqual(await read({ since: parseTimestamp(String(Date.parse('2020-01-01T00:00:02Z') / 1000)) }), ['b', 'c']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('resolv.conf', () => {
  it('drops loopback nameservers and falls back to public ones', () => {
    assert.equal(resolvConf({}, 'nameserver 127.0.0.53\nsearch x\n'), 'search x\n\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n');
    assert.equal(resolvConf({}, 'nameserver 10.0.0.1\n'), 'nameserver 10.0.0.1\n');
    assert.equal(resolvConf({ NetworkMode: 'host' }, 'nameserver 127.0.0.1\n'), 'nameserver 127.0.0.1\n');
    assert.equal(resolvConf({ Dns: ['1.1.1.1'] }, 'nameserver 10.0.0.1\n'), 'nameserver 1.1.1.1\n');
  });
});

describe('top and body validation', () => {
  it('keeps only the container pids and keeps spaces in the last column', () => {
    const r = parsePs('UID PID PPID CMD\nroot 10 1 sh -c x\nroot 11 1 other\n', [10]);
    assert.deepEqual(r, { Titles: ['UID', 'PID', 'PPID', 'CMD'], Processes: [['root', '10', '1', 'sh -c x']] });
  });
  // JSON types are Go's decoder's job: src/api/jsonfold.test.ts
  it('splits a decoded create body as moby getHostConfig does', () => {
    assert.throws(() => parseCreateBody(null), { message: 'Config cannot be empty in order to create a container' });
    assert.throws(() => parseCreateBody({ HostConfig: {} }), { message: 'Config cannot be empty in order to create a container' });
    assert.deepEqual(parseCreateBody({ Image: 'x', HostConfig: { Memory: 1 } }).hostConfig, { Memory: 1 });
    assert.deepEqual(parseCreateBody({ Image: 'x', Memory: 8388608, Binds: ['/a:/b'] }), { config: { Image: 'x' }, hostConfig: { Memory: 8388608, Binds: ['/a:/b'] } });
    assert.deepEqual(parseCreateBody({ Image: 'x', Memory: 8388608, Binds: ['/a:/b'], HostConfig: { CpuShares: 2 }, Cpuset: '0' }).hostConfig, { CpuShares: 2, Memory: 8388608, CpusetCpus: '0' });
  });
});
