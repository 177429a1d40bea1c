import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import * as os from 'node:os';
import * as fs from 'node:fs';
import {
  type CommandRunner,
  cleanupFirewall,
  IptablesFirewall,
  linkRules,
  maskedSubnet,
  networkRules,
  parseSave,
  portRules,
  ruleBody,
  splitWords,
} from './firewall';
import { SocketPortAllocator } from './ports';
import { enableHairpin } from './sysctl';
import type { FirewallNetwork, PortMapping } from './types';

// ---- pure parts ------------------------------------------------------------------------

test('subnets are masked; words split as iptables-save quotes them', () => {
  assert.equal(maskedSubnet('172.18.0.1/16'), '172.18.0.0/16');
  assert.equal(maskedSubnet('10.1.2.3/32'), '10.1.2.3/32');
  assert.equal(maskedSubnet('10.1.2.3/0'), '0.0.0.0/0');
  assert.equal(maskedSubnet('fd00:1:2:3::1/64'), 'fd00:1:2:3::/64');
  assert.equal(maskedSubnet('fd00::1/48'), 'fd00::/48');
  assert.throws(() => maskedSubnet('10.0.0.1/33'), /invalid subnet/);
  assert.deepEqual(splitWords('-A X -m comment --comment "a \\"b\\" c" -j ACCEPT'), ['-A', 'X', '-m', 'comment', '--comment', 'a "b" c', '-j', 'ACCEPT']);
  assert.deepEqual(splitWords('-A X --comment stevedore'), ['-A', 'X', '--comment', 'stevedore']);
});

const NET: FirewallNetwork = { bridge: 'br-0123456789ab', subnets: ['172.18.0.1/16'], internal: false, masquerade: true, icc: true };

