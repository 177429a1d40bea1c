import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { bytesToIp, canonicalIp, inCidr, ipToBytes, isLoopback, reverseName } from './addr';
import {
  DnsFormatError,
  RCODE,
  TYPE,
  buildErrorHeader,
  buildMessage,
  buildQuery,
  buildReply,
  decodeRecord,
  encodeName,
  parseHeader,
  parseMessage,
  readName,
  udpPayloadSize,
} from './wire';

test('addresses: text ↔ bytes, canonical IPv6, reverse names', () => {
  assert.deepEqual([...ipToBytes('172.17.0.2')!], [172, 17, 0, 2]);
  assert.equal(bytesToIp(ipToBytes('fd00:0:0::02')!), 'fd00::2');
  assert.equal(canonicalIp('2001:DB8:0:0:1:0:0:1'), '2001:db8::1:0:0:1');
  assert.equal(canonicalIp('::ffff:1.2.3.4'), '::ffff:102:304');
  assert.equal(canonicalIp('::'), '::');
  assert.equal(canonicalIp('1:2:3:4:5:6:7:8'), '1:2:3:4:5:6:7:8');
  assert.equal(canonicalIp('not an address'), undefined);
  assert.equal(reverseName('172.17.0.2'), '2.0.17.172.in-addr.arpa');
  assert.equal(reverseName('fd00::2'), `2.${'0.'.repeat(29)}d.f.ip6.arpa`);
  assert.equal(inCidr('172.18.3.4', '172.18.0.0/16'), true);
  assert.equal(inCidr('172.19.0.1', '172.18.0.0/16'), false);
  assert.equal(inCidr('10.0.0.129', '10.0.0.128/25'), true);
  assert.equal(inCidr('10.0.0.127', '10.0.0.128/25'), false);
  assert.equal(inCidr('fd00::1:2', 'fd00::/64'), true);
  assert.equal(inCidr('fd00:0:0:1::2', 'fd00::/64'), false);
  assert.equal(inCidr('10.0.0.1', 'fd00::/64'), false);
  assert.equal(inCidr('1.2.3.4', '0.0.0.0/0'), true);
  assert.equal(isLoopback('127.9.9.9'), true);
  assert.equal(isLoopback('::1'), true);
  assert.equal(isLoopback('10.0.0.1'), false);
});

test('a query round-trips: question, RD, EDNS(0) payload size', () => {
  const raw = buildQuery(0x1234, 'Web.App.', TYPE.AAAA, { udpSize: 1232 });
  const m = parseMessage(raw);
  assert.equal(m.header.id, 0x1234);
  assert.equal(m.header.rd, true);
  assert.equal(m.header.qr, false);
  assert.deepEqual(m.questions, [{ name: 'Web.App.', type: TYPE.AAAA, class: 1 }]);
  assert.equal(udpPayloadSize(m), 1232);
  assert.equal(udpPayloadSize(parseMessage(buildQuery(1, 'a.', TYPE.A))), 512);
  // a name without the trailing dot encodes the same
  assert.deepEqual(encodeName('web.app'), encodeName('web.app.'));
  assert.deepEqual([...encodeName('.')], [0]);
});

test('names: compression pointers are followed; escapes round-trip', () => {
  // header, then "web.app." at 12, then "db" + pointer to "app." (offset 16)
  const body = Buffer.concat([Buffer.alloc(12), encodeName('web.app.'), Buffer.from([2, 0x64, 0x62, 0xc0, 16])]);
  assert.deepEqual(readName(body, 12), { name: 'web.app.', next: 21 });
  assert.deepEqual(readName(body, 21), { name: 'db.app.', next: 26 });
  const odd = encodeName('a\\.b.c\\032d.');
  assert.deepEqual([...odd.subarray(0, 4)], [3, 0x61, 0x2e, 0x62]);
  assert.equal(readName(Buffer.concat([Buffer.alloc(12), odd]), 12).name, 'a\\.b.c\\032d.');
});

test('malformed names throw DnsFormatError: loops, forward pointers, overruns, long names', () => {
  const at12 = (b: number[]) => Buffer.concat([Buffer.alloc(12), Buffer.from(b)]);
  assert.throws(() => readName(at12([0xc0, 12]), 12), DnsFormatError); // points at itself
  assert.throws(() => readName(at12([0xc0, 20, 0]), 12), DnsFormatError); // points forward
  assert.throws(() => readName(at12([5, 0x61]), 12), DnsFormatError); // label past the end
  assert.throws(() => readName(at12([1, 0x61]), 12), DnsFormatError); // no terminator
  assert.throws(() => readName(at12([0x80]), 12), DnsFormatError); // reserved label type
  const long = Array.from({ length: 5 }, () => [63, ...new Array(63).fill(0x61)]).flat();
  assert.throws(() => readName(at12([...long, 0]), 12), DnsFormatError);
  assert.throws(() => encodeName('a'.repeat(64) + '.'), DnsFormatError);
  assert.throws(() => encodeName('a..b.'), DnsFormatError);
  assert.throws(() => parseHeader(Buffer.alloc(11)), DnsFormatError);
});

