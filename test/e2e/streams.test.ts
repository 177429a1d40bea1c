/**
 * Streamed responses as Docker writes them (issue #11): errors of `docker load` and
 * `docker import` that happen after the upload started (item 9), and the logs/events
 * details of item 11 — `logs --details`, the logs Content-Type at API 1.41, the
 * `container` filter of /events, and `timeNano` as an exact integer.
 */
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { importBusybox } from '../helpers/busybox';
import { removeAllContainers } from '../helpers/containers';
import { startRegistry } from '../helpers/registry';
import { startTarget, type Target } from '../helpers/target';

describe('streamed responses', { timeout: 300_000 }, () => {
  let t: Target;
  let saved: Buffer;

  before(async () => {
    t = await startTarget();
    await importBusybox(t);
    const out = path.join(t.dir, 'saved.tar');
    const save = await t.docker(['save', '-o', out, 'busybox']);
    assert.equal(save.code, 0, save.stderr);
    saved = fs.readFileSync(out);
  });

  after(async () => {
    if (!t) return;
    try {
      await removeAllContainers(t);
    } finally {
      await t.stop();
    }
  });

  describe('docker load of an archive that turns bad half-way (item 9)', () => {
    const cases = [
      // cut in the middle of a layer: the tar ends early
      { name: 'truncated', make: () => saved.subarray(0, Math.floor(saved.length / 2)) },
      // a garbled header after the first member
      {
        name: 'corrupt',
        make: () => {
          const b = Buffer.from(saved);
          b.fill(0x41, 1024, 4096);
          return b;
        },
      },
    ];
    for (const c of cases) {
      it(`reports the error of a ${c.name} tar in the JSON stream and the CLI prints it`, async () => {
        const file = path.join(t.dir, `${c.name}.tar`);
        fs.writeFileSync(file, c.make());
        const r = await t.docker(['load', '-i', file]);
        assert.equal(r.code, 1, r.stdout + r.stderr);
        // in-band: no "Error response from daemon" prefix, and no reset connection
        assert.match(r.stderr, /^[^\n]*tar[^\n]*\n$/i);
        assert.doesNotMatch(r.stderr, /Error response from daemon|connection reset|EOF \(/);
        assert.match(r.stderr, t.kind === 'docker' ? /^Error processing tar file\(exit status 1\): / : /^invalid tar archive: /);

        const raw = await t.request('POST', '/v1.41/images/load?quiet=1', { body: c.make(), headers: { 'Content-Type': 'application/x-tar' } });
        assert.equal(raw.status, 200);
        assert.equal(raw.headers['content-type'], 'application/json');
        const lines = raw.body.split(/\r?\n/).filter(Boolean);
        assert.equal(lines.length, 1, raw.body);
        const m = JSON.parse(lines[0]!) as { error: string; errorDetail: { message: string } };
        assert.deepEqual(Object.keys(m).sort(), ['error', 'errorDetail']);
        assert.equal(m.errorDetail.message, m.error);
        assert.equal(r.stderr.trim(), m.error);
        assert.equal((await t.request('GET', '/_ping')).status, 200);
      });
    }

    it('answers an import that fails before its first message with an HTTP error', async () => {
      const file = path.join(t.dir, 'import-truncated.tar');
      fs.writeFileSync(file, saved.subarray(0, Math.floor(saved.length / 2)));
      const r = await t.docker(['import', file, 'streams-import:bad']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^Error response from daemon: [^\n]+\n$/);
      assert.equal((await t.docker(['image', 'inspect', 'streams-import:bad'])).code, 1);
    });
  });

  it('answers docker save of an image whose layer data is gone with an HTTP error, before any byte', async () => {
    const src = path.join(t.dir, 'damaged-src');
    fs.mkdirSync(src, { recursive: true });
    fs.writeFileSync(path.join(src, 'hello.txt'), 'hello\n');
    const tarFile = path.join(t.dir, 'damaged.tar');
    execFileSync('tar', ['-C', src, '-cf', tarFile, '.']);
    assert.equal((await t.docker(['import', tarFile, 'st-damaged:1'])).code, 0);
    const insp = JSON.parse((await t.docker(['image', 'inspect', 'st-damaged:1'])).stdout) as Array<{ RootFS: { Layers: string[] }; GraphDriver: { Data: Record<string, string> | null } }>;
    if (t.kind === 'docker') fs.rmSync(insp[0]!.GraphDriver.Data!.UpperDir!, { recursive: true, force: true });
    // stevedore stores an imported layer uncompressed: its blob is named by the diffID
    else fs.rmSync(path.join(t.dataRoot, 'content', 'blobs', 'sha256', insp[0]!.RootFS.Layers[0]!.slice('sha256:'.length)));
    const r = await t.docker(['save', '-o', path.join(t.dir, 'out.tar'), 'st-damaged:1']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^Error response from daemon: [^\n]+\n$/);
    const raw = await t.request('GET', '/images/st-damaged:1/get');
    assert.equal(raw.status, 500);
    assert.equal(raw.headers['content-type'], 'application/json');
    assert.equal((await t.request('GET', '/_ping')).status, 200);
  });

  it('reports a pull that fails after its progress started in the JSON stream (a corrupt layer)', async () => {
    const reg = await startRegistry();
    try {
      // a layer of its own, so that the pull has to fetch it
      const src = path.join(t.dir, 'pull-src');
      fs.mkdirSync(src, { recursive: true });
      fs.writeFileSync(path.join(src, 'unique.bin'), randomBytes(64 * 1024)); // incompressible: the layer is the largest blob
      const tarFile = path.join(t.dir, 'pull-src.tar');
      execFileSync('tar', ['-C', src, '-cf', tarFile, '.']);
      const tag = `${reg.host}/st/corrupt:1`;
      assert.equal((await t.docker(['import', tarFile, tag])).code, 0);
      const push = await t.docker(['push', tag]);
      assert.equal(push.code, 0, push.stderr);
      assert.equal((await t.docker(['rmi', tag])).code, 0);
      // the largest blob of the registry is the layer: same size, other bytes
      const blobs: string[] = [];
      const walk = (d: string) => {
        for (const e of fs.readdirSync(d, { withFileTypes: true })) {
          const p = path.join(d, e.name);
          if (e.isDirectory()) walk(p);
          else if (e.name === 'data' && p.includes(`${path.sep}blobs${path.sep}`)) blobs.push(p);
        }
      };
      walk(path.join(reg.dir, 'data'));
      const layer = blobs.sort((a, b) => fs.statSync(b).size - fs.statSync(a).size)[0]!;
      const bytes = fs.readFileSync(layer);
      bytes[bytes.length - 1] ^= 0xff;
      bytes[Math.floor(bytes.length / 2)] ^= 0xff;
      fs.writeFileSync(layer, bytes);

      const r = await t.docker(['pull', tag], { timeoutMs: 120_000 });
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stdout, /Pulling from st\/corrupt/, JSON.stringify(r));
      assert.doesNotMatch(r.stderr, /Error response from daemon|connection reset/);
      assert.match(r.stderr, /^[^\n]+\n$/);

      const raw = await t.request('POST', `/images/create?fromImage=${encodeURIComponent(`${reg.host}/st/corrupt`)}&tag=1`);
      assert.equal(raw.status, 200);
      const last = JSON.parse(raw.body.trim().split(/\r?\n/).at(-1)!) as { error?: string; errorDetail?: { message: string } };
      assert.equal(typeof last.error, 'string');
      assert.equal(last.errorDetail?.message, last.error);
      assert.equal(r.stderr.trim(), last.error);
    } finally {
      await reg.stop();
    }
  });

  describe('logs (item 11)', () => {
    before(async () => {
      const a = await t.docker(['run', '-d', '--name', 'st-details', '--label', 'a=1', '--label', 'b=x', '--log-opt', 'labels=a,zz', '-e', 'E1=v v/w', '--log-opt', 'env=E1', 'busybox', 'sh', '-c', 'echo hello; echo oops >&2']);
      assert.equal(a.code, 0, a.stderr);
      const b = await t.docker(['run', '-d', '--name', 'st-plain', 'busybox', 'echo', 'hello']);
      assert.equal(b.code, 0, b.stderr);
      assert.equal((await t.docker(['wait', 'st-details', 'st-plain'])).code, 0);
    });

    it('--details prefixes each line with the log attributes, sorted and query-escaped', async () => {
      const r = await t.docker(['logs', '--details', 'st-details']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'E1=v+v%2Fw,a=1 hello\n');
      assert.equal(r.stderr, 'E1=v+v%2Fw,a=1 oops\n');
      const ts = await t.docker(['logs', '--details', '--timestamps', 'st-details']);
      assert.match(ts.stdout, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z E1=v\+v%2Fw,a=1 hello\n$/);
    });

    it('--details without attributes prefixes a single space', async () => {
      const r = await t.docker(['logs', '--details', 'st-plain']);
      assert.equal(r.stdout, ' hello\n');
      assert.equal((await t.docker(['logs', 'st-plain'])).stdout, 'hello\n');
    });

    it('sends no Content-Type at API 1.41 and below (raw-stream came with 1.42)', async () => {
      for (const v of ['v1.41', 'v1.40', 'v1.24']) {
        const r = await t.request('GET', `/${v}/containers/st-plain/logs?stdout=1&stderr=1`);
        assert.equal(r.status, 200);
        assert.equal(r.headers['content-type'], undefined, `${v}: ${String(r.headers['content-type'])}`);
      }
    });
  });

  describe('events (item 11)', () => {
    let since: number;
    let until: number;
    const events = async (filters: Record<string, string[]>) => {
      const r = await t.request('GET', `/events?since=${since}&until=${until}&filters=${encodeURIComponent(JSON.stringify(filters))}`);
      assert.equal(r.status, 200);
      return r.body.split('\n').filter(Boolean);
    };
    const summary = (lines: string[]) =>
      lines.map((l) => {
        const j = JSON.parse(l) as { Type: string; Action: string; Actor: { Attributes: Record<string, string> } };
        return `${j.Type} ${j.Action} ${j.Actor.Attributes.name}`;
      });

    before(async () => {
      since = Math.floor(Date.now() / 1000) - 1;
      assert.equal((await t.docker(['create', '--name', 'st-evold', 'busybox', 'true'])).code, 0);
      assert.equal((await t.docker(['rename', 'st-evold', 'st-evnew'])).code, 0);
      assert.equal((await t.docker(['create', '--name', 'st-other', 'busybox', 'true'])).code, 0);
      until = Math.floor(Date.now() / 1000) + 1;
      await sleep(1100 + Math.max(0, until * 1000 - Date.now()));
    });

    it('the container filter matches a name prefix, and events from before a rename by the old name', async () => {
      assert.deepEqual(summary(await events({ container: ['st-evold'] })), ['container create st-evold']);
      assert.deepEqual(summary(await events({ container: ['st-evnew'] })), ['container rename st-evnew']);
      assert.deepEqual(summary(await events({ container: ['st-evo'] })), ['container create st-evold']);
      assert.deepEqual(summary(await events({ container: ['st-ev'] })), ['container create st-evold', 'container rename st-evnew']);
      const rename = JSON.parse((await events({ container: ['st-evnew'] }))[0]!) as { Actor: { Attributes: Record<string, string> } };
      assert.equal(rename.Actor.Attributes.oldName, '/st-evold');
    });

    it('timeNano is the exact int64 and time its seconds', async () => {
      const lines = await events({});
      assert.ok(lines.length >= 3);
      const nanos = lines.map((l) => {
        const m = /"time":(\d+),"timeNano":(\d+)[,}]|"timeNano":(\d+)[,}]/.exec(l);
        assert.ok(m, l);
        const digits = (m[2] ?? m[3])!;
        const time = (JSON.parse(l) as { time: number }).time;
        assert.equal(digits.length, 19, l);
        assert.equal(String(time), digits.slice(0, 10), l);
        return digits;
      });
      // a double cannot hold 19 digits: rounded values all end in 00
      assert.ok(
        nanos.some((d) => !d.endsWith('00')),
        nanos.join(' '),
      );
    });
  });
});