test('network rules: what libnetwork installs per bridge, in our chains, each tagged with the bridge', () => {
  const rules = networkRules(NET, 'ipv4');
  const text = rules.map((r) => `${r.table} ${r.chain} ${ruleBody(r)}`);
  assert.deepEqual(text, [
    'filter STEVEDORE-FORWARD -o br-0123456789ab -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment "stevedore:br-0123456789ab established" -j ACCEPT',
    'filter STEVEDORE-FORWARD -o br-0123456789ab -m comment --comment "stevedore:br-0123456789ab published" -j STEVEDORE',
    'filter STEVEDORE-FORWARD -i br-0123456789ab ! -o br-0123456789ab -m comment --comment "stevedore:br-0123456789ab outgoing" -j ACCEPT',
    'filter STEVEDORE-FORWARD -i br-0123456789ab -o br-0123456789ab -m comment --comment "stevedore:br-0123456789ab icc" -j ACCEPT',
    'filter STEVEDORE-ISOLATION-STAGE-1 -i br-0123456789ab ! -o br-0123456789ab -m comment --comment "stevedore:br-0123456789ab isolation" -j STEVEDORE-ISOLATION-STAGE-2',
    'filter STEVEDORE-ISOLATION-STAGE-2 -o br-0123456789ab -m comment --comment "stevedore:br-0123456789ab isolation" -j DROP',
    'nat STEVEDORE-POSTROUTING -s 172.18.0.0/16 ! -o br-0123456789ab -m comment --comment "stevedore:br-0123456789ab masquerade 172.18.0.0/16" -j MASQUERADE',
    'nat STEVEDORE-POSTROUTING -o br-0123456789ab -m addrtype --src-type LOCAL -m comment --comment "stevedore:br-0123456789ab local-masquerade" -j MASQUERADE',
    'filter STEVEDORE-INPUT -i br-0123456789ab -d 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED -m comment --comment "stevedore:br-0123456789ab localnet-guard" -j DROP',
  ]);
  assert.deepEqual(networkRules(NET, 'ipv6'), [], 'no IPv6 subnet, no IPv6 rules');

  const internal = networkRules({ ...NET, internal: true, icc: false }, 'ipv4').map((r) => `${r.chain} ${r.comment} ${r.target.join(' ')}`);
  assert.deepEqual(internal, [
    'STEVEDORE-FORWARD stevedore:br-0123456789ab no-icc -j DROP',
    'STEVEDORE-ISOLATION-STAGE-1 stevedore:br-0123456789ab isolation -j STEVEDORE-ISOLATION-STAGE-2',
    'STEVEDORE-ISOLATION-STAGE-2 stevedore:br-0123456789ab isolation -j DROP',
    'STEVEDORE-ISOLATION-STAGE-1 stevedore:br-0123456789ab internal-in 172.18.0.0/16 -j DROP',
    'STEVEDORE-ISOLATION-STAGE-1 stevedore:br-0123456789ab internal-out 172.18.0.0/16 -j DROP',
  ]);
  const noMasq = networkRules({ ...NET, masquerade: false }, 'ipv4');
  assert.ok(!noMasq.some((r) => r.comment.includes('masquerade 172')));
  const v6 = networkRules({ ...NET, subnets: ['172.18.0.1/16', 'fd00:dead::1/64'] }, 'ipv6');
  assert.ok(v6.some((r) => r.comment.endsWith('masquerade fd00:dead::/64')));
  assert.ok(!v6.some((r) => r.chain === 'STEVEDORE-INPUT'), 'no route_localnet guard in IPv6');
  assert.throws(() => networkRules({ ...NET, bridge: 'br"x' }, 'ipv4'), /invalid bridge name/);
  // the resolver's address is kept from the DNAT of a published port 53, first in the chain
  const res = networkRules({ ...NET, resolver: ['172.18.0.1', 'fd00::1'] }, 'ipv4').filter((r) => r.comment.includes('resolver'));
  assert.deepEqual(
    res.map((r) => `${r.table} ${r.chain} ${r.insert} ${ruleBody(r)}`),
    [
      'nat STEVEDORE true -i br-0123456789ab -d 172.18.0.1/32 -p udp -m udp --dport 53 -m comment --comment "stevedore:br-0123456789ab resolver udp 172.18.0.1" -j RETURN',
      'nat STEVEDORE true -i br-0123456789ab -d 172.18.0.1/32 -p tcp -m tcp --dport 53 -m comment --comment "stevedore:br-0123456789ab resolver tcp 172.18.0.1" -j RETURN',
    ],
  );
});

test('port rules: DNAT, accept, hairpin masquerade; validated', () => {
  const p: PortMapping = { proto: 'tcp', hostIp: '', hostPort: 8080, containerIp: '172.18.0.2', containerPort: 80, bridge: 'br-0123456789ab' };
  assert.deepEqual(
    portRules(p).map((r) => `${r.table} ${r.chain} ${ruleBody(r)}`),
    [
      'nat STEVEDORE -d 0.0.0.0/0 -p tcp -m tcp --dport 8080 -m comment --comment "stevedore:br-0123456789ab port tcp 0.0.0.0:8080 172.18.0.2:80" -j DNAT --to-destination 172.18.0.2:80',
      'filter STEVEDORE -d 172.18.0.2/32 ! -i br-0123456789ab -o br-0123456789ab -p tcp -m tcp --dport 80 -m comment --comment "stevedore:br-0123456789ab port tcp 0.0.0.0:8080 172.18.0.2:80" -j ACCEPT',
      'nat STEVEDORE-POSTROUTING -s 172.18.0.2/32 -d 172.18.0.2/32 -p tcp -m tcp --dport 80 -m comment --comment "stevedore:br-0123456789ab port tcp 0.0.0.0:8080 172.18.0.2:80" -j MASQUERADE',
    ],
  );
  const v6 = portRules({ ...p, proto: 'udp', hostIp: '::', containerIp: 'fd00::2' });
  assert.equal(ruleBody(v6[0]!), '-d ::/0 -p udp -m udp --dport 8080 -m comment --comment "stevedore:br-0123456789ab port udp [::]:8080 [fd00::2]:80" -j DNAT --to-destination [fd00::2]:80');
  assert.match(ruleBody(portRules({ ...p, hostIp: '127.0.0.1' })[0]!), /^-d 127\.0\.0\.1\/32 /);
  assert.throws(() => portRules({ ...p, hostIp: '::' }), /not of the same family/);
  assert.throws(() => portRules({ ...p, hostPort: 0 }), /invalid port 0/);
  assert.throws(() => portRules({ ...p, containerIp: 'x' }), /invalid container IP/);
});

