import { test, after, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as dgram from 'node:dgram';
import { randomInt } from 'node:crypto';
import { ResolverServer } from './server';
import { DnsTable, type ResolverNetwork } from './table';
import { RCODE, TYPE, buildMessage, buildQuery, buildReply, parseHeader, type Message } from './wire';
import { FakeUpstream, query, randomLoopback, udpExchange } from './testing/dns-client';

// In-process: a random high port, so this file needs no root.
const PORT = randomInt(20000, 60000);
const gw = randomLoopback();
const gw2 = randomLoopback();
const web = randomLoopback();
const db = randomLoopback();
const upA = randomLoopback();
const upB = randomLoopback();
let tmp: string;
let server: ResolverServer;
let upstream: FakeUpstream;
let failing: FakeUpstream;

function net1(extra: Partial<ResolverNetwork> = {}): ResolverNetwork {
  return {
    id: 'n1',
    name: 'app',
    listen: [gw],
    records: [
      { names: ['web', 'www'], ipv4: [web], ipv6: ['fd42::2'], container: 'c1' },
      { names: ['db'], ipv4: [db], ipv6: [], container: 'c2' },
      { names: ['many'], ipv4: Array.from({ length: 100 }, (_, i) => `10.9.${i >> 8}.${i & 255}`), ipv6: [] },
    ],
    ...extra,
  };
}

function table(generation: number, networks: ResolverNetwork[]): DnsTable {
  return new DnsTable({ version: 1, generation, networks });
}

/** The fake upstream: `example.test` → 192.0.2.10; `big.test` → 60 addresses (TC over UDP); `slow.test` → silence; else NXDOMAIN. */
function upstreamAnswer(q: Message, _raw: Buffer, proto: 'udp' | 'tcp'): Buffer | undefined {
  const name = q.questions[0]!.name.toLowerCase();
  const base = { id: q.header.id, qr: true, rd: q.header.rd, ra: true };
  const questions = q.questions;
  if (name === 'slow.test.') return undefined;
  if (name === 'example.test.')
    return buildMessage({ header: base, questions, answers: [{ name: q.questions[0]!.name, type: TYPE.A, ttl: 30, rdata: Buffer.from([192, 0, 2, 10]) }] });
  if (name === 'big.test.') {
    if (proto === 'udp') return buildMessage({ header: { ...base, tc: true }, questions });
    const answers = Array.from({ length: 60 }, (_, i) => ({ name: 'big.test.', type: TYPE.A, ttl: 30, rdata: Buffer.from([192, 0, 2, i]) }));
    return buildMessage({ header: base, questions, answers });
  }
  return buildMessage({ header: { ...base, rcode: RCODE.NXDOMAIN }, questions });
}

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dns-server-'));
  fs.writeFileSync(path.join(tmp, 'resolv.conf'), `# test\nsearch example\nnameserver ${upB}\nnameserver ${upA}\noptions ndots:2\n`);
  upstream = await new FakeUpstream(upA, upstreamAnswer, PORT).start();
  // the first nameserver always fails: Docker's resolver moves on to the next
  failing = await new FakeUpstream(upB, (q) => buildReply(q, { rcode: RCODE.SERVFAIL }), PORT).start();
  server = new ResolverServer({ port: PORT, upstreamPort: PORT, upstreamTimeoutMs: 300, resolvConf: path.join(tmp, 'resolv.conf'), retryBindMs: 50 });
  const st = await server.load(table(1, [net1()]));
  assert.deepEqual(st, { listening: [gw], failed: [] });
});

