import { describe, it, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { LocalContentStore } from '../content/local';
import { gcMigrations } from '../gc/migrations';
import { GcRefs } from '../gc/refs';
import { MetadataDB } from '../metadata/db';
import { planLoad } from './archive-format';
import { applyChanges } from './changes';
import { chainID, chainIDs } from './chainid';
import { imageMigrations } from './migrations';
import { writeDockerArchive } from './save';
import { StagedArchive } from './staging';
import { ImageStore } from './store';
import type { ImageRecord } from './types';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const tarStream = require('tar-stream') as typeof import('tar-stream');

const sha = (b: Buffer | string) => 'sha256:' + createHash('sha256').update(b).digest('hex');
const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'stv-images-'));
after(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));

/** A tar of the given entries, in order. */
async function tarOf(entries: Array<{ name: string; data?: Buffer | string; linkname?: string }>): Promise<Buffer> {
  const pack = tarStream.pack();
  for (const e of entries) {
    if (e.linkname !== undefined) pack.entry({ name: e.name, type: 'symlink', linkname: e.linkname });
    else pack.entry({ name: e.name }, Buffer.from(e.data ?? ''));
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack as unknown as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

describe('chain IDs', () => {
  it('follow the image-spec formula', () => {
    const a = 'sha256:' + 'a'.repeat(64);
    const b = 'sha256:' + 'b'.repeat(64);
    assert.deepEqual(chainIDs([]), []);
    assert.equal(chainID([]), undefined);
    assert.deepEqual(chainIDs([a]), [a]);
    assert.deepEqual(chainIDs([a, b]), [a, sha(`${a} ${b}`)]);
    assert.equal(chainID([a, b, a]), sha(`${sha(`${a} ${b}`)} ${a}`));
  });
});

describe('changes', () => {
  it('apply Dockerfile-style instructions', () => {
    const c = applyChanges({ Env: ['A=0'] }, ['CMD ["/bin/sh"]', 'ENTRYPOINT echo hi', 'ENV A=1 B="x y"', 'ENV C 3', 'EXPOSE 80 53/udp', 'LABEL a=b "c d"=e', 'WORKDIR /a', 'WORKDIR b', 'USER nobody', 'VOLUME ["/data"]', 'ONBUILD RUN x', 'STOPSIGNAL SIGINT']);
    assert.deepEqual(c.Cmd, ['/bin/sh']);
    assert.deepEqual(c.Entrypoint, ['/bin/sh', '-c', 'echo hi']);
    assert.deepEqual(c.Env, ['A=1', 'B=x y', 'C=3']);
    assert.deepEqual(c.ExposedPorts, { '80/tcp': {}, '53/udp': {} });
    assert.deepEqual(c.Labels, { a: 'b', 'c d': 'e' });
    assert.equal(c.WorkingDir, '/a/b');
    assert.equal(c.User, 'nobody');
    assert.deepEqual(c.Volumes, { '/data': {} });
    assert.deepEqual(c.OnBuild, ['RUN x']);
    assert.equal(c.StopSignal, 'SIGINT');
  });
  it('refuse other instructions and bad arguments', () => {
    assert.throws(() => applyChanges({}, ['FROM x']), /from is not a valid change command/);
    assert.throws(() => applyChanges({}, ['RUN x']), /run is not a valid change command/);
    assert.throws(() => applyChanges({}, ['EXPOSE abc']), /invalid containerPort/);
    assert.throws(() => applyChanges({}, ['ENV "a=b']), /unmatched quote/);
  });
});

describe('ImageStore', () => {
  it('records images, references and their GC roots in one place', () => {
    const db = MetadataDB.open(':memory:', [...gcMigrations, ...imageMigrations]);
    try {
      const store = new ImageStore(db);
      const layer = { digest: 'sha256:' + '1'.repeat(64), mediaType: 'x', size: 10, diffID: 'sha256:' + '1'.repeat(64), unpackedSize: 5 };
      const rec: ImageRecord = { id: 'sha256:' + 'c'.repeat(64), layers: [layer], chainId: layer.diffID, createdAt: 1 };
      assert.equal(store.put(rec), true);
      assert.equal(store.put(rec), false);
      assert.deepEqual(store.get(rec.id).layers, [layer]);
      const refs = new GcRefs(db);
      assert.deepEqual(refs.list({ kind: 'image', id: rec.id }), [
        { kind: 'content', id: 'sha256:' + '1'.repeat(64) },
        { kind: 'content', id: rec.id },
        { kind: 'snapshot', id: layer.diffID },
      ]);
      assert.equal(store.setRef('docker.io/library/a:latest', rec.id), undefined);
      assert.deepEqual(store.byPrefix('ccc'), [rec.id]);
      assert.deepEqual(store.byPrefix('cd'), []);
      assert.equal(store.resolve('docker.io/library/a:latest'), rec.id);
      const other: ImageRecord = { id: 'sha256:' + 'd'.repeat(64), layers: [], createdAt: 2 };
      store.put(other);
      assert.deepEqual(store.setRef('docker.io/library/a:latest', other.id), { ref: 'docker.io/library/a:latest', from: rec.id });
      assert.deepEqual(store.refsOf(rec.id), []);
      assert.throws(() => store.delete(other.id), /still referenced/);
      const released = store.delete(rec.id);
      assert.equal(released.length, 3);
      assert.equal(store.find(rec.id), undefined);
      assert.deepEqual(refs.list({ kind: 'image', id: rec.id }), []);
      assert.throws(() => store.get(rec.id), /No such image/);
    } finally {
      db.close();
    }
  });
});

describe('archives', () => {
  const layerTar = Buffer.alloc(2048, 0); // an empty tar: two zero blocks… plus padding
  const diffID = sha(layerTar);
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [diffID, diffID] } }));
  const cfgHex = sha(config).slice(7);

  it('plans a Docker 20.10 archive, following the layer symlink it writes for a repeated layer', async () => {
    const tar = await tarOf([
      { name: 'aaa/layer.tar', data: layerTar },
      { name: 'bbb/layer.tar', linkname: '../aaa/layer.tar' },
      { name: `${cfgHex}.json`, data: config },
      { name: 'manifest.json', data: JSON.stringify([{ Config: `${cfgHex}.json`, RepoTags: ['x:1'], Layers: ['aaa/layer.tar', 'bbb/layer.tar'] }]) },
    ]);
    const st = await StagedArchive.read(Readable.from([tar]), tmpRoot);
    try {
      const [plan] = planLoad(st);
      assert.equal(plan!.id, 'sha256:' + cfgHex);
      assert.deepEqual(plan!.repoTags, ['x:1']);
      assert.deepEqual(plan!.layers.map((l) => st.get(l.member).digest), [diffID, diffID]);
    } finally {
      await st.cleanup();
    }
  });

  it('plans an OCI layout and checks blob digests', async () => {
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length }, layers: [diffID, diffID].map((d) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: d, size: layerTar.length })) }));
    const index = { schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha(manifest), size: manifest.length, annotations: { 'io.containerd.image.name': 'docker.io/library/y:2', 'org.opencontainers.image.ref.name': '2' } }] };
    const entries = [
      { name: 'oci-layout', data: '{"imageLayoutVersion":"1.0.0"}' },
      { name: 'index.json', data: JSON.stringify(index) },
      { name: `blobs/sha256/${sha(manifest).slice(7)}`, data: manifest },
      { name: `blobs/sha256/${cfgHex}`, data: config },
      { name: `blobs/sha256/${diffID.slice(7)}`, data: layerTar },
    ];
    const st = await StagedArchive.read(Readable.from([await tarOf(entries)]), tmpRoot);
    try {
      const [plan] = planLoad(st);
      assert.deepEqual(plan!.repoTags, ['docker.io/library/y:2']);
      assert.equal(plan!.manifest!.digest, sha(manifest));
    } finally {
      await st.cleanup();
    }
    // a blob whose content does not match its name
    entries[4] = { name: `blobs/sha256/${diffID.slice(7)}`, data: Buffer.alloc(1024, 1) };
    const bad = await StagedArchive.read(Readable.from([await tarOf(entries)]), tmpRoot);
    try {
      assert.throws(() => planLoad(bad), /does not match its digest/);
    } finally {
      await bad.cleanup();
    }
  });

  it('refuses traversal, missing members and non-archives, and cleans its scratch folder', async () => {
    const raw = await tarOf([{ name: 'ok', data: 'x' }]);
    const evil = await tarOf([{ name: '../evil', data: 'x' }]);
    await assert.rejects(StagedArchive.read(Readable.from([evil]), tmpRoot), /outside the destination/);
    const st = await StagedArchive.read(Readable.from([raw]), tmpRoot);
    assert.throws(() => planLoad(st), /no manifest\.json or index\.json/);
    await st.cleanup();
    const missing = await tarOf([{ name: 'manifest.json', data: JSON.stringify([{ Config: 'nope.json', Layers: [] }]) }]);
    const st2 = await StagedArchive.read(Readable.from([missing]), tmpRoot);
    assert.throws(() => planLoad(st2), /missing nope\.json/);
    await st2.cleanup();
    await assert.rejects(StagedArchive.read(Readable.from([Buffer.from('not a tar at all, just text'.repeat(40))]), tmpRoot), /invalid (tar )?archive/);
    assert.deepEqual(fs.readdirSync(tmpRoot), []);
  });

  it('writeDockerArchive output reads back with the same image ID and diffIDs', async () => {
    const content = new LocalContentStore(path.join(tmpRoot, 'cs'));
    await content.put(layerTar);
    const one = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', created: '2024-01-01T00:00:00Z', rootfs: { type: 'layers', diff_ids: [diffID] } }));
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (c: Buffer) => chunks.push(c));
    await writeDockerArchive(
      [{ id: sha(one), configBytes: one, config: JSON.parse(one.toString()), layers: [{ digest: diffID, mediaType: 'application/vnd.docker.image.rootfs.diff.tar', size: layerTar.length, diffID, unpackedSize: 0 }], repoTags: ['z:1'] }],
      content,
      out,
      { tmpDir: path.join(tmpRoot, 'save') },
    );
    const st = await StagedArchive.read(Readable.from([Buffer.concat(chunks)]), path.join(tmpRoot, 'stage'));
    try {
      const [plan] = planLoad(st);
      assert.equal(plan!.id, sha(one));
      assert.deepEqual(plan!.repoTags, ['z:1']);
      assert.equal(st.get(plan!.layers[0]!.member).digest, diffID);
      assert.deepEqual(st.json<Record<string, Record<string, string>>>('repositories').z!['1'], plan!.layers[0]!.member.split('/')[0]);
      assert.equal(st.get(`${plan!.layers[0]!.member.split('/')[0]}/VERSION`).data!.toString(), '1.0');
    } finally {
      await st.cleanup();
      fs.rmSync(path.join(tmpRoot, 'cs'), { recursive: true, force: true });
      fs.rmSync(path.join(tmpRoot, 'stage'), { recursive: true, force: true });
      fs.rmSync(path.join(tmpRoot, 'save'), { recursive: true, force: true });
    }
  });
});
