/**
 * Registries end to end through the docker CLI, against Debian's docker-registry on
 * 127.0.0.1: push / pull / pull by digest, login / logout with htpasswd, a
 * multi-platform index, distribution inspect, TLS with a CA in a certs.d, a hostile
 * registry serving corrupt and truncated blobs, a daemon killed in the middle of a
 * pull, and token auth (distribution's JWT verifier, a token server of ours). Passes against stevedore and against Docker 20.10 (STEVEDORE_TEST_TARGET=docker)
 * except where a test says it is stevedore-only.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { LocalContentStore } from '../../src/engine/content';
import { MediaType, RegistryClient } from '../../src/engine/distribution';
import { makeBusyboxTar } from '../helpers/busybox';
import { canMakeBcrypt, makeTestImage, pushTestImage, startRecordingProxy, startRegistry, type RecordingProxy, type TestRegistry } from '../helpers/registry';
import { startTokenServer, type TokenServer } from '../helpers/token-server';
import { type Target, startTarget, targetKind, waitForExit } from '../helpers/target';

function ok(r: { code: number; stdout: string; stderr: string }, what: string): string {
  assert.equal(r.code, 0, `${what}: ${r.stdout}${r.stderr}`);
  return r.stdout;
}

const sha = (b: Buffer) => 'sha256:' + createHash('sha256').update(b).digest('hex');

interface Inspect {
  Id: string;
  RepoTags: string[];
  RepoDigests: string[];
  Architecture: string;
}

async function inspect(t: Target, ref: string): Promise<Inspect> {
  return (JSON.parse(ok(await t.docker(['image', 'inspect', ref]), `inspect ${ref}`)) as Inspect[])[0]!;
}

describe('registry: push and pull over plain HTTP', () => {
  let t: Target;
  let reg: TestRegistry;
  let work: string;
  before(async () => {
    reg = await startRegistry();
    t = await startTarget();
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'stv-reg-'));
    const tar = path.join(work, 'busybox.tar');
    makeBusyboxTar(tar);
    ok(await t.docker(['import', tar, `${reg.host}/bb:1`]), 'import');
  });
  after(async () => {
    await t?.stop();
    await reg?.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('pushes an image, and a second push finds every layer there with the same digest', async () => {
    const first = ok(await t.docker(['push', `${reg.host}/bb:1`]), 'push');
    assert.match(first, new RegExp(`The push refers to repository \\[${reg.host}/bb\\]`));
    assert.match(first, /: Pushed/);
    const digest = /1: digest: (sha256:[0-9a-f]{64}) size: \d+/.exec(first)?.[1];
    assert.ok(digest, first);
    const again = ok(await t.docker(['push', `${reg.host}/bb:1`]), 'push again');
    assert.match(again, /: Layer already exists/);
    assert.doesNotMatch(again, /: Pushed/);
    assert.match(again, new RegExp(`1: digest: ${digest} size:`));
    const i = await inspect(t, `${reg.host}/bb:1`);
    assert.deepEqual(i.RepoDigests, [`${reg.host}/bb@${digest}`]);
  });

  it('answers a push of a missing image in-band, after the first line, as dockerd does', async () => {
    const r = await t.docker(['push', `${reg.host}/nope:1`]);
    assert.notEqual(r.code, 0);
    assert.match(r.stdout + r.stderr, new RegExp(`An image does not exist locally with the tag: ${reg.host}/nope`));
    const raw = await t.request('POST', `/images/${reg.host}/nope/push?tag=1`, { headers: { 'X-Registry-Auth': Buffer.from('{}').toString('base64') } });
    assert.equal(raw.status, 200);
    const lines = raw.body.trim().split('\n').map((l) => JSON.parse(l) as { status?: string; error?: string });
    assert.equal(lines[0]!.status, `The push refers to repository [${reg.host}/nope]`);
    assert.equal(lines.at(-1)!.error, `An image does not exist locally with the tag: ${reg.host}/nope`);
  });

  it('pulls after rmi, by tag and by digest, records RepoDigests and emits pull events', async () => {
    const pushed = await inspect(t, `${reg.host}/bb:1`);
    const digest = pushed.RepoDigests[0]!.split('@')[1]!;
    ok(await t.docker(['rmi', `${reg.host}/bb:1`]), 'rmi');
    const since = Math.floor(Date.now() / 1000) - 1;
    const out = ok(await t.docker(['pull', `${reg.host}/bb:1`]), 'pull');
    assert.match(out, /1: Pulling from bb/);
    assert.match(out, /Pull complete/);
    assert.match(out, new RegExp(`Digest: ${digest}`));
    assert.match(out, new RegExp(`Status: Downloaded newer image for ${reg.host}/bb:1`));
    const i = await inspect(t, `${reg.host}/bb:1`);
    assert.equal(i.Id, pushed.Id);
    assert.deepEqual(i.RepoTags, [`${reg.host}/bb:1`]);
    assert.deepEqual(i.RepoDigests, [`${reg.host}/bb@${digest}`]);

    const same = ok(await t.docker(['pull', `${reg.host}/bb:1`]), 'pull again');
    assert.match(same, new RegExp(`Status: Image is up to date for ${reg.host}/bb:1`));

    ok(await t.docker(['rmi', `${reg.host}/bb:1`]), 'rmi');
    const byDigest = ok(await t.docker(['pull', `${reg.host}/bb@${digest}`]), 'pull by digest');
    assert.match(byDigest, new RegExp(`Status: Downloaded newer image for ${reg.host}/bb@${digest}`));
    const d = await inspect(t, `${reg.host}/bb@${digest}`);
    assert.deepEqual(d.RepoTags, []);
    assert.deepEqual(d.RepoDigests, [`${reg.host}/bb@${digest}`]);

    const ev = ok(await t.docker(['events', '--since', String(since), '--until', String(Math.floor(Date.now() / 1000) + 1), '--filter', 'type=image', '--filter', 'event=pull', '--format', '{{.Actor.ID}}']), 'events');
    assert.deepEqual(ev.trim().split('\n'), [`${reg.host}/bb:1`, `${reg.host}/bb:1`, `${reg.host}/bb@${digest}`]);
  });

  it('maps a missing manifest to 404 before the stream starts, with the registry words', async () => {
    const r = await t.docker(['pull', `${reg.host}/bb:nope`]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, new RegExp(`Error response from daemon: manifest for ${reg.host}/bb:nope not found: manifest unknown`));
    const raw = await t.request('POST', `/images/create?fromImage=${encodeURIComponent(`${reg.host}/nothere`)}&tag=latest`);
    assert.equal(raw.status, 404);
  });
});

describe('registry with htpasswd basic auth: login, push, pull, logout', { skip: canMakeBcrypt() ? false : 'python3 crypt cannot make bcrypt' }, () => {
  let t: Target;
  let reg: TestRegistry;
  let work: string;
  const password = 'pw-' + randomBytes(6).toString('hex');
  before(async () => {
    reg = await startRegistry({ basicAuth: { username: 'alice', password } });
    t = await startTarget();
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'stv-reg-auth-'));
  });
  after(async () => {
    await t?.stop();
    await reg?.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('refuses a wrong password with 401 and never echoes it', async () => {
    const r = await t.docker(['login', reg.host, '-u', 'alice', '--password-stdin'], { input: 'wrong-password-xyz' });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /401 Unauthorized|unauthorized/);
    assert.doesNotMatch(r.stderr + r.stdout, /wrong-password-xyz/);
    const raw = await t.request('POST', '/auth', { body: JSON.stringify({ username: 'alice', password: 'wrong-password-xyz', serveraddress: reg.host }), headers: { 'Content-Type': 'application/json' } });
    // Docker 20.10 answers 500 here (later versions 401, which stevedore follows)
    assert.ok((t.kind === 'docker' ? [401, 500] : [401]).includes(raw.status), `status ${raw.status}`);
    assert.doesNotMatch(raw.body, /wrong-password-xyz/);
    if (t.kind === 'stevedore') assert.doesNotMatch(t.logs(), /wrong-password-xyz/);
  });

  it('logs in, pushes and pulls with the stored credentials, and is refused after logout', async () => {
    const anon = await t.docker(['pull', `${reg.host}/app:1`]);
    assert.notEqual(anon.code, 0);
    const raw = await t.request('POST', '/auth', { body: JSON.stringify({ username: 'alice', password, serveraddress: reg.host }), headers: { 'Content-Type': 'application/json' } });
    assert.equal(raw.status, 200);
    assert.deepEqual(JSON.parse(raw.body), { IdentityToken: '', Status: 'Login Succeeded' });
    const login = ok(await t.docker(['login', reg.host, '-u', 'alice', '--password-stdin'], { input: password }), 'login');
    assert.match(login, /Login Succeeded/);

    const tar = path.join(work, 'busybox.tar');
    makeBusyboxTar(tar);
    ok(await t.docker(['import', tar, `${reg.host}/app:1`]), 'import');
    ok(await t.docker(['push', `${reg.host}/app:1`]), 'push');
    ok(await t.docker(['rmi', `${reg.host}/app:1`]), 'rmi');
    ok(await t.docker(['pull', `${reg.host}/app:1`]), 'pull with credentials');
    if (t.kind === 'stevedore') assert.doesNotMatch(t.logs(), new RegExp(password));

    ok(await t.docker(['logout', reg.host]), 'logout');
    ok(await t.docker(['rmi', `${reg.host}/app:1`]), 'rmi');
    const denied = await t.docker(['pull', `${reg.host}/app:1`]);
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /no basic auth credentials|pull access denied|unauthorized/);
  });
});

describe('token auth', () => {
  // distribution 2.8 verifying JWTs (x5c, rootcertbundle) from a token server of ours;
  // clients reach the registry through a proxy that records every Authorization header
  // the registry receives.
  let t: Target;
  let ts: TokenServer;
  let reg: TestRegistry;
  let proxy: RecordingProxy;
  let work: string;
  let H: string;
  const password = 'pw-' + randomBytes(6).toString('hex');
  const login = (pw: string) => t.docker(['login', H, '-u', 'alice', '--password-stdin'], { input: pw });
  const bearer = (h: string | undefined) => (h?.startsWith('Bearer ') ? h.slice(7) : undefined);
  /** GET on the registry itself with a token, for checking what a token is worth there */
  const registryGet = (p: string, token: string) =>
    new Promise<number>((resolve, reject) => {
      const [host, port] = reg.host.split(':');
      http.get({ host, port: Number(port), path: p, headers: { Authorization: `Bearer ${token}` }, agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      }).on('error', reject);
    });

  before(async () => {
    ts = await startTokenServer({ users: { alice: password } });
    reg = await startRegistry({ tokenAuth: { realm: ts.realm, service: ts.service, issuer: ts.issuer, rootCertBundle: ts.certFile } });
    proxy = await startRecordingProxy(reg.host);
    H = proxy.host;
    t = await startTarget();
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'stv-reg-token-'));
    const tar = path.join(work, 'busybox.tar');
    makeBusyboxTar(tar);
    ok(await t.docker(['import', tar, `${H}/alice/x:1`]), 'import');
    ok(await t.docker(['tag', `${H}/alice/x:1`, `${H}/public/x:1`]), 'tag');
  });
  after(async () => {
    await t?.stop();
    await proxy?.close();
    await reg?.stop();
    await ts?.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('refuses a wrong password with the token server\'s words, and never echoes it', async () => {
    const r = await login('wrong-password-xyz');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /incorrect username or password/);
    assert.doesNotMatch(r.stderr + r.stdout, /wrong-password-xyz/);
    assert.ok(ts.requests.some((q) => q.username === 'alice' && q.status === 401), 'the token server refused alice');
    if (t.kind === 'stevedore') assert.doesNotMatch(t.logs(), /wrong-password-xyz/);
  });

  it('logs in, and pushes to alice/x and public/x as alice', async () => {
    const before = ts.requests.length;
    assert.match(ok(await login(password), 'login'), /Login Succeeded/);
    assert.ok(ts.requests.slice(before).some((q) => q.username === 'alice' && q.status === 200), 'login asked the token server');
    for (const repo of ['alice/x', 'public/x']) {
      const out = ok(await t.docker(['push', `${H}/${repo}:1`]), `push ${repo}`);
      assert.match(out, /1: digest: sha256:[0-9a-f]{64} size: \d+/);
    }
    const granted = ts.issued.filter((i) => i.sub === 'alice').flatMap((i) => i.access);
    assert.ok(granted.some((a) => a.name === 'alice/x' && a.actions.includes('push')), JSON.stringify(granted));
  });

  it('refuses a push to a repository alice may not push to, with Docker\'s message', async () => {
    ok(await t.docker(['tag', `${H}/alice/x:1`, `${H}/bob/x:1`]), 'tag');
    const r = await t.docker(['push', `${H}/bob/x:1`]);
    assert.notEqual(r.code, 0);
    assert.match(r.stdout, new RegExp(`The push refers to repository \\[${H}/bob/x\\]`));
    assert.equal(r.stderr.trim(), 'denied: requested access to the resource is denied');
    ok(await t.docker(['rmi', `${H}/bob/x:1`]), 'rmi');
  });

  it('pulls public/x anonymously, and is refused alice/x with Docker\'s message', async () => {
    ok(await t.docker(['logout', H]), 'logout');
    ok(await t.docker(['rmi', `${H}/alice/x:1`, `${H}/public/x:1`]), 'rmi');
    const before = ts.issued.length;
    ok(await t.docker(['pull', `${H}/public/x:1`]), 'anonymous pull of public/x');
    const denied = await t.docker(['pull', `${H}/alice/x:1`]);
    assert.notEqual(denied.code, 0);
    // distribution answers 401 with error="insufficient_scope" in its challenge: Docker's "denied"
    assert.equal(denied.stderr.trim(), `Error response from daemon: pull access denied for ${H}/alice/x, repository does not exist or may require 'docker login': denied: requested access to the resource is denied`);
    const anon = ts.issued.slice(before).filter((i) => i.sub === '');
    assert.ok(anon.length > 0, 'anonymous tokens were issued');
    assert.ok(anon.every((i) => i.access.every((a) => a.name.startsWith('public/') && !a.actions.includes('push'))), JSON.stringify(anon.map((i) => i.access)));
  });

  it('pulls alice/x when logged in', async () => {
    ok(await login(password), 'login');
    ok(await t.docker(['pull', `${H}/alice/x:1`]), 'pull alice/x');
    assert.equal((await inspect(t, `${H}/alice/x:1`)).Id, (await inspect(t, `${H}/public/x:1`)).Id);
  });

  it('gets new tokens once the old ones have expired, for a push and a pull', async () => {
    ts.expiresIn = 2;
    try {
      ok(await t.docker(['tag', `${H}/alice/x:1`, `${H}/alice/short:1`]), 'tag');
      ok(await t.docker(['push', `${H}/alice/short:1`]), 'push');
      ok(await t.docker(['rmi', `${H}/alice/short:1`]), 'rmi');
      ok(await t.docker(['pull', `${H}/alice/short:1`]), 'pull');
      const mark = ts.issued.length;
      const seen = proxy.requests.length;
      const old = ts.issued.filter((i) => i.access.some((a) => a.name === 'alice/short'));
      assert.ok(old.length > 0);
      await new Promise((r) => setTimeout(r, 3500));
      // the registry itself refuses every token issued so far for alice/short
      for (const i of old) assert.equal(await registryGet('/v2/alice/short/tags/list', i.token), 401, `token ${i.seq} still accepted`);
      ok(await t.docker(['tag', `${H}/alice/x:1`, `${H}/alice/short:2`]), 'tag');
      ok(await t.docker(['push', `${H}/alice/short:2`]), 'push after expiry');
      ok(await t.docker(['rmi', `${H}/alice/short:1`]), 'rmi');
      ok(await t.docker(['pull', `${H}/alice/short:1`]), 'pull after expiry');
      const after = proxy.requests.slice(seen).filter((q) => q.url.startsWith('/v2/alice/short/'));
      assert.ok(after.some((q) => q.method === 'PUT' && q.status === 201), 'a manifest was pushed');
      // stevedore keeps tokens across operations (at least 60 s, as Docker's client): the
      // expired one is tried, refused, and replaced (the 401 retry); dockerd asks anew
      // for every operation
      if (t.kind === 'stevedore') assert.ok(after.some((q) => q.status === 401 && (ts.lookup(bearer(q.authorization) ?? '')?.seq ?? mark) < mark), 'an expired token was refused and replaced');
      for (const q of after.filter((r) => r.status < 400)) {
        const tok = ts.lookup(bearer(q.authorization) ?? '');
        assert.ok(tok && tok.seq >= mark, `${q.method} ${q.url} answered ${q.status} with a token issued before the wait`);
      }
    } finally {
      ts.expiresIn = 300;
    }
  });

  it('never lets the registry see credentials: only Bearer tokens from the token server', async () => {
    assert.ok(proxy.requests.length > 0);
    const basic = Buffer.from(`alice:${password}`).toString('base64');
    for (const q of proxy.requests) {
      if (q.authorization === undefined) continue;
      const tok = bearer(q.authorization);
      assert.ok(tok !== undefined && ts.lookup(tok), `${q.method} ${q.url}: Authorization is not a token we issued: ${q.authorization.slice(0, 20)}`);
      assert.ok(!q.authorization.includes(password) && !q.authorization.includes(basic));
    }
    assert.ok(proxy.requests.some((q) => q.authorization !== undefined), 'the registry was sent tokens');
    if (t.kind === 'stevedore') assert.doesNotMatch(t.logs(), new RegExp(password));
  });
});

