/**
 * Local image operations end to end through the docker CLI: import, tag, images (with
 * filters), inspect, history, save/load (also across Docker 20.10 when `dockerd` is on
 * PATH), rmi (untag, delete, conflicts), prune, system df, and a crash in the middle
 * of a large load. Passes against stevedore and against Docker's own engine
 * (STEVEDORE_TEST_TARGET=docker).
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeBusyboxTar } from '../helpers/busybox';
import { type Target, startTarget, targetKind } from '../helpers/target';

function ok(r: { code: number; stdout: string; stderr: string }, what: string): string {
  assert.equal(r.code, 0, `${what}: ${r.stderr}`);
  return r.stdout;
}

function hasDockerd(): boolean {
  try {
    execFileSync('sh', ['-c', 'command -v dockerd'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

interface Inspect {
  Id: string;
  RepoTags: string[];
  RepoDigests: string[];
  Parent: string;
  Comment: string;
  Created: string;
  Config: { Cmd: string[] | null; Env: string[] | null; WorkingDir: string; Labels: Record<string, string> | null; ExposedPorts?: Record<string, object> };
  ContainerConfig: Record<string, unknown>;
  Architecture: string;
  Os: string;
  Size: number;
  VirtualSize: number;
  GraphDriver: { Name: string; Data: Record<string, string> };
  RootFS: { Type: string; Layers: string[] };
  Metadata: { LastTagTime: string };
}

describe('images', () => {
  let t: Target;
  let work: string;
  let bbTar: string;
  before(async () => {
    t = await startTarget();
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'stv-img-'));
    bbTar = path.join(work, 'busybox.tar');
    makeBusyboxTar(bbTar);
  });
  after(async () => {
    await t.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });

  async function inspect(ref: string): Promise<Inspect> {
    const out = ok(await t.docker(['image', 'inspect', ref]), `inspect ${ref}`);
    return (JSON.parse(out) as Inspect[])[0]!;
  }

  async function importBusybox(ref: string | undefined, changes: string[] = ['CMD ["/bin/sh"]'], message?: string): Promise<string> {
    const args = ['import'];
    for (const c of changes) args.push('-c', c);
    if (message) args.push('-m', message);
    args.push(bbTar);
    if (ref) args.push(ref);
    const out = ok(await t.docker(args), 'import');
    const id = out.trim();
    assert.match(id, /^sha256:[0-9a-f]{64}$/);
    return id;
  }

  it('docker import tags a repository given without a tag as latest', async () => {
    const id = await importBusybox('untagged-import');
    assert.equal((await inspect('untagged-import:latest')).Id, id);
    ok(await t.docker(['rmi', 'untagged-import']), 'rmi');
  });

  it('docker import builds a one-layer image with the changes applied', async () => {
    const id = await importBusybox('busybox:latest', ['CMD ["/bin/sh"]', 'ENV A=1 B="two words"', 'WORKDIR /tmp', 'LABEL stage=test', 'EXPOSE 8080'], 'from a tarball');
    const img = await inspect('busybox');
    assert.equal(img.Id, id);
    assert.deepEqual(img.RepoTags, ['busybox:latest']);
    assert.deepEqual(img.RepoDigests, []);
    assert.equal(img.Parent, '');
    assert.equal(img.Comment, 'from a tarball');
    assert.deepEqual(img.Config.Cmd, ['/bin/sh']);
    assert.deepEqual(img.Config.Env, ['A=1', 'B=two words']);
    assert.equal(img.Config.WorkingDir, '/tmp');
    assert.deepEqual(img.Config.Labels, { stage: 'test' });
    assert.deepEqual(img.Config.ExposedPorts, { '8080/tcp': {} });
    assert.equal(img.Os, 'linux');
    assert.equal(img.RootFS.Type, 'layers');
    assert.equal(img.RootFS.Layers.length, 1);
    assert.ok(img.Size > 1_000_000, `size ${img.Size}`);
    // the CLI 28 speaks 1.50 with stevedore (VirtualSize gone at 1.44, ContainerConfig at 1.45), 1.41 with Docker 20.10
    const old = t.kind === 'docker';
    assert.equal(img.VirtualSize, old ? img.Size : undefined);
    assert.equal(img.GraphDriver.Name, 'overlay2');
    assert.ok(img.GraphDriver.Data.UpperDir, 'UpperDir');
    assert.notEqual(img.Metadata.LastTagTime, '0001-01-01T00:00:00Z');
    assert.equal(typeof img.ContainerConfig, old ? 'object' : 'undefined');
    // same lookups by ID, short ID and sha256: prefix
    assert.equal((await inspect(id.slice(7, 19))).Id, id);
    assert.equal((await inspect(id.slice(0, 19))).Id, id);
    assert.equal((await inspect('docker.io/library/busybox:latest')).Id, id);
  });

  it('answers Docker\'s not-found errors', async () => {
    const r = await t.request('GET', '/v1.41/images/nosuchimage/json');
    assert.equal(r.status, 404);
    assert.equal(JSON.parse(r.body).message, 'no such image: nosuchimage: No such image: nosuchimage:latest');
    const h = await t.request('GET', '/v1.41/images/nosuchimage:2/history');
    assert.equal(h.status, 404);
    assert.equal(JSON.parse(h.body).message, 'No such image: nosuchimage:2');
    const i = await t.docker(['image', 'inspect', 'nosuchimage']);
    assert.notEqual(i.code, 0);
    assert.match(i.stderr, /No such image: nosuchimage/);
    const d = await t.docker(['rmi', 'nosuchimage:1.0']);
    assert.notEqual(d.code, 0);
    assert.match(d.stderr, /No such image: nosuchimage:1\.0/);
  });

  it('docker history lists the config history', async () => {
    const out = ok(await t.docker(['history', '--no-trunc', '--format', '{{json .}}', 'busybox']), 'history');
    const lines = out.trim().split('\n').map((l) => JSON.parse(l) as { ID: string; Comment: string; Size: string });
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!.ID, (await inspect('busybox')).Id);
    assert.equal(lines[0]!.Comment, 'from a tarball');
    const raw = await t.request('GET', '/v1.41/images/busybox/history');
    assert.equal(raw.status, 200);
    const items = JSON.parse(raw.body) as Array<{ Id: string; Tags: string[]; Size: number; Created: number }>;
    assert.deepEqual(items[0]!.Tags, ['busybox:latest']);
    assert.ok(items[0]!.Size > 1_000_000);
  });

  it('docker tag, docker images with filters, docker rmi untag / conflict / delete', async () => {
    const id = (await inspect('busybox')).Id;
    ok(await t.docker(['tag', 'busybox', 'example.com/team/app:v1']), 'tag');
    ok(await t.docker(['tag', 'busybox:latest', 'other:v2']), 'tag 2');
    const tagged = await inspect(id);
    assert.deepEqual(tagged.RepoTags.slice().sort(), ['busybox:latest', 'example.com/team/app:v1', 'other:v2']);

    const list = async (...args: string[]) =>
      ok(await t.docker(['images', '--format', '{{.Repository}}:{{.Tag}}', ...args]), 'images').trim().split('\n').filter(Boolean).sort();
    assert.deepEqual(await list(), ['busybox:latest', 'example.com/team/app:v1', 'other:v2']);
    assert.deepEqual(await list('--filter', 'reference=other'), ['other:v2']);
    assert.deepEqual(await list('--filter', 'reference=*/team/*'), ['example.com/team/app:v1']);
    assert.deepEqual(await list('--filter', 'label=stage=test', '--filter', 'reference=busybox'), ['busybox:latest']);
    assert.deepEqual(await list('--filter', 'label=stage=nope'), []);
    assert.deepEqual(await list('--filter', 'dangling=true'), []);
    const bad = await t.request('GET', '/v1.41/images/json?filters=' + encodeURIComponent('{"nope":["x"]}'));
    assert.equal(bad.status, 400);

    // by ID with several tags: 409 unless forced
    const rmById = await t.docker(['rmi', id.slice(7, 19)]);
    assert.notEqual(rmById.code, 0);
    assert.match(rmById.stderr, new RegExp(`conflict: unable to delete ${id.slice(7, 19)} \\(must be forced\\) - image is referenced in multiple repositories`));
    const api = await t.request('DELETE', `/v1.41/images/${id.slice(7, 19)}`);
    assert.equal(api.status, 409);

    // by tag: only untags
    const rmTag = await t.request('DELETE', '/v1.41/images/other:v2');
    assert.equal(rmTag.status, 200);
    assert.deepEqual(JSON.parse(rmTag.body), [{ Untagged: 'other:v2' }]);
    assert.deepEqual((await inspect(id)).RepoTags.slice().sort(), ['busybox:latest', 'example.com/team/app:v1']);

    // a second image, untagged, is dangling
    const dangling = await importBusybox(undefined, ['CMD ["/bin/true"]']);
    assert.deepEqual(
      ok(await t.docker(['images', '-q', '--no-trunc', '--filter', 'dangling=true']), 'dangling').trim().split('\n'),
      [dangling],
    );
    assert.equal((await inspect(dangling)).Comment, 'Imported from -');
    const badChange = await t.request('POST', '/v1.41/images/create?fromSrc=-&changes=' + encodeURIComponent('FROM x'), { body: 'abc' });
    assert.equal(badChange.status, 400);
    assert.equal(JSON.parse(badChange.body).message, 'from is not a valid change command');
    const listed = JSON.parse((await t.request('GET', '/v1.41/images/json')).body) as Array<{ Id: string; RepoTags: string[] | null; RepoDigests: string[] | null }>;
    assert.deepEqual(listed.find((x) => x.Id === dangling)?.RepoTags, ['<none>:<none>']);
    assert.equal(listed.find((x) => x.Id === id)?.RepoDigests, null);
    const rmDangling = await t.request('DELETE', `/v1.41/images/${dangling}`);
    assert.equal(rmDangling.status, 200);
    assert.deepEqual(JSON.parse(rmDangling.body)[0], { Deleted: dangling });
    const gone = await t.request('GET', `/v1.41/images/${dangling}/json`);
    assert.equal(gone.status, 404);
  });

  it('docker save writes an archive that docker load restores with the same ID', async () => {
    const id = (await inspect('busybox')).Id;
    const archive = path.join(work, 'ours.tar');
    ok(await t.docker(['save', '-o', archive, 'busybox']), 'save');
    const names = execFileSync('tar', ['tf', archive], { encoding: 'utf8' }).split('\n').filter(Boolean);
    assert.ok(names.includes('manifest.json'));
    assert.ok(names.includes('repositories'));
    assert.ok(names.includes(`${id.slice(7)}.json`));
    assert.ok(names.some((n) => /^[0-9a-f]{64}\/layer\.tar$/.test(n)));
    assert.ok(names.some((n) => /^[0-9a-f]{64}\/VERSION$/.test(n)));
    const manifest = JSON.parse(execFileSync('tar', ['xOf', archive, 'manifest.json'], { encoding: 'utf8' })) as Array<{ Config: string; RepoTags: string[]; Layers: string[] }>;
    assert.equal(manifest.length, 1);
    assert.deepEqual(manifest[0]!.RepoTags, ['busybox:latest']);

    ok(await t.docker(['rmi', '-f', id]), 'rmi -f');
    assert.notEqual((await t.docker(['image', 'inspect', id])).code, 0);
    const out = ok(await t.docker(['load', '-i', archive]), 'load');
    assert.match(out, /Loaded image: busybox:latest/);
    const back = await inspect('busybox');
    assert.equal(back.Id, id);
    assert.deepEqual(back.RepoTags, ['busybox:latest']);

    // the API form, quiet
    const r = await t.request('POST', '/v1.41/images/load?quiet=1', { body: fs.readFileSync(archive), headers: { 'Content-Type': 'application/x-tar' } });
    assert.equal(r.status, 200);
    const msgs = r.body.trim().split('\n').map((l) => JSON.parse(l) as { stream?: string; error?: string });
    assert.ok(msgs.every((m) => m.error === undefined), r.body);
    assert.deepEqual(msgs.map((m) => m.stream), ['Loaded image: busybox:latest\n']);
    // quiet is the default of the API
    const r2 = await t.request('POST', '/v1.41/images/load', { body: fs.readFileSync(archive), headers: { 'Content-Type': 'application/x-tar' } });
    assert.deepEqual(r2.body.trim().split('\n').map((l) => (JSON.parse(l) as { stream?: string }).stream), ['Loaded image: busybox:latest\n']);

    // GET /images/get with two names (one by ID) works too
    const both = await t.request('GET', `/v1.41/images/get?names=busybox&names=${id.slice(7, 19)}`);
    assert.equal(both.status, 200);
    const missing = await t.request('GET', '/v1.41/images/get?names=nosuch:tag');
    assert.equal(missing.status, 404);
  });

  it('docker load refuses a malformed archive', async () => {
    const junk = path.join(work, 'junk.tar');
    const dir = fs.mkdtempSync(path.join(work, 'junk-'));
    fs.writeFileSync(path.join(dir, 'hello.txt'), 'hi');
    execFileSync('tar', ['-C', dir, '-cf', junk, 'hello.txt']);
    const r = await t.docker(['load', '-i', junk]);
    assert.notEqual(r.code, 0);
    // a manifest.json that points at a layer with the wrong diffID
    const bad = fs.mkdtempSync(path.join(work, 'bad-'));
    const cfg = JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: ['sha256:' + '0'.repeat(64)] } });
    const cfgHex = require('node:crypto').createHash('sha256').update(cfg).digest('hex') as string;
    fs.writeFileSync(path.join(bad, `${cfgHex}.json`), cfg);
    fs.mkdirSync(path.join(bad, 'l1'));
    fs.copyFileSync(bbTar, path.join(bad, 'l1', 'layer.tar'));
    fs.writeFileSync(path.join(bad, 'manifest.json'), JSON.stringify([{ Config: `${cfgHex}.json`, RepoTags: ['bad:1'], Layers: ['l1/layer.tar'] }]));
    const badTar = path.join(work, 'bad.tar');
    execFileSync('tar', ['-C', bad, '-cf', badTar, '.']);
    const r2 = await t.docker(['load', '-i', badTar]);
    assert.notEqual(r2.code, 0);
    assert.notEqual((await t.docker(['image', 'inspect', 'bad:1'])).code, 0);
  });

  it('docker image prune removes dangling images, -a unused ones', async () => {
    const d1 = await importBusybox(undefined, ['CMD ["/bin/echo","dangling"]']);
    const pr = await t.request('POST', '/v1.41/images/prune');
    assert.equal(pr.status, 200);
    const rep = JSON.parse(pr.body) as { ImagesDeleted: Array<Record<string, string>> | null; SpaceReclaimed: number };
    assert.ok(rep.ImagesDeleted?.some((x) => x.Deleted === d1), pr.body);
    assert.equal(typeof rep.SpaceReclaimed, 'number');
    assert.ok((await inspect('busybox')).Id, 'tagged image kept');
    ok(await t.docker(['tag', 'busybox', 'keep:me']), 'tag');
    const out = ok(await t.docker(['image', 'prune', '-a', '-f', '--filter', 'label=stage=nope']), 'prune -a with label');
    assert.match(out, /Total reclaimed space: 0B/);
    assert.equal((await t.docker(['image', 'inspect', 'keep:me'])).code, 0);
    const bad = await t.request('POST', '/v1.41/images/prune?filters=' + encodeURIComponent('{"nope":["1"]}'));
    assert.equal(bad.status, 400);
  });

  it('docker system df shows the images', async () => {
    const out = ok(await t.docker(['system', 'df', '--format', '{{json .}}']), 'df');
    const rows = out.trim().split('\n').map((l) => JSON.parse(l) as { Type: string; TotalCount: string; Size: string });
    const images = rows.find((r) => r.Type === 'Images')!;
    assert.equal(images.TotalCount, '1');
    const raw = await t.request('GET', '/v1.41/system/df');
    assert.equal(raw.status, 200);
    const df = JSON.parse(raw.body) as { LayersSize: number; Images: Array<{ Id: string; Size: number; SharedSize: number; Containers: number; RepoTags: string[] }> };
    assert.equal(df.Images.length, 1);
    assert.ok(df.LayersSize > 1_000_000);
    assert.equal(df.Images[0]!.Containers, 0);
    assert.equal(df.Images[0]!.SharedSize, 0);
  });

  it('archives cross between Docker 20.10 and stevedore with the same image IDs', { skip: targetKind() !== 'stevedore' || !hasDockerd() ? 'needs stevedore as target and dockerd on PATH' : false }, async () => {
    const ref = await startTarget({ kind: 'docker' });
    try {
      // Docker → us
      const theirId = ok(await ref.docker(['import', '-c', 'CMD ["/bin/sh"]', '-c', 'ENV X=1', bbTar, 'fromdocker:1']), 'docker import').trim();
      ok(await ref.docker(['tag', 'fromdocker:1', 'fromdocker:2']), 'docker tag');
      const theirs = path.join(work, 'theirs.tar');
      ok(await ref.docker(['save', '-o', theirs, 'fromdocker']), 'docker save');
      const out = ok(await t.docker(['load', '-i', theirs]), 'load docker archive');
      assert.match(out, /Loaded image: fromdocker:1/);
      assert.match(out, /Loaded image: fromdocker:2/);
      const loaded = await inspect('fromdocker:2');
      assert.equal(loaded.Id, theirId);
      assert.deepEqual(loaded.Config.Env, ['X=1']);
      // us → Docker
      const ourId = (await inspect('busybox')).Id;
      const ours = path.join(work, 'ours-to-docker.tar');
      ok(await t.docker(['save', '-o', ours, 'busybox']), 'save');
      ok(await ref.docker(['load', '-i', ours]), 'docker load ours');
      const inDocker = JSON.parse(ok(await ref.docker(['image', 'inspect', 'busybox:latest']), 'docker inspect')) as Inspect[];
      assert.equal(inDocker[0]!.Id, ourId);
      // and a multi-layer image saved by Docker keeps its layers
      assert.deepEqual(loaded.RootFS.Layers, (JSON.parse(ok(await ref.docker(['image', 'inspect', 'fromdocker:1']), 'i')) as Inspect[])[0]!.RootFS.Layers);
    } finally {
      await ref.stop();
    }
  });
});

describe('a crash in the middle of docker load', () => {
  it('leaves the image complete or absent, and no orphan blob or snapshot', { skip: targetKind() !== 'stevedore' ? 'inspects the data root' : false }, async (tc) => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'stv-crash-'));
    // An explicit dir: stop() keeps it, so each restart really sees the crashed state.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stv-'));
    let t: Target | undefined = await startTarget({ dir });
    try {
      // an archive with one large layer of random data (incompressible, slow to stage)
      const rootfs = path.join(work, 'rootfs');
      fs.mkdirSync(rootfs);
      const big = fs.openSync(path.join(rootfs, 'big.bin'), 'w');
      for (let i = 0; i < 160; i++) fs.writeSync(big, randomBytes(1024 * 1024));
      fs.closeSync(big);
      const layer = path.join(work, 'layer.tar');
      execFileSync('tar', ['--numeric-owner', '-C', rootfs, '-cf', layer, '.']);
      const diffID = 'sha256:' + execFileSync('sha256sum', [layer], { encoding: 'utf8' }).split(' ')[0];
      const cfg = JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, created: '2024-01-01T00:00:00Z', rootfs: { type: 'layers', diff_ids: [diffID] } });
      const cfgHex = require('node:crypto').createHash('sha256').update(cfg).digest('hex') as string;
      const arch = path.join(work, 'arch');
      fs.mkdirSync(path.join(arch, 'l1'), { recursive: true });
      fs.renameSync(layer, path.join(arch, 'l1', 'layer.tar'));
      fs.writeFileSync(path.join(arch, `${cfgHex}.json`), cfg);
      fs.writeFileSync(path.join(arch, 'manifest.json'), JSON.stringify([{ Config: `${cfgHex}.json`, RepoTags: ['big:1'], Layers: ['l1/layer.tar'] }]));
      const archive = path.join(work, 'big.tar');
      execFileSync('tar', ['-C', arch, '-cf', archive, '.']);
      fs.rmSync(arch, { recursive: true });
      fs.rmSync(rootfs, { recursive: true });

      const diag: string[] = [];
      for (const phase of ['staging', 'unpacking']) {
        const load = t.docker(['load', '-i', archive]);
        const dataRoot = t.dataRoot;
        const reached = () => {
          if (phase === 'staging') {
            const d = path.join(dataRoot, 'tmp', 'images', 'load');
            return fs.existsSync(d) && fs.readdirSync(d).length > 0;
          }
          const s = path.join(dataRoot, 'snapshots');
          return fs.existsSync(s) && fs.readdirSync(s).some((n) => /^\d+$/.test(n));
        };
        while (!reached()) {
          const done = await Promise.race([load.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 10))]);
          if (done) break;
        }
        process.kill(t.pid, 'SIGKILL');
        const res = await load;
        diag.push(`${phase}: load exited ${res.code}`);
        await t.stop();
        t = await startTarget({ dir });
        const r = await t.docker(['image', 'inspect', 'big:1']);
        const present = r.code === 0;
        const ls = (d: string) => (fs.existsSync(d) ? fs.readdirSync(d) : []);
        const blobs = ls(path.join(t.dataRoot, 'content', 'blobs', 'sha256'));
        const snaps = ls(path.join(t.dataRoot, 'snapshots')).filter((n) => /^\d+$/.test(n));
        if (present) {
          assert.equal((JSON.parse(r.stdout) as Inspect[])[0]!.Id, 'sha256:' + cfgHex);
          assert.deepEqual(blobs.sort(), [cfgHex, diffID.slice(7)].sort());
          assert.equal(snaps.length, 1);
          diag.push(`${phase}: image complete`);
          ok(await t.docker(['rmi', 'big:1']), 'rmi');
        } else {
          diag.push(`${phase}: image absent`);
          assert.deepEqual(blobs, [], `orphan blobs after ${phase}`);
          assert.deepEqual(snaps, [], `orphan snapshots after ${phase}`);
        }
        const tmp = path.join(t.dataRoot, 'tmp', 'images');
        assert.ok(!fs.existsSync(tmp) || fs.readdirSync(tmp).length === 0, 'scratch files left');
      }
      // and a load after the crashes works
      const out = ok(await t.docker(['load', '-i', archive]), 'load after crash');
      assert.match(out, /Loaded image: big:1/);
      tc.diagnostic(diag.join('; '));
    } finally {
      await t?.stop();
      const { unmountBelow } = await import('../helpers/target');
      unmountBelow(dir);
      fs.rmSync(dir, { recursive: true, force: true });
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
});
