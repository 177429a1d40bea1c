/**
 * The Ryuk reaper image for testcontainers, made locally: native/reaper's static binary
 * (a Ryuk-compatible reaper of our own, see docs/reaper.md) built into a FROM-scratch
 * image through the target's own `POST /build`, labelled `org.testcontainers.ryuk=true`
 * as the real image is (reapers never reap each other). testcontainers-node runs it when
 * RYUK_CONTAINER_IMAGE names it (read once, when the library is first loaded).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Target } from './target';

export const RYUK_IMAGE = 'stevedore-test/ryuk:local';

const ROOT = path.resolve(__dirname, '..', '..', '..');

/** The reaper binary, built (make) when missing or older than its source. */
export function reaperBinary(): string {
  execFileSync('make', ['-s', '-C', path.join(ROOT, 'native', 'reaper')], { stdio: 'inherit' });
  return path.join(ROOT, 'native', 'reaper', 'stevedore-reaper');
}

/** Builds RYUK_IMAGE in the target (classic builder, a context of the Dockerfile and the binary). */
export async function buildRyukImage(t: Pick<Target, 'dir' | 'request'>): Promise<string> {
  const ctx = fs.mkdtempSync(path.join(t.dir, 'ryuk-ctx-'));
  try {
    fs.copyFileSync(reaperBinary(), path.join(ctx, 'ryuk'));
    fs.chmodSync(path.join(ctx, 'ryuk'), 0o755);
    fs.writeFileSync(path.join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY ryuk /bin/ryuk\nLABEL org.testcontainers.ryuk=true\nCMD ["/bin/ryuk"]\n');
    const tar = execFileSync('tar', ['--numeric-owner', '-C', ctx, '-cf', '-', 'Dockerfile', 'ryuk'], { maxBuffer: 64 << 20 });
    const r = await t.request('POST', `/build?t=${encodeURIComponent(RYUK_IMAGE)}&rm=1&forcerm=1`, { body: tar, headers: { 'Content-Type': 'application/x-tar' } });
    if (r.status !== 200 || /"error(Detail)?"\s*:/.test(r.body)) throw new Error(`building ${RYUK_IMAGE}: ${r.status} ${r.body}`);
    const inspect = await t.request('GET', `/images/${RYUK_IMAGE}/json`);
    if (inspect.status !== 200) throw new Error(`${RYUK_IMAGE} missing after the build: ${inspect.body}`);
    return RYUK_IMAGE;
  } finally {
    fs.rmSync(ctx, { recursive: true, force: true });
  }
}
