/**
 * A real registry for tests: Debian's `docker-registry` (distribution 2.8) on
 * 127.0.0.1 and a free port, with its own config and storage under a temp dir.
 * Optionally htpasswd basic auth (bcrypt line made with python3's `crypt`, which uses
 * libxcrypt), token auth (config points at a realm you run), and TLS with a throwaway
 * CA made with `openssl`. `stop()` kills the process by pid and removes everything.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LocalContentStore } from '../../src/engine/content';
import { RegistryClient } from '../../src/engine/distribution';

export const REGISTRY_BIN = '/usr/bin/docker-registry';

export interface TestRegistryOptions {
  /** htpasswd basic auth with this one user */
  basicAuth?: { username: string; password: string };
  /** token auth: the registry trusts tokens signed by the key of `rootCertBundle` (a PEM file) */
  tokenAuth?: { realm: string; service: string; issuer: string; rootCertBundle: string };
  /** serve HTTPS with a certificate from a fresh CA (see `caPem`) */
  tls?: boolean;
}

export interface TestRegistry {
  /** `127.0.0.1:<port>` */
  host: string;
  /** `http(s)://127.0.0.1:<port>` */
  url: string;
  /** the temp dir holding config, storage and certificates */
  dir: string;
  /** the CA that signed the server certificate (with `tls`) */
  caPem?: Buffer;
  pid: number;
  stop(): Promise<void>;
}

/** True when python3's crypt module can make bcrypt hashes (needed for basic auth). */
export function canMakeBcrypt(): boolean {
  try {
    return bcryptLine('u', 'p').startsWith('u:$2');
  } catch {
    return false;
  }
}

function bcryptLine(user: string, password: string): string {
  const hash = execFileSync(
    'python3',
    ['-W', 'ignore', '-c', 'import crypt,sys; print(crypt.crypt(sys.stdin.read(), crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))'],
    { input: password, encoding: 'utf8' },
  ).trim();
  if (!hash.startsWith('$2')) throw new Error('python3 crypt cannot make bcrypt hashes');
  return `${user}:${hash}`;
}