describe('registry: a multi-platform index', () => {
  let t: Target;
  let reg: TestRegistry;
  let work: string;
  before(async () => {
    reg = await startRegistry();
    t = await startTarget();
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'stv-reg-multi-'));
  });
  after(async () => {
    await t?.stop();
    await reg?.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('resolves to linux/amd64, records the index digest, and shows both platforms in distribution inspect', async () => {
    const amd = await makeTestImage({ files: { 'arch.txt': 'amd64\n' } });
    const arm = await makeTestImage({ architecture: 'arm64', variant: 'v8', files: { 'arch.txt': 'arm64\n' } });
    await pushTestImage(path.join(work, 's1'), `${reg.host}/multi:amd64`, amd);
    await pushTestImage(path.join(work, 's2'), `${reg.host}/multi:arm64`, arm);
    const index = Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.DockerManifestList,
      manifests: [
        { mediaType: arm.manifest.mediaType, digest: arm.manifest.digest, size: arm.manifest.size, platform: { architecture: 'arm64', os: 'linux', variant: 'v8' } },
        { mediaType: amd.manifest.mediaType, digest: amd.manifest.digest, size: amd.manifest.size, platform: { architecture: 'amd64', os: 'linux' } },
      ],
    }));
    const client = new RegistryClient();
    try {
      await client.putManifest(`${reg.host}/multi`, 'latest', index, MediaType.DockerManifestList);
    } finally {
      client.close();
    }
    const out = ok(await t.docker(['pull', `${reg.host}/multi`]), 'pull');
    assert.match(out, new RegExp(`Digest: ${sha(index)}`));
    const i = await inspect(t, `${reg.host}/multi:latest`);
    assert.equal(i.Architecture, 'amd64');
    assert.equal(i.Id, amd.config.digest);
    assert.deepEqual(i.RepoDigests, [`${reg.host}/multi@${sha(index)}`]);

    const di = await t.request('GET', `/distribution/${reg.host}/multi:latest/json`);
    assert.equal(di.status, 200, di.body);
    const j = JSON.parse(di.body) as { Descriptor: { digest: string; size: number; mediaType: string }; Platforms: Array<{ architecture: string; os: string }> };
    assert.deepEqual(j.Descriptor, { mediaType: MediaType.DockerManifestList, digest: sha(index), size: index.length });
    assert.deepEqual(j.Platforms.map((p) => `${p.os}/${p.architecture}`).sort(), ['linux/amd64', 'linux/arm64']);
    const single = JSON.parse((await t.request('GET', `/distribution/${reg.host}/multi:arm64/json`)).body) as typeof j;
    assert.equal(single.Descriptor.digest, arm.manifest.digest);
    assert.deepEqual(single.Platforms.map((p) => `${p.os}/${p.architecture}`), ['linux/arm64']);
  });
});