test('legacy link rules: both directions per port, in the per-port chain (before an ICC drop)', () => {
  const rules = linkRules({ bridge: 'br-x', parentIp: '172.18.0.3', childIp: '172.18.0.2', ports: [{ proto: 'tcp', port: 5432 }] });
  assert.deepEqual(
    rules.map((r) => `${r.chain} ${ruleBody(r)}`),
    [
      'STEVEDORE -i br-x -o br-x -p tcp -m tcp -s 172.18.0.3 -d 172.18.0.2 --dport 5432 -m comment --comment "stevedore:br-x link 172.18.0.3 172.18.0.2 tcp/5432 to" -j ACCEPT',
      'STEVEDORE -i br-x -o br-x -p tcp -m tcp -s 172.18.0.2 -d 172.18.0.3 --sport 5432 -m comment --comment "stevedore:br-x link 172.18.0.3 172.18.0.2 tcp/5432 from" -j ACCEPT',
    ],
  );
  assert.throws(() => linkRules({ bridge: 'br-x', parentIp: '172.18.0.3', childIp: 'fd00::2', ports: [] }), /invalid link addresses/);
});

test('parseSave finds our chains and our commented rules, in any chain', () => {
  const view = parseSave(
    [
      '*filter',
      ':FORWARD ACCEPT [0:0]',
      ':DOCKER - [0:0]',
      ':STEVEDORE-FORWARD - [0:0]',
      '-A FORWARD -m comment --comment stevedore -j STEVEDORE-FORWARD',
      '-A FORWARD -o docker0 -j DOCKER',
      '-A STEVEDORE-FORWARD -o br-x -m comment --comment "stevedore:br-x icc" -j ACCEPT',
      '-A STEVEDORE-FORWARD -j LOG',
      'COMMIT',
    ].join('\n'),
  );
  assert.deepEqual([...view.chains], ['filter\0STEVEDORE-FORWARD']);
  assert.deepEqual([...view.rules.entries()], [
    ['filter\0FORWARD\0stevedore', ['-m comment --comment stevedore -j STEVEDORE-FORWARD']],
    ['filter\0STEVEDORE-FORWARD\0stevedore:br-x icc', ['-o br-x -m comment --comment "stevedore:br-x icc" -j ACCEPT']],
    ['filter\0STEVEDORE-FORWARD\0', ['-j LOG']],
  ]);
});

/** A runner that answers saves with `save` and records every call. */
function recorder(save = ''): CommandRunner & { calls: { file: string; input?: string }[] } {
  const calls: { file: string; input?: string }[] = [];
  return {
    calls,
    run: async (file, _args, input) => {
      calls.push({ file, input });
      return { code: 0, stdout: file.endsWith('-save') ? save : '', stderr: '' };
    },
  };
}

