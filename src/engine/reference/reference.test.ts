import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isStevedoreError } from '../errdefs';
import {
  familiarName,
  familiarString,
  familiarize,
  parseAnyReference,
  parseDockerRef,
  parseNormalizedNamed,
  parseReference,
  tagNameOnly,
  withDigest,
  withTag,
  NamedReference,
} from './reference';
import { isDigest, parseDigest, shortId } from './digest';

const D = 'sha256:' + 'a'.repeat(64);
const HEX = 'f'.repeat(64);

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(isStevedoreError(err), 'throws StevedoreError');
    assert.equal(err.kind, 'invalid-argument');
    return err.message;
  }
  assert.fail('expected an error');
}

describe('parseNormalizedNamed', () => {
  const ok: Array<[string, string, string, string | undefined, string | undefined, string]> = [
    // input, domain, path, tag, digest, familiarString
    ['busybox', 'docker.io', 'library/busybox', undefined, undefined, 'busybox'],
    ['busybox:1.36', 'docker.io', 'library/busybox', '1.36', undefined, 'busybox:1.36'],
    ['library/busybox', 'docker.io', 'library/busybox', undefined, undefined, 'busybox'],
    ['docker.io/busybox', 'docker.io', 'library/busybox', undefined, undefined, 'busybox'],
    ['docker.io/library/busybox:latest', 'docker.io', 'library/busybox', 'latest', undefined, 'busybox:latest'],
    ['index.docker.io/library/busybox', 'docker.io', 'library/busybox', undefined, undefined, 'busybox'],
    ['index.docker.io/busybox', 'docker.io', 'library/busybox', undefined, undefined, 'busybox'],
    ['user/app', 'docker.io', 'user/app', undefined, undefined, 'user/app'],
    ['user/app/sub:v1', 'docker.io', 'user/app/sub', 'v1', undefined, 'user/app/sub:v1'],
    ['docker.io/library/a/b', 'docker.io', 'library/a/b', undefined, undefined, 'library/a/b'],
    ['localhost/x', 'localhost', 'x', undefined, undefined, 'localhost/x'],
    ['localhost:5000/x:1', 'localhost:5000', 'x', '1', undefined, 'localhost:5000/x:1'],
    ['127.0.0.1:5000/a/b', '127.0.0.1:5000', 'a/b', undefined, undefined, '127.0.0.1:5000/a/b'],
    ['[::1]:5000/x', '[::1]:5000', 'x', undefined, undefined, '[::1]:5000/x'],
    ['example.com/ns/app', 'example.com', 'ns/app', undefined, undefined, 'example.com/ns/app'],
    ['Example.COM/app', 'Example.COM', 'app', undefined, undefined, 'Example.COM/app'],
    ['registry:5000/app', 'registry:5000', 'app', undefined, undefined, 'registry:5000/app'],
    ['Uppercase/app', 'Uppercase', 'app', undefined, undefined, 'Uppercase/app'],
    ['quay.io/a/b', 'quay.io', 'a/b', undefined, undefined, 'quay.io/a/b'],
    [`busybox@${D}`, 'docker.io', 'library/busybox', undefined, D, `busybox@${D}`],
    [`busybox:1@${D}`, 'docker.io', 'library/busybox', '1', D, `busybox:1@${D}`],
    [`localhost:5000/x:t@${D}`, 'localhost:5000', 'x', 't', D, `localhost:5000/x:t@${D}`],
    ['a__b/c--d/e.f_g:T_a.g-1', 'docker.io', 'a__b/c--d/e.f_g', 'T_a.g-1', undefined, 'a__b/c--d/e.f_g:T_a.g-1'],
    ['a' + ':' + 'x'.repeat(128), 'docker.io', 'library/a', 'x'.repeat(128), undefined, 'a:' + 'x'.repeat(128)],
    [HEX.slice(0, 63), 'docker.io', 'library/' + HEX.slice(0, 63), undefined, undefined, HEX.slice(0, 63)],
  ];
  for (const [input, domain, path, tag, digest, fam] of ok) {
    it(`parses ${input.slice(0, 60)}`, () => {
      const r = parseNormalizedNamed(input);
      assert.equal(r.domain, domain);
      assert.equal(r.path, path);
      assert.equal(r.tag, tag);
      assert.equal(r.digest, digest);
      assert.equal(r.name, `${domain}/${path}`);
      assert.equal(familiarString(r), fam);
    });
  }

  const bad: Array<[string, string]> = [
    ['', 'invalid reference format'],
    ['Busybox', 'invalid reference format: repository name must be lowercase'],
    ['user/App', 'invalid reference format: repository name must be lowercase'],
    ['docker.io/Library/busybox', 'invalid reference format: repository name must be lowercase'],
    ['busybox:', 'invalid reference format'],
    ['busybox:-tag', 'invalid reference format'],
    ['busybox:' + 'x'.repeat(129), 'invalid reference format'],
    [':tag', 'invalid reference format'],
    ['/busybox', 'invalid reference format'],
    ['busybox/', 'invalid reference format'],
    ['a//b', 'invalid reference format'],
    ['-a/b', 'invalid reference format'],
    ['a_/b', 'invalid reference format'],
    ['a...b', 'invalid reference format'],
    ['a___b', 'invalid reference format'],
    ['busybox@sha256:abc', 'invalid reference format'],
    ['busybox@sha256:' + 'g'.repeat(64), 'invalid reference format'],
    ['busybox@sha256:' + 'a'.repeat(63), 'invalid checksum digest length'],
    ['busybox@sha256:' + 'A'.repeat(64), 'invalid checksum digest format'],
    ['busybox@md5:' + 'a'.repeat(32), 'unsupported digest algorithm'],
    ['-host.com/a', 'invalid reference format'],
    ['host.com:port/a', 'invalid reference format'],
    ['a b', 'invalid reference format'],
    [HEX, `invalid repository name (${HEX}), cannot specify 64-byte hexadecimal strings`],
    ['docker.io/' + 'a'.repeat(248), 'repository name must not be more than 255 characters'],
  ];
  for (const [input, message] of bad) {
    it(`rejects ${JSON.stringify(input.slice(0, 50))}`, () => {
      assert.equal(errorOf(() => parseNormalizedNamed(input)), message);
    });
  }

  it('accepts a 64-hex path component when it is not the whole string', () => {
    assert.equal(parseNormalizedNamed(`user/${HEX}`).path, `user/${HEX}`);
    assert.equal(parseNormalizedNamed(`${HEX}:tag`).path, `library/${HEX}`);
  });
});

