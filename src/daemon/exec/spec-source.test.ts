import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import type * as oci from '../../engine/oci/spec';
import { containerSpecFor } from './process';

const spec = (arg: string) => ({ process: { terminal: false, user: { uid: 0, gid: 0 }, args: [arg], cwd: '/' }, linux: {} }) as unknown as oci.Spec;

describe("exec: the container's spec", () => {
  it("comes from the engine's record, else (a container running since before records) from the bundle", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'exec-spec-'));
    try {
      fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(spec('from-bundle')));
      assert.deepEqual(containerSpecFor({ spec: spec('from-record') }, dir).process.args, ['from-record']);
      assert.deepEqual(containerSpecFor(undefined, dir).process.args, ['from-bundle']);
      assert.deepEqual(containerSpecFor({}, dir).process.args, ['from-bundle']);
      assert.throws(() => containerSpecFor({ spec: { process: spec('x').process } }, dir), /no linux section/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
