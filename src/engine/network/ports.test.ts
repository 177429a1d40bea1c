import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { kindOf } from '../errdefs';
import { externalConnectivityError, joinHostPort, normalizeHostIp, SocketPortAllocator } from './ports';
import type { PortReservation } from './types';

/** A TCP listener of this test's own on `host`, port chosen by the kernel. */
async function listenTcp(host: string): Promise<{ port: number; close(): Promise<void> }> {
  const s = net.createServer((c) => c.destroy());
  await new Promise<void>((res, rej) => {
    s.once('error', rej);
    s.listen({ host, port: 0, exclusive: true }, () => res());
  });
  return { port: (s.address() as net.AddressInfo).port, close: () => new Promise<void>((r) => s.close(() => r())) };
}

/** Whether `port` can be listened on now (TCP, `host`). */
async function tcpFree(host: string, port: number): Promise<boolean> {
  const s = net.createServer();
  const ok = await new Promise<boolean>((res) => {
    s.once('error', () => res(false));
    s.listen({ host, port, exclusive: true }, () => res(true));
  });
  if (ok) await new Promise<void>((r) => s.close(() => r()));
  return ok;
}

/** A port held by a listener of ours whose two neighbours are free (other programs on the host hold ports too). */
async function busyBetweenFree(host: string): Promise<{ port: number; close(): Promise<void> }> {
  for (let i = 0; ; i++) {
    const busy = await listenTcp(host);
    if ((await tcpFree(host, busy.port - 1)) && (await tcpFree(host, busy.port + 1))) return busy;
    await busy.close();
    if (i === 50) throw new Error('no port with two free neighbours found');
  }
}

async function bindUdp(host: string): Promise<{ port: number; close(): Promise<void> }> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((res, rej) => {
    s.once('error', rej);
    s.bind({ address: host, port: 0, exclusive: true }, () => res());
  });
  return { port: s.address().port, close: () => new Promise<void>((r) => s.close(() => r())) };
}

/** Whether a TCP connection to host:port gets through (connects) or is refused. */
function tryConnect(host: string, port: number): Promise<'connected' | string> {
  return new Promise((resolve) => {
    const c = net.connect({ host, port });
    c.once('connect', () => {
      c.destroy();
      resolve('connected');
    });
    c.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
  });
}

