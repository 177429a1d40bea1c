/**
 * Pull and push times, stevedore vs Docker 20.10, both started through the e2e
 * harness, against Debian's docker-registry on 127.0.0.1:
 *  - "small": 4 layers of 8 MiB of random data (32 MiB, incompressible);
 *  - "usr": 3 layers made from /usr/sbin, /usr/include, /usr/libexec (≈ 280 MiB
 *    uncompressed; debootstrap is not used: it needs a Debian mirror at run time).
 * Pull: `docker pull` after `docker rmi` (empty store each run, as the image's layers
 * are its only ones). Push: the pulled image tagged into a fresh registry each run
 * (nothing to mount or skip). Medians of RUNS (default 3).
 *
 * Run: npm run build:test && node dist-test/bench/pull-push.js   (as root; needs dockerd on PATH)
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';
import { LocalContentStore } from '../src/engine/content';
import { MediaType, RegistryClient } from '../src/engine/distribution';
import { startRegistry, type TestRegistry } from '../test/helpers/registry';
import { startTarget, type Target, type TargetKind } from '../test/helpers/target';

const RUNS = Number(process.env.RUNS ?? 3);

async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of fs.createReadStream(file)) h.update(c as Buffer);
  return 'sha256:' + h.digest('hex');
}

/** Builds an image from layer tars and pushes it to `ref` with the engine client. */
async function seed(work: string, ref: string, tars: string[]): Promise<void> {
  const store = new LocalContentStore(path.join(work, 'seed-store'));
  const layers = [];
  const diffIDs = [];
  for (const tar of tars) {
    const gz = tar + '.gz';
    await pipeline(fs.createReadStream(tar), zlib.createGzip({ level: 1 }), fs.createWriteStream(gz));
    diffIDs.push(await sha256File(tar));
    const digest = await sha256File(gz);
    const size = fs.statSync(gz).size;
    await store.ingest(`seed-${digest}`, fs.createReadStream(gz), { digest, size });
    layers.push({ mediaType: MediaType.DockerLayerGzip, digest, size });
    fs.rmSync(gz);
  }
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['/bin/sh'] }, rootfs: { type: 'layers', diff_ids: diffIDs }, history: diffIDs.map(() => ({ created_by: 'bench' })) }));
  const c = await store.put(config);
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.DockerManifest, config: { mediaType: MediaType.DockerConfig, digest: c.digest, size: c.size }, layers }));
  const m = await store.put(manifest);
  const client = new RegistryClient();
  try {
    await client.pushImage(ref, { target: { mediaType: MediaType.DockerManifest, digest: m.digest, size: m.size }, provider: store });
  } finally {
    client.close();
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

async function must(t: Target, args: string[]): Promise<void> {
  const r = await t.docker(args, { timeoutMs: 600_000 });
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')}: ${r.stderr}`);
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

async function measure(kind: TargetKind, reg: TestRegistry, image: string): Promise<{ pull: number; push: number }> {
  const t = await startTarget({ kind });
  const pulls: number[] = [];
  const pushes: number[] = [];
  try {
    for (let i = 0; i < RUNS; i++) {
      pulls.push(await timed(() => must(t, ['pull', '-q', `${reg.host}/${image}`])));
      const dst = await startRegistry();
      try {
        await must(t, ['tag', `${reg.host}/${image}`, `${dst.host}/${image}`]);
        pushes.push(await timed(() => must(t, ['push', '-q', `${dst.host}/${image}`])));
        await must(t, ['rmi', `${dst.host}/${image}`]);
      } finally {
        await dst.stop();
      }
      await must(t, ['rmi', `${reg.host}/${image}`]);
    }
  } finally {
    await t.stop();
  }
  return { pull: median(pulls), push: median(pushes) };
}

async function main(): Promise<void> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'stv-bench-pp-'));
  const reg = await startRegistry();
  try {
    const small: string[] = [];
    for (let i = 0; i < 4; i++) {
      const dir = path.join(work, `small${i}`);
      fs.mkdirSync(dir);
      fs.writeFileSync(path.join(dir, `data${i}.bin`), randomBytes(8 * 1024 * 1024));
      const tar = path.join(work, `small${i}.tar`);
      execFileSync('tar', ['--numeric-owner', '-C', dir, '-cf', tar, '.']);
      small.push(tar);
    }
    await seed(work, `${reg.host}/small:1`, small);
    const usr: string[] = [];
    for (const d of ['usr/sbin', 'usr/include', 'usr/libexec']) {
      const tar = path.join(work, d.replace('/', '_') + '.tar');
      execFileSync('tar', ['--numeric-owner', '-C', '/', '-cf', tar, d]);
      usr.push(tar);
    }
    const usrBytes = usr.reduce((a, f) => a + fs.statSync(f).size, 0);
    await seed(work, `${reg.host}/usr:1`, usr);
    for (const f of [...small, ...usr]) fs.rmSync(f);

    const rows: string[] = [];
    for (const [image, label] of [['small:1', '4 × 8 MiB random (32 MiB)'], ['usr:1', `3 layers from /usr (${(usrBytes / 1048576).toFixed(0)} MiB)`]] as const) {
      const s = await measure('stevedore', reg, image);
      const d = await measure('docker', reg, image);
      rows.push(`| pull ${label} | ${s.pull.toFixed(2)} s | ${d.pull.toFixed(2)} s | ${(s.pull / d.pull).toFixed(2)} |`);
      rows.push(`| push ${label} | ${s.push.toFixed(2)} s | ${d.push.toFixed(2)} s | ${(s.push / d.push).toFixed(2)} |`);
    }
    console.log(`| operation | stevedore | Docker 20.10 | ratio |\n| --- | --- | --- | --- |\n${rows.join('\n')}`);
    console.log(`(medians of ${RUNS} runs; ${os.cpus().length} CPUs, ${os.cpus()[0]?.model ?? ''})`);
  } finally {
    await reg.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
