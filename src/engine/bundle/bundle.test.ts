import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildSpec, serializeSpec, writeBundle } from './bundle';
import { makeBusyboxRootfs } from '../../../test/helpers/busybox';
import { kindOf } from '../errdefs';

test('buildSpec resolves users from the rootfs; writeBundle writes config.json atomically', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stevedore-bundle-'));
  try {
    const rootfs = path.join(dir, 'rootfs');
    makeBusyboxRootfs(rootfs);
    const base = { id: 'a'.repeat(64), rootfs, imageConfig: { Cmd: ['sh'] }, mounts: [], cgroupsPath: '/x', cgroupVersion: 1 as const };
    const spec = await buildSpec({ ...base, config: { User: 'www-data' }, hostConfig: { GroupAdd: ['daemon'], Ulimits: [{ Name: 'core', Soft: -1, Hard: -1 }] } });
    assert.deepEqual(spec.process.user, { uid: 33, gid: 33, additionalGids: [33, 100, 1] });
    await assert.rejects(
      buildSpec({ ...base, config: { User: 'nobody2' }, hostConfig: {} }),
      (e: unknown) => kindOf(e) === 'invalid-argument' && (e as Error).message === 'unable to find user nobody2: no matching entries in passwd file',
    );
    await writeBundle(dir, spec);
    const text = fs.readFileSync(path.join(dir, 'config.json'), 'utf8');
    assert.match(text, /"soft": 18446744073709551615/);
    assert.equal(text, serializeSpec(spec));
    assert.deepEqual(fs.readdirSync(dir).sort(), ['config.json', 'rootfs']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
