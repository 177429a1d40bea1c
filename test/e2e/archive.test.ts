/**
 * `docker cp`, `docker export` and `docker diff` end to end with the unmodified docker
 * CLI (issue #14): both directions for files, directories, `dir/.` and `-` (a tar on
 * stdout / stdin), running and stopped containers, a bind mount, the path-stat header,
 * Docker's errors; export and diff lists; and a hostile container that swaps a directory
 * for a symbolic link to `/` while copies run both ways — the host is never read or
 * written. Passes against stevedore and against Docker (STEVEDORE_TEST_TARGET=docker).
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { type Target, startTarget } from '../helpers/target';
import { importBusybox } from '../helpers/busybox';
import { runProcess } from '../helpers/process';
import { assertNoContainerLeftovers, processesMentioning, removeAllContainers } from '../helpers/containers';

describe('docker cp, export, diff', () => {
  let t: Target;
  let host: string;
  const ok = async (args: string[], opts?: { input?: string | Buffer }) => {
    const r = await t.docker(args, opts);
    assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}\n${t.kind === 'stevedore' ? t.logs().slice(-2000) : ''}`);
    return r.stdout;
  };
  /** a shell pipeline with the target's DOCKER_HOST; resolves with its exit code and output */
  const sh = (cmd: string) => runProcess('sh', ['-c', cmd], { env: t.env });
  const lines = (s: string) => s.split('\n').filter(Boolean).sort();

  before(async () => {
    t = await startTarget();
    await importBusybox(t);
    host = fs.mkdtempSync(path.join(t.dir, 'host-'));
    await ok(['run', '-d', '--name', 'cpa', 'busybox', 'sleep', '1000']);
    await ok(['exec', 'cpa', 'sh', '-c', 'mkdir -p /d/sub && echo one > /d/a && echo two > /d/sub/b && ln -s /d /link && ln -s a /d/rel']);
  });
  after(async () => {
    await removeAllContainers(t);
    await assertNoContainerLeftovers(t);
    if (t.kind === 'stevedore') assert.deepEqual(fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(`${t.execRoot}/archive/`)), []);
    await t.stop();
  });

  it('copies files and directories out, with Docker\'s rules for dir, dir/ and dir/.', async () => {
    await ok(['cp', 'cpa:/d/a', path.join(host, 'a-copy')]);
    assert.equal(fs.readFileSync(path.join(host, 'a-copy'), 'utf8'), 'one\n');
    await ok(['cp', 'cpa:/d', path.join(host, 'new')]); // a new name: the directory becomes it
    assert.equal(fs.readFileSync(path.join(host, 'new/sub/b'), 'utf8'), 'two\n');
    fs.mkdirSync(path.join(host, 'into'));
    await ok(['cp', 'cpa:/d', path.join(host, 'into')]); // an existing directory: copied into it
    assert.equal(fs.readFileSync(path.join(host, 'into/d/a'), 'utf8'), 'one\n');
    fs.mkdirSync(path.join(host, 'content'));
    await ok(['cp', 'cpa:/d/.', path.join(host, 'content')]); // dir/.: its content
    assert.deepEqual(fs.readdirSync(path.join(host, 'content')).sort(), ['a', 'rel', 'sub']);
    assert.equal(fs.readlinkSync(path.join(host, 'content/rel')), 'a');
    await ok(['cp', 'cpa:/link/', path.join(host, 'via-link')]); // a trailing slash follows the link
    assert.equal(fs.readFileSync(path.join(host, 'via-link/a'), 'utf8'), 'one\n');
  });

  it('writes a tar on stdout with `-`, entries named after the path', async () => {
    assert.deepEqual(lines((await sh('docker cp cpa:/d - | tar -t')).stdout), ['d/', 'd/a', 'd/rel', 'd/sub/', 'd/sub/b']);
    assert.deepEqual(lines((await sh('docker cp cpa:/d/. - | tar -t')).stdout), ['./', './a', './rel', './sub/', './sub/b']);
    assert.deepEqual(lines((await sh('docker cp cpa:/link - | tar -tv')).stdout).map((l) => l.replace(/^.* link/, 'link')), ['link -> /d']);
    assert.deepEqual(lines((await sh('docker cp cpa:/link/ - | tar -t')).stdout), ['link/', 'link/a', 'link/rel', 'link/sub/', 'link/sub/b']);
  });

  it('answers HEAD with the path stat header (Go FileMode bits, link target in scope)', async () => {
    const stat = async (p: string) => {
      const r = await t.request('HEAD', `/containers/cpa/archive?path=${encodeURIComponent(p)}`);
      assert.equal(r.status, 200);
      return JSON.parse(Buffer.from(String(r.headers['x-docker-container-path-stat']), 'base64').toString()) as Record<string, unknown>;
    };
    const d = await stat('/d/');
    assert.deepEqual(Object.keys(d), ['name', 'size', 'mode', 'mtime', 'linkTarget']);
    assert.equal(d.name, 'd');
    assert.equal(d.mode, 2 ** 31 + 0o755);
    assert.equal(d.linkTarget, '');
    const l = await stat('/link');
    assert.equal(l.name, 'link');
    assert.equal(l.mode, 2 ** 27 + 0o777);
    assert.equal(l.linkTarget, '/d');
    const f = await stat('/d/rel');
    assert.equal(f.linkTarget, '/d/a');
    const missing = await t.request('HEAD', '/containers/cpa/archive?path=/nope');
    assert.equal(missing.status, 404);
    const empty = await t.request('GET', '/containers/cpa/archive?path=');
    assert.equal(empty.status, 400);
    assert.match(empty.body, /bad parameter: pathcannot be empty/);
  });

  it('says which file is missing, and which container', async () => {
    const r = await t.docker(['cp', 'cpa:/nope', path.join(host, 'x')]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Could not find the file \/nope in container cpa/);
    const c = await t.docker(['cp', 'nosuch:/a', path.join(host, 'x')]);
    assert.notEqual(c.code, 0);
    assert.match(c.stderr, /No such container: nosuch/);
  });

  it('copies files, directories and a tar from stdin in', async () => {
    fs.writeFileSync(path.join(host, 'in.txt'), 'in\n');
    fs.mkdirSync(path.join(host, 'indir/deep'), { recursive: true });
    fs.writeFileSync(path.join(host, 'indir/deep/f'), 'deep\n');
    await ok(['cp', path.join(host, 'in.txt'), 'cpa:/d/']);
    await ok(['cp', path.join(host, 'in.txt'), 'cpa:/d/renamed.txt']);
    await ok(['cp', path.join(host, 'indir'), 'cpa:/fresh']); // a new name
    await ok(['cp', path.join(host, 'indir'), 'cpa:/d']); // into an existing directory
    await ok(['cp', `${path.join(host, 'indir')}/.`, 'cpa:/d/sub']); // the content
    const tarred = await sh(`tar -C ${host} -c in.txt | docker cp - cpa:/d/sub`);
    assert.equal(tarred.code, 0, tarred.stderr);
    assert.equal(await ok(['exec', 'cpa', 'cat', '/d/in.txt', '/d/renamed.txt', '/fresh/deep/f', '/d/indir/deep/f', '/d/sub/deep/f', '/d/sub/in.txt']), 'in\nin\ndeep\ndeep\ndeep\nin\n');
    const clash = await sh(`mkdir -p ${host}/clash && echo f > ${host}/clash/sub && tar -C ${host}/clash -c sub | docker cp - cpa:/d`);
    assert.notEqual(clash.code, 0); // noOverwriteDirNonDir: a file may not replace /d/sub
    assert.match(clash.stderr, /cannot overwrite directory/);
  });

  it('copies into and out of a stopped container', async () => {
    await ok(['create', '--name', 'stopped', 'busybox', 'cat', '/put/f']);
    fs.mkdirSync(path.join(host, 'put'));
    fs.writeFileSync(path.join(host, 'put/f'), 'stopped\n');
    await ok(['cp', path.join(host, 'put'), 'stopped:/']);
    await ok(['cp', 'stopped:/put/f', path.join(host, 'back')]);
    assert.equal(fs.readFileSync(path.join(host, 'back'), 'utf8'), 'stopped\n');
    assert.equal(await ok(['start', '-a', 'stopped']), 'stopped\n');
    await ok(['cp', 'stopped:/etc/passwd', path.join(host, 'passwd')]); // exited now
    assert.match(fs.readFileSync(path.join(host, 'passwd'), 'utf8'), /^root:x:0:0/);
  });

  it('holds a stopped container while a copy out of it streams: a start waits for the copy to end', async () => {
    // Docker locks the container for the whole copy; stevedore mounts the stopped
    // container's snapshot for it, which a start must not mount a second time.
    await ok(['create', '--name', 'held', 'busybox', 'true']);
    await sh(`head -c 67108864 /dev/zero > ${host}/big64 && docker cp ${host}/big64 held:/big64`);
    const events: string[] = [];
    const body = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = http.request({ socketPath: t.socket, path: '/containers/held/archive?path=/big64', method: 'GET' }, resolve);
      req.on('error', reject);
      req.end();
    });
    assert.equal(body.statusCode, 200);
    body.pause(); // the copy stays open: 64 MiB do not fit in the socket's buffers
    const started = t.request('POST', '/containers/held/start').then((r) => {
      events.push('started');
      return r;
    });
    await new Promise((r) => setTimeout(r, 1000)); // room for a start that would not wait
    events.push('copy ends');
    let bytes = 0;
    body.on('data', (c: Buffer) => (bytes += c.length));
    body.resume();
    await new Promise((r) => body.on('end', r));
    assert.ok(bytes > 67108864, `the tar holds the file (${bytes} bytes)`);
    assert.equal((await started).status, 204);
    assert.deepEqual(events, ['copy ends', 'started']);
    await ok(['wait', 'held']);
    await ok(['rm', 'held']);
    fs.rmSync(`${host}/big64`);
  });

  it('copies into a bind mount as the container sees it', async () => {
    const bind = fs.mkdtempSync(path.join(t.dir, 'bind-'));
    await ok(['run', '-d', '--name', 'withbind', '-v', `${bind}:/mnt/b`, 'busybox', 'sleep', '1000']);
    fs.writeFileSync(path.join(host, 'tobind'), 'bound\n');
    await ok(['cp', path.join(host, 'tobind'), 'withbind:/mnt/b/']);
    assert.equal(fs.readFileSync(path.join(bind, 'tobind'), 'utf8'), 'bound\n');
    fs.writeFileSync(path.join(bind, 'fromhost'), 'host side\n');
    await ok(['cp', 'withbind:/mnt/b/fromhost', path.join(host, 'fromhost')]);
    assert.equal(fs.readFileSync(path.join(host, 'fromhost'), 'utf8'), 'host side\n');
    await ok(['rm', '-f', 'withbind']);
  });

  it('copies into a named volume of a read-only container; refuses read-only targets with Docker\'s errors', async () => {
    const bind = fs.mkdtempSync(path.join(t.dir, 'robind-'));
    fs.writeFileSync(path.join(host, 'vol.txt'), 'vol\n');
    await ok(['run', '-d', '--name', 'ro', '--read-only', '-v', `${bind}:/rob:ro`, '-v', 'cpvol:/vol', 'busybox', 'sleep', '1000']);
    try {
      await ok(['cp', path.join(host, 'vol.txt'), 'ro:/vol/']);
      assert.equal(await ok(['exec', 'ro', 'cat', '/vol/vol.txt']), 'vol\n');
      const tar = execFileSync('tar', ['-C', host, '-c', 'vol.txt']);
      const put = (p: string) => t.request('PUT', `/containers/ro/archive?path=${encodeURIComponent(p)}`, { body: tar, headers: { 'Content-Type': 'application/x-tar' } });
      const expect = async (p: string, status: number, message: string) => {
        const r = await put(p);
        assert.equal(r.status, status, `${p}: ${r.body}`);
        assert.equal((JSON.parse(r.body) as { message: string }).message, message);
      };
      await expect('/tmp', 500, 'container rootfs is marked read-only');
      await expect('/rob', 500, 'mounted volume is marked read-only');
      await expect('/vol/../rob', 500, 'mounted volume is marked read-only');
      await expect('/etc/passwd', 500, 'extraction point is not a directory');
      await expect('/nope', 404, 'Could not find the file /nope in container ro');
      assert.deepEqual(fs.readdirSync(bind), []);
    } finally {
      await ok(['rm', '-f', 'ro']);
      await ok(['volume', 'rm', 'cpvol']);
    }
  });

  it('owns copied files by the container\'s user with -a (looked up on the host, as Docker 20.10)', async () => {
    await ok(['create', '--user', 'www-data', '--name', 'owned', 'busybox']);
    fs.writeFileSync(path.join(host, 'own.txt'), 'own\n');
    await ok(['cp', '-a', path.join(host, 'own.txt'), 'owned:/tmp/']);
    const listed = await sh('docker cp owned:/tmp/own.txt - | tar -tv --numeric-owner');
    assert.match(listed.stdout, /^-rw-r--r-- 33\/33 /);
    await ok(['create', '--user', 'nosuchuser', '--name', 'unowned', 'busybox']);
    const r = await t.docker(['cp', '-a', path.join(host, 'own.txt'), 'unowned:/tmp/']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /getent unable to find entry "nosuchuser" in passwd database/);
  });

  it('exports the container\'s file system and lists its changes as Docker does', async () => {
    await ok(['run', '--name', 'changed', 'busybox', 'sh', '-c', 'echo x > /new && mkdir -p /tmp/t && echo y > /tmp/t/f && rm /etc/group && echo z >> /etc/passwd && rm /bin/vi']);
    // Docker lists in directory order (readdir's), each parent before its children
    const diff = (await ok(['diff', 'changed'])).split('\n').filter(Boolean);
    assert.deepEqual([...diff].sort(), ['A /new', 'A /tmp/t', 'A /tmp/t/f', 'C /bin', 'C /etc', 'C /etc/passwd', 'C /tmp', 'D /bin/vi', 'D /etc/group']);
    for (const [i, l] of diff.entries()) {
      const parent = path.posix.dirname(l.slice(2));
      if (parent !== '/') assert.ok(diff.slice(0, i).some((e) => e.slice(2) === parent), `${l} after its parent`);
    }
    await ok(['create', '--name', 'untouched', 'busybox']);
    const none = await t.request('GET', '/containers/untouched/changes');
    assert.equal(none.status, 200);
    assert.equal(none.body.trim(), 'null');
    assert.equal(await ok(['diff', 'untouched']), '');
    const exported = lines((await sh('docker export changed | tar -t')).stdout);
    const top = exported.filter((n) => !/^(bin|sbin|usr)\/./.test(n));
    assert.deepEqual(top, ['.dockerenv', 'bin/', 'dev/', 'dev/console', 'dev/pts/', 'dev/shm/', 'etc/', 'etc/hostname', 'etc/hosts', 'etc/mtab', 'etc/passwd', 'etc/resolv.conf', 'linuxrc', 'new', 'proc/', 'root/', 'sbin/', 'sys/', 'tmp/', 'tmp/t/', 'tmp/t/f', 'usr/', 'var/']);
    assert.ok(exported.includes('bin/busybox') && !exported.includes('bin/vi'));
  });

  it('survives clients that leave in the middle of a copy or an export', async () => {
    await ok(['exec', 'cpa', 'sh', '-c', 'head -c 50000000 /dev/zero > /big']);
    for (let i = 0; i < 5; i++) {
      await sh(`curl -s -o /dev/null --max-time 0.05 --unix-socket ${t.socket} 'http://x/containers/cpa/archive?path=/big'`);
      await sh(`curl -s -o /dev/null --max-time 0.05 --unix-socket ${t.socket} 'http://x/containers/cpa/export'`);
    }
    assert.equal(await ok(['exec', 'cpa', 'cat', '/d/a']), 'one\n');
    await ok(['exec', 'cpa', 'rm', '/big']);
    if (t.kind === 'stevedore') {
      // every copy helper is gone, and with it its mounts
      for (let i = 0; i < 50 && processesMentioning('archive/helper.js').length > 0; i++) await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(processesMentioning('archive/helper.js'), []);
    }
  });

  it('never reads or writes the host while the container swaps a directory for a link to /', async () => {
    // the marker lives on the host at a path that does not exist in the container
    const secret = fs.mkdtempSync('/tmp/stv-secret-');
    fs.writeFileSync(path.join(secret, 'marker'), 'HOST SECRET\n');
    const rel = secret.slice(1);
    try {
      await ok(['run', '-d', '--name', 'swapper', 'busybox', 'sh', '-c', 'mkdir -p /w/d/x; while true; do mv /w/d /w/d2; ln -s / /w/d; rm /w/d; mv /w/d2 /w/d; done']);
      const payload = fs.mkdtempSync(path.join(t.dir, 'payload-'));
      fs.mkdirSync(path.join(payload, rel), { recursive: true });
      fs.writeFileSync(path.join(payload, rel, 'planted'), 'from the copy\n');
      fs.writeFileSync(path.join(payload, rel, 'marker'), 'overwritten\n');
      for (let i = 0; i < 25; i++) {
        const out = await sh(`docker cp swapper:/w/d/${rel}/marker - 2>/dev/null | tar -xO 2>/dev/null; docker cp swapper:/w/d/ - 2>/dev/null | tar -t 2>/dev/null`);
        assert.doesNotMatch(out.stdout, /HOST SECRET/);
        await sh(`tar -C ${payload} -c ${rel.split('/')[0]} | docker cp - swapper:/w/d 2>/dev/null`);
      }
      assert.deepEqual(fs.readdirSync(secret), ['marker']);
      assert.equal(fs.readFileSync(path.join(secret, 'marker'), 'utf8'), 'HOST SECRET\n');
      await ok(['rm', '-f', 'swapper']);
    } finally {
      fs.rmSync(secret, { recursive: true, force: true });
    }
  });
});
