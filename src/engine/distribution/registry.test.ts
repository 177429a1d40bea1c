/**
 * Against a real registry (Debian's docker-registry, distribution 2.8): push a
 * hand-made image, pull it back by tag and by digest, multi-platform index, chunked
 * upload, cross-repo mount, basic auth, TLS with certs.d.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LocalContentStore } from '../content';
import { kindOf } from '../errdefs';
import { canMakeBcrypt, makeTestImage, startRegistry, type TestImage, type TestRegistry } from '../../../test/helpers/registry';
import { RegistryClient } from './client';
import { MediaType } from './mediatypes';
import type { ProgressEvent } from './pull';

async function storeWith(dir: string, img: TestImage): Promise<LocalContentStore> {
  const s = new LocalContentStore(dir);
  for (const b of [img.config, ...img.layers, img.manifest]) await s.put(b.bytes, b.digest);
  return s;
}

describe('registry client against docker-registry', () => {
  let reg: TestRegistry;
  let tmp: string;
  let client: RegistryClient;
  let img: TestImage;
  let src: LocalContentStore;

  before(async () => {
    reg = await startRegistry();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stevedore-dist-'));
    client = new RegistryClient({ retryDelayMs: 10 });
    img = await makeTestImage({ extra: 5000 });
    src = await storeWith(path.join(tmp, 'src'), img);
  });
  after(async () => {
    client?.close();
    await reg?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('pushes an image with progress (chunked upload for the large layer)', async () => {
    const events: ProgressEvent[] = [];
    const out = await client.pushImage(`${reg.host}/test/app:v1`, {
      target: { mediaType: img.manifest.mediaType, digest: img.manifest.digest, size: img.manifest.size },
      provider: src,
      onProgress: (e) => events.push(e),
      monolithicMax: 1000,
      chunkSize: 2048,
    });
    assert.equal(out.digest, img.manifest.digest);
    for (const l of img.layers) {
      const id = l.digest.slice(7, 19);
      const mine = events.filter((e) => e.id === id).map((e) => e.status);
      assert.equal(mine[0], 'Preparing');
      assert.equal(mine.at(-1), 'Pushed');
      const pushing = events.filter((e) => e.id === id && e.status === 'Pushing');
      assert.equal(pushing.at(-1)?.progress?.current, l.size);
    }
    // pushing again: everything exists
    const again: ProgressEvent[] = [];
    await client.pushImage(`${reg.host}/test/app:v1`, {
      target: { mediaType: img.manifest.mediaType, digest: img.manifest.digest, size: img.manifest.size },
      provider: src,
      onProgress: (e) => again.push(e),
    });
    assert.deepEqual(again.filter((e) => e.status !== 'Preparing').map((e) => e.status), ['Layer already exists', 'Layer already exists']);
  });

  it('pulls it back by tag into a fresh store', async () => {
    const dst = new LocalContentStore(path.join(tmp, 'dst1'));
    const events: ProgressEvent[] = [];
    const res = await client.pull(`${reg.host}/test/app:v1`, { store: dst, onProgress: (e) => events.push(e) });
    assert.equal(res.manifestDigest, img.manifest.digest);
    assert.equal(res.indexDigest, undefined);
    assert.equal(res.config.digest, img.config.digest);
    assert.deepEqual(res.layers.map((l) => l.digest), img.layers.map((l) => l.digest));
    for (const b of [img.config, ...img.layers, img.manifest]) assert.deepEqual(await dst.readAll(b.digest), b.bytes);
    for (const l of img.layers) {
      const mine = events.filter((e) => e.id === l.digest.slice(7, 19)).map((e) => e.status);
      assert.equal(mine[0], 'Pulling fs layer');
      assert.ok(mine.includes('Downloading'));
      assert.deepEqual(mine.slice(-2), ['Verifying Checksum', 'Download complete']);
    }
    // a second pull finds everything
    const again: ProgressEvent[] = [];
    await client.pull(`${reg.host}/test/app:v1`, { store: dst, onProgress: (e) => again.push(e) });
    assert.deepEqual(again.map((e) => e.status), ['Already exists', 'Already exists']);
  });

  it('pulls by digest, and by tag@digest', async () => {
    const dst = new LocalContentStore(path.join(tmp, 'dst2'));
    const res = await client.pull(`${reg.host}/test/app@${img.manifest.digest}`, { store: dst });
    assert.equal(res.manifestDigest, img.manifest.digest);
    assert.ok(await dst.exists(img.layers[1]!.digest));
    const res2 = await client.pull(`${reg.host}/test/app:v1@${img.manifest.digest}`, { store: dst });
    assert.equal(res2.manifestDigest, img.manifest.digest);
  });

  it('reports a missing tag as not-found with Docker’s words', async () => {
    const dst = new LocalContentStore(path.join(tmp, 'dst3'));
    await assert.rejects(client.pull(`${reg.host}/test/app:nope`, { store: dst }), (err: Error) => {
      assert.equal(kindOf(err), 'not-found');
      assert.match(err.message, /^manifest for 127\.0\.0\.1:\d+\/test\/app:nope not found: manifest unknown/);
      return true;
    });
  });

  it('mounts blobs across repositories', async () => {
    const events: ProgressEvent[] = [];
    await client.pushImage(`${reg.host}/test/other:v1`, {
      target: { mediaType: img.manifest.mediaType, digest: img.manifest.digest, size: img.manifest.size },
      provider: src,
      mountSources: () => 'test/app',
      onProgress: (e) => events.push(e),
    });
    const finals = events.filter((e) => e.status !== 'Preparing').map((e) => e.status);
    assert.deepEqual(finals, [`Mounted from ${reg.host}/test/app`, `Mounted from ${reg.host}/test/app`]);
    const dst = new LocalContentStore(path.join(tmp, 'dst4'));
    assert.equal((await client.pull(`${reg.host}/test/other:v1`, { store: dst })).manifestDigest, img.manifest.digest);
  });

  it('resolves a multi-platform index to linux/amd64 by default, and to arm64 on request', async () => {
    const arm = await makeTestImage({ architecture: 'arm64', variant: 'v8', files: { 'arch.txt': 'arm64\n' } });
    const s = await storeWith(path.join(tmp, 'src-multi'), arm);
    for (const b of [img.config, ...img.layers, img.manifest]) await s.put(b.bytes, b.digest);
    const index = {
      schemaVersion: 2,
      mediaType: MediaType.OciIndex,
      manifests: [
        { mediaType: arm.manifest.mediaType, digest: arm.manifest.digest, size: arm.manifest.size, platform: { architecture: 'arm64', os: 'linux', variant: 'v8' } },
        { mediaType: img.manifest.mediaType, digest: img.manifest.digest, size: img.manifest.size, platform: { architecture: 'amd64', os: 'linux' } },
      ],
    };
    const ibytes = Buffer.from(JSON.stringify(index));
    const idesc = await s.put(ibytes);
    const pushed = await client.pushImage(`${reg.host}/test/multi:latest`, { target: { mediaType: MediaType.OciIndex, digest: idesc.digest, size: idesc.size }, provider: s });
    assert.equal(pushed.digest, idesc.digest);

    const r = await client.resolve(`${reg.host}/test/multi`);
    assert.equal(r.index?.descriptor.digest, idesc.digest);
    assert.equal(r.manifest.descriptor.digest, img.manifest.digest);
    const r2 = await client.resolve(`${reg.host}/test/multi`, { platform: { os: 'linux', architecture: 'aarch64' } });
    assert.equal(r2.manifest.descriptor.digest, arm.manifest.digest);
    await assert.rejects(client.resolve(`${reg.host}/test/multi`, { platform: { os: 'linux', architecture: 's390x' } }), (err: Error) => {
      assert.equal(kindOf(err), 'not-found');
      assert.equal(err.message, 'no matching manifest for linux/s390x in the manifest list entries');
      return true;
    });
    const dst = new LocalContentStore(path.join(tmp, 'dst5'));
    const p = await client.pull(`${reg.host}/test/multi`, { store: dst, platform: { os: 'linux', architecture: 'arm64' } });
    assert.equal(p.indexDigest, idesc.digest);
    assert.equal(p.manifestDigest, arm.manifest.digest);
    assert.ok(await dst.exists(idesc.digest));
  });
});

describe('registry with htpasswd basic auth', { skip: canMakeBcrypt() ? false : 'python3 crypt cannot make bcrypt' }, () => {
  let reg: TestRegistry;
  let tmp: string;
  let client: RegistryClient;
  before(async () => {
    reg = await startRegistry({ basicAuth: { username: 'alice', password: 's3cret' } });
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stevedore-dist-auth-'));
    client = new RegistryClient({ retryDelayMs: 10 });
  });
  after(async () => {
    client?.close();
    await reg?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('login succeeds with the right password and fails with a wrong one', async () => {
    assert.deepEqual(await client.login(reg.host, { username: 'alice', password: 's3cret' }), { status: 'Login Succeeded' });
    await assert.rejects(client.login(reg.host, { username: 'alice', password: 'wrong' }), (err: Error) => {
      assert.equal(kindOf(err), 'unauthorized');
      assert.match(err.message, /^unauthorized: /);
      assert.ok(!err.message.includes('wrong'));
      return true;
    });
  });

  it('pushes and pulls with credentials; without or with wrong ones it is unauthorized', async () => {
    const img = await makeTestImage();
    const src = await storeWith(path.join(tmp, 'src'), img);
    const target = { mediaType: img.manifest.mediaType, digest: img.manifest.digest, size: img.manifest.size };
    await assert.rejects(client.pushImage(`${reg.host}/a/b:1`, { target, provider: src, auth: { username: 'alice', password: 'nope' } }), (err: Error) => kindOf(err) === 'unauthorized');
    await client.pushImage(`${reg.host}/a/b:1`, { target, provider: src, auth: { username: 'alice', password: 's3cret' } });
    const dst = new LocalContentStore(path.join(tmp, 'dst'));
    await assert.rejects(client.pull(`${reg.host}/a/b:1`, { store: dst }), (err: Error) => {
      assert.equal(kindOf(err), 'unauthorized');
      assert.match(err.message, /^pull access denied for 127\.0\.0\.1:\d+\/a\/b, repository does not exist or may require 'docker login'/);
      return true;
    });
    const res = await client.pull(`${reg.host}/a/b:1`, { store: dst, auth: { username: 'alice', password: 's3cret' } });
    assert.equal(res.manifestDigest, img.manifest.digest);
  });
});

describe('registry over TLS with certs.d', () => {
  let reg: TestRegistry;
  let tmp: string;
  before(async () => {
    reg = await startRegistry({ tls: true });
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stevedore-dist-tls-'));
  });
  after(async () => {
    await reg?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('verifies the server with the CA from certs.d, and fails without it', async () => {
    const certsDir = path.join(tmp, 'certs.d');
    const img = await makeTestImage();
    const src = await storeWith(path.join(tmp, 'src'), img);
    const target = { mediaType: img.manifest.mediaType, digest: img.manifest.digest, size: img.manifest.size };
    const strict = new RegistryClient({ certsDir, insecureLoopback: false, retryDelayMs: 10 });
    try {
      await assert.rejects(strict.pushImage(`${reg.host}/t/x:1`, { target, provider: src }), (err: Error) => {
        assert.equal(kindOf(err), 'unavailable');
        assert.match(err.message, /certificate/);
        return true;
      });
    } finally {
      strict.close();
    }
    fs.mkdirSync(path.join(certsDir, reg.host), { recursive: true });
    fs.writeFileSync(path.join(certsDir, reg.host, 'ca.crt'), reg.caPem!);
    const trusted = new RegistryClient({ certsDir, insecureLoopback: false, retryDelayMs: 10 });
    try {
      await trusted.pushImage(`${reg.host}/t/x:1`, { target, provider: src });
      const dst = new LocalContentStore(path.join(tmp, 'dst'));
      assert.equal((await trusted.pull(`${reg.host}/t/x:1`, { store: dst })).manifestDigest, img.manifest.digest);
    } finally {
      trusted.close();
    }
    // loopback is insecure by default (as in Docker): unverified TLS works without the CA
    const loose = new RegistryClient({ certsDir: path.join(tmp, 'none') });
    try {
      const dst = new LocalContentStore(path.join(tmp, 'dst2'));
      assert.equal((await loose.pull(`${reg.host}/t/x:1`, { store: dst })).manifestDigest, img.manifest.digest);
    } finally {
      loose.close();
    }
  });
});