/** A free TCP port on 127.0.0.1 (released before returning). */
export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Makes a CA and a server certificate for 127.0.0.1/localhost in `dir`; returns file paths. */
export function makeTlsFiles(dir: string): { caCert: string; caKey: string; cert: string; key: string } {
  const f = (n: string) => path.join(dir, n);
  const run = (args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.crt'), '-days', '2', '-subj', '/CN=stevedore test CA']);
  run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=127.0.0.1']);
  fs.writeFileSync(f('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  run(['x509', '-req', '-in', f('server.csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('server.crt'), '-days', '2', '-extfile', f('ext.cnf')]);
  return { caCert: f('ca.crt'), caKey: f('ca.key'), cert: f('server.crt'), key: f('server.key') };
}

/** Starts a registry and waits until `/v2/` answers. */
export async function startRegistry(opts: TestRegistryOptions = {}): Promise<TestRegistry> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stevedore-registry-'));
  let child: ChildProcess | undefined;
  try {
    const port = await freePort();
    const lines = [
      'version: 0.1',
      'log:',
      '  level: error',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${JSON.stringify(path.join(dir, 'data'))}`,
      '  delete:',
      '    enabled: true',
      'http:',
      `  addr: 127.0.0.1:${port}`,
      `  secret: ${randomBytes(16).toString('hex')}`,
    ];
    let caPem: Buffer | undefined;
    if (opts.tls) {
      const t = makeTlsFiles(dir);
      caPem = fs.readFileSync(t.caCert);
      lines.push('  tls:', `    certificate: ${JSON.stringify(t.cert)}`, `    key: ${JSON.stringify(t.key)}`);
    }
    if (opts.basicAuth) {
      fs.writeFileSync(path.join(dir, 'htpasswd'), bcryptLine(opts.basicAuth.username, opts.basicAuth.password) + '\n');
      lines.push('auth:', '  htpasswd:', '    realm: basic-realm', `    path: ${JSON.stringify(path.join(dir, 'htpasswd'))}`);
    } else if (opts.tokenAuth) {
      const t = opts.tokenAuth;
      lines.push(
        'auth:',
        '  token:',
        `    realm: ${JSON.stringify(t.realm)}`,
        `    service: ${JSON.stringify(t.service)}`,
        `    issuer: ${JSON.stringify(t.issuer)}`,
        `    rootcertbundle: ${JSON.stringify(t.rootCertBundle)}`,
      );
    }
    const config = path.join(dir, 'config.yml');
    fs.writeFileSync(config, lines.join('\n') + '\n');
    const log = fs.openSync(path.join(dir, 'registry.log'), 'w');
    child = spawn(REGISTRY_BIN, ['serve', config], { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    const proc = child;
    let exited = false;
    proc.on('exit', () => (exited = true));
    const url = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
    for (let i = 0; ; i++) {
      if (exited) throw new Error('docker-registry exited: ' + fs.readFileSync(path.join(dir, 'registry.log'), 'utf8').slice(0, 2000));
      if (await answers(url, caPem)) break;
      if (i >= 200) throw new Error('docker-registry did not answer on ' + url);
      await sleep(50);
    }
    const pid = proc.pid!;
    const out: TestRegistry = {
      host: `127.0.0.1:${port}`,
      url,
      dir,
      pid,
      stop: async () => {
        if (!exited) {
          const gone = new Promise<void>((r) => proc.once('exit', () => r()));
          process.kill(pid, 'SIGTERM');
          const t = setTimeout(() => {
            if (!exited) process.kill(pid, 'SIGKILL');
          }, 5000);
          await gone;
          clearTimeout(t);
        }
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
    if (caPem) out.caPem = caPem;
    return out;
  } catch (err) {
    if (child?.pid && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

function answers(url: string, ca: Buffer | undefined): Promise<boolean> {
  return new Promise((resolve) => {
    const mod = url.startsWith('https') ? https : http;
    const req = mod.get(`${url}/v2/`, { ca, agent: false, timeout: 2000 }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
  });
}

/** A hand-made image's parts, all small enough to hold in memory. */
export interface TestImage {
  config: { digest: string; size: number; mediaType: string; bytes: Buffer };
  layers: Array<{ digest: string; size: number; mediaType: string; bytes: Buffer }>;
  manifest: { digest: string; size: number; mediaType: string; bytes: Buffer };
}

/**
 * Builds a Docker schema2 image: two gzip layers (tar-stream + zlib), the first holding
 * `files`, the second `extra` bytes of random (incompressible) data in /blob, so
 * chunked uploads can be exercised.
 */
export async function makeTestImage(opts: { architecture?: string; variant?: string; files?: Record<string, string>; extra?: number } = {}): Promise<TestImage> {
  const { createHash } = await import('node:crypto');
  const zlib = await import('node:zlib');
  const tar = await import('tar-stream');
  const sha = (b: Buffer) => 'sha256:' + createHash('sha256').update(b).digest('hex');
  const makeTar = async (entries: Record<string, Buffer>) => {
    const pack = tar.pack();
    const chunks: Buffer[] = [];
    pack.on('data', (c: unknown) => {
      chunks.push(c as Buffer);
    });
    const done = new Promise<void>((r) => pack.on('end', () => r()));
    for (const [name, data] of Object.entries(entries)) pack.entry({ name, mode: 0o644, mtime: new Date(0) }, data);
    pack.finalize();
    await done;
    return Buffer.concat(chunks);
  };
  const files = opts.files ?? { 'hello.txt': 'hello from stevedore\n' };
  const tar1 = await makeTar(Object.fromEntries(Object.entries(files).map(([k, v]) => [k, Buffer.from(v)])));
  const tar2 = await makeTar({ blob: randomBytes(opts.extra ?? 3000) });
  const layers = [tar1, tar2].map((t) => {
    const bytes = zlib.gzipSync(t);
    return { digest: sha(bytes), size: bytes.length, mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', bytes };
  });
  const configJson = {
    architecture: opts.architecture ?? 'amd64',
    ...(opts.variant ? { variant: opts.variant } : {}),
    os: 'linux',
    config: { Cmd: ['/bin/sh'] },
    rootfs: { type: 'layers', diff_ids: [sha(tar1), sha(tar2)] },
    history: [{ created_by: 'test' }, { created_by: 'test' }],
  };
  const cbytes = Buffer.from(JSON.stringify(configJson));
  const config = { digest: sha(cbytes), size: cbytes.length, mediaType: 'application/vnd.docker.container.image.v1+json', bytes: cbytes };
  const m = {
    schemaVersion: 2,
    mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
    config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
  };
  const mbytes = Buffer.from(JSON.stringify(m, null, 3));
  return { config, layers, manifest: { digest: sha(mbytes), size: mbytes.length, mediaType: m.mediaType, bytes: mbytes } };
}

/** Pushes a hand-made image to `ref` with the engine's client (no daemon involved). */
export async function pushTestImage(dir: string, ref: string, img: TestImage): Promise<void> {
  const store = new LocalContentStore(dir);
  for (const b of [img.config, ...img.layers, img.manifest]) await store.put(b.bytes, b.digest);
  const client = new RegistryClient();
  try {
    await client.pushImage(ref, { target: { mediaType: img.manifest.mediaType, digest: img.manifest.digest, size: img.manifest.size }, provider: store });
  } finally {
    client.close();
  }
}

/** One request a {@link RecordingProxy} forwarded. */
export interface ProxiedRequest {
  method: string;
  /** path and query */
  url: string;
  /** the Authorization header the registry received, if any */
  authorization?: string;
  /** the registry's status (0 if it could not be reached) */
  status: number;
}

/** A plain-HTTP proxy in front of a registry that records what the registry is sent. */
export interface RecordingProxy {
  /** `127.0.0.1:<port>`: use this as the registry's host */
  host: string;
  requests: ProxiedRequest[];
  close(): Promise<void>;
}

/**
 * Forwards every request to the registry at `target` (`host:port`, plain HTTP), bodies
 * streamed both ways, the Host header kept (so the registry's Location headers point
 * back at the proxy), and records method, URL, Authorization and status.
 */
export async function startRecordingProxy(target: string): Promise<RecordingProxy> {
  const [th, tp] = target.split(':');
  const requests: ProxiedRequest[] = [];
  const srv = http.createServer((req, res) => {
    const rec: ProxiedRequest = { method: req.method ?? '', url: req.url ?? '', status: 0 };
    if (req.headers.authorization !== undefined) rec.authorization = req.headers.authorization;
    requests.push(rec);
    const up = http.request({ host: th, port: Number(tp), method: req.method, path: req.url, headers: req.headers, agent: false }, (ur) => {
      rec.status = ur.statusCode ?? 0;
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      ur.pipe(res);
    });
    up.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.destroy();
    });
    req.on('error', () => up.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  return {
    host: `127.0.0.1:${(srv.address() as net.AddressInfo).port}`,
    requests,
    close: () =>
      new Promise((r) => {
        srv.closeAllConnections();
        srv.close(() => r());
      }),
  };
}
