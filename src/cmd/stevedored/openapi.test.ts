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
import { Stevedore } from './wire';
import { defaultConfig } from '../../daemon/config';
import { nullLogger } from '../../engine/log';
import { projectRoot } from '../../engine/sys/project';

describe('openapi/engine-api.json', () => {
  it('matches the route table both ways', async () => {
    const doc = JSON.parse(fs.readFileSync(path.join(projectRoot(), 'openapi', 'engine-api.json'), 'utf8')) as {
      paths: Record<string, Record<string, { 'x-stevedore-not-implemented'?: boolean }>>;
    };
    const documented = new Set<string>();
    const marked = new Set<string>();
    for (const [p, ops] of Object.entries(doc.paths)) {
      for (const [m, op] of Object.entries(ops)) (op['x-stevedore-not-implemented'] ? marked : documented).add(`${m.toUpperCase()} ${p}`);
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stv-oas-'));
    const d = await Stevedore.open({ ...defaultConfig(), bridge: 'none', dataRoot: path.join(dir, 'root'), execRoot: path.join(dir, 'exec') }, nullLogger);
    let served: Set<string>;
    let answered501: Set<string>;
    try {
      const key = (r: { method: string; path: string }) => `${r.method} ${r.path.replace(/\{(\w+)\*\}/g, '{$1}')}`;
      served = new Set(d.router().routes().filter((r) => !r.notImplemented).map(key));
      answered501 = new Set(d.router().routes().filter((r) => r.notImplemented).map(key));
    } finally {
      await d.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
    const undocumented = [...served].filter((r) => !documented.has(r)).sort();
    const unserved = [...documented].filter((r) => !served.has(r)).sort();
    assert.deepEqual(undocumented, [], 'routes served but not in openapi/engine-api.json');
    assert.deepEqual(unserved, [], 'operations documented but not served');
    assert.deepEqual([...answered501].sort(), [...marked].sort(), 'operations marked not implemented answer 501');
    assert.ok(marked.size > 0);
  });
});