describe('parseReference (not normalised)', () => {
  it('keeps the name as written', () => {
    const r = parseReference('busybox:1');
    assert.equal(r.domain, '');
    assert.equal(r.path, 'busybox');
    assert.equal(r.toString(), 'busybox:1');
    assert.equal(parseReference('localhost:5000/x').domain, 'localhost:5000');
    // a first component without '.' or ':' still matches the domain production
    assert.equal(parseReference('user/app').name, 'user/app');
  });
  it('says "repository name must be lowercase" for names that only fail by case', () => {
    assert.equal(errorOf(() => parseReference('Busybox')), 'repository name must be lowercase');
    assert.equal(errorOf(() => parseReference('')), 'repository name must have at least one component');
  });
});

describe('display and helpers', () => {
  it('tagNameOnly adds :latest only to bare names', () => {
    assert.equal(tagNameOnly(parseNormalizedNamed('busybox')).toString(), 'docker.io/library/busybox:latest');
    assert.equal(tagNameOnly(parseNormalizedNamed('busybox:1')).toString(), 'docker.io/library/busybox:1');
    assert.equal(tagNameOnly(parseNormalizedNamed(`busybox@${D}`)).toString(), `docker.io/library/busybox@${D}`);
  });
  it('familiarName / familiarize', () => {
    assert.equal(familiarName(parseNormalizedNamed('docker.io/library/redis:7')), 'redis');
    assert.equal(familiarName(parseNormalizedNamed('docker.io/dmcgowan/myapp')), 'dmcgowan/myapp');
    assert.equal(familiarize('busybox'), 'busybox:latest');
    assert.equal(familiarize('localhost:5000/x:1'), 'localhost:5000/x:1');
    assert.equal(familiarize('index.docker.io/user/app'), 'user/app:latest');
  });
  it('parseDockerRef drops the tag when a digest is present', () => {
    assert.equal(parseDockerRef(`busybox:1@${D}`).toString(), `docker.io/library/busybox@${D}`);
    assert.equal(parseDockerRef('busybox').toString(), 'docker.io/library/busybox:latest');
  });
  it('parseAnyReference recognises ids', () => {
    assert.deepEqual(parseAnyReference(HEX), { digest: 'sha256:' + HEX });
    assert.deepEqual(parseAnyReference(D), { digest: D });
    assert.ok(parseAnyReference('busybox') instanceof NamedReference);
  });
  it('withTag / withDigest validate', () => {
    const r = parseNormalizedNamed('busybox');
    assert.equal(withTag(r, 'v1').toString(), 'docker.io/library/busybox:v1');
    assert.equal(errorOf(() => withTag(r, '.v1')), 'invalid tag format');
    assert.equal(withDigest(r, D).digest, D);
    assert.equal(errorOf(() => withDigest(r, 'sha256:xyz')), 'invalid digest format');
  });
  it('digest helpers', () => {
    assert.equal(parseDigest(D), D);
    assert.ok(isDigest('sha512:' + 'b'.repeat(128)));
    assert.ok(!isDigest('sha256:' + 'b'.repeat(128)));
    assert.ok(!isDigest('sha256'));
    assert.equal(shortId(D), 'a'.repeat(12));
  });
});