describe('SocketPortAllocator', () => {
  const held: PortReservation[] = [];
  const others: { close(): Promise<void> }[] = [];
  after(async () => {
    for (const r of held) await r.release();
    for (const o of others) await o.close();
  });

  test('a port another program listens on fails with Docker 20.10 words, conflict kind', async () => {
    const other = await listenTcp('127.0.0.1');
    others.push(other);
    const a = new SocketPortAllocator();
    await assert.rejects(a.reserve('tcp', '127.0.0.1', other.port), (err: Error) => {
      assert.equal(kindOf(err), 'conflict');
      assert.equal(err.message, `Error starting userland proxy: listen tcp4 127.0.0.1:${other.port}: bind: address already in use`);
      return true;
    });
    // and with --userland-proxy=false's wording
    const b = new SocketPortAllocator({ userlandProxyWording: false });
    await assert.rejects(b.reserve('tcp', '127.0.0.1', other.port), { message: `listen tcp4 127.0.0.1:${other.port}: bind: address already in use` });
    // 0.0.0.0 overlaps 127.0.0.1
    await assert.rejects(a.reserve('tcp', '', other.port), { message: `Error starting userland proxy: listen tcp4 0.0.0.0:${other.port}: bind: address already in use` });
  });

  test('a UDP port in use fails the same way', async () => {
    const other = await bindUdp('127.0.0.1');
    others.push(other);
    const a = new SocketPortAllocator();
    await assert.rejects(a.reserve('udp', '127.0.0.1', other.port), {
      message: `Error starting userland proxy: listen udp4 127.0.0.1:${other.port}: bind: address already in use`,
    });
  });

  test('a reserved port is held: our own second reservation and other programs fail, release frees it', async () => {
    const a = new SocketPortAllocator();
    const r = await a.reserve('tcp', '', 0);
    held.push(r);
    assert.equal(r.hostIp, '0.0.0.0');
    assert.ok(r.port > 0);
    assert.ok(a.isReserved('tcp', '', r.port));
    await assert.rejects(a.reserve('tcp', '0.0.0.0', r.port), (err: Error) => {
      assert.equal(kindOf(err), 'conflict');
      assert.equal(err.message, `Bind for 0.0.0.0:${r.port} failed: port is already allocated`);
      return true;
    });
    // another program cannot take it
    const s = net.createServer();
    const code = await new Promise<string>((res) => {
      s.once('error', (e: NodeJS.ErrnoException) => res(e.code ?? ''));
      s.listen({ host: '127.0.0.1', port: r.port, exclusive: true }, () => res('listening'));
    });
    if (code === 'listening') await new Promise<void>((res) => s.close(() => res()));
    assert.equal(code, 'EADDRINUSE');
    // the books are per protocol
    assert.equal(a.isReserved('udp', '', r.port), false);
    await r.release();
    await r.release(); // idempotent
    assert.equal(a.isReserved('tcp', '', r.port), false);
    const again = await a.reserve('tcp', '', r.port);
    held.push(again);
    assert.equal(again.port, r.port);
  });

  test('the reserving socket is never served: without a DNAT rule a connection is closed at once', async () => {
    const a = new SocketPortAllocator();
    const r = await a.reserve('tcp', '127.0.0.1', 0);
    held.push(r);
    const got = await new Promise<string>((resolve) => {
      const c = net.connect({ host: '127.0.0.1', port: r.port });
      let data = '';
      c.on('data', (b) => (data += b.toString()));
      c.once('close', () => resolve(data));
      c.once('error', () => {});
    });
    assert.equal(got, '');
    await r.release();
    assert.equal(await tryConnect('127.0.0.1', r.port), 'ECONNREFUSED');
  });

  test('port 0 picks sequentially from the range, skipping ports in use, and says so when none is left', async () => {
    const busy = await busyBetweenFree('127.0.0.1');
    others.push(busy);
    const p = busy.port;
    // a range of three ports whose middle one is taken by someone else
    const a = new SocketPortAllocator({ range: [p - 1, p + 1] });
    const first = await a.reserve('tcp', '127.0.0.1');
    held.push(first);
    assert.equal(first.port, p - 1);
    const second = await a.reserve('tcp', '127.0.0.1', 0);
    held.push(second);
    assert.equal(second.port, p + 1);
    await assert.rejects(a.reserve('tcp', '127.0.0.1'), (err: Error) => {
      assert.equal(kindOf(err), 'conflict');
      assert.equal(err.message, 'all ports are allocated');
      return true;
    });
    await first.release();
    const third = await a.reserve('tcp', '127.0.0.1');
    held.push(third);
    assert.equal(third.port, p - 1);
  });

  test('an address the host does not have is refused (invalid argument); a bad address or proto too', async () => {
    const a = new SocketPortAllocator();
    await assert.rejects(a.reserve('tcp', '203.0.113.77', 0), (err: Error) => {
      assert.equal(kindOf(err), 'invalid-argument');
      assert.match(err.message, /^Error starting userland proxy: listen tcp4 203\.0\.113\.77:\d+: bind: cannot assign requested address$/);
      return true;
    });
    await assert.rejects(a.reserve('tcp', 'not-an-ip', 80), { message: 'invalid host IP address: not-an-ip' });
    await assert.rejects(a.reserve('icmp' as 'tcp', '', 80), { message: 'unknown protocol icmp' });
  });

  test('IPv6 reservations bind v6-only, printed as Go does', async (t) => {
    const a = new SocketPortAllocator();
    const v4 = await a.reserve('tcp', '0.0.0.0', 0);
    held.push(v4);
    let r: PortReservation;
    try {
      // v6-only: the same port on the IPv6 wildcard is another socket
      r = await a.reserve('tcp', '::', v4.port);
    } catch (err) {
      if ((err as Error).message.includes('address family not supported')) {
        t.skip(`no IPv6: ${(err as Error).message}`);
        return;
      }
      throw err;
    }
    held.push(r);
    assert.equal(r.hostIp, '::');
    const other = new SocketPortAllocator();
    await assert.rejects(other.reserve('tcp', '::', r.port), { message: `Error starting userland proxy: listen tcp6 [::]:${r.port}: bind: address already in use` });
  });

  test('SCTP is booked in the daemon only', async () => {
    const a = new SocketPortAllocator();
    const r = await a.reserve('sctp', '', 0);
    held.push(r);
    await assert.rejects(a.reserve('sctp', '', r.port), { message: `Bind for 0.0.0.0:${r.port} failed: port is already allocated` });
  });
});

function conflictError(): Error {
  return Object.assign(new Error('Bind for 0.0.0.0:80 failed: port is already allocated'), { kind: 'conflict' });
}

test('helpers: host addresses and the endpoint prefix (internal kind: Docker answers 500)', () => {
  assert.equal(normalizeHostIp(''), '0.0.0.0');
  assert.equal(normalizeHostIp('0:0::1'), '::1');
  assert.equal(joinHostPort('::', 80), '[::]:80');
  assert.equal(joinHostPort('1.2.3.4', 80), '1.2.3.4:80');
  const e = externalConnectivityError('web', 'abc123', conflictError());
  assert.equal(e.message, 'driver failed programming external connectivity on endpoint web (abc123): Bind for 0.0.0.0:80 failed: port is already allocated');
  assert.equal(kindOf(e), 'internal');
});