describe('registry over TLS with a CA in certs.d', { skip: targetKind() !== 'stevedore' ? 'dockerd reads only /etc/docker/certs.d and treats 127.0.0.0/8 as insecure' : false }, () => {
  it('refuses the unknown certificate without the CA, and pulls with it', async () => {
    const reg = await startRegistry({ tls: true });
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'stv-reg-tls-'));
    const saved = { d: process.env.STEVEDORE_CERTS_D, l: process.env.STEVEDORE_SECURE_LOOPBACK };
    let t: Target | undefined;
    try {
      await pushTestImage(path.join(work, 's'), `${reg.host}/tls:1`, await makeTestImage()).catch(async () => {
        // the engine client verifies too: push with the CA
        const store = new LocalContentStore(path.join(work, 's'));
        const certs = path.join(work, 'push-certs', reg.host);
        fs.mkdirSync(certs, { recursive: true });
        fs.writeFileSync(path.join(certs, 'ca.crt'), reg.caPem!);
        const img = await makeTestImage();
        for (const b of [img.config, ...img.layers, img.manifest]) await store.put(b.bytes, b.digest);
        const c = new RegistryClient({ certsDir: path.join(work, 'push-certs'), insecureLoopback: false });
        try {
          await c.pushImage(`${reg.host}/tls:1`, { target: { mediaType: img.manifest.mediaType, digest: img.manifest.digest, size: img.manifest.size }, provider: store });
        } finally {
          c.close();
        }
      });
      const certsD = path.join(work, 'certs.d');
      fs.mkdirSync(certsD);
      process.env.STEVEDORE_CERTS_D = certsD;
      process.env.STEVEDORE_SECURE_LOOPBACK = '1';
      t = await startTarget();
      const refused = await t.docker(['pull', `${reg.host}/tls:1`]);
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr, /certificate|self.signed|unable to verify/i);
      fs.mkdirSync(path.join(certsD, reg.host));
      fs.writeFileSync(path.join(certsD, reg.host, 'ca.crt'), reg.caPem!);
      ok(await t.docker(['pull', `${reg.host}/tls:1`]), 'pull with the CA');
    } finally {
      if (saved.d === undefined) delete process.env.STEVEDORE_CERTS_D;
      else process.env.STEVEDORE_CERTS_D = saved.d;
      if (saved.l === undefined) delete process.env.STEVEDORE_SECURE_LOOPBACK;
      else process.env.STEVEDORE_SECURE_LOOPBACK = saved.l;
      await t?.stop();
      await reg.stop();
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
});

