/**
 * `docker pull` progress and the overlap of unpacking with downloading, end to end
 * against Debian's docker-registry behind a gating proxy: the proxy holds the top
 * layer's blob after its first bytes until the test has seen what it waits for in the
 * JSON progress stream, so the order of events is forced without timing assumptions.
 * Also an aborted pull (client disconnect) and a daemon killed mid-pull. Passes
 * against stevedore and Docker 20.10 (STEVEDORE_TEST_TARGET=docker) except where a
 * test says it is stevedore-only.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { LocalContentStore } from '../../src/engine/content';
import { MediaType, RegistryClient } from '../../src/engine/distribution';
import { startRegistry, type TestRegistry } from '../helpers/registry';
import { type Target, startTarget, targetKind, unmountBelow, waitForExit } from '../helpers/target';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const tarStream = require('tar-stream') as typeof import('tar-stream');

const sha = (b: Buffer | string) => 'sha256:' + createHash('sha256').update(b).digest('hex');
const short = (digest: string) => digest.slice(7, 19);
const LAYER_BYTES = 4 * 1024 * 1024;
/** if the awaited progress never shows up (no overlap), the gate opens anyway so the test fails instead of hanging */
const GATE_FALLBACK_MS = 30_000;

interface Blob {
  digest: string;
  size: number;
  mediaType: string;
  bytes: Buffer;
}

interface Msg {
  status?: string;
  id?: string;
  progressDetail?: { current?: number; total?: number };
  progress?: string;
  errorDetail?: { message: string };
  error?: string;
}

async function tarOf(name: string, data: Buffer): Promise<Buffer> {
  const pack = tarStream.pack();
  pack.entry({ name, mode: 0o644, mtime: new Date(0) }, data);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack as unknown as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

/** A gzip layer holding one file of `LAYER_BYTES` random (incompressible) bytes. */
async function randomLayer(name: string): Promise<{ blob: Blob; diffID: string }> {
  const tar = await tarOf(name, randomBytes(LAYER_BYTES));
  const bytes = zlib.gzipSync(tar, { level: 1 });
  return { blob: { digest: sha(bytes), size: bytes.length, mediaType: MediaType.DockerLayerGzip, bytes }, diffID: sha(tar) };
}

/** Pushes a schema2 image of `layers` to `ref` with the engine's client; returns the layer blobs. */
async function pushImage(dir: string, ref: string, layers: Array<{ blob: Blob; diffID: string }>): Promise<{ config: string; layers: Blob[] }> {
  const store = new LocalContentStore(dir);
  const cfg = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['/bin/sh'] }, rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffID) }, history: layers.map(() => ({ created_by: 'test' })) }));
  const config = { digest: sha(cfg), size: cfg.length, mediaType: MediaType.DockerConfig };
  const man = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.DockerManifest, config, layers: layers.map(({ blob }) => ({ mediaType: blob.mediaType, digest: blob.digest, size: blob.size })) }));
  await store.put(cfg, config.digest);
  for (const { blob } of layers) await store.put(blob.bytes, blob.digest);
  await store.put(man, sha(man));
  const client = new RegistryClient();
  try {
    await client.pushImage(ref, { target: { mediaType: MediaType.DockerManifest, digest: sha(man), size: man.length }, provider: store });
  } finally {
    client.close();
  }
  return { config: config.digest, layers: layers.map((l) => l.blob) };
}

/** A gate on one blob: its response passes its first bytes, then waits for `open()`. */
interface Gate {
  open(): void;
  /** resolves when the held blob's response has stopped at the gate */
  held: Promise<void>;
}

/** A plain-HTTP proxy in front of the registry that can hold a blob's body mid-way. */
async function gatingProxy(target: string): Promise<{ host: string; gate(digest: string): Gate; close(): Promise<void> }> {
  const [th, tp] = target.split(':');
  const gates = new Map<string, { wait: Promise<void>; open: () => void; reached: () => void }>();
  const srv = http.createServer((req, res) => {
    const up = http.request({ host: th, port: Number(tp), method: req.method, path: req.url, headers: req.headers, agent: false }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      const m = /\/blobs\/(sha256:[0-9a-f]{64})$/.exec(req.url ?? '');
      const gate = m && req.method === 'GET' ? gates.get(m[1]!) : undefined;
      if (!gate) return void ur.pipe(res);
      gates.delete(m![1]!);
      let sent = 0;
      let waiting = false;
      ur.on('data', (chunk: Buffer) => {
        res.write(chunk);
        sent += chunk.length;
        if (sent >= 256 * 1024 && !waiting) {
          waiting = true;
          ur.pause();
          gate.reached();
          void gate.wait.then(() => ur.resume());
        }
      });
      ur.on('end', () => res.end());
    });
    const stop = () => {
      up.destroy();
      res.destroy();
    };
    up.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.destroy();
    });
    res.on('close', stop);
    req.on('error', stop);
    req.pipe(up);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  return {
    host: `127.0.0.1:${(srv.address() as net.AddressInfo).port}`,
    gate(digest) {
      let open!: () => void;
      let reached!: () => void;
      const wait = new Promise<void>((r) => (open = r));
      const held = new Promise<void>((r) => (reached = r));
      gates.set(digest, { wait, open, reached });
      return { open, held };
    },
    close: () =>
      new Promise((r) => {
        for (const g of gates.values()) g.open();
        srv.closeAllConnections();
        srv.close(() => r());
      }),
  };
}

