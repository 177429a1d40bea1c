import { test, after, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { ProcessNameService } from './service';
import { DNS_FILES, isResolverProcess, readStatus } from './files';
import type { ResolverNetwork } from './table';
import { RCODE, TYPE, buildMessage, type Message } from './wire';
import { FakeUpstream, query, randomLoopback } from './testing/dns-client';

// The real resolver process, on port 53 of random loopback addresses (needs root).
const root = process.getuid?.() === 0;
const gw = randomLoopback();
const web = randomLoopback();
const up = randomLoopback();
let tmp: string;
let upstream: FakeUpstream;
/** every resolver pid seen, killed at the end if still ours */
const pids = new Set<number>();
const services: ProcessNameService[] = [];

function nets(webAddr: string, extra: string[] = []): ResolverNetwork[] {
  return [
    {
      id: 'n1',
      name: 'app',
      listen: [gw, ...extra],
      records: [
        { names: ['web', 'alias1'], ipv4: [webAddr], ipv6: [], container: 'c1' },
        { names: ['db'], ipv4: ['10.66.0.3'], ipv6: ['fd66::3'], container: 'c2' },
      ],
    },
  ];
}

function service(execRoot: string): ProcessNameService {
  const s = new ProcessNameService({ execRoot, port: 53, resolvConf: path.join(tmp, 'resolv.conf'), upstreamTimeoutMs: 500 });
  services.push(s);
  return s;
}

function track(s: ProcessNameService): number {
  const pid = s.resolverPid;
  assert.ok(pid, 'a resolver pid');
  pids.add(pid);
  return pid;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dns-service-'));
  fs.writeFileSync(path.join(tmp, 'resolv.conf'), `nameserver ${up}\n`);
  if (!root) return;
  upstream = await new FakeUpstream(up, (q: Message) =>
    buildMessage({ header: { id: q.header.id, qr: true, rd: q.header.rd, ra: true, rcode: RCODE.NXDOMAIN }, questions: q.questions }),
  ).start();
});

after(async () => {
  for (const s of services) await s.stop().catch(() => undefined);
  const dirs = fs.existsSync(tmp) ? fs.readdirSync(tmp).map((d) => path.join(tmp, d, 'dns')) : [];
  for (const pid of pids) {
    if (alive(pid) && dirs.some((d) => isResolverProcess(pid, d))) process.kill(pid, 'SIGKILL');
  }
  await upstream?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('start spawns a detached resolver; names resolve as soon as update returns; reload swaps the table', { skip: !root && 'needs root (port 53)' }, async () => {
  const execRoot = path.join(tmp, 'a');
  const s = service(execRoot);
  await s.start();
  const pid = track(s);
  // its own session, so the daemon's signals and process group don't reach it
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const sid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]);
  assert.equal(sid, pid);
  assert.equal(fs.readFileSync(path.join(execRoot, 'dns', DNS_FILES.pid), 'utf8'), String(pid));

  await s.update(nets(web));
  assert.deepEqual((await query(gw, 'web', TYPE.A)).data, [web]);
  assert.deepEqual((await query(gw, 'alias1', TYPE.A, { tcp: true })).data, [web]);
  assert.deepEqual((await query(gw, 'db', TYPE.AAAA)).data, ['fd66::3']);
  const rev = web.split('.').reverse().join('.') + '.in-addr.arpa';
  assert.deepEqual((await query(gw, rev, TYPE.PTR)).data, ['web.app.']);
  // unknown: forwarded to the resolv.conf's nameserver, which says NXDOMAIN
  const nx = await query(gw, 'nosuch.example', TYPE.A);
  assert.equal(nx.msg.header.rcode, RCODE.NXDOMAIN);
  assert.ok(upstream.queries.some((q) => q.name === 'nosuch.example.'));

  const web2 = randomLoopback();
  await s.update(nets(web2));
  assert.deepEqual((await query(gw, 'web', TYPE.A)).data, [web2]);
  // many updates in a row: each is loaded when it returns
  for (let i = 0; i < 20; i++) {
    const a = `10.77.0.${i + 2}`;
    await s.update(nets(a));
    assert.deepEqual((await query(gw, 'web', TYPE.A)).data, [a]);
  }
  // concurrent updates all complete; the last written wins
  await Promise.all([s.update(nets('10.78.0.1')), s.update(nets('10.78.0.2')), s.update(nets('10.78.0.3'))]);
  assert.deepEqual((await query(gw, 'web', TYPE.A)).data, ['10.78.0.3']);
  const st = readStatus(path.join(execRoot, 'dns'));
  assert.equal(st?.pid, pid);
  assert.deepEqual(st?.listening, [gw]);
  assert.ok(fs.statSync(path.join(execRoot, 'dns', DNS_FILES.log)).size > 0);

  await s.stop();
  assert.equal(alive(pid) && isResolverProcess(pid, path.join(execRoot, 'dns')), false);
  assert.equal(fs.existsSync(path.join(execRoot, 'dns', DNS_FILES.pid)), false);
  await assert.rejects(query(gw, 'web', TYPE.A, { timeoutMs: 300 }));
});

