/**
 * The shipped build (tsconfig.build.json → dist/, what `npm start` runs) holds product
 * code only: no tests, fixtures, test doubles, benchmark helpers or generators, not even
 * pulled in through an import from product code. The test build (tsconfig.test.json →
 * dist-test/) holds everything.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { projectRoot } from './engine/sys/project';

function listFiles(config: string): string[] {
  const root = projectRoot();
  const tsc = require.resolve('typescript/bin/tsc', { paths: [root] });
  const out = execFileSync(process.execPath, [tsc, '-p', path.join(root, config), '--listFilesOnly'], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
  return out
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.includes('/node_modules/'))
    .map((l) => path.relative(root, l).split(path.sep).join('/'));
}

/** Files that are not product code, by name. */
const NOT_PRODUCT = [/\.test\.ts$/, /[.-]fixture\.ts$/, /\/testing\//, /\/fake-[^/]*\.ts$/, /\/testkit\.ts$/, /\/bench\.ts$/, /\/gen-[^/]*\.ts$/, /^test\//, /^bench\//];

describe('build', () => {
  it('ships only product code', () => {
    const files = listFiles('tsconfig.build.json');
    assert.ok(files.includes('src/cmd/stevedored/main.ts'), 'the daemon entry point is built');
    assert.ok(files.includes('src/cmd/stevedored/wire.ts') || files.some((f) => f.startsWith('src/cmd/stevedored/')), 'the composition root is built');
    const wrong = files.filter((f) => NOT_PRODUCT.some((re) => re.test(f)));
    assert.deepEqual(wrong, [], 'test code in the shipped build (excluded in tsconfig.build.json, or imported by product code)');
  });

  it('builds every test, fixture and benchmark into the test build', () => {
    const files = listFiles('tsconfig.test.json');
    for (const f of ['src/build.test.ts', 'src/engine/gc/crash-worker.fixture.ts', 'src/engine/archive/bench.ts']) assert.ok(files.includes(f), f);
    assert.ok(files.some((f) => f.startsWith('test/e2e/')));
    assert.ok(files.some((f) => f.startsWith('bench/')));
  });
});
