/**
 * The resolver's server: UDP and TCP sockets on every listen address of the table, the
 * answers from the table (table.ts), and forwarding to upstream nameservers.
 *
 * Lifecycle: `new ResolverServer(opts)` → `load(table)` (binds what the table lists, closes
 * what it no longer lists; a bind that fails — the bridge's address not there yet — is
 * retried on every load and on a timer) → … → `close()`.
 *
 * Forwarding follows Docker's embedded DNS (libnetwork resolver.go `forwardExtDNS`): the
 * query goes, as the client sent it, over the client's transport (UDP or TCP) to at most
 * three nameservers in turn, each with a 4 s timeout; a SERVFAIL or REFUSED answer or
 * silence moves on to the next; the first other answer is passed back verbatim, a
 * truncated (TC) UDP answer included so the client retries over TCP, which we forward
 * over TCP. No answer from any: SERVFAIL. At most 1024 forwarded queries are in flight;
 * a query that waits 4 s for a slot is REFUSED. The ID sent upstream is random (and put
 * back in the answer), and every upstream query has its own socket (a random source
 * port), so an answer is only taken from the address asked, with the ID and question asked.
 */
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { randomInt } from 'node:crypto';
import { nullLogger, type Logger } from '../../log';
import { canonicalIp } from './addr';
import { readNameservers } from './resolvconf';
import { DnsTable } from './table';
import {
  MAX_MSG_SIZE,
  RCODE,
  OPCODE_QUERY,
  buildErrorHeader,
  buildReply,
  parseHeader,
  parseMessage,
  udpPayloadSize,
  type Message,
} from './wire';

export interface ResolverServerOptions {
  /** the port to listen on (53) */
  port?: number;
  /** the file the upstream nameservers are read from, at every load (`/etc/resolv.conf`) */
  resolvConf?: string;
  /** the upstreams' port (53; tests point it elsewhere) */
  upstreamPort?: number;
  /** per upstream, per attempt (4000 ms, Docker's extIOTimeout) */
  upstreamTimeoutMs?: number;
  /** forwarded queries in flight at most (1024, Docker's maxConcurrent) */
  maxConcurrent?: number;
  /** how often failed binds are retried between loads (2000 ms) */
  retryBindMs?: number;
  /** a TCP connection with no complete query for this long is closed (8000 ms, miekg/dns's idle timeout) */
  tcpIdleMs?: number;
  log?: Logger;
  /** called when the set of bound addresses changes outside `load` (a retried bind succeeded) */
  onChange?: () => void;
}

export interface BindFailure {
  address: string;
  error: string;
}

export interface ResolverStatus {
  listening: string[];
  failed: BindFailure[];
}

interface Listener {
  address: string;
  udp: dgram.Socket;
  tcp: net.Server;
  conns: Set<net.Socket>;
}

type Proto = 'udp' | 'tcp';

export class ResolverServer {
  private table = DnsTable.empty();
  private nameservers: string[] = [];
  private readonly listeners = new Map<string, Listener>();
  private failed = new Map<string, string>();
  private retryTimer: NodeJS.Timeout | undefined;
  private inFlight = 0;
  private readonly waiting: Array<(ok: boolean) => void> = [];
  private closed = false;
  private syncing: Promise<void> = Promise.resolve();
  private readonly port: number;
  private readonly upstreamPort: number;
  private readonly timeoutMs: number;
  private readonly maxConcurrent: number;
  private readonly log: Logger;

  constructor(private readonly opts: ResolverServerOptions = {}) {
    this.port = opts.port ?? 53;
    this.upstreamPort = opts.upstreamPort ?? 53;
    this.timeoutMs = opts.upstreamTimeoutMs ?? 4000;
    this.maxConcurrent = opts.maxConcurrent ?? 1024;
    this.log = opts.log ?? nullLogger;
  }

  /** The table in use. */
  get current(): DnsTable {
    return this.table;
  }

  /** The upstream nameservers read at the last load. */
  get upstreams(): readonly string[] {
    return this.nameservers;
  }

  /** Swaps in `table`, re-reads the upstreams, and binds/unbinds to match the table's addresses. */
  async load(table: DnsTable): Promise<ResolverStatus> {
    if (this.closed) throw new Error('resolver closed');
    this.table = table;
    this.nameservers = readNameservers(this.opts.resolvConf ?? '/etc/resolv.conf');
    await this.sync();
    return this.status();
  }

  status(): ResolverStatus {
    return {
      listening: [...this.listeners.keys()],
      failed: [...this.failed].map(([address, error]) => ({ address, error })),
    };
  }

  /** Serialised: two loads never bind the same address at once. */
  private sync(): Promise<void> {
    const run = this.syncing.then(() => this.syncNow());
    this.syncing = run.catch(() => undefined);
    return run;
  }