test('the resolver outlives its owner (kill -9), and the next service adopts it', { skip: !root && 'needs root (port 53)' }, async () => {
  const execRoot = path.join(tmp, 'b');
  const script = path.join(tmp, 'owner.js');
  fs.writeFileSync(
    script,
    `const { ProcessNameService } = require(${JSON.stringify(path.join(__dirname, 'service.js'))});
     (async () => {
       const s = new ProcessNameService(${JSON.stringify({ execRoot, port: 53, resolvConf: path.join(tmp, 'resolv.conf') })});
       await s.start();
       await s.update(${JSON.stringify(nets(web))});
       process.stdout.write(s.resolverPid + '\\n');
       setInterval(() => {}, 1e6);
     })().catch((e) => { console.error(e); process.exit(1); });`,
  );
  const owner = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const resolverPid = await new Promise<number>((resolve, reject) => {
    let out = '';
    owner.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('\n')) resolve(Number(out.trim()));
    });
    owner.on('exit', (code) => reject(new Error(`owner exited ${code}`)));
  });
  pids.add(resolverPid);
  assert.deepEqual((await query(gw, 'web', TYPE.A)).data, [web]);
  const gone = new Promise((r) => owner.on('exit', r));
  owner.kill('SIGKILL');
  await gone;
  // the daemon is gone; names still resolve
  assert.deepEqual((await query(gw, 'web', TYPE.A)).data, [web]);
  assert.deepEqual((await query(gw, 'web', TYPE.A, { tcp: true })).data, [web]);

  const s = service(execRoot);
  await s.start();
  assert.equal(s.resolverPid, resolverPid);
  const web2 = randomLoopback();
  await s.update(nets(web2));
  assert.deepEqual((await query(gw, 'web', TYPE.A)).data, [web2]);

  // a resolver that died is restarted by the next update
  process.kill(resolverPid, 'SIGKILL');
  while (isResolverProcess(resolverPid, path.join(execRoot, 'dns'))) await new Promise((r) => setTimeout(r, 5));
  await s.update(nets(web));
  const again = track(s);
  assert.notEqual(again, resolverPid);
  assert.deepEqual((await query(gw, 'web', TYPE.A)).data, [web]);
  await s.stop();
});

test('a pidfile naming a process that is not our resolver is not adopted', { skip: !root && 'needs root (port 53)' }, async () => {
  const execRoot = path.join(tmp, 'c');
  fs.mkdirSync(path.join(execRoot, 'dns'), { recursive: true });
  // this test process: alive, but not a stevedore-dns for that directory
  fs.writeFileSync(path.join(execRoot, 'dns', DNS_FILES.pid), String(process.pid));
  const s = service(execRoot);
  await s.start();
  const pid = track(s);
  assert.notEqual(pid, process.pid);
  // nor is a resolver of another exec root
  assert.equal(isResolverProcess(pid, path.join(tmp, 'other', 'dns')), false);
  assert.equal(isResolverProcess(pid, path.join(execRoot, 'dns')), true);
  await s.update(nets(web));
  assert.deepEqual((await query(gw, 'web', TYPE.A)).data, [web]);
  await s.stop();
  assert.equal(isResolverProcess(pid, path.join(execRoot, 'dns')), false);
});

test('an invalid table is reported by update and the previous one keeps answering', { skip: !root && 'needs root (port 53)' }, async () => {
  const execRoot = path.join(tmp, 'd');
  const s = service(execRoot);
  await s.start();
  track(s);
  await s.update(nets(web));
  await assert.rejects(s.update([{ id: 'bad', listen: [gw], records: [{ names: 'web' } as never] }]), /did not load its table: invalid DNS table/);
  assert.deepEqual((await query(gw, 'web', TYPE.A)).data, [web]);
  await s.stop();
});
