/**
 * The client against small fake registries on 127.0.0.1 that misbehave: wrong or
 * truncated blobs, malformed or unverifiable manifests, schema1, Range handling,
 * transient errors, bearer tokens, redirects to blob storage.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { LocalContentStore } from '../content';
import { kindOf } from '../errdefs';
import { makeTestImage, type TestImage } from '../../../test/helpers/registry';
import { RegistryClient } from './client';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

async function serve(handler: Handler): Promise<{ host: string; port: number; close(): Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  return {
    host: `127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** Serves `img` at repository test/app; `over` may answer a path first (return true). */
function imageHandler(img: TestImage, over?: (p: string, req: http.IncomingMessage, res: http.ServerResponse) => boolean): Handler {
  return (req, res) => {
    const p = new URL(req.url!, 'http://x').pathname;
    if (over?.(p, req, res)) return;
    if (p === '/v2/') return void res.end('{}');
    if (p === '/v2/test/app/manifests/v1' || p === `/v2/test/app/manifests/${img.manifest.digest}`) {
      res.setHeader('Content-Type', img.manifest.mediaType);
      res.setHeader('Docker-Content-Digest', img.manifest.digest);
      return void res.end(img.manifest.bytes);
    }
    for (const b of [img.config, ...img.layers]) {
      if (p === `/v2/test/app/blobs/${b.digest}`) return void res.end(b.bytes);
    }
    res.statusCode = 404;
    res.end('{"errors":[{"code":"NOT_FOUND","message":"not here"}]}');
  };
}

