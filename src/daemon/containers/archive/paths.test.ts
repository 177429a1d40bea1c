import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { containerAbsPath, followSymlinkInScope, goBase, goFileMode, goSplit, goTimeJSON, inMount } from './paths';

describe('docker cp path rules', () => {
  it('keeps a trailing /. or / (PreserveTrailingDotOrSeparator)', () => {
    assert.equal(containerAbsPath('etc'), '/etc');
    assert.equal(containerAbsPath('/etc/'), '/etc/');
    assert.equal(containerAbsPath('/etc/.'), '/etc/.');
    assert.equal(containerAbsPath('/etc//x/../.'), '/etc/.');
    assert.equal(containerAbsPath('/'), '/');
    assert.equal(containerAbsPath('/.'), '/.');
    assert.equal(containerAbsPath('/../../etc/passwd'), '/etc/passwd');
  });

  it('splits and names as Go does', () => {
    assert.deepEqual(goSplit('/a/b'), ['/a/', 'b']);
    assert.deepEqual(goSplit('/a/'), ['/a/', '']);
    assert.equal(goBase('/a/'), 'a');
    assert.equal(goBase('/a/.'), '.');
    assert.equal(goBase('/'), '/');
  });

  it('follows links in scope: absolute targets and .. stay under /', () => {
    const links: Record<string, string> = { '/l': '/', '/up': '../../..', '/a/rel': 'b', '/loop': '/loop', '/escape': '../../etc' };
    const fs = { readlink: (p: string) => links[p] ?? null };
    assert.equal(followSymlinkInScope('/l/etc/passwd', fs), '/etc/passwd');
    assert.equal(followSymlinkInScope('/up/x', fs), '/x');
    assert.equal(followSymlinkInScope('/a/rel/c', fs), '/a/b/c');
    assert.equal(followSymlinkInScope('/escape/shadow', fs), '/etc/shadow');
    assert.equal(followSymlinkInScope('/missing/x', fs), '/missing/x');
    assert.throws(() => followSymlinkInScope('/loop', fs), { code: 'ELOOP' });
  });

  it('gives Go FileMode bits and time format', () => {
    assert.equal(goFileMode(0o40755), 2 ** 31 + 0o755);
    assert.equal(goFileMode(0o120777), 2 ** 27 + 0o777);
    assert.equal(goFileMode(0o100644), 0o644);
    assert.equal(goFileMode(0o104755), 2 ** 23 + 0o755);
    assert.equal(goFileMode(0o41777), 2 ** 31 + 2 ** 20 + 0o777);
    assert.equal(goFileMode(0o20666), 2 ** 26 + 2 ** 21 + 0o666);
    assert.equal(goFileMode(0o10644), 2 ** 25 + 0o644);
    assert.equal(goTimeJSON(1700000000n, 0n), '2023-11-14T22:13:20Z');
    assert.equal(goTimeJSON(1700000000n, 120000000n), '2023-11-14T22:13:20.12Z');
  });

  it('finds the mount an extraction lands in', () => {
    const mounts = [{ destination: '/data', rw: true }, { destination: '/ro', rw: false }];
    assert.equal(inMount('/data', mounts), true);
    assert.equal(inMount('/data/x', mounts), true);
    assert.equal(inMount('/datax', mounts), false);
    assert.equal(inMount('/ro/y', mounts), 'read-only');
    assert.equal(inMount('/etc', mounts), false);
  });
});
