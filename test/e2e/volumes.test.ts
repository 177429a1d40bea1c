/**
 * Volumes and mounts end to end with the unmodified docker CLI and docker-py: named
 * volumes that outlive their containers, anonymous volumes filled from an image's
 * VOLUME, host binds, tmpfs mounts, --volumes-from, --read-only, volume ls/inspect/rm/
 * prune, rm -v and run --rm. Passes against stevedore and against Docker's own engine
 * (STEVEDORE_TEST_TARGET=docker).
 */
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type Target, startTarget } from '../helpers/target';
import { importBusybox } from '../helpers/busybox';
import { python } from '../helpers/process';
import { assertNoContainerLeftovers, removeAllContainers } from '../helpers/containers';
import { DaemonRestart } from '../helpers/restart';
import { alive } from '../helpers/wait';

describe('volumes', () => {
  let t: Target;
  const ok = async (args: string[]) => {
    const r = await t.docker(args);
    assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}\n${t.kind === 'stevedore' ? t.logs().slice(-2000) : ''}`);
    return r.stdout;
  };
  const fails = async (args: string[], re: RegExp) => {
    const r = await t.docker(args);
    assert.notEqual(r.code, 0, `docker ${args.join(' ')} should fail`);
    assert.match(r.stderr, re);
    return r;
  };
  const volumes = async () => (await ok(['volume', 'ls', '-q'])).split('\n').filter(Boolean).sort();
  const inspect = async (ref: string) => JSON.parse(await ok(['inspect', ref]))[0] as { Mounts: Array<Record<string, unknown>>; HostConfig: Record<string, unknown> };
  const mountAt = async (ref: string, dest: string) => (await inspect(ref)).Mounts.find((m) => m['Destination'] === dest)!;

  before(async () => {
    t = await startTarget();
    await importBusybox(t);
  });
  after(async () => {
    await removeAllContainers(t);
    const left = await volumes();
    if (left.length) await t.docker(['volume', 'rm', '-f', ...left]);
    await t.docker(['rmi', '-f', 'vimg']);
    await assertNoContainerLeftovers(t);
    if (t.kind === 'stevedore') {
      const mounts = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(path.join(t.dataRoot, 'volumes')));
      assert.deepEqual(mounts, [], 'volume mounts left');
    }
    await t.stop();
  });

  it('data in a named volume outlives its container and is seen read-only by the next', async () => {
    await ok(['run', '--rm', '-v', 'v1:/data', 'busybox', 'sh', '-c', 'echo hello > /data/f']);
    assert.deepEqual(await volumes(), ['v1']);
    assert.equal(await ok(['run', '--rm', '-v', 'v1:/data:ro', 'busybox', 'cat', '/data/f']), 'hello\n');
    await fails(['run', '--rm', '-v', 'v1:/data:ro', 'busybox', 'touch', '/data/x'], /Read-only file system/);
    const v = JSON.parse(await ok(['volume', 'inspect', 'v1']))[0] as Record<string, unknown>;
    assert.equal(v['Mountpoint'], path.join(t.dataRoot, 'volumes', 'v1', '_data'));
    assert.equal(fs.readFileSync(path.join(String(v['Mountpoint']), 'f'), 'utf8'), 'hello\n');
    assert.deepEqual([v['Driver'], v['Scope'], v['Labels'], v['Options']], ['local', 'local', null, null]);
    assert.match(String(v['CreatedAt']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$/);
    await ok(['create', '--name', 'named-user', '-v', 'v1:/data', 'busybox', 'true']);
    assert.equal((await ok(['ps', '-a', '--format', '{{.Names}}', '--filter', 'volume=v1'])).trim(), 'named-user');
    assert.equal((await ok(['ps', '-a', '--format', '{{.Names}}', '--filter', 'volume=/data'])).trim(), 'named-user');
    assert.deepEqual(await mountAt('named-user', '/data'), {
      Type: 'volume', Name: 'v1', Source: v['Mountpoint'], Destination: '/data', Driver: 'local', Mode: 'z', RW: true, Propagation: '',
    });
    const rm = await t.docker(['volume', 'rm', 'v1']);
    assert.notEqual(rm.code, 0);
    const id = (await ok(['inspect', '-f', '{{.Id}}', 'named-user'])).trim();
    assert.match(rm.stderr, new RegExp(`remove v1: volume is in use - \\[${id}\\]`));
    await ok(['rm', '-v', 'named-user']); // -v never removes a named volume
    assert.deepEqual(await volumes(), ['v1']);
    await ok(['volume', 'rm', 'v1']);
    assert.deepEqual(await volumes(), []);
  });

  it('an image VOLUME with content gives a filled anonymous volume, gone with rm -v', async () => {
    await ok(['run', '--name', 'vsrc', 'busybox', 'sh', '-c', 'mkdir /data && echo hi > /data/f && chown 5:6 /data/f && chmod 640 /data/f && chmod 750 /data']);
    await ok(['commit', '--change', 'VOLUME /data', 'vsrc', 'vimg']);
    await ok(['rm', 'vsrc']);
    assert.equal(await ok(['run', '--name', 'vuser', 'vimg', 'sh', '-c', 'cat /data/f; stat -c "%u:%g %a" /data/f /data']), 'hi\n5:6 640\n0:0 750\n');
    const m = await mountAt('vuser', '/data');
    assert.match(String(m['Name']), /^[0-9a-f]{64}$/);
    assert.deepEqual({ ...m, Name: '', Source: '' }, { Type: 'volume', Name: '', Source: '', Destination: '/data', Driver: 'local', Mode: '', RW: true, Propagation: '' });
    assert.deepEqual(await volumes(), [m['Name']]);
    assert.equal(fs.readFileSync(path.join(String(m['Source']), 'f'), 'utf8'), 'hi\n');
    await ok(['rm', '-v', 'vuser']);
    assert.deepEqual(await volumes(), []);
    // run --rm -v /x: the anonymous volume goes with the container
    await ok(['run', '--rm', '-v', '/x', 'vimg', 'sh', '-c', 'echo a > /x/a']);
    assert.deepEqual(await volumes(), []);
  });

  it('fills a named volume from the image at create, before any start (Docker\'s populateVolumes)', async () => {
    await ok(['create', '--name', 'filler', '-v', 'filled:/etc', 'busybox', 'true']);
    // never started: the volume already holds the image's /etc
    assert.match(await ok(['run', '--rm', '-v', 'filled:/x', 'busybox', 'cat', '/x/passwd']), /^root:x:0:0/);
    // a volume that is not empty is left as it is
    await ok(['run', '--rm', '-v', 'filled:/x', 'busybox', 'sh', '-c', 'rm -rf /x/* && echo mine > /x/own']);
    await ok(['create', '--name', 'filler2', '-v', 'filled:/etc', 'busybox', 'true']);
    assert.equal(await ok(['run', '--rm', '-v', 'filled:/x', 'busybox', 'ls', '/x']), 'own\n');
    // nocopy: an empty volume stays empty
    await ok(['create', '--name', 'filler3', '-v', 'empty-nc:/etc:nocopy', 'busybox', 'true']);
    assert.equal(await ok(['run', '--rm', '-v', 'empty-nc:/x', 'busybox', 'ls', '-A', '/x']), '');
    await ok(['rm', 'filler', 'filler2', 'filler3']);
    await ok(['volume', 'rm', 'filled', 'empty-nc']);
  });

  it('binds a host directory, mounts tmpfs, shares volumes with --volumes-from, and keeps --read-only with a tmpfs', async () => {
    const host = fs.mkdtempSync(path.join(t.dir, 'bind-'));
    fs.writeFileSync(path.join(host, 'in'), 'from host\n');
    assert.equal(await ok(['run', '--name', 'binder', '-v', `${host}:/x`, 'busybox', 'sh', '-c', 'cat /x/in; echo out > /x/out']), 'from host\n');
    assert.equal(fs.readFileSync(path.join(host, 'out'), 'utf8'), 'out\n');
    assert.deepEqual(await mountAt('binder', '/x'), { Type: 'bind', Source: host, Destination: '/x', Mode: '', RW: true, Propagation: 'rprivate' });
    assert.deepEqual((await inspect('binder')).HostConfig['Binds'], [`${host}:/x`]);
    // a missing source of a -v bind is made a directory at start (not at create), as Docker does
    await ok(['create', '--name', 'maker', '-v', `${host}/made/here:/m`, 'busybox', 'true']);
    assert.ok(!fs.existsSync(path.join(host, 'made')));
    await ok(['start', '-a', 'maker']);
    assert.ok(fs.statSync(path.join(host, 'made/here')).isDirectory());
    await ok(['rm', 'maker']);

    const tm = await ok(['run', '--name', 'tmpfser', '--mount', 'type=tmpfs,dst=/t,tmpfs-size=1m', 'busybox', 'sh', '-c', 'grep " /t " /proc/mounts']);
    assert.match(tm, /^tmpfs \/t tmpfs rw,nosuid,nodev,noexec,relatime,size=1024k/);
    assert.deepEqual(await mountAt('tmpfser', '/t'), { Type: 'tmpfs', Source: '', Destination: '/t', Mode: '', RW: true, Propagation: '' });

    await ok(['create', '--name', 'vfrom', '-v', 'shared:/s', '-v', '/anon', 'busybox', 'true']);
    await ok(['run', '--rm', '-v', 'shared:/s', 'busybox', 'sh', '-c', 'echo s > /s/f']);
    assert.equal(await ok(['run', '--rm', '--volumes-from', 'vfrom:ro', 'busybox', 'sh', '-c', 'cat /s/f; ls -d /anon; touch /s/g 2>&1 || true']), 's\n/anon\ntouch: /s/g: Read-only file system\n');
    await ok(['run', '--name', 'vfrom-user', '--volumes-from', 'vfrom', 'busybox', 'touch', '/s/h']);
    const inherited = await mountAt('vfrom-user', '/s');
    assert.deepEqual([inherited['Name'], inherited['Mode'], inherited['RW']], ['shared', '', true]);

    assert.equal(await ok(['run', '--rm', '--read-only', '--tmpfs', '/run', '-v', 'rwvol:/data', 'busybox', 'sh', '-c', 'touch /x 2>&1; touch /run/ok /data/ok && echo fine']), 'touch: /x: Read-only file system\nfine\n');
    await ok(['rm', '-v', 'binder', 'tmpfser', 'vfrom-user']);
    await ok(['rm', '-v', 'vfrom']);
    assert.deepEqual(await volumes(), ['rwvol', 'shared']);
    await ok(['volume', 'rm', 'rwvol', 'shared']);
  });

  it('answers Docker\'s errors for a missing bind source, duplicate mount points and relative paths', async () => {
    await fails(['run', '--rm', '--mount', 'type=bind,src=/nonexistent-stv,dst=/x', 'busybox', 'true'], /invalid mount config for type "bind": bind source path does not exist: \/nonexistent-stv/);
    await fails(['run', '--rm', '-v', 'a1:/x', '-v', 'a2:/x', 'busybox', 'true'], /Duplicate mount point: \/x/);
    await fails(['run', '--rm', '-v', '/tmp:rel', 'busybox', 'true'], /invalid mount config for type "bind": invalid mount path: 'rel' mount path must be absolute/);
    await fails(['run', '--rm', '-v', 'rel/dir:/x', 'busybox', 'true'], /"rel\/dir" includes invalid characters for a local volume name/);
    await fails(['run', '--rm', '--volumes-from', 'nosuchcontainer', 'busybox', 'true'], /No such container: nosuchcontainer/);
    await fails(['run', '--rm', '--volumes-from', 'x:bogus', 'busybox', 'true'], /invalid mode: bogus/);
    await fails(['volume', 'create', '-d', 'nosuchdriver', 'x1'], /error looking up volume plugin nosuchdriver: plugin "nosuchdriver" not found/);
    await fails(['volume', 'create', '-o', 'foo=bar', 'x2'], /invalid option: "foo"/);
    // Docker makes the named volume it meets before the duplicate (the CLI sends the binds in no fixed order);
    // stevedore checks first and makes none
    if (t.kind === 'stevedore') assert.deepEqual(await volumes(), []);
    await t.docker(['volume', 'rm', '-f', 'a1', 'a2']);
    assert.deepEqual(await volumes(), []);
  });

  it('volume ls filters, prune and system df behave as Docker\'s', async () => {
    await ok(['volume', 'create', '--label', 'keep=1', 'lab1']);
    await ok(['volume', 'create', 'plain']);
    await ok(['volume', 'create', '-o', 'type=tmpfs', '-o', 'device=tmpfs', '-o', 'o=size=1m', 'tmpv']);
    await ok(['create', '--name', 'holder', '-v', 'plain:/p', '-v', 'tmpv:/t', 'busybox', 'sh', '-c', 'grep " /t " /proc/mounts']);
    const ls = async (...f: string[]) => (await ok(['volume', 'ls', '-q', ...f.flatMap((x) => ['--filter', x])])).split('\n').filter(Boolean).sort();
    assert.deepEqual(await ls('name=p'), ['plain', 'tmpv']);
    assert.deepEqual(await ls('label=keep'), ['lab1']);
    assert.deepEqual(await ls('label=keep=1'), ['lab1']);
    assert.deepEqual(await ls('dangling=true'), ['lab1']);
    assert.deepEqual(await ls('dangling=false'), ['plain', 'tmpv']);
    assert.deepEqual(await ls('driver=local'), ['lab1', 'plain', 'tmpv']);
    await fails(['volume', 'ls', '--filter', 'bogus=1'], /Invalid filter 'bogus'/);
    // a tmpfs volume is mounted while its container runs
    assert.match(await ok(['start', '-a', 'holder']), /^tmpfs \/t tmpfs rw,relatime,size=1024k/);
    const df = JSON.parse((await t.request('GET', '/v1.41/system/df')).body) as { Volumes: Array<Record<string, unknown>> };
    assert.deepEqual(df.Volumes.find((v) => v['Name'] === 'plain')!['UsageData'], { RefCount: 1, Size: 0 });
    assert.deepEqual(df.Volumes.find((v) => v['Name'] === 'lab1')!['UsageData'], { RefCount: 0, Size: 0 });
    const pruneAll = await t.request('POST', '/v1.41/volumes/prune?filters=' + encodeURIComponent('{"all":["true"]}'));
    assert.equal(pruneAll.status, 400);
    const kept = await t.request('POST', '/v1.41/volumes/prune?filters=' + encodeURIComponent('{"label!":["keep"]}'));
    assert.deepEqual(JSON.parse(kept.body), { VolumesDeleted: [], SpaceReclaimed: 0 });
    // the CLI 28 speaks 1.50 with stevedore: from API 1.42 named volumes go only with --all (Docker 20.10: 1.41, every volume)
    const pruneArgs = ['volume', 'prune', '-f', ...(t.kind === 'stevedore' ? ['--all'] : [])];
    await ok(pruneArgs);
    assert.deepEqual(await volumes(), ['plain', 'tmpv']);
    await ok(['rm', 'holder']);
    await ok(pruneArgs);
    assert.deepEqual(await volumes(), ['tmpv']); // Docker 20.10 keeps volumes with driver options
    await ok(['volume', 'rm', 'tmpv']);
    assert.equal((await t.request('GET', '/v1.41/volumes/tmpv')).status, 404);
  });

  it('an image VOLUME on a symlink out of the root stays inside the container; --mount volume options make the volume', async () => {
    const host = fs.mkdtempSync(path.join(t.dir, 'outside-'));
    fs.writeFileSync(path.join(host, 'secret'), 'host only\n');
    await ok(['run', '--name', 'evsrc', 'busybox', 'ln', '-s', `../../../../../../../..${host}`, '/evil']);
    await ok(['commit', '--change', 'VOLUME /evil', 'evsrc', 'evimg']);
    await ok(['rm', 'evsrc']);
    assert.equal(await ok(['run', '--name', 'evuser', 'evimg', 'ls', '-A', '/evil/']), '');
    const m = await mountAt('evuser', '/evil');
    assert.deepEqual(fs.readdirSync(String(m['Source'])), []);
    assert.deepEqual(fs.readdirSync(host), ['secret']);
    await ok(['rm', '-v', 'evuser']);
    await ok(['rmi', 'evimg']);

    // a relative VOLUME (possible through the API) is recorded as given and mounted inside the root: ../../etc is /etc
    const created = await t.request('POST', '/v1.41/containers/create?name=relvol', {
      body: JSON.stringify({ Image: 'busybox', Cmd: ['cat', '/etc/group'], Volumes: { '../../etc': {} } }),
      headers: { 'Content-Type': 'application/json' },
    });
    assert.equal(created.status, 201, created.body);
    assert.match(await ok(['start', '-a', 'relvol']), /^root:x:0:\n/);
    const rel = await mountAt('relvol', '../../etc');
    assert.ok(fs.existsSync(path.join(String(rel['Source']), 'group')));
    await ok(['rm', '-v', 'relvol']);

    const out = await ok(['run', '--rm', '--mount', 'type=volume,src=dv,dst=/d,volume-driver=local,volume-opt=type=tmpfs,volume-opt=device=tmpfs,volume-opt=o=size=2m,volume-label=x=y', 'busybox', 'sh', '-c', 'grep " /d " /proc/mounts']);
    assert.match(out, /^tmpfs \/d tmpfs rw,relatime,size=2048k/);
    const v = JSON.parse(await ok(['volume', 'inspect', 'dv']))[0] as Record<string, unknown>;
    assert.deepEqual([v['Options'], v['Labels']], [{ type: 'tmpfs', device: 'tmpfs', o: 'size=2m' }, { x: 'y' }]);
    await ok(['volume', 'rm', 'dv']);
  });

  it('publishes volume events: create, mount, unmount, destroy', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    await ok(['volume', 'create', 'evv']);
    await ok(['run', '--rm', '-v', 'evv:/x:ro', 'busybox', 'true']);
    await ok(['volume', 'rm', 'evv']);
    const until = Math.ceil(Date.now() / 1000) + 1;
    const out = await ok(['events', '--since', String(since), '--until', String(until), '--filter', 'type=volume', '--filter', 'volume=evv', '--format', '{{.Action}} {{.Actor.Attributes.driver}} {{index .Actor.Attributes "read/write"}} {{.Actor.Attributes.destination}}']);
    // (create twice: moby publishes it for the container's create of the existing volume too)
    assert.deepEqual(out.trim().split('\n'), ['create local  <no value>', 'create local  <no value>', 'mount local false /x', 'unmount local  <no value>', 'destroy local  <no value>']);
  });

  it('docker-py: client.volumes.create/list/get/remove/prune', async () => {
    const script = `
import docker
c = docker.from_env()
v = c.volumes.create(name='pyvol', labels={'k': 'v'})
assert v.attrs['Labels'] == {'k': 'v'}, v.attrs
assert [x.name for x in c.volumes.list(filters={'label': 'k=v'})] == ['pyvol']
assert c.volumes.get('pyvol').attrs['Mountpoint'].endswith('/volumes/pyvol/_data')
c.volumes.create(name='pyvol2')
print(sorted(c.volumes.prune(filters={'label': 'k'${t.kind === 'stevedore' ? ", 'all': 'true'" : ''}})['VolumesDeleted'])) # API 1.42+: named volumes only with all (docker-py speaks the daemon's 1.52)
c.volumes.get('pyvol2').remove()
try:
    c.volumes.get('pyvol2')
    raise SystemExit('still there')
except docker.errors.NotFound:
    print('gone')
`;
    const r = await python(script, t.env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "['pyvol']\ngone\n");
  });
});

describe('volumes across a daemon restart (live restore)', () => {
  const daemons = new DaemonRestart();
  const ok = async (t: Target, args: string[]) => {
    const r = await t.docker(args);
    assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const volumeMounts = (t: Target) => fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(path.join(t.dataRoot, 'volumes')));

  before(() => daemons.start());
  after(() => daemons.cleanup(async (t) => void (await t.docker(['volume', 'rm', '-f', 'keep', 'tv']))));

  it('a running container keeps its volumes over a daemon restart, and a tmpfs volume is unmounted when it stops', async () => {
    const first = daemons.first;
    await ok(first, ['volume', 'create', '-o', 'type=tmpfs', '-o', 'device=tmpfs', 'tv']);
    await ok(first, ['run', '-d', '--name', 'keeper', '-v', 'keep:/k', '-v', 'tv:/t', 'busybox', 'sh', '-c', 'echo k > /k/f; echo t > /t/f; sleep 1000']);
    const pid = Number((await ok(first, ['inspect', '-f', '{{.State.Pid}}', 'keeper'])).trim());
    if (first.kind === 'stevedore') assert.equal(volumeMounts(first).length, 1, 'the tmpfs volume is mounted while used');
    await first.stop(); // with live restore the container keeps running
    assert.ok(alive(pid), 'the container survived the daemon');
    const s = await daemons.restart();
    assert.equal((await ok(s, ['inspect', '-f', '{{.State.Status}}', 'keeper'])).trim(), 'running');
    for (let i = 0; i < 50 && (await s.docker(['exec', 'keeper', 'cat', '/t/f'])).stdout !== 't\n'; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(await ok(s, ['exec', 'keeper', 'cat', '/k/f', '/t/f']), 'k\nt\n');
    const rm = await s.docker(['volume', 'rm', 'keep']);
    assert.match(rm.stderr, /remove keep: volume is in use/);
    await ok(s, ['stop', '-t', '1', 'keeper']);
    if (s.kind === 'stevedore') assert.deepEqual(volumeMounts(s), [], 'the tmpfs volume is unmounted once unused');
    // started again: the tmpfs volume is mounted anew
    await ok(s, ['start', 'keeper']);
    if (s.kind === 'stevedore') assert.equal(volumeMounts(s).length, 1);
    for (let i = 0; i < 50 && (await s.docker(['exec', 'keeper', 'cat', '/t/f'])).stdout !== 't\n'; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(await ok(s, ['exec', 'keeper', 'cat', '/k/f', '/t/f']), 'k\nt\n');
    await ok(s, ['rm', '-f', 'keeper']);
    // (Docker 20.10 miscounts the tmpfs volume's mounts after a live restore: "volume has active mounts")
    await ok(s, ['volume', 'rm', ...(s.kind === 'stevedore' ? ['keep', 'tv'] : ['keep'])]);
  });
});