describe('hostile and odd registries', () => {
  let tmp: string;
  let img: TestImage;
  let client: RegistryClient;
  let n = 0;
  const freshStore = () => new LocalContentStore(path.join(tmp, `store${n++}`));
  const nothingCommitted = async (s: LocalContentStore) => {
    for (const b of [img.manifest, ...img.layers]) assert.equal(await s.exists(b.digest), false, `${b.digest} not committed`);
  };

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stevedore-hostile-'));
    img = await makeTestImage({ extra: 200_000 });
    client = new RegistryClient({ retryDelayMs: 1 });
  });
  after(() => {
    client.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('refuses a blob with wrong bytes and commits nothing', async () => {
    const srv = await serve(imageHandler(img, (p, _req, res) => {
      if (p.endsWith(img.layers[1]!.digest)) {
        const bad = Buffer.from(img.layers[1]!.bytes);
        bad[100] = bad[100]! ^ 0xff;
        res.end(bad);
        return true;
      }
      return false;
    }));
    try {
      const s = freshStore();
      await assert.rejects(client.pull(`${srv.host}/test/app:v1`, { store: s }), (err: Error) => {
        assert.equal(kindOf(err), 'invalid-argument');
        assert.match(err.message, /digest mismatch/);
        return true;
      });
      assert.equal(await s.exists(img.layers[1]!.digest), false);
      assert.equal(await s.exists(img.manifest.digest), false);
      assert.equal(await s.ingestOffset(`pull-${img.layers[1]!.digest}`), 0);
    } finally {
      await srv.close();
    }
  });

  it('fails cleanly on a truncated blob (connection cut), after bounded retries', async () => {
    let tries = 0;
    const srv = await serve(imageHandler(img, (p, _req, res) => {
      if (p.endsWith(img.layers[1]!.digest)) {
        tries++;
        const b = img.layers[1]!.bytes;
        res.setHeader('Content-Length', String(b.length));
        res.write(b.subarray(0, 1000), () => res.destroy());
        return true;
      }
      return false;
    }));
    try {
      const s = freshStore();
      await assert.rejects(client.pull(`${srv.host}/test/app:v1`, { store: s, attempts: 2 }));
      assert.equal(tries, 2);
      // the good layer may be committed (verified); the cut one and the manifest are not
      assert.equal(await s.exists(img.layers[1]!.digest), false);
      assert.equal(await s.exists(img.manifest.digest), false);
    } finally {
      await srv.close();
    }
  });

  it('refuses a blob longer than its descriptor says', async () => {
    const srv = await serve(imageHandler(img, (p, _req, res) => {
      if (p.endsWith(img.layers[0]!.digest)) {
        res.end(Buffer.concat([img.layers[0]!.bytes, Buffer.alloc(10)]));
        return true;
      }
      return false;
    }));
    try {
      const s = freshStore();
      await assert.rejects(client.pull(`${srv.host}/test/app:v1`, { store: s }), (err: Error) => kindOf(err) === 'invalid-argument');
      await nothingCommitted(s);
    } finally {
      await srv.close();
    }
  });

  const manifestCases: Array<[string, (res: http.ServerResponse) => void, RegExp]> = [
    [
      'a malformed layer digest',
      (res) => {
        const m = JSON.parse(img.manifest.bytes.toString());
        m.layers[0].digest = 'sha256:../../etc/passwd';
        res.end(JSON.stringify(m));
      },
      /invalid layer 0 of .*: digest/,
    ],
    [
      'a negative size',
      (res) => {
        const m = JSON.parse(img.manifest.bytes.toString());
        m.layers[1].size = -1;
        res.end(JSON.stringify(m));
      },
      /invalid layer 1 .*bad size/,
    ],
    ['not JSON', (res) => res.end('<html>'), /not JSON/],
    [
      'a schema1 manifest',
      (res) => {
        res.setHeader('Content-Type', 'application/vnd.docker.distribution.manifest.v1+prettyjws');
        res.end(JSON.stringify({ schemaVersion: 1, name: 'test/app', tag: 'v1', fsLayers: [] }));
      },
      /^\[DEPRECATION NOTICE\] Docker Image Format v1 and Docker Image manifest version 2, schema 1 support is disabled/,
    ],
    [
      'a Docker-Content-Digest that does not match',
      (res) => {
        res.setHeader('Docker-Content-Digest', 'sha256:' + '0'.repeat(64));
        res.end(img.manifest.bytes);
      },
      /manifest verification failed/,
    ],
    ['an unknown media type', (res) => res.end(JSON.stringify({ schemaVersion: 2, mediaType: 'text/plain', layers: [] })), /unsupported manifest media type/],
    ['a 5 MiB manifest', (res) => res.end(Buffer.alloc(5 * 1024 * 1024, 0x20)), /larger than/],
  ];
  for (const [name, answer, message] of manifestCases) {
    it(`refuses ${name}`, async () => {
      const srv = await serve(imageHandler(img, (p, _req, res) => {
        if (p === '/v2/test/app/manifests/v1') {
          answer(res);
          return true;
        }
        return false;
      }));
      try {
        const s = freshStore();
        await assert.rejects(client.pull(`${srv.host}/test/app:v1`, { store: s }), (err: Error) => {
          assert.equal(kindOf(err), 'invalid-argument');
          assert.match(err.message, message);
          return true;
        });
        await nothingCommitted(s);
      } finally {
        await srv.close();
      }
    });
  }

  it('refuses a manifest whose bytes do not hash to the requested digest', async () => {
    const other = await makeTestImage();
    const srv = await serve(imageHandler(img, (p, _req, res) => {
      if (p === `/v2/test/app/manifests/${img.manifest.digest}`) {
        res.setHeader('Docker-Content-Digest', img.manifest.digest);
        res.end(other.manifest.bytes);
        return true;
      }
      return false;
    }));
    try {
      await assert.rejects(client.pull(`${srv.host}/test/app@${img.manifest.digest}`, { store: freshStore() }), (err: Error) => {
        assert.equal(err.message, `manifest verification failed for digest ${img.manifest.digest}`);
        return true;
      });
    } finally {
      await srv.close();
    }
  });

  for (const honour of [true, false]) {
    it(`resumes a partial download with Range (registry ${honour ? 'honours' : 'ignores'} it)`, async () => {
      const layer = img.layers[1]!;
      const ranges: Array<string | undefined> = [];
      const srv = await serve(imageHandler(img, (p, req, res) => {
        if (!p.endsWith(layer.digest)) return false;
        ranges.push(req.headers.range);
        const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
        if (honour && m) {
          const start = Number(m[1]);
          res.statusCode = 206;
          res.setHeader('Content-Range', `bytes ${start}-${layer.size - 1}/${layer.size}`);
          res.end(layer.bytes.subarray(start));
        } else res.end(layer.bytes);
        return true;
      }));
      try {
        const s = freshStore();
        // leave 5000 bytes of partial data, as an interrupted pull would
        await assert.rejects(s.ingest(`pull-${layer.digest}`, Readable.from([layer.bytes.subarray(0, 5000)]), { digest: layer.digest, size: layer.size }));
        assert.equal(await s.ingestOffset(`pull-${layer.digest}`), 5000);
        const events: string[] = [];
        await client.pull(`${srv.host}/test/app:v1`, { store: s, onProgress: (e) => e.id === layer.digest.slice(7, 19) && e.status === 'Downloading' && events.push(String(e.progress?.current)) });
        assert.deepEqual(ranges, ['bytes=5000-']);
        assert.deepEqual(await s.readAll(layer.digest), layer.bytes);
        assert.equal(events.at(-1), String(layer.size));
      } finally {
        await srv.close();
      }
    });
  }

  it('retries 503 and connection resets, bounded', async () => {
    let manifestHits = 0;
    let blobHits = 0;
    const srv = await serve(imageHandler(img, (p, _req, res) => {
      if (p === '/v2/test/app/manifests/v1' && ++manifestHits <= 2) {
        res.statusCode = 503;
        res.end();
        return true;
      }
      if (p.endsWith(img.layers[0]!.digest) && ++blobHits === 1) {
        res.destroy();
        return true;
      }
      return false;
    }));
    try {
      const s = freshStore();
      await client.pull(`${srv.host}/test/app:v1`, { store: s });
      assert.equal(manifestHits, 3);
      assert.equal(blobHits, 2);
      const always = await serve((_req, res) => {
        res.statusCode = 503;
        res.end();
      });
      try {
        await assert.rejects(client.pull(`${always.host}/test/app:v1`, { store: s }), (err: Error) => kindOf(err) === 'unavailable');
      } finally {
        await always.close();
      }
    } finally {
      await srv.close();
    }
  });

  it('gets bearer tokens per scope, caches them, refreshes once on 401, and never sends them to blob storage', async () => {
    const tokenRequests: URLSearchParams[] = [];
    const tokenAuth: Array<string | undefined> = [];
    let current = '';
    const storageHeaders: http.IncomingHttpHeaders[] = [];
    const storage = await serve((req, res) => {
      storageHeaders.push(req.headers);
      const d = new URL(req.url!, 'http://x').pathname.slice(1);
      const b = [img.config, ...img.layers].find((x) => x.digest === d);
      if (!b) {
        res.statusCode = 404;
        return void res.end();
      }
      res.end(b.bytes);
    });
    let manifestCalls = 0;
    const reg = await serve((req, res) => {
      const u = new URL(req.url!, 'http://x');
      if (u.pathname === '/token') {
        tokenRequests.push(u.searchParams);
        tokenAuth.push(req.headers.authorization);
        if (req.headers.authorization !== 'Basic ' + Buffer.from('bob:pw').toString('base64')) {
          res.statusCode = 401;
          return void res.end('{"details":"incorrect username or password"}');
        }
        current = `tok${tokenRequests.length}`;
        return void res.end(JSON.stringify({ token: current, expires_in: 300 }));
      }
      if (req.headers.authorization !== `Bearer ${current}` || current === '') {
        res.statusCode = 401;
        res.setHeader('WWW-Authenticate', `Bearer realm="http://${reg.host}/token",service="fake.registry",scope="repository:test/app:pull"`);
        return void res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
      }
      if (u.pathname === '/v2/test/app/manifests/v1') {
        // the first token stops working after one use: the client must fetch another once
        if (++manifestCalls === 1) current = 'revoked';
      }
      if (u.pathname.startsWith('/v2/test/app/blobs/')) {
        res.statusCode = 307;
        res.setHeader('Location', `http://localhost:${storage.port}/${u.pathname.split('/').pop()}`);
        return void res.end();
      }
      imageHandler(img)(req, res);
    });
    try {
      await assert.rejects(client.login(reg.host, { username: 'bob', password: 'bad' }), (err: Error) => {
        assert.equal(kindOf(err), 'unauthorized');
        assert.equal(err.message, 'unauthorized: incorrect username or password');
        return true;
      });
      tokenRequests.length = 0;
      tokenAuth.length = 0;
      const s = freshStore();
      const res = await client.pull(`${reg.host}/test/app:v1`, { store: s, auth: { username: 'bob', password: 'pw' } });
      assert.equal(res.manifestDigest, img.manifest.digest);
      assert.equal(tokenRequests.length, 2, 'one token, then one refresh after the 401');
      for (const q of tokenRequests) {
        assert.deepEqual(q.getAll('scope'), ['repository:test/app:pull']);
        assert.equal(q.get('service'), 'fake.registry');
      }
      assert.equal(storageHeaders.length, 3);
      for (const h of storageHeaders) assert.equal(h.authorization, undefined);
    } finally {
      await reg.close();
      await storage.close();
    }
  });
});
