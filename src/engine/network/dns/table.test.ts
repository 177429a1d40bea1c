import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { DnsTable, RESP_TTL, validateTable, type Decision, type ResolverNetwork } from './table';
import { TYPE } from './wire';

const HOST_NS = ['192.0.2.53'];

const app: ResolverNetwork = {
  id: 'n1',
  name: 'app',
  listen: ['10.1.0.1', 'fd01::1'],
  records: [
    { names: ['web', 'www', 'aaaaaaaaaaaa'], ipv4: ['10.1.0.2'], ipv6: ['fd01::2'], container: 'c-web' },
    { names: ['db', 'bbbbbbbbbbbb'], ipv4: ['10.1.0.3'], ipv6: [], container: 'c-db', links: { mydb: 'db', store: 'web' }, ndotsSet: true },
    { names: ['Cache', 'shared'], ipv4: ['10.1.0.4'], ipv6: [], container: 'c-cache', nameservers: ['198.51.100.1'] },
    { names: ['worker', 'shared'], ipv4: ['10.1.0.5'], ipv6: [], container: 'c-worker' },
  ],
};
const back: ResolverNetwork = {
  id: 'n2',
  name: 'back',
  listen: ['10.2.0.1'],
  records: [
    { names: ['web', 'api'], ipv4: ['10.2.0.7'], ipv6: [], container: 'c-web' },
    { names: ['queue'], ipv4: ['10.2.0.8'], ipv6: [], container: 'c-queue' },
  ],
};
const sealed: ResolverNetwork = {
  id: 'n3',
  name: 'sealed',
  internal: true,
  listen: ['10.3.0.1'],
  records: [{ names: ['vault'], ipv4: ['10.3.0.2'], ipv6: [], container: 'c-vault' }],
};

const table = new DnsTable(validateTable(JSON.parse(JSON.stringify({ version: 1, generation: 3, networks: [app, back, sealed] }))));

function ask(from: string, name: string, type: number = TYPE.A, at = '10.1.0.1'): Decision | undefined {
  return table.answer(at, from, name, type, HOST_NS);
}
function ips(d: Decision | undefined): string[] {
  assert.equal(d?.kind, 'answer', JSON.stringify(d));
  return (d as Extract<Decision, { kind: 'answer' }>).answers.map((a) => ('address' in a ? a.address : a.target)).sort();
}

test('container names, aliases and short IDs: case-insensitive, with or without the trailing dot, TTL 600', () => {
  assert.deepEqual(ips(ask('10.1.0.3', 'web')), ['10.1.0.2']);
  assert.deepEqual(ips(ask('10.1.0.3', 'WWW.')), ['10.1.0.2']);
  assert.deepEqual(ips(ask('10.1.0.3', 'aaaaaaaaaaaa')), ['10.1.0.2']);
  assert.deepEqual(ips(ask('10.1.0.3', 'cache')), ['10.1.0.4']);
  assert.deepEqual(ips(ask('10.1.0.3', 'web', TYPE.AAAA)), ['fd01::2']);
  const d = ask('10.1.0.3', 'web') as Extract<Decision, { kind: 'answer' }>;
  assert.equal(d.answers[0]!.ttl, RESP_TTL);
  // a name on two containers answers both
  assert.deepEqual(ips(ask('10.1.0.3', 'shared')), ['10.1.0.4', '10.1.0.5']);
});

test('AAAA of an IPv4-only name is NODATA (an empty answer), not forwarded', () => {
  assert.deepEqual(ask('10.1.0.2', 'db', TYPE.AAAA), { kind: 'answer', answers: [] });
});

test('name.<network> resolves on that network only', () => {
  assert.deepEqual(ips(ask('10.1.0.2', 'web.back')), ['10.2.0.7']);
  assert.deepEqual(ips(ask('10.1.0.2', 'web.app')), ['10.1.0.2']);
  assert.deepEqual(ips(ask('10.1.0.2', 'api.back.')), ['10.2.0.7']);
  // the network name matches exactly, as Docker's
  assert.equal(ask('10.1.0.2', 'web.APP')?.kind, 'forward');
});

test('a container on two networks sees both, the network asked on first; others see only theirs', () => {
  // web is on app and back: asking app's gateway, "web" is its app address, "queue" is found on back
  assert.deepEqual(ips(ask('10.1.0.2', 'queue')), ['10.2.0.8']);
  assert.deepEqual(ips(ask('10.2.0.7', 'web', TYPE.A, '10.2.0.1')), ['10.2.0.7']);
  // worker is only on app: back's names are not its business, whichever gateway it asks
  assert.deepEqual(ask('10.1.0.5', 'queue'), { kind: 'forward', nameservers: HOST_NS });
  assert.deepEqual(ask('10.1.0.5', 'queue', TYPE.A, '10.2.0.1'), { kind: 'forward', nameservers: HOST_NS });
  assert.deepEqual(ips(ask('10.1.0.5', 'web', TYPE.A, '10.2.0.1')), ['10.1.0.2']);
  // a source not in the table (the host) sees the network asked on
  assert.deepEqual(ips(ask('10.1.0.1', 'queue', TYPE.A, '10.2.0.1')), ['10.2.0.8']);
  assert.equal(ask('10.1.0.1', 'queue')?.kind, 'forward');
});