/**
 * `POST /images/create?fromImage=` read line by line; `onLine` sees each message as it
 * arrives and may end the request (a client disconnect) with `abort()`.
 */
function streamPull(t: Target, image: string, tag: string, onLine: (m: Msg, abort: () => void) => void): Promise<{ status: number; lines: Msg[]; aborted: boolean }> {
  return new Promise((resolve, reject) => {
    const lines: Msg[] = [];
    let aborted = false;
    let status = 0;
    const req = http.request({ socketPath: t.socket, method: 'POST', path: `/images/create?fromImage=${encodeURIComponent(image)}&tag=${tag}` }, (res) => {
      status = res.statusCode ?? 0;
      let buf = '';
      const abort = () => {
        aborted = true;
        req.destroy();
      };
      res.setEncoding('utf8');
      res.on('data', (s: string) => {
        buf += s;
        for (let nl = buf.indexOf('\n'); nl >= 0 && !aborted; nl = buf.indexOf('\n')) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (!line) continue;
          const m = JSON.parse(line) as Msg;
          lines.push(m);
          onLine(m, abort);
        }
      });
      // the end, a disconnect of ours, or the daemon gone: what arrived is the answer
      res.on('close', () => resolve({ status, lines, aborted }));
      res.on('error', () => undefined);
    });
    req.on('error', (err) => (status ? resolve({ status, lines, aborted }) : reject(err)));
    req.end();
  });
}

/** Opens `gate` once the stream shows two `Extracting` lines of one layer with a growing count. */
function openOnExtractionProgress(gate: Gate): (m: Msg) => void {
  const seen = new Map<string, number>();
  const timer = setTimeout(() => gate.open(), GATE_FALLBACK_MS);
  return (m) => {
    if (m.status !== 'Extracting' || !m.id) return;
    const cur = m.progressDetail?.current ?? -1;
    const prev = seen.get(m.id);
    if (prev !== undefined && cur > prev) {
      clearTimeout(timer);
      gate.open();
    }
    if (prev === undefined || cur > prev) seen.set(m.id, cur);
  };
}

const indexOf = (lines: Msg[], id: string, status: string) => lines.findIndex((m) => m.id === id && m.status === status);

/** Image IDs and (non-empty) layer directories of the target's data root. */
function storageLeft(t: Target): { snapshots: string[] } {
  const ls = (d: string) => (fs.existsSync(d) ? fs.readdirSync(d) : []);
  if (t.kind === 'stevedore') return { snapshots: ls(path.join(t.dataRoot, 'snapshots')).filter((n) => /^\d+$/.test(n)) };
  // overlay2/l holds the short links of the layer directories
  return { snapshots: ls(path.join(t.dataRoot, 'overlay2')).filter((n) => n !== 'l') };
}

