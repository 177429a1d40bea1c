/**
 * `docker build` with the classic builder end to end (issue #15, "Done means"): the
 * docker CLI with DOCKER_BUILDKIT=0, docker-py's images.build and docker-compose build,
 * against stevedore and against Docker 20.10 (STEVEDORE_TEST_TARGET=docker). Every
 * build uses the busybox test image; RUN steps need no network.
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as http from 'node:http';
import Docker from 'dockerode';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { importBusybox, makeBusyboxTar } from '../helpers/busybox';
import { canMakeBcrypt, startRegistry, type TestRegistry } from '../helpers/registry';
import { assertNoContainerLeftovers, removeAllContainers } from '../helpers/containers';
import { DaemonRestart } from '../helpers/restart';
import { runProcess } from '../helpers/process';
import { type CliResult, type Target, startTarget } from '../helpers/target';

const NO_BUILDKIT = { DOCKER_BUILDKIT: '0' };

function ok(r: CliResult, what: string): string {
  assert.equal(r.code, 0, `${what}: ${r.stderr}\n${r.stdout}`);
  return r.stdout;
}

/** Writes `files` (path → content; a `{ link }` makes a symlink) into a fresh directory. */
function context(base: string, name: string, files: Record<string, string | { link: string }>): string {
  const dir = path.join(base, name);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  for (const [rel, content] of Object.entries(files)) {
    const p = path.join(dir, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    if (typeof content === 'string') fs.writeFileSync(p, content);
    else fs.symlinkSync(content.link, p);
  }
  return dir;
}

const MULTI_STAGE = `ARG BASE=busybox
FROM \${BASE} AS build
WORKDIR /src
COPY hello.txt ./
RUN echo built > out.txt && cat hello.txt >> out.txt
FROM \${BASE}
ARG GREETING=hi
ENV GREETING=\${GREETING} APP=/app
LABEL org.test.kind="multi stage"
WORKDIR /app
COPY --from=build /src/out.txt ./
COPY --chown=www-data:users hello.txt owned.txt
USER www-data
EXPOSE 8080/tcp 53/udp
HEALTHCHECK --interval=5s --timeout=3s CMD true
ENTRYPOINT ["sh", "-c", "cat /app/out.txt; echo $GREETING; id -u; stat -c %u:%g /app/owned.txt; pwd; echo \\"$@\\"", "--"]
CMD ["from-cmd"]
`;

describe('build (classic builder)', () => {
  let t: Target;
  let work: string;
  before(async () => {
    t = await startTarget();
    work = fs.mkdtempSync(path.join(t.dir, 'build-'));
    await importBusybox(t);
  });
  after(async () => {
    if (!t) return;
    try {
      await removeAllContainers(t);
      await assertNoContainerLeftovers(t);
      if (t.kind === 'stevedore') {
        const mounts = fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').filter((l) => l.includes(t.dir) || l.includes(t.execRoot));
        assert.deepEqual(mounts, [], 'no build mount is left');
      }
    } finally {
      await t.stop();
    }
  });

  const build = (args: string[], input?: string) => t.docker(['build', ...args], { env: NO_BUILDKIT, timeoutMs: 120_000, ...(input !== undefined ? { input } : {}) });

  it('builds a multi-stage Dockerfile that runs as Docker builds it', async () => {
    const dir = context(work, 'multi', { Dockerfile: MULTI_STAGE, 'hello.txt': 'hello\n' });
    const out = ok(await build(['-t', 'multi:1', '--build-arg', 'GREETING=bonjour', dir]), 'build');
    assert.match(out, /^Step 1\/17 : ARG BASE=busybox$/m);
    assert.match(out, /^Step 2\/17 : FROM \$\{BASE\} AS build$/m);
    assert.match(out, /^ ---> Running in [0-9a-f]{12}$/m);
    assert.match(out, /^Removing intermediate container [0-9a-f]{12}$/m);
    assert.match(out, /^Successfully built [0-9a-f]{12}$/m);
    assert.match(out, /^Successfully tagged multi:1$/m);
    const r = ok(await t.docker(['run', '--rm', 'multi:1', 'a', 'b']), 'run');
    assert.equal(r, 'built\nhello\nbonjour\n33\n33:100\n/app\na b\n');
    const inspect = JSON.parse(ok(await t.docker(['image', 'inspect', 'multi:1']), 'inspect'))[0];
    const c = inspect.Config;
    assert.deepEqual(c.Env, ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'GREETING=bonjour', 'APP=/app']);
    assert.equal(c.User, 'www-data');
    assert.equal(c.WorkingDir, '/app');
    assert.deepEqual(c.Labels, { 'org.test.kind': 'multi stage' });
    assert.deepEqual(c.ExposedPorts, { '53/udp': {}, '8080/tcp': {} });
    assert.deepEqual(c.Healthcheck, { Test: ['CMD-SHELL', 'true'], Interval: 5e9, Timeout: 3e9 });
    assert.deepEqual(c.Cmd, ['from-cmd']);
    assert.equal(c.Entrypoint[0], 'sh');
    assert.ok(inspect.Parent.startsWith('sha256:'), 'the parent chain is recorded');
    const history = ok(await t.docker(['history', '--no-trunc', '--format', '{{.CreatedBy}}', 'multi:1']), 'history').split('\n');
    assert.ok(history.includes('/bin/sh -c #(nop)  USER www-data'), history.join('\n'));
    assert.ok(history.includes('/bin/sh -c #(nop) WORKDIR /app'), history.join('\n'));
    assert.ok(history.includes('/bin/sh -c #(nop)  EXPOSE 53/udp 8080/tcp'), history.join('\n'));
    assert.ok(history.includes('/bin/sh -c #(nop)  HEALTHCHECK &{["CMD-SHELL" "true"] "5s" "3s" "0s" \'\\x00\'}'), history.join('\n'));
    assert.ok(history.some((h) => /^\/bin\/sh -c #\(nop\) COPY --chown=www-data:usersfile:[0-9a-f]{64} in owned.txt $/.test(h)), history.join('\n'));
    // intermediate images are real images
    const all = ok(await t.docker(['images', '-a', '-q']), 'images -a').split('\n').filter(Boolean);
    assert.ok(all.length >= 15, `images -a lists the steps: ${all.length}`);
  });

  it('streams Docker\'s JSON messages byte for byte over the API', async () => {
    const dir = context(work, 'raw', { Dockerfile: 'FROM busybox\nENV A=1\nRUN echo hi\n' });
    const tar = path.join(work, 'raw.tar');
    execFileSync('tar', ['-C', dir, '-cf', tar, '.']);
    const body = fs.readFileSync(tar);
    const headers = { 'Content-Type': 'application/x-tar' };
    const r = await t.request('POST', '/v1.41/build?t=raw:1&nocache=1', { body, headers });
    assert.equal(r.status, 200);
    assert.ok(r.body.endsWith('\r\n'), 'lines end with CRLF, as Docker writes them');
    const lines = r.body.slice(0, -2).split('\r\n').map((l) => l.replace(/[0-9a-f]{64}/g, 'ID').replace(/[0-9a-f]{12}/g, 'SHORT'));
    assert.deepEqual(lines, [
      '{"stream":"Step 1/3 : FROM busybox"}',
      '{"stream":"\\n"}',
      '{"stream":" ---\\u003e SHORT\\n"}',
      '{"stream":"Step 2/3 : ENV A=1"}',
      '{"stream":"\\n"}',
      '{"stream":" ---\\u003e Running in SHORT\\n"}',
      '{"stream":"Removing intermediate container SHORT\\n"}',
      '{"stream":" ---\\u003e SHORT\\n"}',
      '{"stream":"Step 3/3 : RUN echo hi"}',
      '{"stream":"\\n"}',
      '{"stream":" ---\\u003e Running in SHORT\\n"}',
      '{"stream":"hi\\n"}',
      '{"stream":"Removing intermediate container SHORT\\n"}',
      '{"stream":" ---\\u003e SHORT\\n"}',
      '{"aux":{"ID":"sha256:ID"}}',
      '{"stream":"Successfully built SHORT\\n"}',
      '{"stream":"Successfully tagged raw:1\\n"}',
    ]);
    const q = await t.request('POST', '/v1.41/build?q=1', { body, headers });
    assert.match(q.body, /^\{"stream":"sha256:[0-9a-f]{64}\\n"\}\r\n$/);
    const squash = await t.request('POST', '/v1.41/build?squash=1', { body, headers });
    assert.equal(squash.status, 400);
    assert.equal(JSON.parse(squash.body).message, 'squash is only supported with experimental mode');
    const prune = await t.request('POST', '/v1.41/build/prune');
    assert.equal(prune.status, 200);
    assert.deepEqual(JSON.parse(prune.body), { CachesDeleted: null, SpaceReclaimed: 0 });
    const df = JSON.parse((await t.request('GET', '/v1.41/system/df')).body);
    assert.equal(df.BuildCache, null);
    assert.equal(df.BuilderSize, 0);
  });

  it('uses the cache for every step of a second build', async () => {
    const dir = path.join(work, 'multi');
    const out = ok(await build(['-t', 'multi:2', '--build-arg', 'GREETING=bonjour', dir]), 'rebuild');
    const steps = out.split('\n').filter((l) => l.startsWith('Step '));
    const cacheable = steps.filter((l) => !/ : (FROM|ARG BASE)/.test(l)).length;
    assert.equal(cacheable, 14);
    assert.equal(out.split('\n').filter((l) => l === ' ---> Using cache').length, cacheable, out);
    assert.doesNotMatch(out, /Running in/);
    const a = ok(await t.docker(['image', 'inspect', '-f', '{{.Id}}', 'multi:1']), 'id1');
    const b = ok(await t.docker(['image', 'inspect', '-f', '{{.Id}}', 'multi:2']), 'id2');
    assert.equal(a, b);
  });

  it('invalidates exactly the steps from a changed file on', async () => {
    const df = 'FROM busybox\nCOPY a.txt /a.txt\nRUN cat /a.txt\nCOPY b.txt /b.txt\nRUN cat /b.txt\nCMD ["cat", "/b.txt"]\n';
    const dir = context(work, 'inval', { Dockerfile: df, 'a.txt': 'A\n', 'b.txt': 'B1\n' });
    ok(await build(['-t', 'inval', dir]), 'first');
    fs.writeFileSync(path.join(dir, 'b.txt'), 'B2\n');
    const out = ok(await build(['-t', 'inval', dir]), 'second');
    const blocks = out.split(/^Step /m).slice(1);
    const cached = blocks.map((b) => b.includes(' ---> Using cache'));
    assert.deepEqual(cached, [false, true, true, false, false, false], out);
    assert.equal(ok(await t.docker(['run', '--rm', 'inval']), 'run'), 'B2\n');
  });

  it('uses --cache-from images that have no parent chain (a saved and loaded image)', async () => {
    const dir = context(work, 'cachefrom', { Dockerfile: 'FROM busybox\nENV A=1\nCOPY f /f\nRUN cat /f > /g\nLABEL x=y\nCMD ["cat", "/g"]\n', f: 'data\n' });
    ok(await build(['-t', 'cf:1', dir]), 'first build');
    const tar = path.join(work, 'cf.tar');
    ok(await t.docker(['save', 'cf:1', '-o', tar]), 'save');
    ok(await t.docker(['rmi', 'cf:1']), 'rmi');
    ok(await t.docker(['load', '-i', tar]), 'load');
    const without = ok(await build(['--no-cache', '-t', 'cf:0', dir]), 'no cache');
    assert.doesNotMatch(without, /Using cache/);
    ok(await t.docker(['rmi', 'cf:0']), 'rmi cf:0');
    const out = ok(await build(['--cache-from', 'cf:1', '-t', 'cf:2', dir]), 'build --cache-from');
    assert.equal(out.split('\n').filter((l) => l === ' ---> Using cache').length, 5, out);
    const ids = ok(await t.docker(['image', 'inspect', '-f', '{{.Id}}', 'cf:1', 'cf:2']), 'ids').trim().split('\n');
    assert.equal(ids[0], ids[1]);
    assert.equal(ok(await t.docker(['run', '--rm', 'cf:2']), 'run'), 'data\n');
  });

  it('applies .dockerignore', async () => {
    const dir = context(work, 'ignore', {
      Dockerfile: 'FROM busybox\nCOPY . /ctx/\nCMD ["sh", "-c", "cd /ctx && find . -type f | sort"]\n',
      '.dockerignore': '# comment\nsecret*\n!secret-ok\nbuild/\n',
      'keep.txt': 'k',
      'secret.key': 's',
      'secret-ok': 'o',
      'build/out.bin': 'b',
    });
    ok(await build(['-t', 'ignore', dir]), 'build');
    assert.equal(ok(await t.docker(['run', '--rm', 'ignore']), 'run'), './.dockerignore\n./Dockerfile\n./keep.txt\n./secret-ok\n');
  });

  it('drops the Dockerfile and .dockerignore when .dockerignore names them', async () => {
    const dir = context(work, 'ignore2', {
      Dockerfile: 'FROM busybox\nCOPY . /ctx/\nCMD ["sh", "-c", "cd /ctx && find . -type f | sort"]\n',
      '.dockerignore': 'Dockerfile\n.dockerignore\n',
      'keep.txt': 'k',
    });
    ok(await build(['-t', 'ignore2', dir]), 'build');
    assert.equal(ok(await t.docker(['run', '--rm', 'ignore2']), 'run'), './keep.txt\n');
  });

  it('ADD extracts local archives and downloads URLs', async () => {
    const dir = context(work, 'add', { 'f.txt': 'in tar\n' });
    execFileSync('tar', ['-C', dir, '-cf', path.join(dir, 'a.tar'), 'f.txt']);
    execFileSync('sh', ['-c', 'gzip -k a.tar && bzip2 -k a.tar && xz -k a.tar', 'sh'], { cwd: dir });
    const server = http.createServer((req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Last-Modified': 'Tue, 03 Jan 2023 04:05:06 GMT' });
      res.end(`served ${req.url}\n`);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    try {
      fs.writeFileSync(
        path.join(dir, 'Dockerfile'),
        `FROM busybox\nADD a.tar /plain/\nADD a.tar.gz /gz\nADD a.tar.bz2 /bz2/\nADD a.tar.xz /xz/\nADD f.txt /copied/\nADD http://127.0.0.1:${port}/dl/file.bin /remote/\nCMD ["sh", "-c", "cat /plain/f.txt /gz/f.txt /bz2/f.txt /xz/f.txt /copied/f.txt /remote/file.bin; stat -c '%a %Y %u' /remote/file.bin"]\n`,
      );
      ok(await build(['-t', 'added', dir]), 'build');
    } finally {
      server.close();
    }
    assert.equal(ok(await t.docker(['run', '--rm', 'added']), 'run'), 'in tar\nin tar\nin tar\nin tar\nin tar\nserved /dl/file.bin\n600 1672718706 0\n');
  });

  it('builds independent stages with the output in Dockerfile order, and a target', async () => {
    const df = [
      'FROM busybox AS a',
      'RUN echo a > /a && echo from-a',
      'FROM busybox AS unused',
      'RUN echo unused',
      'FROM busybox AS b',
      'RUN echo b > /b && echo from-b',
      'FROM busybox',
      'COPY --from=a /a /a',
      'COPY --from=2 /b /b',
      'CMD ["cat", "/a", "/b"]',
      '',
    ].join('\n');
    const dir = context(work, 'stages', { Dockerfile: df });
    const out = ok(await build(['-t', 'stages', dir]), 'build');
    const nums = [...out.matchAll(/^Step (\d+)\/10 : /gm)].map((m) => Number(m[1]));
    assert.deepEqual(nums, [...nums].sort((x, y) => x - y), out);
    assert.ok(out.indexOf('from-a') < out.indexOf('from-b'), out);
    assert.equal(ok(await t.docker(['run', '--rm', 'stages']), 'run'), 'a\nb\n');
    const tgt = ok(await build(['-t', 'stage-b', '--target', 'b', dir]), 'target');
    assert.match(tgt, /^Successfully tagged stage-b:latest$/m);
    assert.equal(ok(await t.docker(['run', '--rm', 'stage-b', 'cat', '/b']), 'run b'), 'b\n');
    const bad = await build(['--target', 'nope', dir]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /failed to reach build target nope in Dockerfile/);
  });

  it('runs RUN with the request\'s host options (extra hosts, shm size, memory, network)', async () => {
    const dir = context(work, 'hostopts', {
      Dockerfile: 'FROM busybox\nRUN grep myhost /etc/hosts; df -k /dev/shm | tail -1; cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes\n',
    });
    const out = ok(await build(['--no-cache', '--add-host', 'myhost:10.1.2.3', '--shm-size', '8m', '--memory', '64m', '--network', 'none', dir]), 'build');
    assert.match(out, /^10\.1\.2\.3\s+myhost$/m);
    assert.match(out, /^shm\s+8192\s/m);
    assert.match(out, /^67108864$/m);
  });

  it('builds remote contexts: a git repository (ref and subdirectory) and a tarball URL', async () => {
    const base = path.join(work, 'git');
    const repo = context(base, 'repo', { 'sub/Dockerfile': 'FROM busybox\nCOPY f /f\nCMD ["cat", "/f"]\n', 'sub/f': 'from-git\n' });
    const git = (args: string[]) => execFileSync('git', ['-c', 'user.email=t@e', '-c', 'user.name=t', ...args], { cwd: repo, stdio: 'ignore' });
    git(['init', '-q', '-b', 'main']);
    git(['add', '.']);
    git(['commit', '-qm', 'ctx']);
    const tarball = path.join(base, 'ctx.tar.gz');
    execFileSync('tar', ['-C', path.join(repo, 'sub'), '-czf', tarball, '.']);
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/x-gzip' });
      res.end(fs.readFileSync(tarball));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = await new Promise<number>((resolve) => {
      const probe = http.createServer().listen(0, '127.0.0.1', () => {
        const p = (probe.address() as { port: number }).port;
        probe.close(() => resolve(p));
      });
    });
    const daemon = spawn('git', ['daemon', `--base-path=${base}`, '--export-all', `--port=${port}`, '--listen=127.0.0.1', '--reuseaddr'], { stdio: 'ignore' });
    try {
      let r: { status: number; body: string } = { status: 0, body: '' };
      for (let i = 0; i < 100; i++) {
        r = await t.request('POST', `/v1.41/build?q=1&t=fromgit&remote=${encodeURIComponent(`git://127.0.0.1:${port}/repo#main:sub`)}`);
        if (!/Connection refused|connection refused|fatal/.test(r.body)) break;
        await new Promise((res) => setTimeout(res, 50)); // the git daemon is still starting
      }
      assert.equal(r.status, 200, r.body);
      assert.match(r.body, /^\{"stream":"sha256:[0-9a-f]{64}\\n"\}/);
      assert.equal(ok(await t.docker(['run', '--rm', 'fromgit']), 'run'), 'from-git\n');
      const u = `http://127.0.0.1:${(server.address() as { port: number }).port}/ctx.tar.gz`;
      const tr = await t.request('POST', `/v1.41/build?q=1&t=fromurl&remote=${encodeURIComponent(u)}`);
      assert.equal(tr.status, 200, tr.body);
      assert.equal(ok(await t.docker(['run', '--rm', 'fromurl']), 'run'), 'from-git\n');
    } finally {
      daemon.kill();
      server.close();
    }
  });

  it('refuses BuildKit-only flags as Docker\'s classic builder does', async () => {
    const dir = context(work, 'bkonly', { a: 'a' });
    for (const [line, flag] of [['RUN --mount=type=cache,target=/x true', '--mount'], ['COPY --chmod=644 a /x', '--chmod']] as const) {
      fs.writeFileSync(path.join(dir, 'Dockerfile'), `FROM busybox\n${line}\n`);
      const r = await build([dir]);
      assert.notEqual(r.code, 0, line);
      assert.match(r.stderr, new RegExp(`the ${flag} option requires BuildKit\\. Refer to https://docs\\.docker\\.com/go/buildkit/`));
    }
  });

  it('fails a RUN with its exit code', async () => {
    const dir = context(work, 'fail', { Dockerfile: 'FROM busybox\nRUN echo before\nRUN exit 7\nRUN echo never\n' });
    const r = await build(['-t', 'fail', dir]);
    assert.equal(r.code, 7, r.stderr);
    assert.match(r.stderr, /The command '\/bin\/sh -c exit 7' returned a non-zero code: 7/);
    assert.match(r.stdout, /^before$/m);
    assert.doesNotMatch(r.stdout, /never/);
    const img = await t.docker(['image', 'inspect', 'fail']);
    assert.notEqual(img.code, 0, 'nothing is tagged');
  });

  it('reads the Dockerfile from stdin: -f - and - < Dockerfile', async () => {
    const dir = context(work, 'stdin', { 'data.txt': 'from context\n' });
    const out1 = ok(await t.docker(['build', '-q', '-t', 'stdin1', '-f', '-', dir], { env: NO_BUILDKIT, input: 'FROM busybox\nCOPY data.txt /\nCMD ["cat", "/data.txt"]\n' }), '-f -');
    assert.match(out1.trim(), /^sha256:[0-9a-f]{64}$/);
    assert.equal(ok(await t.docker(['run', '--rm', 'stdin1']), 'run'), 'from context\n');
    ok(await build(['-t', 'stdin2', '-'], 'FROM busybox\nRUN echo made > /made\nCMD ["cat", "/made"]\n'), '- < Dockerfile');
    assert.equal(ok(await t.docker(['run', '--rm', 'stdin2']), 'run'), 'made\n');
    const r = await build(['-t', 'stdin3', '-'], 'FROM busybox\nCOPY data.txt /\n');
    assert.notEqual(r.code, 0, 'a Dockerfile alone has no files to copy');
  });

  it('never copies host files through a context symlink', async () => {
    const dir = context(work, 'symlink', {
      Dockerfile: 'FROM busybox\nCOPY . /ctx/\n',
      'etc': { link: '/etc' },
      'passwd': { link: '/etc/passwd' },
    });
    ok(await build(['-t', 'links', dir]), 'a context with links builds');
    const l = ok(await t.docker(['run', '--rm', 'links', 'sh', '-c', 'readlink /ctx/etc; readlink /ctx/passwd']), 'links');
    assert.equal(l, '/etc\n/etc/passwd\n', 'the links are copied as links');
    fs.writeFileSync(path.join(dir, 'Dockerfile'), 'FROM busybox\nCOPY ../../etc/passwd /copied\n');
    const up = await build(['-t', 'escape', dir]);
    assert.notEqual(up.code, 0);
    assert.match(up.stderr, /COPY failed: forbidden path outside the build context: \.\.\/\.\.\/etc\/passwd \(\)/);
    for (const src of ['passwd', 'etc/passwd', 'etc/hostname']) {
      fs.writeFileSync(path.join(dir, 'Dockerfile'), `FROM busybox\nCOPY ${src} /copied\n`);
      const r = await build(['-t', 'escape', dir]);
      if (r.code === 0) {
        const content = ok(await t.docker(['run', '--rm', 'escape', 'cat', '/copied']), 'cat');
        const host = fs.readFileSync(src === 'passwd' ? '/etc/passwd' : `/${src}`, 'utf8');
        assert.notEqual(content, host, `${src} copied the host's file`);
      }
    }
  });

  it('serves docker-py images.build', async () => {
    const dir = context(work, 'py', { Dockerfile: 'FROM busybox\nARG V=1\nRUN echo v=$V > /v\nCMD ["cat", "/v"]\n' });
    const script = `
import docker
c = docker.from_env()
img, logs = c.images.build(path=${JSON.stringify(dir)}, tag="pybuilt:1", buildargs={"V": "2"}, rm=True)
print(img.tags)
print(any("Successfully built" in l.get("stream", "") for l in logs))
`;
    const r = await runProcess('python3', ['-c', script], { env: t.env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "['pybuilt:1']\nTrue\n");
    assert.equal(ok(await t.docker(['run', '--rm', 'pybuilt:1']), 'run'), 'v=2\n');
  });

  it('serves dockerode buildImage (a context given as files, build args, a failing build)', async () => {
    const dir = context(work, 'dockerode', { Dockerfile: 'FROM busybox\nARG WHO=x\nCOPY f /f\nRUN echo $WHO >> /f\nCMD ["cat", "/f"]\n', f: 'file\n' });
    const docker = new Docker({ socketPath: t.socket });
    const follow = (stream: NodeJS.ReadableStream) =>
      new Promise<Array<{ stream?: string; error?: string; errorDetail?: { code?: number }; aux?: { ID: string } }>>((resolve, reject) =>
        docker.modem.followProgress(stream, (err: Error | null, res: unknown[]) => (err ? reject(err) : resolve(res as never))),
      );
    const msgs = await follow(await docker.buildImage({ context: dir, src: ['Dockerfile', 'f'] }, { t: 'dockerode:1', buildargs: { WHO: 'node' } }));
    assert.ok(msgs.some((m) => m.aux?.ID?.startsWith('sha256:')), JSON.stringify(msgs));
    assert.ok(msgs.some((m) => m.stream === 'Successfully tagged dockerode:1\n'));
    assert.equal(ok(await t.docker(['run', '--rm', 'dockerode:1']), 'run'), 'file\nnode\n');
    fs.writeFileSync(path.join(dir, 'Dockerfile'), 'FROM busybox\nRUN exit 4\n');
    const failed = await follow(await docker.buildImage({ context: dir, src: ['Dockerfile'] }, {})).catch((err: Error) => [{ error: err.message }]);
    const last = failed[failed.length - 1]!;
    assert.match(String(last.error), /returned a non-zero code: 4/);
  });

  it('serves docker-compose build', async () => {
    const dir = context(work, 'compose', {
      'docker-compose.yml': 'version: "2.4"\nservices:\n  web:\n    build:\n      context: ./app\n      args:\n        WHO: compose\n    image: composed:1\n',
      'app/Dockerfile': 'FROM busybox\nARG WHO\nRUN echo $WHO > /who\nCMD ["cat", "/who"]\n',
    });
    const r = await runProcess('docker-compose', ['-p', `b${process.pid}`, 'build'], { env: { ...t.env, COMPOSE_DOCKER_CLI_BUILD: '0', DOCKER_BUILDKIT: '0' }, cwd: dir });
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.equal(ok(await t.docker(['run', '--rm', 'composed:1']), 'run'), 'compose\n');
  });
});

describe('build cache across a daemon restart', () => {
  const daemons = new DaemonRestart();
  before(() => daemons.start());
  after(() => daemons.cleanup());

  it('a rebuild after a restart uses the cache for every step', async () => {
    const first = daemons.first;
    const dir = context(daemons.dir, 'restart-ctx', { Dockerfile: 'FROM busybox\nCOPY f /f\nRUN cat /f > /g\nENV X=1\nWORKDIR /w\n', f: 'data\n' });
    ok(await first.docker(['build', '-t', 'survives', dir], { env: NO_BUILDKIT }), 'first build');
    await first.stop();
    const second = await daemons.restart();
    const out = ok(await second.docker(['build', '-t', 'survives', dir], { env: NO_BUILDKIT }), 'rebuild');
    assert.equal(out.split('\n').filter((l) => l === ' ---> Using cache').length, 4, out);
  });
});

describe('build pulling its base from a registry with credentials', { skip: canMakeBcrypt() ? false : 'python3 cannot make bcrypt hashes' }, () => {
  let t: Target;
  let reg: TestRegistry;
  const password = 'pw-' + randomBytes(6).toString('hex');
  before(async () => {
    reg = await startRegistry({ basicAuth: { username: 'alice', password } });
    t = await startTarget();
  });
  after(async () => {
    await t?.stop();
    await reg?.stop();
  });

  it('pulls a missing base with X-Registry-Config, and again with --pull', async () => {
    ok(await t.docker(['login', reg.host, '-u', 'alice', '--password-stdin'], { input: password }), 'login');
    const tar = path.join(t.dir, 'busybox-base.tar');
    makeBusyboxTar(tar);
    ok(await t.docker(['import', '-c', 'CMD ["sh"]', tar, `${reg.host}/base:1`]), 'import');
    ok(await t.docker(['push', `${reg.host}/base:1`]), 'push');
    ok(await t.docker(['rmi', `${reg.host}/base:1`]), 'rmi');
    const dir = context(t.dir, 'pulled', { Dockerfile: `FROM ${reg.host}/base:1\nRUN echo on-pulled > /x\nCMD ["cat", "/x"]\n` });
    const out = ok(await t.docker(['build', '-t', 'onpulled', dir], { env: NO_BUILDKIT }), 'build');
    assert.match(out, /Pulling from base|Pull complete|Downloaded newer image/);
    assert.equal(ok(await t.docker(['run', '--rm', 'onpulled']), 'run'), 'on-pulled\n');
    ok(await t.docker(['build', '--pull', '-t', 'onpulled', dir], { env: NO_BUILDKIT }), 'build --pull');
    ok(await t.docker(['logout', reg.host]), 'logout');
    ok(await t.docker(['rmi', 'onpulled']), 'rmi the build');
    ok(await t.docker(['rmi', `${reg.host}/base:1`]), 'rmi the base');
    const denied = await t.docker(['build', '-t', 'onpulled', dir], { env: NO_BUILDKIT });
    assert.notEqual(denied.code, 0, 'no credentials, no base');
  });
});
