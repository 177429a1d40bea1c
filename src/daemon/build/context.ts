/**
 * The build context (moby builder/remotecontext): the request body as a tar (plain,
 * gzip, bzip2, xz, zstd), or a remote context (`remote=`: a git repository when git is
 * installed, or the URL of a tarball or of a plain Dockerfile), unpacked into a private
 * directory under the data root with the archive layer's safe extractor (no entry
 * lands outside it, links checked). The Dockerfile is read from inside it, with
 * symlinks resolved inside the context.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extractTar } from '../../engine/archive';
import { peek } from '../../engine/archive/compression';
import { internal, invalidArgument } from '../../engine/errdefs';
import { daemonExcludes, readDockerignore } from './dockerfile/dockerignore';
import { resolveInScope } from './fsutil';

export interface BuildContext {
  /** the unpacked context */
  dir: string;
  /** the Dockerfile's text */
  dockerfile: string;
  /** the Dockerfile's path inside the context, as named */
  dockerfileName: string;
  /** removes the directory */
  close(): void;
}

/** Docker's isGitURL: `git://`, `git@…`, or an http(s) URL ending in `.git` (optionally `#ref:dir`), github.com/… */
export function isGitURL(u: string): boolean {
  if (/^git(@|:\/\/)/.test(u)) return true;
  if (/^https?:\/\/.*\.git(#.*)?$/.test(u)) return true;
  return /^github\.com\//.test(u);
}

/**
 * Unpacks a (possibly compressed) tar stream into `dir`. The end-of-archive blocks (and the
 * last entry's padding) are optional, as for Go's tar reader: the docker CLI sends `-f -`
 * contexts without them.
 */
export async function unpackTar(body: Readable, dir: string, signal?: AbortSignal): Promise<void> {
  const head = await peek(body, 6);
  let src: Readable = body;
  let child: ReturnType<typeof spawn> | undefined;
  if (head[0] === 0x1f && head[1] === 0x8b) {
    src = body.pipe(zlib.createGunzip());
    body.on('error', (err) => src.destroy(err));
  } else if (head.subarray(0, 3).toString('latin1') === 'BZh' || (head[0] === 0xfd && head.subarray(1, 6).toString('latin1') === '7zXZ\0')) {
    const tool = head[0] === 0xfd ? 'xz' : 'bzip2';
    child = spawn(tool, ['-dc'], { stdio: ['pipe', 'pipe', 'ignore'] });
    const out = new PassThrough();
    child.stdout!.pipe(out);
    child.on('error', (err) => out.destroy(internal(`${tool}: ${err.message}`)));
    child.on('exit', (code) => {
      if (code !== 0) out.destroy(invalidArgument(`${tool}: the context is not a valid archive (exit ${code})`));
    });
    void pipeline(body, child.stdin!).catch(() => undefined);
    src = out;
  }
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) {
    // zstd: the extractor decompresses it itself
    await extractTar(body, dir, signal ? { signal } : {});
    return;
  }
  const plain = src;
  const withFooter = Readable.from(
    (async function* () {
      let n = 0;
      for await (const chunk of plain) {
        n += (chunk as Buffer).length;
        yield chunk as Buffer;
      }
      // the last entry's padding may be missing too (the CLI's rewritten tar)
      yield Buffer.alloc((512 - (n % 512)) % 512 + 1024);
    })(),
  );
  try {
    await extractTar(withFooter, dir, signal ? { signal } : {});
  } finally {
    if (child && child.exitCode === null) child.kill('SIGKILL');
  }
}

/** Downloads `url` (following up to 10 redirects); resolves the response. Throws invalid-argument on an HTTP error. */
export function download(url: string, signal?: AbortSignal, redirects = 10): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const mod = url.startsWith('https:') ? https : http;
    const req = mod.get(url, { signal }, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location && redirects > 0) {
        res.resume();
        resolve(download(new URL(res.headers.location, url).toString(), signal, redirects - 1));
        return;
      }
      if (status >= 400) {
        res.resume();
        reject(invalidArgument(`failed to GET ${url} with status ${res.statusCode} ${res.statusMessage ?? ''}`.trimEnd()));
        return;
      }
      resolve(res);
    });
    req.on('error', (err) => reject(invalidArgument(`Get ${JSON.stringify(url)}: ${goNetError(err)}`)));
  });
}

