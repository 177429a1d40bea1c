import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { kindOf } from '../errdefs';
import { MNT_DETACH, MS_BIND, nativeSys } from '../sys/native';
import { NativeNetnsManager } from './netns';

const skip = process.getuid?.() === 0 ? false : 'needs root (namespaces and mounts)';

let root = '';
let mgr: NativeNetnsManager;

before(() => {
  if (skip) return;
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'stevedore-netns-'));
  mgr = new NativeNetnsManager(root);
});

after(() => {
  if (!root) return;
  // whatever a failed test left: unmount every namespace, then the directory
  for (const name of fs.existsSync(mgr.dir) ? fs.readdirSync(mgr.dir) : []) {
    for (;;) {
      try {
        nativeSys().umount2(path.join(mgr.dir, name), MNT_DETACH);
      } catch {
        break;
      }
    }
  }
  fs.rmSync(root, { recursive: true, force: true });
});

const mounted = (p: string) => fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === p);
const inNs = (p: string, ...args: string[]) => execFileSync('nsenter', [`--net=${p}`, ...args], { encoding: 'utf8' });

test('create: a bind-mounted namespace with only lo, up; list; remove; idempotent', { skip }, async () => {
  const name = crypto.randomBytes(6).toString('hex');
  const p = await mgr.create(name);
  assert.equal(p, path.join(root, 'netns', name));
  assert.equal(mgr.pathOf(name), p);
  assert.ok(mounted(p), 'bind-mounted');
  const links = JSON.parse(inNs(p, 'ip', '-j', 'link')) as { ifname: string; flags: string[] }[];
  assert.deepEqual(links.map((l) => l.ifname), ['lo']);
  assert.ok(links[0].flags.includes('UP'), 'lo is up');
  // a namespace of its own, not the daemon's
  assert.notEqual(fs.readlinkSync('/proc/self/ns/net'), inNs(p, 'readlink', '/proc/self/ns/net').trim());
  // the daemon's threads stay in its namespace
  const own = fs.readlinkSync(`/proc/self/task/${process.pid}/ns/net`);
  for (const t of fs.readdirSync('/proc/self/task')) {
    let ns: string;
    try {
      ns = fs.readlinkSync(`/proc/self/task/${t}/ns/net`);
    } catch {
      continue; // a thread that ended meanwhile
    }
    assert.equal(ns, own, `thread ${t}`);
  }
  assert.ok((await mgr.list()).includes(name));
  await assert.rejects(mgr.create(name), (e) => kindOf(e) === 'conflict');
  await mgr.remove(name);
  assert.ok(!mounted(p));
  assert.ok(!fs.existsSync(p));
  assert.ok(!(await mgr.list()).includes(name));
  await mgr.remove(name);
});

test('create reuses a file a crash left unmounted; remove takes a file without a mount', { skip }, async () => {
  const name = crypto.randomBytes(6).toString('hex');
  fs.mkdirSync(mgr.dir, { recursive: true });
  fs.writeFileSync(path.join(mgr.dir, name), '');
  const p = await mgr.create(name);
  assert.ok(mounted(p));
  await mgr.remove(name);
  fs.writeFileSync(p, '');
  await mgr.remove(name);
  assert.ok(!fs.existsSync(p));
});

test('remove takes every mount on the path (a create retried after a crash)', { skip }, async () => {
  const name = crypto.randomBytes(6).toString('hex');
  const p = await mgr.create(name);
  nativeSys().mount(p, p, '', MS_BIND, '');
  assert.equal(fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.split(' ')[4] === p).length, 2);
  await mgr.remove(name);
  assert.ok(!mounted(p));
  assert.ok(!fs.existsSync(p));
});

test('several namespaces at once are distinct', { skip }, async () => {
  const names = Array.from({ length: 5 }, () => crypto.randomBytes(6).toString('hex'));
  try {
    const paths = await Promise.all(names.map((n) => mgr.create(n)));
    const inodes = new Set(paths.map((p) => fs.statSync(p).ino));
    assert.equal(inodes.size, names.length);
  } finally {
    await Promise.all(names.map((n) => mgr.remove(n)));
  }
  for (const n of names) assert.ok(!fs.existsSync(mgr.pathOf(n)));
});

test('names: no path separators', { skip }, () => {
  for (const bad of ['', 'a/b', '..', '.']) assert.throws(() => mgr.pathOf(bad), (e) => kindOf(e) === 'invalid-argument');
});
