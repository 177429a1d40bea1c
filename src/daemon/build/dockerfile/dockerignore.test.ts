import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { isStevedoreError, kindOf } from '../../../engine/errdefs';
import { ignoreCases, matchCases } from './cases.fixture';
import { daemonExcludes, DockerignoreMatcher, readDockerignore, type MatchInfo } from './dockerignore';

/**
 * Walks a tree of files as the docker CLI's tar writer does (go-archive TarWithOptions):
 * depth first in name order, each entry matched with its directory's results, an
 * excluded directory skipped whole when `canSkipDir` says so. Returns the files sent.
 */
function walk(files: readonly string[], m: DockerignoreMatcher): { sent: string[]; visited: string[] } {
  interface Dir { [name: string]: Dir | null }
  const root: Dir = {};
  for (const f of files) {
    const parts = f.split('/');
    let d = root;
    parts.forEach((p, i) => {
      if (i === parts.length - 1) d[p] = null;
      else d = (d[p] ??= {}) as Dir;
    });
  }
  const sent: string[] = [];
  const visited: string[] = [];
  const visit = (d: Dir, prefix: string, info: MatchInfo | undefined) => {
    for (const name of Object.keys(d).sort()) {
      const rel = prefix + name;
      visited.push(rel);
      const child = d[name]!;
      const r = m.matchesWithParent(rel, info);
      if (child === null) {
        if (!r.matched) sent.push(rel);
        continue;
      }
      if (r.matched && m.canSkipDir(rel)) continue;
      visit(child, rel + '/', r.info);
    }
  };
  visit(root, '', undefined);
  return { sent: sent.sort(), visited };
}

function invalid(fn: () => unknown, message: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isStevedoreError(err));
    assert.equal(kindOf(err), 'invalid-argument');
    assert.equal((err as Error).message, message);
    return true;
  });
}

describe('.dockerignore: contexts checked against the docker CLI 28 and dockerd 20.10', () => {
  for (const c of ignoreCases) {
    it(c.why, () => {
      const patterns = readDockerignore(c.dockerignore.join('\n') + '\n');
      const m = new DockerignoreMatcher(patterns);
      assert.deepEqual(walk(c.files, m).sent, c.sent);
      // without the walk's shortcuts, a file is sent unless it or a parent is excluded; the
      // exception: a directory skipped whole although an exception would re-include below it
      const direct = c.files.filter((f) => !m.matches(f)).sort();
      if (c.why.includes('cannot reach')) assert.notDeepEqual(direct, c.sent);
      else assert.deepEqual(direct, c.sent);
      assert.equal(daemonExcludes('Dockerfile', patterns), c.dropsBuildFiles === true);
      assert.equal(daemonExcludes('.dockerignore', patterns), c.dropsBuildFiles === true);
    });
  }
});

describe('readDockerignore', () => {
  const cases: Array<[string, string[]]> = [
    ['a\nb\n', ['a', 'b']],
    ['a\r\nb', ['a', 'b']],
    ['\ufeff# c\nx', ['x']],
    ['# comment\n  # not a comment\n', ['# not a comment']],
    ['\n \t \n', []],
    ['/abs/path\n./rel/./x/\n', ['abs/path', 'rel/x']],
    ['a/../../b\n', ['../b']],
    ['!  /keep\n', ['!keep']],
    ['!\n', ['!']],
    ['/\n', ['/']],
    ['a//b/\n', ['a/b']],
    ['**/*.go\n', ['**/*.go']],
  ];
  for (const [text, want] of cases) it(JSON.stringify(text), () => assert.deepEqual(readDockerignore(text), want));
});