test('spawns: init 1 save + 1 restore; setupNetwork 1 + 1; publish 1 restore; repeats cost no restore', async () => {
  const r = recorder();
  const fw = new IptablesFirewall({ runner: r, procSys: '/nonexistent' });
  await fw.init();
  assert.deepEqual(r.calls.map((c) => c.file), ['iptables-save', 'iptables-restore']);
  assert.match(r.calls[1]!.input!, /^\*filter\n-N STEVEDORE-FORWARD\n/);
  assert.match(r.calls[1]!.input!, /-I FORWARD 1 -m comment --comment "stevedore" -j STEVEDORE-FORWARD/);
  r.calls.length = 0;
  await fw.setupNetwork({ ...NET, internal: true }); // internal: no route_localnet to set
  assert.deepEqual(r.calls.map((c) => c.file), ['iptables-save', 'iptables-restore']);
  r.calls.length = 0;
  const p: PortMapping = { proto: 'tcp', hostIp: '', hostPort: 8080, containerIp: '172.18.0.2', containerPort: 80, bridge: NET.bridge };
  await fw.publish(p);
  assert.deepEqual(r.calls.map((c) => c.file), ['iptables-restore']);
  assert.equal((r.calls[0]!.input!.match(/^-A /gm) ?? []).length, 3, 'three rules, no chain or base rule again');
  r.calls.length = 0;
  await fw.publish(p);
  assert.equal(r.calls.length, 0, 'publishing again is free');
  await fw.unpublish(p);
  assert.deepEqual(r.calls.map((c) => c.file), ['iptables-restore']);
  assert.equal((r.calls[0]!.input!.match(/^-D /gm) ?? []).length, 3);
  r.calls.length = 0;
  await fw.unpublish(p);
  assert.equal(r.calls.length, 0, 'unpublishing again is free');
  // IPv6 off: an IPv6 mapping is ignored, as libnetwork does without --ip6tables
  await fw.publish({ ...p, hostIp: '::', containerIp: 'fd00::2' });
  assert.equal(r.calls.length, 0);
  // a container's ports in one process
  const many = [8081, 8082, 8083].map((hostPort) => ({ ...p, hostPort }));
  await fw.publishAll(many);
  assert.deepEqual(r.calls.map((c) => c.file), ['iptables-restore']);
  assert.equal((r.calls[0]!.input!.match(/^-A /gm) ?? []).length, 9);
  r.calls.length = 0;
  await fw.unpublishAll(many);
  assert.deepEqual(r.calls.map((c) => c.file), ['iptables-restore']);
  assert.equal((r.calls[0]!.input!.match(/^-D /gm) ?? []).length, 9);
  await assert.rejects(fw.publishAll([{ ...p, hostPort: 0 }]), /invalid port 0/);
});

test('a failed restore re-reads the rules and tries once more', async () => {
  let restores = 0;
  const calls: string[] = [];
  const runner: CommandRunner = {
    run: async (file) => {
      calls.push(file);
      if (file.endsWith('-restore')) return { code: ++restores === 1 ? 1 : 0, stdout: '', stderr: 'line 2 failed' };
      return { code: 0, stdout: '', stderr: '' };
    },
  };
  const fw = new IptablesFirewall({ runner });
  await fw.init();
  assert.deepEqual(calls, ['iptables-save', 'iptables-restore', 'iptables-save', 'iptables-restore']);
  const failing = new IptablesFirewall({ runner: { run: async (f) => ({ code: f.endsWith('-restore') ? 2 : 0, stdout: '', stderr: 'nope' }) } });
  await assert.rejects(failing.init(), /iptables-restore failed: nope/);
});

// ---- against the kernel ----------------------------------------------------------------

const canRun =
  process.getuid?.() === 0 &&
  spawnSync('iptables-restore', ['--version']).status === 0 &&
  spawnSync('ip', ['-V']).status === 0;
const skip = canRun ? false : 'needs root, iptables and iproute2';