describe('docker pull progress', { timeout: 300_000 }, () => {
  let reg: TestRegistry;
  let proxy: Awaited<ReturnType<typeof gatingProxy>>;
  let work: string;
  let t: Target | undefined;
  let dir: string;
  let base: Array<{ blob: Blob; diffID: string }>;
  let img1: { config: string; layers: Blob[] };

  before(async () => {
    reg = await startRegistry();
    proxy = await gatingProxy(reg.host);
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'stv-pp-'));
    base = [];
    for (let i = 0; i < 4; i++) base.push(await randomLayer(`layer${i}.bin`));
    img1 = await pushImage(path.join(work, 's1'), `${reg.host}/pp:1`, base);
    // an explicit dir: restarts (after a crash) must see the same data root
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stv-'));
    t = await startTarget({ dir });
  });
  after(async () => {
    await t?.stop();
    await proxy?.close();
    await reg?.stop();
    if (dir) {
      unmountBelow(dir);
      fs.rmSync(dir, { recursive: true, force: true });
    }
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('extracts lower layers while the top layer still downloads, then reports Pull complete per layer', async (tc) => {
    const top = img1.layers[3]!;
    const gate = proxy.gate(top.digest);
    const watch = openOnExtractionProgress(gate);
    const res = await streamPull(t!, `${proxy.host}/pp`, '1', (m) => watch(m));
    const { lines } = res;
    const dump = () => lines.map((m) => JSON.stringify(m)).join('\n');
    assert.equal(res.status, 200);
    assert.ok(!lines.some((m) => m.errorDetail), dump());
    const ids = img1.layers.map((l) => short(l.digest));
    const topDone = indexOf(lines, ids[3]!, 'Download complete');
    assert.ok(topDone > 0, dump());
    // overlap: a lower layer's extraction advanced before the top layer finished downloading
    const early = ids.slice(0, 3).filter((id) => {
      const cur = lines.slice(0, topDone).filter((m) => m.id === id && m.status === 'Extracting').map((m) => m.progressDetail?.current ?? -1);
      return cur.length >= 2 && cur.every((c, i) => i === 0 || c > cur[i - 1]!);
    });
    assert.ok(early.length > 0, `no layer extracting before the top layer's Download complete:\n${dump()}`);
    for (let i = 0; i < 4; i++) {
      const id = ids[i]!;
      const size = img1.layers[i]!.size;
      const downloaded = indexOf(lines, id, 'Download complete');
      const complete = indexOf(lines, id, 'Pull complete');
      assert.ok(downloaded >= 0 && complete > downloaded, `layer ${i}: ${dump()}`);
      const extracting = lines.map((m, k) => ({ m, k })).filter(({ m }) => m.id === id && m.status === 'Extracting');
      assert.ok(extracting.length > 0, `layer ${i} has no Extracting line`);
      let last = -1;
      for (const { m, k } of extracting) {
        assert.ok(k > downloaded && k < complete, `layer ${i}: Extracting outside download complete .. pull complete`);
        assert.equal(m.progressDetail?.total, size);
        assert.ok(m.progressDetail!.current! > last && m.progressDetail!.current! <= size, `layer ${i}: ${JSON.stringify(m)}`);
        assert.match(m.progress ?? '', /^\[=*>\s*\] +[\d.]+[kMG]?B\/[\d.]+[kMG]?B$/);
        last = m.progressDetail!.current!;
      }
      // bottom-up: a layer is extracted only once the one below is complete
      if (i > 0) assert.ok(extracting[0]!.k > indexOf(lines, ids[i - 1]!, 'Pull complete'), `layer ${i} extracted before layer ${i - 1} was complete`);
    }
    assert.equal(lines.at(-1)?.status, `Status: Downloaded newer image for ${proxy.host}/pp:1`);
    tc.diagnostic(lines.filter((m) => m.id && m.status !== 'Downloading').map((m) => `${m.id!.slice(0, 4)} ${m.status}${m.status === 'Extracting' ? ' ' + m.progressDetail?.current : ''}`).join(', '));
    const r = await t!.request('GET', `/images/${encodeURIComponent(`${proxy.host}/pp:1`)}/json`);
    assert.equal((JSON.parse(r.body) as { Id: string }).Id, img1.config);
  });

  it('shows Already exists for layers it has, and extracts only the new one', async () => {
    const extra = await randomLayer('extra.bin');
    const img2 = await pushImage(path.join(work, 's2'), `${reg.host}/pp:2`, [base[0]!, base[1]!, extra]);
    const r = await t!.request('POST', `/images/create?fromImage=${encodeURIComponent(`${proxy.host}/pp`)}&tag=2`);
    assert.equal(r.status, 200);
    const lines = r.body.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Msg);
    const ids = img2.layers.map((l) => short(l.digest));
    for (const id of ids.slice(0, 2)) {
      assert.ok(indexOf(lines, id, 'Already exists') >= 0, r.body);
      assert.equal(lines.filter((m) => m.id === id && m.status !== 'Already exists').length, 0, r.body);
    }
    assert.ok(indexOf(lines, ids[2]!, 'Extracting') > indexOf(lines, ids[2]!, 'Download complete'), r.body);
    assert.ok(indexOf(lines, ids[2]!, 'Pull complete') > indexOf(lines, ids[2]!, 'Extracting'), r.body);
  });

  it('an aborted pull (client gone) registers nothing and leaves no layer after a restart', async () => {
    const fresh = [];
    for (let i = 0; i < 4; i++) fresh.push(await randomLayer(`abort${i}.bin`));
    const img = await pushImage(path.join(work, 's3'), `${reg.host}/pp:abort`, fresh);
    for (const tag of ['1', '2']) assert.equal((await t!.request('DELETE', `/images/${encodeURIComponent(`${proxy.host}/pp:${tag}`)}`)).status, 200);
    const gate = proxy.gate(img.layers[3]!.digest);
    const bottom = short(img.layers[0]!.digest);
    // disconnect once the bottom layer is unpacked (the top one is held at the gate)
    const res = await streamPull(t!, `${proxy.host}/pp`, 'abort', (m, abort) => {
      if (m.id === bottom && m.status === 'Pull complete') abort();
    });
    assert.ok(res.aborted, res.lines.map((m) => JSON.stringify(m)).join('\n'));
    gate.open();
    const list = JSON.parse((await t!.request('GET', '/images/json?all=1')).body) as unknown[];
    assert.deepEqual(list, []);
    // a restart collects what the aborted pull left (stevedore: leases dropped, then GC)
    await t!.stop();
    t = await startTarget({ dir });
    assert.deepEqual(JSON.parse((await t.request('GET', '/images/json?all=1')).body), []);
    assert.deepEqual(storageLeft(t).snapshots, [], 'layers left after an aborted pull');
    const again = await t.request('POST', `/images/create?fromImage=${encodeURIComponent(`${proxy.host}/pp`)}&tag=abort`);
    assert.match(again.body, /Status: Downloaded newer image/);
    for (const l of img.layers) assert.match(again.body, new RegExp(`"status":"Pull complete","progressDetail":\\{\\},"id":"${short(l.digest)}"`));
    assert.equal((await t.request('DELETE', `/images/${encodeURIComponent(`${proxy.host}/pp:abort`)}`)).status, 200);
  });

  // stevedore-only: kills the daemon and inspects its data root for what its leases
  // kept (Docker 20.10 keeps nothing of an interrupted pull, and may leave layers of it).
  it('a daemon killed mid-pull keeps the downloads for the retry but no snapshot', { skip: targetKind() !== 'stevedore' ? 'kills the daemon and inspects its data root' : false }, async () => {
    const fresh = [];
    for (let i = 0; i < 4; i++) fresh.push(await randomLayer(`crash${i}.bin`));
    const img = await pushImage(path.join(work, 's4'), `${reg.host}/pp:crash`, fresh);
    const gate = proxy.gate(img.layers[3]!.digest);
    const bottom = short(img.layers[0]!.digest);
    const pid = t!.pid;
    // Kill once the three ungated layers are downloaded and the bottom one unpacked
    // (the top layer is held by the gate, so the pull cannot have finished).
    const downloaded = new Set<string>();
    const lower = new Set(img.layers.slice(0, 3).map((l) => short(l.digest)));
    let bottomDone = false;
    let killed = false;
    const res = await streamPull(t!, `${proxy.host}/pp`, 'crash', (m) => {
      if (m.id && lower.has(m.id) && m.status === 'Download complete') downloaded.add(m.id);
      if (m.id === bottom && m.status === 'Pull complete') bottomDone = true;
      if (!killed && bottomDone && downloaded.size === lower.size) {
        killed = true;
        process.kill(pid, 'SIGKILL');
      }
    });
    gate.open();
    assert.ok(!res.lines.some((m) => m.status?.startsWith('Status:')), 'the pull completed before the kill');
    await waitForExit(pid);
    t = await startTarget({ dir });
    assert.deepEqual(JSON.parse((await t.request('GET', '/images/json?all=1')).body), []);
    assert.deepEqual(storageLeft(t).snapshots, [], 'snapshots left after the crash');
    const blobs = fs.readdirSync(path.join(t.dataRoot, 'content', 'blobs', 'sha256'));
    for (const l of img.layers.slice(0, 3)) assert.ok(blobs.includes(l.digest.slice(7)), `downloaded layer ${l.digest} kept by the pull's lease`);
    const again = await t.request('POST', `/images/create?fromImage=${encodeURIComponent(`${proxy.host}/pp`)}&tag=crash`);
    assert.match(again.body, /Status: Downloaded newer image/);
    for (const l of img.layers.slice(0, 3)) assert.match(again.body, new RegExp(`"status":"Already exists","progressDetail":\\{\\},"id":"${short(l.digest)}"`));
    const info = JSON.parse((await t.request('GET', `/images/${encodeURIComponent(`${proxy.host}/pp:crash`)}/json`)).body) as { Id: string; RootFS: { Layers: string[] } };
    assert.equal(info.Id, img.config);
    assert.equal(storageLeft(t).snapshots.length, 4);
  });
});
