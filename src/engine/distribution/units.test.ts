import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { kindOf } from '../errdefs';
import { decodeAuthHeader, encodeAuthHeader } from './authheader';
import { parseChallenges } from './challenge';
import { RegistryHosts, hostname } from './hosts';
import { loginDomain } from './login';
import { bestPlatformMatch, normalizePlatform, parsePlatform, platformRank } from './platform';

describe('WWW-Authenticate parsing', () => {
  it('parses bearer challenges with quoted, escaped and unquoted values', () => {
    assert.deepEqual(parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"'), [
      { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/busybox:pull' } },
    ]);
    assert.deepEqual(parseChallenges('Basic realm="a \\"quoted\\" realm", charset=UTF-8'), [
      { scheme: 'basic', params: { realm: 'a "quoted" realm', charset: 'UTF-8' } },
    ]);
  });
  it('parses several challenges in one header and in several headers', () => {
    const c = parseChallenges(['Basic realm="x", Bearer realm="https://t/token",service=s', 'Negotiate']);
    assert.deepEqual(c.map((x) => x.scheme), ['basic', 'bearer', 'negotiate']);
    assert.equal(c[1]!.params.service, 's');
  });
  it('survives garbage', () => {
    assert.deepEqual(parseChallenges('=,,"" ;; Bearer REALM = "r" , @@@'), [{ scheme: 'bearer', params: { realm: 'r' } }]);
    assert.deepEqual(parseChallenges(undefined), []);
    assert.deepEqual(parseChallenges('Bearer realm="unterminated'), [{ scheme: 'bearer', params: { realm: 'unterminated' } }]);
  });
});

describe('X-Registry-Auth', () => {
  const creds = { username: 'u', password: 'p?>~ü', serveraddress: 'localhost:5000' };
  it('decodes url-safe and standard base64, padded or not', () => {
    const json = JSON.stringify(creds);
    for (const enc of [
      Buffer.from(json).toString('base64url'),
      Buffer.from(json).toString('base64'),
      Buffer.from(json).toString('base64').replace(/=+$/, ''),
      encodeAuthHeader(creds),
    ]) {
      assert.deepEqual(decodeAuthHeader(enc), creds);
    }
  });
  it('matches keys case-insensitively, fills username/password from auth, ignores unknown keys', () => {
    const v = Buffer.from(JSON.stringify({ Username: 'a', IdentityToken: 't', other: 1 })).toString('base64');
    assert.deepEqual(decodeAuthHeader(v), { username: 'a', identitytoken: 't' });
    const w = Buffer.from(JSON.stringify({ auth: Buffer.from('x:y:z').toString('base64') })).toString('base64');
    assert.deepEqual(decodeAuthHeader(w), { auth: Buffer.from('x:y:z').toString('base64'), username: 'x', password: 'y:z' });
    assert.deepEqual(decodeAuthHeader(''), {});
    assert.deepEqual(decodeAuthHeader(Buffer.from('null').toString('base64')), {});
  });
  it('rejects garbage without echoing it', () => {
    for (const bad of ['not base64!', Buffer.from('{"password":"hunter2"').toString('base64'), Buffer.from('[1]').toString('base64')]) {
      assert.throws(() => decodeAuthHeader(bad), (err: Error) => kindOf(err) === 'invalid-argument' && !err.message.includes('hunter2'));
    }
  });
});

describe('platforms', () => {
  it('normalises names as containerd does', () => {
    assert.deepEqual(normalizePlatform({ os: 'Linux', architecture: 'x86_64' }), { os: 'linux', architecture: 'amd64' });
    assert.deepEqual(normalizePlatform({ os: 'linux', architecture: 'aarch64', variant: 'v8' }), { os: 'linux', architecture: 'arm64' });
    assert.deepEqual(normalizePlatform({ os: 'linux', architecture: 'arm' }), { os: 'linux', architecture: 'arm', variant: 'v7' });
    assert.deepEqual(parsePlatform('linux/arm64/v8'), { os: 'linux', architecture: 'arm64' });
    assert.deepEqual(parsePlatform('arm'), { os: 'linux', architecture: 'arm', variant: 'v7' });
    assert.throws(() => parsePlatform('linux//x'));
  });
  it('matches arm64 and arm64/v8 both ways, and older arm variants in order', () => {
    assert.equal(platformRank({ os: 'linux', architecture: 'arm64' }, { os: 'linux', architecture: 'arm64', variant: 'v8' }), 0);
    assert.equal(platformRank({ os: 'linux', architecture: 'arm64', variant: 'v8' }, { os: 'linux', architecture: 'arm64' }), 0);
    assert.equal(platformRank({ os: 'linux', architecture: 'amd64' }, { os: 'linux', architecture: 'arm64' }), -1);
    assert.equal(platformRank({ os: 'linux', architecture: 'amd64' }, { os: 'windows', architecture: 'amd64' }), -1);
    const cands = [
      { os: 'linux', architecture: 'arm', variant: 'v5' },
      { os: 'linux', architecture: 'arm', variant: 'v6' },
      undefined,
      { os: 'unknown', architecture: 'unknown' },
    ];
    assert.equal(bestPlatformMatch({ os: 'linux', architecture: 'arm', variant: 'v7' }, cands), 1);
    assert.equal(bestPlatformMatch({ os: 'linux', architecture: 'arm', variant: 'v5' }, cands), 0);
    assert.equal(bestPlatformMatch({ os: 'linux', architecture: 'amd64' }, cands), -1);
  });
});