function sh(file: string, ...args: string[]): string {
  return execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function trySh(file: string, ...args: string[]): void {
  spawnSync(file, args, { stdio: 'ignore' });
}

/** The iptables-save lines (no counters, no comments) that match `re`. */
function savedLines(re: RegExp, family: 'iptables' | 'ip6tables' = 'iptables'): string[] {
  return sh(`${family}-save`)
    .split('\n')
    .filter((l) => !l.startsWith('#') && re.test(l))
    .map((l) => l.replace(/\[\d+:\d+\]/, ''));
}

/** A bridge with a namespace on it ("a container"), all under unique names. */
class TestBridge {
  readonly id = randomBytes(3).toString('hex');
  readonly bridge = `stvf${this.id}`;
  readonly netns = `stvf${this.id}`;
  readonly prefix = `10.${randomInt(240, 255)}.${randomInt(0, 256)}`;
  readonly gateway = `${this.prefix}.1`;
  readonly containerIp = `${this.prefix}.2`;
  readonly prefix6 = `fd5e:${randomInt(0x1000, 0x10000).toString(16)}:${randomInt(0x1000, 0x10000).toString(16)}:1`; // no leading zeros: printed as iptables prints it
  readonly gateway6 = `${this.prefix6}::1`;
  readonly containerIp6 = `${this.prefix6}::2`;
  private server: ChildProcess | undefined;
  get serving(): boolean {
    return this.server !== undefined && this.server.exitCode === null;
  }

  create(): void {
    sh('ip', 'link', 'add', this.bridge, 'type', 'bridge');
    sh('ip', 'addr', 'add', `${this.gateway}/24`, 'dev', this.bridge);
    sh('ip', 'link', 'set', this.bridge, 'up');
    sh('ip', 'netns', 'add', this.netns);
    sh('ip', 'link', 'add', `vf${this.id}h`, 'type', 'veth', 'peer', 'name', `vf${this.id}c`, 'netns', this.netns);
    sh('ip', 'link', 'set', `vf${this.id}h`, 'master', this.bridge, 'up');
    sh('ip', '-n', this.netns, 'addr', 'add', `${this.containerIp}/24`, 'dev', `vf${this.id}c`);
    sh('ip', '-n', this.netns, 'link', 'set', `vf${this.id}c`, 'up');
    sh('ip', '-n', this.netns, 'link', 'set', 'lo', 'up');
    sh('ip', '-n', this.netns, 'route', 'add', 'default', 'via', this.gateway);
  }

  /** IPv6 on the bridge and in the namespace (no duplicate address detection, so usable at once). */
  addIpv6(): void {
    sh('ip', 'addr', 'add', `${this.gateway6}/64`, 'dev', this.bridge, 'nodad');
    sh('ip', '-n', this.netns, 'addr', 'add', `${this.containerIp6}/64`, 'dev', `vf${this.id}c`, 'nodad');
    sh('ip', '-n', this.netns, '-6', 'route', 'add', 'default', 'via', this.gateway6);
  }

  /** Runs a server in the namespace: TCP 8080 answers `hello <peer>`, UDP 5353 answers `udp <peer>`. */
  async serve(): Promise<void> {
    const script = `
      const net = require('net'), dgram = require('dgram');
      const t = net.createServer((s) => s.end('hello ' + s.remoteAddress));
      const t6 = net.createServer((s) => s.end('hello ' + s.remoteAddress));
      const u = dgram.createSocket('udp4');
      u.on('message', (m, r) => u.send('udp ' + r.address, r.port, r.address));
      t6.on('error', () => {});
      t.listen(8080, '0.0.0.0', () => t6.listen({ port: 8080, host: '::', ipv6Only: true }, () => u.bind(5353, () => process.stdout.write('ready\\n'))));`;
    const child = spawn('ip', ['netns', 'exec', this.netns, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    this.server = child;
    await new Promise<void>((resolve, reject) => {
      child.stdout!.once('data', () => resolve());
      child.once('exit', (code) => reject(new Error(`server exited ${code}`)));
    });
  }

  /** Runs `sh -c` inside the namespace. */
  inNetns(script: string): { status: number | null; stdout: string } {
    const r = spawnSync('ip', ['netns', 'exec', this.netns, 'sh', '-c', script], { encoding: 'utf8' });
    return { status: r.status, stdout: r.stdout };
  }

  destroy(): void {
    if (this.server?.pid && this.server.exitCode === null) this.server.kill('SIGKILL');
    trySh('ip', 'netns', 'del', this.netns);
    trySh('ip', 'link', 'del', `vf${this.id}h`);
    trySh('ip', 'link', 'del', this.bridge);
  }
}

function tcpGet(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect({ host, port });
    let data = '';
    c.on('data', (b) => (data += b.toString()));
    c.once('end', () => resolve(data));
    c.once('error', (e: NodeJS.ErrnoException) => reject(e));
  });
}

function udpAsk(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    s.once('message', (m) => {
      s.close();
      resolve(m.toString());
    });
    s.once('error', reject);
    s.send('hi', port, host);
  });
}