  private async syncNow(): Promise<void> {
    if (this.closed) return;
    const want = new Set(this.table.listenAddresses);
    for (const [addr, l] of this.listeners) {
      if (!want.has(addr)) {
        this.listeners.delete(addr);
        await closeListener(l);
        this.log.info('stopped listening', { address: addr });
      }
    }
    const failed = new Map<string, string>();
    for (const addr of want) {
      if (this.listeners.has(addr)) continue;
      try {
        this.listeners.set(addr, await this.bind(addr));
        if (this.failed.has(addr)) this.log.info('listening (after retrying)', { address: addr });
        else this.log.info('listening', { address: addr, port: this.port });
      } catch (err) {
        const msg = (err as Error).message;
        if (!this.failed.has(addr)) this.log.warn('cannot listen yet; will retry', { address: addr, error: msg });
        failed.set(addr, msg);
      }
    }
    this.failed = failed;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    if (failed.size > 0 && !this.closed) {
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        const before = this.listeners.size;
        void this.sync().then(() => {
          if (this.listeners.size !== before) this.opts.onChange?.();
        });
      }, this.opts.retryBindMs ?? 2000);
      this.retryTimer.unref();
    }
  }

  private async bind(address: string): Promise<Listener> {
    const udp = dgram.createSocket({ type: net.isIPv6(address) ? 'udp6' : 'udp4' });
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind({ address, port: this.port, exclusive: true }, () => {
        udp.off('error', reject);
        resolve();
      });
    }).catch((err) => {
      udp.close();
      throw err;
    });
    udp.on('error', (err) => this.log.warn('udp socket error', { address, error: err.message }));
    udp.on('message', (msg, rinfo) => {
      this.handle(msg, address, rinfo.address, 'udp').then(
        (reply) => {
          if (reply) udp.send(reply, rinfo.port, rinfo.address, (err) => err && this.log.debug('udp send failed', { error: err.message }));
        },
        (err: unknown) => this.log.error('query failed', { error: (err as Error).message }),
      );
    });
    const conns = new Set<net.Socket>();
    const tcp = net.createServer((sock) => this.serveTcp(sock, address, conns));
    tcp.maxConnections = 1024;
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen({ host: address, port: this.port, exclusive: true }, () => {
          tcp.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      udp.close();
      throw err;
    }
    tcp.on('error', (err) => this.log.warn('tcp server error', { address, error: err.message }));
    return { address, udp, tcp, conns };
  }

  private serveTcp(sock: net.Socket, address: string, conns: Set<net.Socket>): void {
    conns.add(sock);
    let buf: Buffer = Buffer.alloc(0);
    sock.setTimeout(this.opts.tcpIdleMs ?? 8000, () => sock.destroy());
    sock.on('error', () => sock.destroy());
    sock.on('close', () => conns.delete(sock));
    const remote = sock.remoteAddress ?? '';
    sock.on('data', (chunk: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      while (buf.length >= 2) {
        const len = buf.readUInt16BE(0);
        if (buf.length < 2 + len) break;
        const msg = Buffer.from(buf.subarray(2, 2 + len));
        buf = buf.subarray(2 + len);
        this.handle(msg, address, remote, 'tcp').then(
          (reply) => {
            if (!reply || sock.destroyed) return;
            const head = Buffer.alloc(2);
            head.writeUInt16BE(reply.length, 0);
            sock.write(Buffer.concat([head, reply]));
          },
          (err: unknown) => this.log.error('query failed', { error: (err as Error).message }),
        );
      }
    });
  }

  /**
   * The reply to one packet that arrived on `local` from `remote` (undefined: send
   * nothing). Never throws for a malformed packet: miekg/dns's default acceptance
   * rules apply (a response is ignored, an opcode other than QUERY is NOTIMP, a
   * query without exactly one question or with unexpected records is FORMERR).
   */
  async handle(msg: Buffer, local: string, remote: string, proto: Proto): Promise<Buffer | undefined> {
    let header;
    try {
      header = parseHeader(msg);
    } catch {
      return undefined;
    }
    if (header.qr) return undefined;
    if (header.opcode !== OPCODE_QUERY) return buildErrorHeader(header, RCODE.NOTIMP);
    if (header.qdcount !== 1 || header.ancount > 1 || header.nscount > 1 || header.arcount > 2) return buildErrorHeader(header, RCODE.FORMERR);
    let query: Message;
    try {
      query = parseMessage(msg);
    } catch {
      return buildErrorHeader(header, RCODE.FORMERR);
    }
    const q = query.questions[0]!;
    try {
      const d = this.table.answer(local, remote, q.name, q.type, this.nameservers);
      if (!d) return buildReply(query, { rcode: RCODE.REFUSED });
      this.log.debug('query', { name: q.name, type: q.type, from: remote, to: local, decision: d.kind });
      if (d.kind === 'answer') {
        return buildReply(query, { answers: d.answers, maxSize: proto === 'tcp' ? MAX_MSG_SIZE : udpPayloadSize(query) });
      }
      if (d.kind === 'servfail') return buildReply(query, { rcode: RCODE.SERVFAIL });
      return (await this.forward(msg, query, d.nameservers, proto)) ?? buildReply(query, { rcode: RCODE.SERVFAIL });
    } catch (err) {
      this.log.error('failed to answer', { name: q.name, error: (err as Error).message });
      return buildReply(query, { rcode: RCODE.SERVFAIL });
    }
  }

  private acquire(): Promise<boolean> {
    if (this.inFlight < this.maxConcurrent) {
      this.inFlight++;
      return Promise.resolve(true);
    }
    return new Promise<boolean>((resolve) => {
      const wake = (ok: boolean) => {
        clearTimeout(timer);
        resolve(ok);
      };
      const timer = setTimeout(() => {
        const i = this.waiting.indexOf(wake);
        if (i >= 0) this.waiting.splice(i, 1);
        resolve(false);
      }, this.timeoutMs);
      this.waiting.push(wake);
    });
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next(true);
    else this.inFlight--;
  }

  private async forward(raw: Buffer, query: Message, servers: string[], proto: Proto): Promise<Buffer | undefined> {
    for (const ns of servers) {
      if (!(await this.acquire())) {
        this.log.error(`more than ${this.maxConcurrent} concurrent queries`);
        return buildReply(query, { rcode: RCODE.REFUSED });
      }
      let resp: Buffer | undefined;
      try {
        resp = await this.exchange(raw, query, ns, proto);
      } finally {
        this.release();
      }
      if (!resp) continue;
      const rcode = resp[3]! & 0xf;
      if (rcode === RCODE.SERVFAIL || rcode === RCODE.REFUSED) {
        this.log.debug('upstream failed', { upstream: ns, rcode });
        continue;
      }
      return resp;
    }
    return undefined;
  }

  /** One query to one upstream; its answer (with the client's ID back) or undefined. */
  private exchange(raw: Buffer, query: Message, ns: string, proto: Proto): Promise<Buffer | undefined> {
    const id = randomInt(0x10000);
    const out = Buffer.from(raw);
    out.writeUInt16BE(id, 0);
    const q = query.questions[0]!;
    const matches = (resp: Buffer): boolean => {
      try {
        const m = parseMessage(resp);
        const rq = m.questions[0];
        return m.header.id === id && m.header.qr && !!rq && rq.type === q.type && rq.name.toLowerCase() === q.name.toLowerCase();
      } catch {
        return false;
      }
    };
    const finish = (resp: Buffer): Buffer => {
      const copy = Buffer.from(resp);
      copy.writeUInt16BE(query.header.id, 0);
      return copy;
    };
    return new Promise<Buffer | undefined>((resolve) => {
      let done = false;
      let cleanup = () => {};
      const end = (v: Buffer | undefined) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        cleanup();
        resolve(v);
      };
      const timer = setTimeout(() => {
        this.log.debug('upstream timed out', { upstream: ns, proto });
        end(undefined);
      }, this.timeoutMs);
      if (proto === 'udp') {
        const host = ns.split('%')[0]!;
        const sock = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
        cleanup = () => sock.close();
        const want = canonicalIp(host);
        sock.on('error', () => end(undefined));
        sock.on('message', (m, rinfo) => {
          if (canonicalIp(rinfo.address) !== want || rinfo.port !== this.upstreamPort || !matches(m)) return;
          end(finish(m));
        });
        sock.send(out, this.upstreamPort, ns, (err) => err && end(undefined));
      } else {
        const sock = net.connect({ host: ns, port: this.upstreamPort });
        cleanup = () => sock.destroy();
        let buf: Buffer = Buffer.alloc(0);
        sock.on('error', () => end(undefined));
        sock.on('close', () => end(undefined));
        sock.on('connect', () => {
          const head = Buffer.alloc(2);
          head.writeUInt16BE(out.length, 0);
          sock.write(Buffer.concat([head, out]));
        });
        sock.on('data', (chunk: Buffer) => {
          buf = Buffer.concat([buf, chunk]);
          if (buf.length < 2) return;
          const len = buf.readUInt16BE(0);
          if (buf.length < 2 + len) return;
          const m = buf.subarray(2, 2 + len);
          end(matches(m) ? finish(m) : undefined);
        });
      }
    });
  }

  /** Closes every socket and connection. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    await this.syncing;
    const all = [...this.listeners.values()];
    this.listeners.clear();
    await Promise.all(all.map(closeListener));
    for (const w of this.waiting.splice(0)) w(false);
  }
}

function closeListener(l: Listener): Promise<void> {
  for (const c of l.conns) c.destroy();
  return Promise.all([
    new Promise<void>((r) => {
      try {
        l.udp.close(() => r());
      } catch {
        r();
      }
    }),
    new Promise<void>((r) => l.tcp.close(() => r())),
  ]).then(() => undefined);
}
