import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generateSpec, withProcessArgs, withRlimits } from '../oci/opts';
import { serializeSpec, writeBundle } from './bundle';

test('writeBundle writes config.json atomically; rlimits of -1 as RLIM_INFINITY', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stevedore-bundle-'));
  try {
    const spec = generateSpec([withProcessArgs('sh'), withRlimits([{ type: 'RLIMIT_CORE', soft: -1, hard: -1 }])]);
    await writeBundle(dir, spec);
    const text = fs.readFileSync(path.join(dir, 'config.json'), 'utf8');
    assert.match(text, /"soft": 18446744073709551615/);
    assert.equal(text, serializeSpec(spec));
    assert.deepEqual(fs.readdirSync(dir), ['config.json']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