test('link aliases are seen by their container only, and before names', () => {
  assert.deepEqual(ips(ask('10.1.0.3', 'mydb')), ['10.1.0.3']);
  assert.deepEqual(ips(ask('10.1.0.3', 'store')), ['10.1.0.2']);
  assert.equal(ask('10.1.0.2', 'mydb')?.kind, 'forward');
  // prototype names are not links
  assert.equal(ask('10.1.0.3', 'constructor')?.kind, 'answer'); // ndotsSet: single label → empty answer
  assert.deepEqual(ask('10.1.0.3', 'constructor'), { kind: 'answer', answers: [] });
  assert.equal(ask('10.1.0.2', '__proto__')?.kind, 'forward');
});

test('PTR of a known address answers <first name>.<network>.; others are forwarded', () => {
  assert.deepEqual(ips(ask('10.1.0.3', '2.0.1.10.in-addr.arpa.', TYPE.PTR)), ['web.app.']);
  assert.deepEqual(ips(ask('10.1.0.3', '4.0.1.10.IN-ADDR.ARPA', TYPE.PTR)), ['Cache.app.']);
  const v6 = `2.${'0.'.repeat(27)}1.0.d.f.ip6.arpa.`;
  assert.deepEqual(ips(ask('10.1.0.3', v6, TYPE.PTR)), ['web.app.']);
  assert.equal(ask('10.1.0.3', '1.0.1.10.in-addr.arpa.', TYPE.PTR)?.kind, 'forward');
  // not on the querier's networks
  assert.equal(ask('10.1.0.3', '8.0.2.10.in-addr.arpa.', TYPE.PTR)?.kind, 'forward');
});

test('MX of a known name is an empty NOERROR; other types are forwarded', () => {
  assert.deepEqual(ask('10.1.0.2', 'db', TYPE.MX), { kind: 'answer', answers: [] });
  assert.equal(ask('10.1.0.2', 'db', TYPE.TXT)?.kind, 'forward');
  assert.equal(ask('10.1.0.2', 'db', TYPE.SRV)?.kind, 'forward');
});

test('unknown names: forwarded to the container\'s --dns or the host\'s; ndots set keeps single labels local', () => {
  assert.deepEqual(ask('10.1.0.2', 'example.com'), { kind: 'forward', nameservers: HOST_NS });
  assert.deepEqual(ask('10.1.0.4', 'example.com'), { kind: 'forward', nameservers: ['198.51.100.1'] });
  assert.deepEqual(ask('10.1.0.3', 'nosuch'), { kind: 'answer', answers: [] });
  assert.deepEqual(ask('10.1.0.3', 'nosuch', TYPE.TXT), { kind: 'forward', nameservers: HOST_NS });
  assert.deepEqual(ask('10.1.0.3', 'example.com'), { kind: 'forward', nameservers: HOST_NS });
  assert.deepEqual(ask('10.1.0.2', 'nosuch'), { kind: 'forward', nameservers: HOST_NS });
});

test('internal networks: names answer, nothing is forwarded', () => {
  assert.deepEqual(ips(ask('10.3.0.2', 'vault', TYPE.A, '10.3.0.1')), ['10.3.0.2']);
  assert.deepEqual(ask('10.3.0.2', 'example.com', TYPE.A, '10.3.0.1'), { kind: 'servfail' });
});

test('no usable upstream is SERVFAIL; the resolver never forwards to itself; unknown listen address is undefined', () => {
  assert.deepEqual(table.answer('10.1.0.1', '10.1.0.2', 'x.com', TYPE.A, []), { kind: 'servfail' });
  assert.deepEqual(table.answer('10.1.0.1', '10.1.0.2', 'x.com', TYPE.A, ['10.2.0.1', '192.0.2.1']), { kind: 'forward', nameservers: ['192.0.2.1'] });
  assert.equal(table.answer('10.9.9.9', '10.1.0.2', 'web', TYPE.A, HOST_NS), undefined);
  assert.equal(table.networkAt('fd01:0::1')?.id, 'n1');
});

test('with subnets, only the network\'s sources, known containers and loopback may ask', () => {
  const t = new DnsTable({
    version: 1,
    generation: 1,
    networks: [
      { ...app, subnets: ['10.1.0.0/16', 'fd01::/64'] },
      { ...back, subnets: ['10.2.0.0/24'] },
    ],
  });
  const at = (from: string, dst = '10.1.0.1') => t.answer(dst, from, 'web', TYPE.A, HOST_NS)?.kind;
  assert.equal(at('10.1.200.9'), 'answer'); // in the subnet (the host itself asks from the gateway address)
  assert.equal(at('fd01::99', 'fd01::1'), 'answer');
  assert.equal(at('127.0.0.1'), 'answer');
  assert.equal(at('10.2.0.8'), 'answer'); // a container of another network: its own names
  assert.equal(at('192.0.2.1'), undefined); // a remote host
  assert.equal(at('10.2.0.99'), undefined); // in back's subnet but not a container, asking app's gateway
  assert.equal(at('fd02::1', 'fd01::1'), undefined);
});

test('validateTable refuses malformed tables', () => {
  assert.throws(() => validateTable({ version: 2, generation: 1, networks: [] }), /version/);
  assert.throws(() => validateTable({ version: 1, networks: [] }), /generation/);
  assert.throws(() => validateTable({ version: 1, generation: 1, networks: [{ id: 'x', listen: [1], records: [] }] }), /listen/);
  assert.throws(() => validateTable({ version: 1, generation: 1, networks: [{ id: 'x', listen: [], records: [{ names: ['a'] }] }] }), /ipv4/);
});