/** A fake registry serving one image whose layer blob is corrupt or cut short. */
async function hostileRegistry(mode: 'corrupt' | 'truncated'): Promise<{ host: string; close: () => Promise<void>; layerDigest: string }> {
  const tarBytes = randomBytes(200_000);
  const layer = zlib.gzipSync(tarBytes);
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [sha(tarBytes)] } }));
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaType.DockerManifest,
    config: { mediaType: MediaType.DockerConfig, digest: sha(config), size: config.length },
    layers: [{ mediaType: MediaType.DockerLayerGzip, digest: sha(layer), size: layer.length }],
  }));
  const srv = http.createServer((req, res) => {
    const u = req.url ?? '';
    if (u === '/v2/') return void res.writeHead(200).end('{}');
    if (u.endsWith('/manifests/1')) return void res.writeHead(200, { 'Content-Type': MediaType.DockerManifest, 'Content-Length': manifest.length }).end(manifest);
    if (u.endsWith(`/blobs/${sha(config)}`)) return void res.writeHead(200, { 'Content-Length': config.length }).end(config);
    if (u.endsWith(`/blobs/${sha(layer)}`)) {
      if (mode === 'corrupt') {
        const bad = Buffer.from(layer);
        bad[bad.length >> 1] ^= 0xff;
        return void res.writeHead(200, { 'Content-Length': bad.length }).end(bad);
      }
      res.writeHead(200, { 'Content-Length': layer.length });
      res.write(layer.subarray(0, layer.length >> 1));
      return void res.destroy();
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  return { host: `127.0.0.1:${port}`, layerDigest: sha(layer), close: () => new Promise((r) => { srv.closeAllConnections(); srv.close(() => r()); }) };
}

describe('registry serving corrupt or truncated blobs', { skip: targetKind() !== 'stevedore' ? 'inspects the data root' : false }, () => {
  let t: Target;
  before(async () => {
    t = await startTarget();
  });
  after(async () => {
    await t?.stop();
  });

  for (const mode of ['corrupt', 'truncated'] as const) {
    it(`fails the pull cleanly and commits nothing (${mode})`, async () => {
      const h = await hostileRegistry(mode);
      try {
        const r = await t.docker(['pull', `${h.host}/evil:1`]);
        assert.notEqual(r.code, 0, r.stdout);
        assert.match(r.stdout + r.stderr, mode === 'corrupt' ? /digest|verif/i : /.+/);
        assert.notEqual((await t.docker(['image', 'inspect', `${h.host}/evil:1`])).code, 0);
        assert.ok(!fs.existsSync(path.join(t.dataRoot, 'content', 'blobs', 'sha256', h.layerDigest.slice(7))), 'no layer blob');
      } finally {
        await h.close();
      }
    });
  }
});

/** A TCP proxy to `target` that forwards at most `rate` bytes per 50 ms downstream. */
async function slowProxy(target: string, rate: number): Promise<{ host: string; bytes: () => number; close: () => Promise<void> }> {
  const [th, tp] = target.split(':');
  let total = 0;
  const socks = new Set<net.Socket>();
  const srv = net.createServer((c) => {
    const up = net.connect(Number(tp), th!);
    socks.add(c);
    socks.add(up);
    c.pipe(up);
    let budget = rate;
    const timer = setInterval(() => {
      budget = rate;
      up.resume();
    }, 50);
    up.on('data', (chunk: Buffer) => {
      total += chunk.length;
      c.write(chunk);
      budget -= chunk.length;
      if (budget <= 0) up.pause();
    });
    const end = () => {
      clearInterval(timer);
      c.destroy();
      up.destroy();
    };
    c.on('close', end);
    up.on('close', end);
    c.on('error', end);
    up.on('error', end);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  return {
    host: `127.0.0.1:${(srv.address() as net.AddressInfo).port}`,
    bytes: () => total,
    close: () => new Promise((r) => { for (const s of socks) s.destroy(); srv.close(() => r()); }),
  };
}

describe('a daemon killed in the middle of a pull', { skip: targetKind() !== 'stevedore' ? 'kills the daemon and inspects its data root' : false }, () => {
  it('pulls again to completion, reusing what was verified', async () => {
    const reg = await startRegistry();
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'stv-reg-kill-'));
    const proxy = await slowProxy(reg.host, 64 * 1024);
    let t: Target | undefined = await startTarget();
    const dir = t.dir;
    try {
      const img = await makeTestImage({ extra: 6 * 1024 * 1024 });
      await pushTestImage(path.join(work, 's'), `${reg.host}/big:1`, img);
      const pull = t.docker(['pull', `${proxy.host}/big:1`]);
      while (proxy.bytes() < 2 * 1024 * 1024) {
        const done = await Promise.race([pull.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 20))]);
        assert.equal(done, false, 'the pull finished before it could be interrupted');
      }
      const pid = t.pid;
      process.kill(pid, 'SIGKILL');
      await pull;
      // not t.stop(): that would remove the data root of a target started without `dir`
      await waitForExit(pid);
      t = await startTarget({ dir });
      const ingest = path.join(t.dataRoot, 'content', 'ingest');
      const blobs = fs.readdirSync(path.join(t.dataRoot, 'content', 'blobs', 'sha256'));
      assert.ok(fs.existsSync(ingest) && fs.readdirSync(ingest).length > 0, `partial download kept (proxy ${proxy.bytes()}, blobs ${blobs.join(',')}, ${img.layers.map((l) => l.digest + ' ' + l.size).join(',')}): ${t.logs().slice(-2000)}`);
      const before = proxy.bytes();
      ok(await t.docker(['pull', `${proxy.host}/big:1`]), 'pull after the crash');
      const i = await inspect(t, `${proxy.host}/big:1`);
      assert.equal(i.Id, img.config.digest);
      const total = img.layers.reduce((a, l) => a + l.size, 0);
      assert.ok(proxy.bytes() - before < total, `resumed: ${proxy.bytes() - before} bytes fetched of ${total}`);
    } finally {
      await t?.stop();
      const { unmountBelow } = await import('../helpers/target');
      unmountBelow(dir);
      fs.rmSync(dir, { recursive: true, force: true });
      await proxy.close();
      await reg.stop();
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
});