describe('DockerignoreMatcher.matches', () => {
  for (const [patterns, path, want] of matchCases) {
    it(`${JSON.stringify(patterns)} ${path} → ${want}`, () => assert.equal(new DockerignoreMatcher(patterns).matches(path), want));
  }
  it('refuses bad patterns as Docker', () => {
    invalid(() => new DockerignoreMatcher(['!']), 'illegal exclusion pattern: "!"');
    for (const p of ['[', 'a[', '[]', '[-a]', '[a-]', 'a\\', '[a', '[\\']) invalid(() => new DockerignoreMatcher([p]), 'syntax error in pattern');
  });
  it('accepts what Go\'s filepath.Match accepts', () => {
    for (const p of ['[a-ce]', '[\\]]', 'a]b', '[*]', '[^a]', 'a\\b']) assert.doesNotThrow(() => new DockerignoreMatcher([p]), p);
  });
  it('blank patterns are skipped, exceptions known', () => {
    const m = new DockerignoreMatcher(['  ', 'a/./b', '!c']);
    assert.deepEqual(m.patternStrings, ['a/b', '!c']);
    assert.equal(m.exclusions, true);
    assert.equal(new DockerignoreMatcher(['a']).exclusions, false);
  });
});

describe('DockerignoreMatcher.matchesWithParent', () => {
  it('agrees with matches on every path of a walk', () => {
    const patterns = ['a', '!a/b', 'a/b/c', '**/x', '!**/x/keep'];
    const m = new DockerignoreMatcher(patterns);
    const infoA = m.matchesWithParent('a');
    assert.equal(infoA.matched, true);
    const infoAB = m.matchesWithParent('a/b', infoA.info);
    assert.equal(infoAB.matched, m.matches('a/b'));
    assert.equal(m.matchesWithParent('a/b/c', infoAB.info).matched, m.matches('a/b/c'));
    assert.equal(m.matchesWithParent('a/b/d', infoAB.info).matched, m.matches('a/b/d'));
    const x = m.matchesWithParent('q/x');
    assert.equal(x.matched, true);
    assert.equal(m.matchesWithParent('q/x/keep', x.info).matched, false);
  });
  it('refuses a foreign MatchInfo', () => {
    const m = new DockerignoreMatcher(['a', 'b']);
    invalid(() => m.matchesWithParent('a/b', { parentMatched: [true] }), 'wrong number of values in parentMatched');
  });
});

describe('DockerignoreMatcher.canSkipDir', () => {
  it("follows Docker's rule: an exception starting with the directory keeps it", () => {
    assert.equal(new DockerignoreMatcher(['d']).canSkipDir('d'), true);
    assert.equal(new DockerignoreMatcher(['d', '!d/keep']).canSkipDir('d'), false);
    assert.equal(new DockerignoreMatcher(['d', '!d/*.go']).canSkipDir('d'), false);
    assert.equal(new DockerignoreMatcher(['d', '!d']).canSkipDir('d'), false);
    assert.equal(new DockerignoreMatcher(['d', '!dd/keep']).canSkipDir('d'), true);
    assert.equal(new DockerignoreMatcher(['d', '!**/keep']).canSkipDir('d'), true);
    assert.equal(new DockerignoreMatcher(['d/e', '!d/e/f']).canSkipDir('d/e'), false);
  });
  it('a walk never enters a directory it may skip', () => {
    const m = new DockerignoreMatcher(['node_modules']);
    const { visited } = walk(['node_modules/a/b', 'src/x'], m);
    assert.deepEqual(visited, ['node_modules', 'src', 'src/x']);
  });
});

describe('daemonExcludes (Docker 20.10 fileutils.Matches)', () => {
  it('drops the Dockerfile when a pattern names it', () => {
    assert.equal(daemonExcludes('Dockerfile', ['Dockerfile']), true);
    assert.equal(daemonExcludes('Dockerfile', ['Docker*', '!Dockerfile']), false);
    assert.equal(daemonExcludes('sub/Dockerfile', ['sub']), true);
    assert.equal(daemonExcludes('.dockerignore', ['.*']), true);
    assert.equal(daemonExcludes('.', ['*']), false);
  });
  it('checks only as many parents as the pattern has parts', () => {
    assert.equal(daemonExcludes('a/b/c', ['a']), true);
    assert.equal(daemonExcludes('a/b/c', ['a/b']), true);
    assert.equal(new DockerignoreMatcher(['*/b']).matches('a/b/c/d'), true);
    assert.equal(daemonExcludes('a/b/c/d', ['*/b']), true);
  });
  it('ignores a bad pattern, as Docker', () => {
    assert.equal(daemonExcludes('Dockerfile', ['[']), false);
  });
});