describe('registry hosts', () => {
  it('maps docker.io to registry-1.docker.io, mirrors first for pulls only', async () => {
    const h = new RegistryHosts({ registryMirrors: ['https://mirror.example:5000'], certsDir: '/nonexistent' });
    const pullEps = await h.endpoints('docker.io', 'pull');
    assert.deepEqual(pullEps.map((e) => [e.base.href, e.mirror]), [
      ['https://mirror.example:5000/', true],
      ['https://registry-1.docker.io/', false],
    ]);
    assert.deepEqual((await h.endpoints('docker.io', 'push')).map((e) => e.base.href), ['https://registry-1.docker.io/']);
  });
  it('allows HTTP only for loopback and listed registries, HTTPS first', async () => {
    const h = new RegistryHosts({ insecureRegistries: ['10.1.0.0/16', 'myreg:5000'], certsDir: '/nonexistent' });
    const urls = async (d: string) => (await h.endpoints(d, 'push')).map((e) => e.base.href);
    assert.deepEqual(await urls('localhost:5000'), ['https://localhost:5000/', 'http://localhost:5000/']);
    assert.deepEqual(await urls('127.0.0.2:80'), ['https://127.0.0.2:80/', 'http://127.0.0.2/']);
    assert.deepEqual(await urls('[::1]:5000'), ['https://[::1]:5000/', 'http://[::1]:5000/']);
    assert.deepEqual(await urls('10.1.2.3:5000'), ['https://10.1.2.3:5000/', 'http://10.1.2.3:5000/']);
    assert.deepEqual(await urls('myreg:5000'), ['https://myreg:5000/', 'http://myreg:5000/']);
    assert.deepEqual(await urls('10.2.0.1:5000'), ['https://10.2.0.1:5000/']);
    assert.deepEqual(await urls('myreg:5001'), ['https://myreg:5001/']);
    const e = (await h.endpoints('localhost:5000', 'pull'))[0]!;
    assert.equal(e.tls.insecureSkipVerify, true);
    const strict = new RegistryHosts({ insecureLoopback: false, certsDir: '/nonexistent' });
    assert.deepEqual((await strict.endpoints('127.0.0.1:5000', 'pull')).map((x) => x.base.href), ['https://127.0.0.1:5000/']);
    assert.equal(hostname('[::1]:5000'), '::1');
    assert.equal(hostname('a.b:1'), 'a.b');
  });
  it('reads certs.d: *.crt CAs, *.cert/*.key pairs, and refuses a cert without its key', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stevedore-certsd-'));
    try {
      fs.mkdirSync(path.join(dir, 'reg.example:5000'));
      fs.writeFileSync(path.join(dir, 'reg.example:5000', 'ca.crt'), 'CA');
      fs.writeFileSync(path.join(dir, 'reg.example:5000', 'client.cert'), 'CERT');
      fs.writeFileSync(path.join(dir, 'reg.example:5000', 'client.key'), 'KEY');
      const h = new RegistryHosts({ certsDir: dir });
      const t = await h.tlsFor('reg.example:5000', false);
      assert.deepEqual(t.ca.map(String), ['CA']);
      assert.equal(String(t.cert), 'CERT');
      assert.equal(String(t.key), 'KEY');
      fs.rmSync(path.join(dir, 'reg.example:5000', 'client.key'));
      await assert.rejects(h.tlsFor('reg.example:5000', false), /missing key client.key/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
  it('normalises login server addresses', () => {
    for (const s of ['', 'https://index.docker.io/v1/', 'docker.io', 'registry-1.docker.io']) assert.equal(loginDomain(s), 'docker.io');
    assert.equal(loginDomain('http://localhost:5000/'), 'localhost:5000');
  });
});