after(async () => {
  await server?.close();
  await upstream?.close();
  await failing?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

test('A, AAAA and PTR from the table, over UDP, from a container address', async () => {
  const a = await query(gw, 'WEB.', TYPE.A, { port: PORT, source: db });
  assert.equal(a.msg.header.rcode, RCODE.NOERROR);
  assert.deepEqual(a.data, [web]);
  assert.equal(a.msg.answers[0]!.ttl, 600);
  assert.equal(a.msg.answers[0]!.name, 'WEB.');
  const six = await query(gw, 'www', TYPE.AAAA, { port: PORT, source: db });
  assert.deepEqual(six.data, ['fd42::2']);
  const nodata = await query(gw, 'db', TYPE.AAAA, { port: PORT, source: web });
  assert.equal(nodata.msg.header.rcode, RCODE.NOERROR);
  assert.deepEqual(nodata.data, []);
  const rev = web.split('.').reverse().join('.') + '.in-addr.arpa.';
  const ptr = await query(gw, rev, TYPE.PTR, { port: PORT, source: db });
  assert.deepEqual(ptr.data, ['web.app.']);
  // name.network
  assert.deepEqual((await query(gw, 'db.app', TYPE.A, { port: PORT })).data, [db]);
});

test('unknown names are forwarded (past a failing upstream): answers and NXDOMAIN pass through with the client\'s ID', async () => {
  const before = upstream.queries.length;
  const ok = await query(gw, 'example.test', TYPE.A, { port: PORT, source: web });
  assert.equal(ok.msg.header.rcode, RCODE.NOERROR);
  assert.deepEqual(ok.data, ['192.0.2.10']);
  const nx = await query(gw, 'nosuch.test', TYPE.A, { port: PORT, source: web });
  assert.equal(nx.msg.header.rcode, RCODE.NXDOMAIN);
  assert.deepEqual(
    upstream.queries.slice(before).map((q) => [q.name, q.proto]),
    [
      ['example.test.', 'udp'],
      ['nosuch.test.', 'udp'],
    ],
  );
  assert.ok(failing.queries.some((q) => q.name === 'example.test.'));
  // a name in the table is never forwarded
  const n = upstream.queries.length;
  await query(gw, 'web', TYPE.A, { port: PORT });
  assert.equal(upstream.queries.length, n);
});

test('TCP: local answers, forwarded queries go upstream over TCP', async () => {
  const a = await query(gw, 'web', TYPE.A, { port: PORT, tcp: true });
  assert.deepEqual(a.data, [web]);
  const f = await query(gw, 'example.test', TYPE.A, { port: PORT, tcp: true });
  assert.deepEqual(f.data, ['192.0.2.10']);
  assert.deepEqual(upstream.queries.at(-1), { name: 'example.test.', type: TYPE.A, proto: 'tcp' });
});

test('truncation: a big local answer sets TC over UDP and is whole over TCP; an upstream TC passes through', async () => {
  const udp = await query(gw, 'many', TYPE.A, { port: PORT });
  assert.equal(udp.msg.header.tc, true);
  assert.ok(udp.raw.length <= 512);
  assert.ok(udp.data.length > 0 && udp.data.length < 100);
  const edns = await query(gw, 'many', TYPE.A, { port: PORT, udpSize: 4096 });
  assert.equal(edns.msg.header.tc, false);
  assert.equal(edns.data.length, 100);
  const tcp = await query(gw, 'many', TYPE.A, { port: PORT, tcp: true });
  assert.equal(tcp.msg.header.tc, false);
  assert.equal(tcp.data.length, 100);
  const up = await query(gw, 'big.test', TYPE.A, { port: PORT });
  assert.equal(up.msg.header.tc, true);
  const upTcp = await query(gw, 'big.test', TYPE.A, { port: PORT, tcp: true });
  assert.equal(upTcp.data.length, 60);
});

test('no upstream answers: SERVFAIL', async () => {
  const r = await query(gw, 'slow.test', TYPE.A, { port: PORT });
  assert.equal(r.msg.header.rcode, RCODE.SERVFAIL);
});

test('malformed packets: FORMERR, NOTIMP or silence, and the server keeps serving', async () => {
  const good = buildQuery(77, 'web.', TYPE.A);
  // two questions
  const two = buildMessage({ header: { id: 5, rd: true }, questions: [{ name: 'a.', type: 1, class: 1 }, { name: 'b.', type: 1, class: 1 }] });
  assert.equal(parseHeader(await udpExchange(gw, PORT, two)).rcode, RCODE.FORMERR);
  // a question that runs past the end
  const cut = Buffer.from(good.subarray(0, good.length - 3));
  const r = parseHeader(await udpExchange(gw, PORT, cut));
  assert.equal(r.rcode, RCODE.FORMERR);
  assert.equal(r.id, 77);
  // opcode STATUS
  const status = Buffer.from(good);
  status[2] = (status[2]! & 0x87) | (2 << 3);
  assert.equal(parseHeader(await udpExchange(gw, PORT, status)).rcode, RCODE.NOTIMP);
  // short packets and responses get no answer
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.send(Buffer.from([1, 2, 3]), PORT, gw, () => r()));
  const resp = Buffer.from(good);
  resp[2] = resp[2]! | 0x80;
  await new Promise<void>((r) => sock.send(resp, PORT, gw, () => r()));
  sock.close();
  for (let i = 0; i < 200; i++) {
    const pkt = Buffer.from(good);
    pkt[12 + (i % (pkt.length - 12))] = (i * 37) & 0xff;
    await new Promise<void>((r) => {
      const s = dgram.createSocket('udp4');
      s.send(pkt, PORT, gw, () => {
        s.close();
        r();
      });
    });
  }
  assert.deepEqual((await query(gw, 'web', TYPE.A, { port: PORT })).data, [web]);
  // handle() directly: never rejects
  for (let i = 0; i < 2000; i++) {
    const pkt = Buffer.from(good);
    pkt[i % pkt.length] = (i * 13) & 0xff;
    await server.handle(pkt.subarray(0, i % (pkt.length + 1)), gw, web, i % 2 ? 'udp' : 'tcp');
  }
});

test('IPv6: listening on an IPv6 address, answering AAAA and ip6.arpa PTR', async () => {
  const six = new ResolverServer({ port: PORT + 1, upstreamPort: PORT, resolvConf: path.join(tmp, 'resolv.conf') });
  try {
    const st = await six.load(
      table(1, [{ id: 'v6', name: 'six', listen: ['::1'], records: [{ names: ['web6'], ipv4: ['10.6.0.2'], ipv6: ['fd66:0::2'] }] }]),
    );
    assert.deepEqual(st, { listening: ['::1'], failed: [] });
    assert.deepEqual((await query('::1', 'web6', TYPE.AAAA, { port: PORT + 1 })).data, ['fd66::2']);
    assert.deepEqual((await query('::1', 'web6', TYPE.A, { port: PORT + 1, tcp: true })).data, ['10.6.0.2']);
    const rev = `2.${'0.'.repeat(27)}6.6.d.f.ip6.arpa.`;
    assert.deepEqual((await query('::1', rev, TYPE.PTR, { port: PORT + 1 })).data, ['web6.six.']);
  } finally {
    await six.close();
  }
});

test('many concurrent queries, local and forwarded', async () => {
  const names = Array.from({ length: 300 }, (_, i) => (i % 3 === 0 ? 'example.test' : i % 3 === 1 ? 'web' : 'nosuch.test'));
  const replies = await Promise.all(names.map((n, i) => query(gw, n, TYPE.A, { port: PORT, tcp: i % 5 === 0 })));
  replies.forEach((r, i) => {
    const want = names[i] === 'web' ? [web] : names[i] === 'example.test' ? ['192.0.2.10'] : [];
    assert.deepEqual(r.data, want);
  });
});

test('load: a changed table binds new addresses, closes old ones, retries binds that fail', async () => {
  const notHere = '192.0.2.77'; // TEST-NET-1: not an address of this host
  const st = await server.load(
    table(2, [
      net1({ listen: [gw2] }),
      { id: 'n2', name: 'later', listen: [notHere], records: [] },
    ]),
  );
  assert.deepEqual(st.listening, [gw2]);
  assert.deepEqual(
    st.failed.map((f) => f.address),
    [notHere],
  );
  assert.match(st.failed[0]!.error, /EADDRNOTAVAIL/);
  assert.deepEqual((await query(gw2, 'web', TYPE.A, { port: PORT })).data, [web]);
  await assert.rejects(query(gw, 'web', TYPE.A, { port: PORT, timeoutMs: 300 }));
  // a record's new address answers at once
  await server.load(table(3, [net1({ listen: [gw], records: [{ names: ['web'], ipv4: ['10.7.7.7'], ipv6: [] }] })]));
  assert.deepEqual((await query(gw, 'web', TYPE.A, { port: PORT })).data, ['10.7.7.7']);
  assert.deepEqual(server.status(), { listening: [gw], failed: [] });
});
