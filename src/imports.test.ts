/**
 * Imports point one way: api → daemon → engine (→ native, through the addon). The
 * composition root (src/cmd/) alone may import every layer. This test reads the import
 * lines of every TypeScript source under src/ (tests included) and fails on one that
 * points up: engine importing daemon, api or cmd; daemon importing api or cmd; api
 * importing cmd.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { projectRoot } from './engine/sys/project';

/** Layers from the bottom; a file may import its own layer and those below it. */
const RANK: Record<string, number> = { engine: 0, daemon: 1, api: 2, cmd: 3 };

const SPECIFIER = /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|(?:^|[\s;(=])import\s*['"]([^'"]+)['"]|\brequire\(\s*['"]([^'"]+)['"]\s*\)|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...sources(p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** The relative specifiers a source imports (import/export … from, side-effect import, require, import()). */
function importedSpecifiers(text: string): string[] {
  const out: string[] = [];
  // block comments would hide nothing real but may hold example code: drop them
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  for (const m of code.matchAll(SPECIFIER)) {
    const spec = m[1] ?? m[2] ?? m[3] ?? m[4];
    if (spec && spec.startsWith('.')) out.push(spec);
  }
  return out;
}

function layerOf(rel: string): string | undefined {
  const top = rel.split('/')[0]!;
  return top in RANK ? top : undefined;
}

describe('import direction', () => {
  it('finds every kind of import line', () => {
    const text = [
      "import { a } from '../daemon/x';",
      "import type { B } from \"../../api/y\";",
      "export * from './z';",
      "export { c,\n  d } from '../engine/w';",
      "import '../side';",
      "const m = require('../req');",
      "const n = await import('../dyn');",
      "import * as fs from 'node:fs';",
      "// import { no } from '../comment';",
    ].join('\n');
    assert.deepEqual(importedSpecifiers(text), ['../daemon/x', '../../api/y', './z', '../engine/w', '../side', '../req', '../dyn']);
  });

  it('no source under src/ imports a layer above its own', () => {
    const src = path.join(projectRoot(), 'src');
    const wrong: string[] = [];
    let seen = 0;
    for (const file of sources(src)) {
      const from = path.relative(src, file).split(path.sep).join('/');
      const fromLayer = layerOf(from);
      if (fromLayer === undefined) continue;
      for (const spec of importedSpecifiers(fs.readFileSync(file, 'utf8'))) {
        const to = path.relative(src, path.resolve(path.dirname(file), spec)).split(path.sep).join('/');
        if (to.startsWith('..')) continue; // outside src/ (the project root, native/)
        seen++;
        const toLayer = layerOf(to);
        if (toLayer === undefined || RANK[toLayer]! <= RANK[fromLayer]!) continue;
        wrong.push(`${from} imports ${to} (${fromLayer} must not import ${toLayer})`);
      }
    }
    assert.ok(seen > 100, `read only ${seen} imports: is ${src} the source tree?`);
    assert.deepEqual(wrong, []);
  });
});
