/**
 * The OpenAPI document in openapi/ lists exactly the routes the daemon serves: every
 * registered route is documented and every documented operation is registered.
 * (Regenerate with `node scripts/dump-routes.js | python3 scripts/gen-openapi.py`.)
 */
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Daemon } from '../daemon/daemon';
import { defaultConfig } from '../daemon/config';
import { nullLogger } from '../engine/log';
import { projectRoot } from '../engine/sys/project';

describe('openapi/engine-api.json', () => {
  it('matches the route table both ways', async () => {
    const doc = JSON.parse(fs.readFileSync(path.join(projectRoot(), 'openapi', 'engine-api.json'), 'utf8')) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const documented = new Set<string>();
    for (const [p, ops] of Object.entries(doc.paths)) for (const m of Object.keys(ops)) documented.add(`${m.toUpperCase()} ${p}`);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stv-oas-'));
    const d = await Daemon.open({ ...defaultConfig(), dataRoot: path.join(dir, 'root'), execRoot: path.join(dir, 'exec') }, nullLogger);
    let served: Set<string>;
    try {
      served = new Set(d.router().routes().map((r) => `${r.method} ${r.path.replace(/\{(\w+)\*\}/g, '{$1}')}`));
    } finally {
      await d.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
    const undocumented = [...served].filter((r) => !documented.has(r)).sort();
    const unserved = [...documented].filter((r) => !served.has(r)).sort();
    assert.deepEqual(undocumented, [], 'routes served but not in openapi/engine-api.json');
    assert.deepEqual(unserved, [], 'operations documented but not served');
  });
});
