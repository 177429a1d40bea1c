import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { kindOf } from '../../engine/errdefs';
import { nullLogger } from '../../engine/log';
import { MetadataDB } from '../../engine/metadata';
import { EventBus } from '../events/bus';
import { resolveInRoot, copyImageContent } from './copyup';
import { parseMountOptions } from './local';
import { containerPath, parseVolumesFrom, resolveMountPoints, type MountPoint, type MountPointDeps } from './mountpoints';
import { VolumeService, type VolumeUser } from './service';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stv-volumes-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function service(): { svc: VolumeService; users: VolumeUser[]; root: string } {
  const root = fs.mkdtempSync(path.join(tmp, 'root-'));
  const svc = new VolumeService({ db: MetadataDB.open(':memory:'), dataRoot: root, events: new EventBus(), log: nullLogger });
  const users: VolumeUser[] = [];
  svc.setUsers({ list: () => users, get: (ref) => users.find((u) => u.id === ref)! });
  return { svc, users, root };
}

const throwsKind = (fn: () => unknown, kind: string, message: string) =>
  assert.throws(fn, (e: unknown) => kindOf(e) === kind && (e as Error).message === message, message);

describe('VolumeService (store + local driver)', () => {
  it('creates named and generated volumes with Docker\'s document', () => {
    const { svc, root } = service();
    const v = svc.view(svc.create({ Name: 'v1', Labels: { a: 'b' } }));
    assert.equal(v['Mountpoint'], path.join(root, 'volumes', 'v1', '_data'));
    assert.deepEqual(v['Labels'], { a: 'b' });
    assert.equal(v['Options'], null);
    assert.equal(v['Scope'], 'local');
    assert.match(String(v['CreatedAt']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$/);
    // in the daemon's local zone, as moby's (time.Unix(ctime).Format(time.RFC3339))
    const saved = process.env.TZ;
    try {
      process.env.TZ = 'Asia/Kolkata';
      const local = String(svc.view(svc.get('v1'))['CreatedAt']);
      assert.match(local, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+05:30$/);
      assert.equal(Date.parse(local), Date.parse(String(v['CreatedAt'])), 'the same instant');
    } finally {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    }
    assert.ok(fs.statSync(path.join(root, 'volumes', 'v1', '_data')).isDirectory());
    const anon = svc.create({});
    assert.match(anon.name, /^[0-9a-f]{64}$/);
    // the same name again: the existing volume, its labels kept
    assert.deepEqual(svc.create({ Name: 'v1', Labels: { x: 'y' } }).labels, { a: 'b' });
  });

  it('refuses other drivers, bad names and options as moby does', () => {
    const { svc } = service();
    throwsKind(() => svc.create({ Name: 'x1', Driver: 'foo' }), 'not-found', 'create x1: error looking up volume plugin foo: plugin "foo" not found');
    throwsKind(() => svc.create({ Name: 'bad', DriverOpts: { foo: 'bar' } }), 'invalid-argument', 'create bad: invalid option: "foo"');
    throwsKind(() => svc.create({ Name: 'bd', DriverOpts: { o: 'bind', device: '/x' } }), 'invalid-argument', 'create bd: missing required option: "type"');
    throwsKind(() => svc.create({ Name: 'bd', DriverOpts: { type: 'tmpfs' } }), 'invalid-argument', 'create bd: missing required option: "device"');
    assert.throws(() => svc.create({ Name: 'a/b' }), /includes invalid characters for a local volume name/);
    throwsKind(() => svc.get('nope'), 'not-found', 'get nope: no such volume');
  });

  it('lists with name, driver, label and dangling filters', () => {
    const { svc, users } = service();
    svc.create({ Name: 'v1' });
    svc.create({ Name: 'v2', Labels: { a: 'b' } });
    svc.create({ Name: 'w3' });
    users.push({ id: 'c1', state: { status: 'exited' }, mountPoints: [{ Type: 'volume', Name: 'v1', Source: '', Destination: '/d', Mode: 'z', RW: true, Propagation: '' }] });
    const names = (f: Record<string, string[]>) => svc.list(new Map(Object.entries(f))).Volumes.map((v) => v['Name']);
    assert.deepEqual(names({}), ['v1', 'v2', 'w3']);
    assert.deepEqual(names({ name: ['v'] }), ['v1', 'v2']);
    assert.deepEqual(names({ name: ['^v1$'] }), ['v1']);
    assert.deepEqual(names({ driver: ['loc'] }), []);
    assert.deepEqual(names({ driver: ['local'] }), ['v1', 'v2', 'w3']);
    assert.deepEqual(names({ label: ['a'] }), ['v2']);
    assert.deepEqual(names({ label: ['a=b'] }), ['v2']);
    assert.deepEqual(names({ label: ['a=c'] }), []);
    assert.deepEqual(names({ dangling: ['true'] }), ['v2', 'w3']);
    assert.deepEqual(names({ dangling: ['0'] }), ['v1']);
    assert.equal(svc.list(new Map()).Warnings, null);
    throwsKind(() => svc.list(new Map([['dangling', ['x']]])), 'invalid-argument', "Invalid filter 'dangling=[x]'");
    throwsKind(() => svc.list(new Map([['bogus', ['x']]])), 'invalid-argument', "Invalid filter 'bogus'");
  });

  it('removes (409 in use, even with force; 404 unless force) and prunes unused volumes without options', () => {
    const { svc, users, root } = service();
    svc.create({ Name: 'used' });
    svc.create({ Name: 'free', Labels: { keep: '1' } });
    svc.create({ Name: 'free2' });
    svc.create({ Name: 'opts', DriverOpts: { type: 'tmpfs', device: 'tmpfs' } });
    users.push({ id: 'c1', state: { status: 'running' }, mountPoints: [{ Type: 'volume', Name: 'used', Source: '', Destination: '/d', Mode: 'z', RW: true, Propagation: '' }] });
    throwsKind(() => svc.remove('used'), 'conflict', 'remove used: volume is in use - [c1]');
    throwsKind(() => svc.remove('used', { force: true }), 'conflict', 'remove used: volume is in use - [c1]');
    throwsKind(() => svc.remove('nope'), 'not-found', 'get nope: no such volume');
    svc.remove('nope', { force: true });
    // `all` takes one Go boolean (moby's withPrune; the API layer adds all=true below API 1.42)
    throwsKind(() => svc.prune(new Map([['all', ['maybe']]])), 'invalid-argument', `invalid filter 'all': strconv.ParseBool: parsing "maybe": invalid syntax`);
    throwsKind(() => svc.prune(new Map([['until', ['1h']]])), 'invalid-argument', "Invalid filter 'until'");
    fs.writeFileSync(path.join(root, 'volumes', 'free2', '_data', 'f'), 'abc');
    throwsKind(() => svc.prune(new Map([['all', ['true', 'false']]])), 'invalid-argument', `invalid filter 'all=[true false]': only one value is expected`);
    assert.deepEqual(svc.prune(new Map([['label!', ['keep']], ['all', ['true']]])), { VolumesDeleted: ['free2'], SpaceReclaimed: 3 });
    assert.deepEqual(svc.prune(new Map([['all', ['1']]])).VolumesDeleted, ['free']);
    assert.deepEqual(svc.list(new Map()).Volumes.map((v) => v['Name']), ['opts', 'used']);
    assert.ok(!fs.existsSync(path.join(root, 'volumes', 'free')));
    const df = svc.diskUsage().Volumes.find((v) => v['Name'] === 'used')!;
    assert.deepEqual(df['UsageData'], { RefCount: 1, Size: 0 });
  });

  it('prunes only volumes created without a name unless the all filter is true (API 1.42)', () => {
    const root = fs.mkdtempSync(path.join(tmp, 'root-'));
    const db = MetadataDB.open(path.join(root, 'meta.db'));
    const svc = new VolumeService({ db, dataRoot: root, events: new EventBus(), log: nullLogger });
    svc.setUsers({ list: () => [], get: () => undefined as never });
    const anon = svc.forContainer(undefined, {}, 'c1').name;
    svc.forContainer('named', {}, 'c1');
    svc.settled('c1');
    const generated = svc.create({}).name; // `docker volume create` without a name: anonymous too, as moby
    // the flag is stored: a service opened again on the same database still knows it
    const again = new VolumeService({ db, dataRoot: root, events: new EventBus(), log: nullLogger });
    again.setUsers({ list: () => [], get: () => undefined as never });
    assert.deepEqual(again.prune(new Map()), { VolumesDeleted: [anon, generated].sort(), SpaceReclaimed: 0 });
    assert.deepEqual(again.prune(new Map([['all', ['0']]])).VolumesDeleted, []);
    assert.deepEqual(again.prune(new Map([['all', ['true']]])).VolumesDeleted, ['named']);
    db.close();
  });

  it('removes a container\'s anonymous volumes with rm -v, never named ones or ones another uses', () => {
    const { svc, users } = service();
    const anon = svc.create({}).name;
    const shared = svc.create({}).name;
    svc.create({ Name: 'named' });
    const mp = (name: string, named: boolean): MountPoint => ({ Type: 'volume', Name: name, Source: '', Destination: `/${name.slice(0, 4)}`, Mode: '', RW: true, Propagation: '', Named: named });
    const c = { id: 'c1', state: { status: 'exited' }, mountPoints: [mp(anon, false), mp(shared, false), mp('named', true)] };
    users.push({ id: 'c2', state: { status: 'exited' }, mountPoints: [mp(shared, false)] });
    svc.containerRemoved(c, false);
    // a volume taken by a container still being created is in use
    svc.forContainer('named', {}, 'c3');
    assert.throws(() => svc.remove('named'), /volume is in use - \[c3\]/);
    svc.settled('c3');
    assert.equal(svc.list(new Map()).Volumes.length, 3);
    svc.containerRemoved(c, true);
    assert.deepEqual(svc.list(new Map()).Volumes.map((v) => v['Name']).sort(), ['named', shared].sort());
  });
});

describe('mount points (registerMountPoints)', () => {
  const made: string[] = [];
  const deps: MountPointDeps = {
    volume: (name) => {
      const n = name ?? `anon${made.length}`;
      made.push(n);
      return { name: n, driver: 'local', mountpoint: `/vol/${n}/_data` };
    },
    container: (ref) => {
      if (ref !== 'other') throw new Error(`No such container: ${ref}`);
      return { id: 'o'.repeat(64), mountPoints: [{ Type: 'volume', Name: 'shared', Source: '/vol/shared/_data', Destination: '/s', Driver: 'local', Mode: 'z', RW: true, Propagation: '', Named: true, CopyData: true }] };
    },
  };

  it('resolves binds, named and anonymous volumes, Mounts, VolumesFrom and image volumes in Docker\'s shape', () => {
    const points = resolveMountPoints(
      { Volumes: { '/data': {}, '/h': {}, '../../etc': {} } },
      {
        VolumesFrom: ['other:ro'],
        Binds: ['/host/dir:/h:ro', 'v1:/v1', 'v2:/v2:nocopy,rw'],
        Mounts: [{ Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 1 << 20 } }, { Type: 'volume', Source: 'm1', Target: '/m1/', VolumeOptions: { NoCopy: true } }],
      },
      deps,
    );
    const by = new Map(points.map((p) => [p.Destination, p]));
    assert.deepEqual(by.get('/s'), { Type: 'volume', Name: 'shared', Source: '/vol/shared/_data', Destination: '/s', Driver: 'local', Mode: '', RW: false, Propagation: '', Named: true, CopyData: false, From: 'o'.repeat(64) });
    assert.deepEqual(by.get('/h'), { Type: 'bind', Source: '/host/dir', Destination: '/h', Mode: 'ro', RW: false, Propagation: 'rprivate', CreateSource: true });
    assert.equal(by.get('/v1')!.Mode, 'z');
    assert.equal(by.get('/v1')!.CopyData, true);
    assert.equal(by.get('/v2')!.Mode, 'nocopy,rw');
    assert.equal(by.get('/v2')!.CopyData, false);
    assert.deepEqual(by.get('/t'), { Type: 'tmpfs', Source: '', Destination: '/t', Mode: '', RW: true, Propagation: '', TmpfsData: ['size=1m'] });
    assert.equal(by.get('/m1')!.CopyData, false);
    assert.equal(by.get('/m1')!.Named, true);
    // an image volume where a bind already is gets nothing; `../../etc` stays inside: /etc
    assert.equal(by.get('/data')!.Named, false);
    assert.equal(by.get('../../etc')!.Named, false); // recorded as given, mounted at containerPath(): /etc
    assert.deepEqual(['../../etc', 'rel', '.', '/a/../b'].map(containerPath), ['/etc', '/rel', '/', '/b']);
    assert.equal(points.length, 8);
  });

  it('refuses duplicate mount points and bad VolumesFrom modes', () => {
    assert.throws(() => resolveMountPoints({}, { Binds: ['/a:/x', 'v:/x'] }, deps), /Duplicate mount point: \/x/);
    assert.throws(() => resolveMountPoints({}, { Binds: ['/a:/x'], Mounts: [{ Type: 'tmpfs', Target: '/x' }] }, deps), /Duplicate mount point: \/x/);
    assert.throws(() => parseVolumesFrom('c:bogus'), /invalid mode: bogus/);
    assert.deepEqual(parseVolumesFrom('c'), { container: 'c', rw: true });
  });
});

