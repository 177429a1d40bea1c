import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { kindOf } from '../../../engine/errdefs';
import { makeBusyboxRootfs } from '../../../../test/helpers/busybox';
import { buildSpec } from './build';

test('buildSpec resolves users and groups from the rootfs', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stevedore-spec-'));
  try {
    const rootfs = path.join(dir, 'rootfs');
    makeBusyboxRootfs(rootfs);
    const base = { id: 'a'.repeat(64), rootfs, imageConfig: { Cmd: ['sh'] }, mounts: [], cgroupsPath: '/x', cgroupVersion: 1 as const };
    const spec = await buildSpec({ ...base, config: { User: 'www-data' }, hostConfig: { GroupAdd: ['daemon'], Ulimits: [{ Name: 'core', Soft: -1, Hard: -1 }] } });
    assert.deepEqual(spec.process.user, { uid: 33, gid: 33, additionalGids: [33, 100, 1] });
    assert.deepEqual(spec.process.rlimits, [{ type: 'RLIMIT_CORE', soft: -1, hard: -1 }]);
    await assert.rejects(
      buildSpec({ ...base, config: { User: 'nobody2' }, hostConfig: {} }),
      (e: unknown) => kindOf(e) === 'invalid-argument' && (e as Error).message === 'unable to find user nobody2: no matching entries in passwd file',
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