test('replies: the question echoed, answers pointing at it, TTL, flags', () => {
  const q = parseMessage(buildQuery(7, 'Web.', TYPE.A));
  const raw = buildReply(q, {
    answers: [
      { type: TYPE.A, ttl: 600, address: '10.0.0.2' },
      { type: TYPE.A, ttl: 600, address: '10.0.0.3' },
    ],
  });
  const m = parseMessage(raw);
  assert.equal(m.header.id, 7);
  assert.equal(m.header.qr, true);
  assert.equal(m.header.ra, true);
  assert.equal(m.header.rd, true);
  assert.equal(m.header.aa, false);
  assert.equal(m.header.tc, false);
  assert.equal(m.header.rcode, RCODE.NOERROR);
  assert.deepEqual(m.questions, [{ name: 'Web.', type: TYPE.A, class: 1 }]);
  assert.deepEqual(
    m.answers.map((a) => [a.name, a.ttl, decodeRecord(raw, a)]),
    [
      ['Web.', 600, '10.0.0.2'],
      ['Web.', 600, '10.0.0.3'],
    ],
  );
  // the owner is a 2-byte pointer to the question (offset 12), right after it (5 + 4 bytes)
  assert.deepEqual([...raw.subarray(12 + 9, 12 + 11)], [0xc0, 12]);
  const ptrQ = parseMessage(buildQuery(8, '2.0.17.172.in-addr.arpa.', TYPE.PTR));
  const ptr = buildReply(ptrQ, { answers: [{ type: TYPE.PTR, ttl: 600, target: 'web.app.' }] });
  const pm = parseMessage(ptr);
  assert.equal(decodeRecord(ptr, pm.answers[0]!), 'web.app.');
  const six = buildReply(parseMessage(buildQuery(9, 'w.', TYPE.AAAA)), { answers: [{ type: TYPE.AAAA, ttl: 600, address: 'fd00::2' }] });
  assert.equal(decodeRecord(six, parseMessage(six).answers[0]!), 'fd00::2');
  const err = parseMessage(buildReply(q, { rcode: RCODE.SERVFAIL }));
  assert.equal(err.header.rcode, RCODE.SERVFAIL);
  assert.equal(err.answers.length, 0);
  const hdr = parseHeader(buildErrorHeader(q.header, RCODE.FORMERR));
  assert.equal(hdr.rcode, RCODE.FORMERR);
  assert.equal(hdr.qdcount, 0);
  assert.equal(hdr.id, 7);
});

test('replies larger than the client allows are truncated with TC set', () => {
  const q = parseMessage(buildQuery(1, 'many.', TYPE.A));
  const answers = Array.from({ length: 100 }, (_, i) => ({ type: TYPE.A, ttl: 600, address: `10.0.${i >> 8}.${i & 255}` }) as const);
  const small = buildReply(q, { answers, maxSize: 512 });
  assert.ok(small.length <= 512);
  const m = parseMessage(small);
  assert.equal(m.header.tc, true);
  // 12 header + 10 question + 16 per answer
  assert.equal(m.answers.length, Math.floor((512 - 12 - 10) / 16));
  const big = parseMessage(buildReply(q, { answers, maxSize: 65535 }));
  assert.equal(big.header.tc, false);
  assert.equal(big.answers.length, 100);
});

test('fuzz: random and mutated packets never throw anything but DnsFormatError', () => {
  const seeds = [
    buildQuery(1, 'web.app.', TYPE.A, { udpSize: 4096 }),
    buildReply(parseMessage(buildQuery(2, 'x.y.', TYPE.A)), { answers: [{ type: TYPE.A, ttl: 1, address: '1.2.3.4' }] }),
    buildMessage({ header: { id: 3 }, questions: [{ name: 'a.b.c.', type: TYPE.PTR, class: 1 }] }),
  ];
  for (let i = 0; i < 20000; i++) {
    let pkt: Buffer;
    if (i % 2 === 0) pkt = randomBytes(i % 64);
    else {
      pkt = Buffer.from(seeds[i % seeds.length]!);
      for (let k = 0; k < 1 + (i % 4); k++) pkt[(i * 7 + k * 13) % pkt.length] = (i * 31 + k) & 0xff;
      if (i % 5 === 0) pkt = pkt.subarray(0, i % pkt.length);
    }
    try {
      const m = parseMessage(pkt);
      for (const rr of m.answers) decodeRecord(pkt, rr);
    } catch (err) {
      assert.ok(err instanceof DnsFormatError, `unexpected ${String(err)}`);
    }
  }
});