describe('local driver options and copy-up', () => {
  it('splits mount options as moby/sys/mount', () => {
    assert.deepEqual(parseMountOptions('bind,ro'), { flags: 0x1001, propagation: 0, data: '' });
    assert.deepEqual(parseMountOptions('size=1m,uid=5,rshared'), { flags: 0, propagation: 0x104000, data: 'size=1m,uid=5' });
  });

  it('resolves image paths inside the root and copies content with owners and modes', () => {
    const root = fs.mkdtempSync(path.join(tmp, 'rootfs-'));
    fs.mkdirSync(path.join(root, 'real/sub'), { recursive: true });
    fs.writeFileSync(path.join(root, 'real/sub/f'), 'hi');
    fs.chmodSync(path.join(root, 'real/sub/f'), 0o640);
    fs.chownSync(path.join(root, 'real/sub/f'), 5, 6);
    fs.chmodSync(path.join(root, 'real'), 0o750);
    fs.symlinkSync('/real', path.join(root, 'abs'));
    fs.symlinkSync('../../../../real', path.join(root, 'up'));
    fs.symlinkSync('/etc/passwd', path.join(root, 'real/link'));
    assert.equal(resolveInRoot(root, '/abs/sub'), path.join(root, 'real/sub'));
    assert.equal(resolveInRoot(root, '/up'), path.join(root, 'real'));
    assert.equal(resolveInRoot(root, '/../../etc'), path.join(root, 'etc'));
    const vol = fs.mkdtempSync(path.join(tmp, 'vol-'));
    copyImageContent(root, '/abs', vol);
    assert.equal(fs.readFileSync(path.join(vol, 'sub/f'), 'utf8'), 'hi');
    const st = fs.statSync(path.join(vol, 'sub/f'));
    assert.equal(st.mode & 0o7777, 0o640);
    assert.equal(st.uid, 5);
    assert.equal(fs.statSync(vol).mode & 0o7777, 0o750);
    assert.equal(fs.readlinkSync(path.join(vol, 'link')), '/etc/passwd'); // copied as a link, never followed
    // not empty any more: nothing is copied again
    fs.rmSync(path.join(vol, 'sub/f'));
    copyImageContent(root, '/abs', vol);
    assert.ok(!fs.existsSync(path.join(vol, 'sub/f')));
    assert.throws(() => copyImageContent(root, '/real/sub/f', vol), /cannot mount volume over existing file/);
  });
});
