import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { nullLogger } from '../../../engine/log';
import type { MountPoint } from '../../volumes/mountpoints';
import type { ContainerRecord } from '../model';
import { BindsHook } from './binds';
import type { StartContext } from './types';
import { VolumesHook } from './volumes';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stv-volhook-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function ctx(mountPoints: MountPoint[]): StartContext {
  const rootfs = path.join(tmp, 'rootfs');
  fs.mkdirSync(path.join(rootfs, 'data'), { recursive: true });
  fs.writeFileSync(path.join(rootfs, 'data', 'f'), 'from image');
  const container = { id: 'c'.repeat(64), hostConfig: {}, config: {}, mountPoints } as unknown as ContainerRecord;
  return { container, bundle: tmp, rootfs, paths: {} as StartContext['paths'] };
}

const vol = (name: string, dest: string, more: Partial<MountPoint> = {}): MountPoint => ({
  Type: 'volume', Name: name, Source: path.join(tmp, name), Destination: dest, Driver: 'local', Mode: 'z', RW: true, Propagation: '', Named: true, CopyData: true, ...more,
});

describe('volumes and binds hooks', () => {
  it('acquires volumes and releases them; filling from the image is create\'s, not the start\'s', async () => {
    const log: string[] = [];
    const hook = new VolumesHook({
      volumes: {
        acquire: (name) => {
          log.push(`acquire ${name}`);
          fs.mkdirSync(path.join(tmp, name), { recursive: true });
          return path.join(tmp, name);
        },
        release: (name) => void log.push(`release ${name}`),
      },
      log: nullLogger,
    });
    const c = ctx([vol('v1', '/data'), vol('v2', '/other', { RW: false, CopyData: false }), { Type: 'bind', Source: '/h', Destination: '/h', Mode: '', RW: true, Propagation: 'rprivate' }]);
    const prepared = await hook.prepare(c);
    assert.deepEqual(prepared.mounts, [
      { destination: '/data', type: 'volume', source: path.join(tmp, 'v1'), readOnly: false, propagation: 'rprivate' },
      { destination: '/other', type: 'volume', source: path.join(tmp, 'v2'), readOnly: true, propagation: 'rprivate' },
    ]);
    // Docker copies the image's content at create (populateVolumes), never at start
    assert.deepEqual(fs.readdirSync(path.join(tmp, 'v1')), []);
    assert.deepEqual(fs.readdirSync(path.join(tmp, 'v2')), []);
    await hook.release(c, 'exit');
    await hook.release(c, 'remove'); // idempotent
    assert.deepEqual(log, ['acquire v1', 'acquire v2', 'release v1', 'release v2', 'release v1', 'release v2']);
  });

  it('gives back what it acquired when a later volume fails', async () => {
    const released: string[] = [];
    const hook = new VolumesHook({
      volumes: {
        acquire: (name) => {
          if (name === 'bad') throw new Error('mount failed');
          fs.mkdirSync(path.join(tmp, name), { recursive: true });
          return path.join(tmp, name);
        },
        release: (name) => void released.push(name),
      },
      log: nullLogger,
    });
    await assert.rejects(hook.prepare(ctx([vol('good', '/g', { CopyData: false }), vol('bad', '/b')])), /mount failed/);
    assert.deepEqual(released, ['good']);
  });

  it('mounts a relative image VOLUME inside the root, and refuses one at the root', async () => {
    const hook = new VolumesHook({ volumes: { acquire: (name) => (fs.mkdirSync(path.join(tmp, name), { recursive: true }), path.join(tmp, name)), release: () => {} }, log: nullLogger });
    const prepared = await hook.prepare(ctx([vol('r1', '../../data', { Named: false })]));
    assert.equal(prepared.mounts![0]!.destination, '/data');
    await assert.rejects(hook.prepare(ctx([vol('r2', '.', { Named: false })])), /destination can't be '\/'/);
  });

  it('binds: bind and tmpfs mount points, a missing -v source made at start', async () => {
    const src = path.join(tmp, 'made', 'here');
    const c = ctx([
      { Type: 'bind', Source: src, Destination: '/m', Mode: 'ro', RW: false, Propagation: 'rslave', CreateSource: true },
      { Type: 'tmpfs', Source: '', Destination: '/t', Mode: '', RW: false, Propagation: '', TmpfsData: ['size=1m'] },
      vol('v1', '/data'),
    ]);
    const prepared = await new BindsHook().prepare(c);
    assert.deepEqual(prepared.mounts, [
      { destination: '/m', type: 'bind', source: src, readOnly: true, propagation: 'rslave' },
      { destination: '/t', type: 'tmpfs', source: 'tmpfs', options: ['size=1m', 'ro'] },
    ]);
    assert.ok(fs.statSync(src).isDirectory());
  });
});