/** A Node network error worded as Go's net package words it (Docker's messages quote it). */
function goNetError(err: Error & { code?: string; address?: string; port?: number; hostname?: string }): string {
  if (err.code === 'ECONNREFUSED' && err.address) return `dial tcp ${err.address}:${err.port}: connect: connection refused`;
  if (err.code === 'ENOTFOUND' && err.hostname) return `dial tcp: lookup ${err.hostname}: no such host`;
  return err.message;
}

function git(args: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn('git', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, GIT_TERMINAL_PROMPT: '0' } });
    let err = '';
    c.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    c.on('error', (e) => reject(invalidArgument(`unable to find 'git': ${e.message}`)));
    c.on('exit', (code) => (code === 0 ? resolve() : reject(invalidArgument(`error fetching: ${err.trim()}: exit status ${code}`))));
  });
}

/**
 * Opens the context of a build request into a fresh directory under `tmpRoot`.
 * Throws invalid-argument (bad archive, unreachable remote), not-found (no Dockerfile).
 */
export async function openContext(o: { body: Readable; remote?: string; dockerfile?: string; tmpRoot: string; signal?: AbortSignal }): Promise<BuildContext> {
  fs.mkdirSync(o.tmpRoot, { recursive: true, mode: 0o700 });
  const dir = fs.mkdtempSync(path.join(o.tmpRoot, 'ctx-'));
  const close = () => fs.rmSync(dir, { recursive: true, force: true });
  try {
    let dockerfileName = o.dockerfile || 'Dockerfile';
    let inlineDockerfile: string | undefined;
    if (o.remote && isGitURL(o.remote)) {
      o.body.resume();
      const [repo, frag = ''] = o.remote.split('#', 2) as [string, string?];
      const [ref, sub] = frag.split(':', 2);
      const clone = path.join(dir, '.git-clone');
      await git(['clone', '--recursive', ...(ref ? ['--branch', ref] : []), '--depth', '1', repo.startsWith('github.com/') ? `https://${repo}` : repo, clone], dir);
      const src = sub ? resolveInScope(clone, sub) : clone;
      for (const n of fs.readdirSync(src)) if (n !== '.git') fs.renameSync(path.join(src, n), path.join(dir, n));
      fs.rmSync(clone, { recursive: true, force: true });
    } else if (o.remote) {
      o.body.resume();
      if (!/^https?:\/\//.test(o.remote)) throw invalidArgument(`unable to prepare context: path "${o.remote}" not found`);
      const res = await download(o.remote, o.signal);
      const type = (res.headers['content-type'] ?? '').split(';')[0]!.trim();
      if (type === 'text/plain') {
        const chunks: Buffer[] = [];
        for await (const c of res) chunks.push(c as Buffer);
        inlineDockerfile = Buffer.concat(chunks).toString('utf8');
        dockerfileName = o.dockerfile || 'Dockerfile';
      } else {
        await unpackTar(res, dir, o.signal);
      }
    } else {
      await unpackTar(o.body, dir, o.signal);
    }
    if (inlineDockerfile !== undefined) return { dir, dockerfile: inlineDockerfile, dockerfileName, close };
    let file = resolveInScope(dir, dockerfileName);
    if (!fs.existsSync(file) && !o.dockerfile) {
      // Docker falls back to the lower-case name
      const lower = resolveInScope(dir, 'dockerfile');
      if (fs.existsSync(lower)) {
        file = lower;
        dockerfileName = 'dockerfile';
      }
    }
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      // Docker answers 500 here
      throw internal(`Cannot locate specified Dockerfile: ${dockerfileName}`);
    }
    removeIgnoredBuildFiles(dir, dockerfileName);
    return { dir, dockerfile: text, dockerfileName, close };
  } catch (err) {
    close();
    throw err;
  }
}

/**
 * Docker's removeDockerfile: the daemon applies `.dockerignore` only to `.dockerignore`
 * itself and the Dockerfile (the client filtered the rest), after reading the latter.
 */
function removeIgnoredBuildFiles(dir: string, dockerfileName: string): void {
  let text: string;
  try {
    text = fs.readFileSync(resolveInScope(dir, '.dockerignore'), 'utf8');
  } catch {
    return;
  }
  const patterns = readDockerignore(text);
  for (const f of ['.dockerignore', dockerfileName]) {
    if (daemonExcludes(f, patterns)) fs.rmSync(resolveInScope(dir, f), { force: true });
  }
}

/** An empty readable (for callers without a body). */
export function emptyBody(): Readable {
  return Readable.from([]);
}
