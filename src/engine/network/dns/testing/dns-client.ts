/**
 * Test helpers: a DNS client (UDP or TCP, one query), a fake upstream nameserver, and
 * random loopback addresses (127.0.0.0/8 is all local on Linux, so any 127.x.y.z can be
 * bound without adding it, and parallel tests don't collide).
 */
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { randomInt } from 'node:crypto';
import { buildQuery, decodeRecord, parseMessage, type Message } from '../wire';

/** A random 127.x.y.z away from 127.0.0.0/16 (the host's resolvers: 127.0.0.1, 127.0.0.53). */
export function randomLoopback(): string {
  return `127.${randomInt(100, 250)}.${randomInt(0, 256)}.${randomInt(2, 250)}`;
}

export interface Reply {
  raw: Buffer;
  msg: Message;
  /** the answers' data in text (addresses, PTR targets) */
  data: string[];
}

function toReply(raw: Buffer): Reply {
  const msg = parseMessage(raw);
  return { raw, msg, data: msg.answers.map((a) => decodeRecord(raw, a) ?? '') };
}

/** Sends `packet` over UDP to server:port, resolves with the first datagram back (or rejects after `timeoutMs`). */
export function udpExchange(server: string, port: number, packet: Buffer, timeoutMs = 3000, source?: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket(net.isIPv6(server) ? 'udp6' : 'udp4');
    const timer = setTimeout(() => {
      sock.close();
      reject(new Error(`no UDP answer from ${server}:${port}`));
    }, timeoutMs);
    sock.on('error', (err) => {
      clearTimeout(timer);
      sock.close();
      reject(err);
    });
    sock.on('message', (m) => {
      clearTimeout(timer);
      sock.close();
      resolve(m);
    });
    const send = () => sock.send(packet, port, server);
    if (source) sock.bind({ address: source, port: 0 }, send);
    else send();
  });
}

/** Sends `packet` over TCP (length-prefixed), resolves with the first message back. */
export function tcpExchange(server: string, port: number, packet: Buffer, timeoutMs = 3000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: server, port });
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no TCP answer from ${server}:${port}`));
    }, timeoutMs);
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    sock.on('connect', () => {
      const head = Buffer.alloc(2);
      head.writeUInt16BE(packet.length, 0);
      sock.write(Buffer.concat([head, packet]));
    });
    sock.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        clearTimeout(timer);
        sock.destroy();
        resolve(buf.subarray(2, 2 + buf.readUInt16BE(0)));
      }
    });
  });
}

/** One query; `tcp` for TCP; `source` binds the UDP client to that address. */
export async function query(
  server: string,
  name: string,
  type: number,
  opts: { port?: number; tcp?: boolean; udpSize?: number; source?: string; timeoutMs?: number } = {},
): Promise<Reply> {
  const id = randomInt(0x10000);
  const packet = buildQuery(id, name, type, { udpSize: opts.udpSize });
  const raw = opts.tcp
    ? await tcpExchange(server, opts.port ?? 53, packet, opts.timeoutMs)
    : await udpExchange(server, opts.port ?? 53, packet, opts.timeoutMs, opts.source);
  const r = toReply(raw);
  if (r.msg.header.id !== id) throw new Error(`answer with ID ${r.msg.header.id}, asked ${id}`);
  return r;
}

/** A fake upstream nameserver on UDP and TCP: `handler` answers (undefined: stays silent). */
export class FakeUpstream {
  readonly queries: Array<{ name: string; type: number; proto: 'udp' | 'tcp' }> = [];
  private udp?: dgram.Socket;
  private tcp?: net.Server;
  private readonly conns = new Set<net.Socket>();

  constructor(
    readonly address: string,
    private readonly handler: (q: Message, raw: Buffer, proto: 'udp' | 'tcp') => Buffer | undefined,
    readonly port = 53,
  ) {}

  async start(): Promise<this> {
    const udp = dgram.createSocket('udp4');
    this.udp = udp;
    await new Promise<void>((r, j) => {
      udp.once('error', j);
      udp.bind({ address: this.address, port: this.port, exclusive: true }, () => r());
    });
    udp.on('message', (m, rinfo) => {
      const reply = this.answer(m, 'udp');
      if (reply) udp.send(reply, rinfo.port, rinfo.address);
    });
    const tcp = net.createServer((s) => {
      this.conns.add(s);
      s.on('close', () => this.conns.delete(s));
      s.on('error', () => s.destroy());
      let buf = Buffer.alloc(0);
      s.on('data', (c: Buffer) => {
        buf = Buffer.concat([buf, c]);
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          const m = buf.subarray(2, 2 + buf.readUInt16BE(0));
          buf = buf.subarray(2 + m.length);
          const reply = this.answer(Buffer.from(m), 'tcp');
          if (reply) {
            const head = Buffer.alloc(2);
            head.writeUInt16BE(reply.length, 0);
            s.write(Buffer.concat([head, reply]));
          }
        }
      });
    });
    this.tcp = tcp;
    await new Promise<void>((r, j) => {
      tcp.once('error', j);
      tcp.listen({ host: this.address, port: this.port }, () => r());
    });
    return this;
  }

  private answer(raw: Buffer, proto: 'udp' | 'tcp'): Buffer | undefined {
    const q = parseMessage(raw);
    this.queries.push({ name: q.questions[0]?.name ?? '', type: q.questions[0]?.type ?? 0, proto });
    return this.handler(q, raw, proto);
  }

  async close(): Promise<void> {
    for (const c of this.conns) c.destroy();
    await Promise.all([
      new Promise<void>((r) => (this.udp ? this.udp.close(() => r()) : r())),
      new Promise<void>((r) => (this.tcp ? this.tcp.close(() => r()) : r())),
    ]);
  }
}