/** A global address of the host that is not on a test bridge. */
function hostAddress(family: 'IPv4' | 'IPv6' = 'IPv4'): string | undefined {
  for (const [name, addrs] of Object.entries(os.networkInterfaces())) {
    if (name === 'lo' || name.startsWith('stv') || name.startsWith('br-') || name.startsWith('docker')) continue;
    const a = addrs?.find((x) => x.family === family && !x.internal && !x.address.startsWith('fe80:'));
    if (a) return a.address;
  }
  return undefined;
}

describe('IptablesFirewall against iptables', { skip }, () => {
  const tb = new TestBridge();
  const fw = new IptablesFirewall();
  const allocator = new SocketPortAllocator();
  let stevedoreBefore: string[] = [];

  before(() => {
    stevedoreBefore = savedLines(/stevedore|STEVEDORE/);
    tb.create();
  });
  after(async () => {
    tb.destroy();
    await cleanupFirewall(tb.bridge, { removeChains: true });
  });

  test('setupNetwork installs the bridge rules once, idempotently; options change them; teardown removes them exactly', async () => {
    await fw.init();
    const n: FirewallNetwork = { bridge: tb.bridge, subnets: [`${tb.gateway}/24`], internal: false, masquerade: true, icc: true };
    await fw.setupNetwork(n);
    const mine = () => savedLines(new RegExp(`stevedore:${tb.bridge} `)).sort();
    const first = mine();
    assert.equal(first.length, networkRules(n, 'ipv4').length);
    assert.ok(first.includes(`-A STEVEDORE-POSTROUTING -s ${tb.prefix}.0/24 ! -o ${tb.bridge} -m comment --comment "stevedore:${tb.bridge} masquerade ${tb.prefix}.0/24" -j MASQUERADE`), first.join('\n'));
    assert.equal(fs.readFileSync(`/proc/sys/net/ipv4/conf/${tb.bridge}/route_localnet`, 'utf8').trim(), '1');
    // base rules exist once
    assert.equal(savedLines(/^-A FORWARD .*-j STEVEDORE-FORWARD$/).length, 1);
    assert.equal(savedLines(/^-A PREROUTING -m addrtype --dst-type LOCAL .*-j STEVEDORE$/).length, 1);

    const restores = fw.stats.restores;
    await fw.init();
    await fw.setupNetwork(n);
    assert.equal(fw.stats.restores, restores, 'nothing to do the second time');
    assert.deepEqual(mine(), first);

    await fw.setupNetwork({ ...n, icc: false, masquerade: false });
    const changed = mine();
    assert.ok(changed.some((l) => l.includes(`"stevedore:${tb.bridge} no-icc" -j DROP`)));
    assert.ok(!changed.some((l) => l.includes(' icc"') || l.includes('masquerade ')), changed.join('\n'));

    await fw.setupNetwork({ ...n, internal: true });
    const internal = mine();
    assert.ok(internal.some((l) => l.includes(`! -d ${tb.prefix}.0/24`) && l.endsWith('-j DROP')));
    assert.ok(!internal.some((l) => l.includes('outgoing') || l.includes('MASQUERADE')), internal.join('\n'));

    await fw.teardownNetwork(tb.bridge);
    assert.deepEqual(savedLines(new RegExp(tb.bridge)), []);
    await fw.teardownNetwork(tb.bridge); // idempotent
    assert.equal(await cleanupFirewall(tb.bridge, { families: ['ipv4'] }), 0, 'nothing of the bridge was left');

    // with no other user of our chains (no other network's rule, no live test engine with a
    // network: test/helpers/network.ts registers them), removing them gives back the tables
    const engines = fs.existsSync('/run/stevedore-test-networks') ? fs.readdirSync('/run/stevedore-test-networks').length : 0;
    const othersUse = engines > 0 || savedLines(/--comment "stevedore:/).length > 0;
    await cleanupFirewall(tb.bridge, { removeChains: true, families: ['ipv4'] });
    if (stevedoreBefore.length === 0 && !othersUse) assert.deepEqual(savedLines(/stevedore|STEVEDORE/), []);
  });

  test('published ports: kernel DNAT from 127.0.0.1 and the host address, TCP and UDP; 127.0.0.1-only; unpublish', async (t) => {
    await fw.init();
    await fw.setupNetwork({ bridge: tb.bridge, subnets: [`${tb.gateway}/24`], internal: false, masquerade: true, icc: true });
    await tb.serve();

    const tcp = await allocator.reserve('tcp', '');
    const udp = await allocator.reserve('udp', '');
    const local = await allocator.reserve('tcp', '127.0.0.1');
    t.after(async () => {
      await tcp.release();
      await udp.release();
      await local.release();
    });
    const pt: PortMapping = { proto: 'tcp', hostIp: '', hostPort: tcp.port, containerIp: tb.containerIp, containerPort: 8080, bridge: tb.bridge };
    const pu: PortMapping = { proto: 'udp', hostIp: '', hostPort: udp.port, containerIp: tb.containerIp, containerPort: 5353, bridge: tb.bridge };
    const pl: PortMapping = { proto: 'tcp', hostIp: '127.0.0.1', hostPort: local.port, containerIp: tb.containerIp, containerPort: 8080, bridge: tb.bridge };
    await fw.publish(pt);
    await fw.publish(pu);
    await fw.publish(pl);

    // the reserving sockets are not served: the container answers, seeing the gateway (masquerade)
    assert.equal(await tcpGet('127.0.0.1', tcp.port), `hello ${tb.gateway}`);
    assert.equal(await udpAsk('127.0.0.1', udp.port), `udp ${tb.gateway}`);
    const addr = hostAddress();
    if (addr) {
      assert.equal(await tcpGet(addr, tcp.port), `hello ${tb.gateway}`);
      // published on 127.0.0.1 only: not on the host address (nothing listens there)
      await assert.rejects(tcpGet(addr, local.port), { code: 'ECONNREFUSED' });
    }
    assert.equal(await tcpGet('127.0.0.1', local.port), `hello ${tb.gateway}`);

    // from outside the host's own stack (PREROUTING): the container reaches its own published
    // port through the host's addresses (hairpin). Forwarding is switched on for the test
    // bridge only, never host-wide.
    fs.writeFileSync(`/proc/sys/net/ipv4/conf/${tb.bridge}/forwarding`, '1\n');
    // and the port is in hairpin mode, as libnetwork sets it with the userland proxy off
    await enableHairpin(`vf${tb.id}h`);
    for (const target of [tb.gateway, ...(addr ? [addr] : [])]) {
      const r = tb.inNetns(`busybox nc -w 2 ${target} ${tcp.port} </dev/null`);
      assert.equal(r.stdout, `hello ${tb.gateway}`, `hairpin through ${target}`);
    }

    await fw.unpublish(pt);
    await fw.unpublish(pl);
    assert.deepEqual(savedLines(new RegExp(`stevedore:${tb.bridge} port tcp`)), []);
    assert.equal(savedLines(new RegExp(`stevedore:${tb.bridge} port udp`)).length, 3);
    // back to the reserving socket, which closes the connection without a word
    assert.equal(await tcpGet('127.0.0.1', tcp.port), '');
    await fw.unpublish(pu);
    await fw.teardownNetwork(tb.bridge);
    assert.deepEqual(savedLines(new RegExp(tb.bridge)), []);
  });

  test('route_localnet guard: a container cannot reach the host loopback through its bridge', async (t) => {
    await fw.init();
    await fw.setupNetwork({ bridge: tb.bridge, subnets: [`${tb.gateway}/24`], internal: false, masquerade: true, icc: true });
    t.after(() => fw.teardownNetwork(tb.bridge));
    // a service of the host's on 127.0.0.5 only
    const got: string[] = [];
    const srv = net.createServer((s) => {
      got.push(String(s.remoteAddress));
      s.destroy();
    });
    await new Promise<void>((res) => srv.listen(0, '127.0.0.5', () => res()));
    t.after(() => new Promise<void>((res) => srv.close(() => res())));
    const port = (srv.address() as net.AddressInfo).port;
    // the "container" routes 127/8 to its gateway, as a hostile one can
    const setup = tb.inNetns(
      `echo 1 > /proc/sys/net/ipv4/conf/vf${tb.id}c/route_localnet && ip route del local 127.0.0.0/8 dev lo table local && ip route add 127.0.0.0/8 via ${tb.gateway}`,
    );
    assert.equal(setup.status, 0);
    const dropsBefore = guardPackets(tb.bridge);
    const r = tb.inNetns(`echo x | busybox nc -w 1 127.0.0.5 ${port}`);
    assert.notEqual(r.status, 0, 'the connection must fail');
    assert.deepEqual(got, []);
    assert.ok(guardPackets(tb.bridge) > dropsBefore, 'dropped by the guard');
  });

  test('IPv6 with ip6tables: rules in both families, DNAT from the host IPv6 address', async (t) => {
    const addr6 = hostAddress('IPv6');
    if (!addr6 || spawnSync('ip6tables', ['-w', '-t', 'nat', '-S']).status !== 0) {
      t.skip('no global IPv6 address or no ip6tables nat');
      return;
    }
    tb.addIpv6();
    const fw6 = new IptablesFirewall({ ipv4: true, ipv6: true });
    t.after(async () => {
      await fw6.teardownNetwork(tb.bridge);
      await cleanupFirewall(tb.bridge, { removeChains: true, families: ['ipv6'] });
    });
    await fw6.init();
    await fw6.setupNetwork({ bridge: tb.bridge, subnets: [`${tb.gateway}/24`, `${tb.gateway6}/64`], internal: false, masquerade: true, icc: true });
    const v6 = savedLines(new RegExp(`stevedore:${tb.bridge} `), 'ip6tables');
    assert.ok(v6.some((l) => l.includes(`masquerade ${tb.prefix6}::/64`)), v6.join('\n'));
    assert.ok(!v6.some((l) => l.includes('localnet-guard')));
    if (!tb.serving) await tb.serve();
    const r = await allocator.reserve('tcp', '::');
    t.after(() => r.release());
    const p: PortMapping = { proto: 'tcp', hostIp: '::', hostPort: r.port, containerIp: tb.containerIp6, containerPort: 8080, bridge: tb.bridge };
    await fw6.publish(p);
    assert.equal(savedLines(new RegExp(`stevedore:${tb.bridge} port`), 'ip6tables').length, 3);
    assert.equal(await tcpGet(addr6, r.port), `hello ${tb.gateway6}`);
    await fw6.unpublish(p);
    assert.deepEqual(savedLines(new RegExp(`stevedore:${tb.bridge} port`), 'ip6tables'), []);
    await fw6.teardownNetwork(tb.bridge);
    assert.deepEqual(savedLines(new RegExp(tb.bridge), 'ip6tables'), []);
  });
});

/** Packets the bridge's localnet guard has dropped. */
function guardPackets(bridge: string): number {
  const out = sh('iptables', '-w', '-t', 'filter', '-L', 'STEVEDORE-INPUT', '-v', '-x', '-n');
  const row = out.split('\n').find((l) => l.includes(`stevedore:${bridge} localnet-guard`));
  return row ? Number(row.trim().split(/\s+/)[0]) : -1;
}
