/**
 * Host ports for published container ports. The kernel forwards the traffic (DNAT in
 * firewall.ts); this module only makes sure the port is ours: like libnetwork with
 * `--userland-proxy=false` (its "dummy proxy"), the daemon binds a socket on
 * hostIp:port and holds it until the port is unpublished, so a port another program
 * uses fails with Docker's words and nothing else can take it while it is published.
 * The socket is never served: DNAT rewrites the traffic before it reaches it (checked
 * by ports.test.ts and firewall.test.ts); a connection that does arrive (no DNAT rule
 * installed) is closed at once.
 *
 * Port 0 picks a free port from the kernel's ephemeral range, sequentially after the
 * last one picked (libnetwork's portallocator), skipping ports in use.
 */
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { conflict, internal, invalidArgument, isStevedoreError, type StevedoreError } from '../errdefs';
import { ephemeralPortRange } from './sysctl';
import type { PortAllocator, PortReservation, Proto } from './types';

export interface SocketPortAllocatorOptions {
  /**
   * Word errors as Docker's default `--userland-proxy=true` does (`Error starting
   * userland proxy: listen tcp4 …`), else as with `--userland-proxy=false` (`listen tcp4
   * …`). Default true: Docker's default, whatever we do underneath.
   */
  userlandProxyWording?: boolean;
  /** The range for port 0; default the kernel's ip_local_port_range. */
  range?: [number, number];
}

/**
 * Wraps an allocation (or firewall) failure as libnetwork words it:
 * `driver failed programming external connectivity on endpoint <name> (<id>): <msg>`.
 * Always the internal kind: libnetwork wraps it with `types.InternalErrorf`, which moby's
 * errdefs do not classify, so Docker answers 500 (the allocator's own errors are
 * conflicts so that callers can tell "in use" apart).
 */
export function externalConnectivityError(endpointName: string, endpointId: string, err: unknown): StevedoreError {
  const msg = `driver failed programming external connectivity on endpoint ${endpointName} (${endpointId}): ${(err as Error)?.message ?? String(err)}`;
  return internal(msg, err);
}

/** '' → '0.0.0.0'; validates and canonicalises an address (`::ffff:…` stays IPv6, as Go prints it). */
export function normalizeHostIp(hostIp: string): string {
  if (hostIp === '') return '0.0.0.0';
  const fam = net.isIP(hostIp);
  if (fam === 0) throw invalidArgument(`invalid host IP address: ${hostIp}`);
  if (fam === 6) return canonicalV6(hostIp);
  return hostIp;
}

/** Go's `net.JoinHostPort`. */
export function joinHostPort(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

function canonicalV6(ip: string): string {
  // the URL parser prints the RFC 5952 form
  return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
}

/** The strerror(3) text Go prints for the bind errors a port reservation meets. */
const STRERROR: Record<string, string> = {
  EADDRINUSE: 'address already in use',
  EADDRNOTAVAIL: 'cannot assign requested address',
  EACCES: 'permission denied',
  EAFNOSUPPORT: 'address family not supported by protocol',
  EINVAL: 'invalid argument',
};

type Held = { close(): Promise<void> };

/** A port in use by one of our own reservations: libnetwork's ErrPortAlreadyAllocated. */
function alreadyAllocated(ip: string, port: number): StevedoreError {
  return conflict(`Bind for ${ip}:${port} failed: port is already allocated`);
}

/** The default `PortAllocator`: a held socket per reservation. */
export class SocketPortAllocator implements PortAllocator {
  /** `proto ip port` of every live reservation */
  private readonly held = new Set<string>();
  /** the last port picked for port 0, per `proto ip` (libnetwork: per range, per proto, per IP) */
  private readonly last = new Map<string, number>();
  private range: [number, number] | undefined;
  private readonly wording: boolean;

  constructor(opts: SocketPortAllocatorOptions = {}) {
    this.wording = opts.userlandProxyWording ?? true;
    this.range = opts.range;
  }

  /** Whether we hold proto/hostIp/port now. */
  isReserved(proto: Proto, hostIp: string, port: number): boolean {
    return this.held.has(`${proto} ${normalizeHostIp(hostIp)} ${port}`);
  }

  async reserve(proto: Proto, hostIp: string, port = 0): Promise<PortReservation> {
    if (proto !== 'tcp' && proto !== 'udp' && proto !== 'sctp') throw invalidArgument(`unknown protocol ${String(proto)}`);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw invalidArgument(`invalid port ${port}`);
    const ip = normalizeHostIp(hostIp);
    if (port !== 0) {
      const key = `${proto} ${ip} ${port}`;
      if (this.held.has(key)) throw alreadyAllocated(ip, port);
      this.held.add(key); // taken now, so a concurrent reserve of the same port fails as Docker's allocator
      try {
        const sock = await this.bind(proto, ip, port);
        return this.reservation(proto, ip, port, sock);
      } catch (err) {
        this.held.delete(key);
        throw err;
      }
    }
    const [begin, end] = this.range ?? (this.range = await ephemeralPortRange());
    const lastKey = `${proto} ${ip}`;
    let candidate = this.last.get(lastKey) ?? end;
    let lastErr: unknown;
    for (let i = 0; i <= end - begin; i++) {
      candidate = candidate >= end ? begin : candidate + 1;
      const key = `${proto} ${ip} ${candidate}`;
      if (this.held.has(key)) continue;
      this.held.add(key);
      try {
        const sock = await this.bind(proto, ip, candidate);
        this.last.set(lastKey, candidate);
        return this.reservation(proto, ip, candidate, sock);
      } catch (err) {
        this.held.delete(key);
        // a port some other program holds: try the next one (libnetwork retries the mapping)
        if (isStevedoreError(err) && err.kind === 'conflict') {
          lastErr = err;
          continue;
        }
        throw err;
      }
    }
    throw conflict('all ports are allocated', lastErr);
  }

  private reservation(proto: Proto, ip: string, port: number, sock: Held): PortReservation {
    let released = false;
    const key = `${proto} ${ip} ${port}`;
    return {
      proto,
      hostIp: ip,
      port,
      release: async () => {
        if (released) return;
        released = true;
        try {
          await sock.close();
        } finally {
          this.held.delete(key);
        }
      },
    };
  }

  /** Binds the reserving socket. Throws conflict (in use, Docker's words) or invalid-argument/internal. */
  private async bind(proto: Proto, ip: string, port: number): Promise<Held> {
    const v6 = net.isIPv6(ip);
    const network = `${proto}${v6 ? '6' : '4'}`;
    const fail = (err: unknown): StevedoreError => {
      const code = (err as NodeJS.ErrnoException)?.code ?? '';
      const text = STRERROR[code] ?? ((err as Error)?.message || code);
      const msg = `${this.wording ? 'Error starting userland proxy: ' : ''}listen ${network} ${joinHostPort(ip, port)}: bind: ${text}`;
      if (code === 'EADDRINUSE') return conflict(msg, err);
      if (code === 'EADDRNOTAVAIL' || code === 'EAFNOSUPPORT') return invalidArgument(msg, err);
      return internal(msg, err);
    };
    switch (proto) {
      case 'tcp':
        return new Promise<Held>((resolve, reject) => {
          const server = net.createServer({ pauseOnConnect: true }, (c) => c.destroy());
          server.once('error', (err) => reject(fail(err)));
          server.listen({ host: ip, port, exclusive: true, ipv6Only: v6, backlog: 1 }, () => {
            server.removeAllListeners('error');
            server.on('error', () => {});
            server.unref();
            resolve({ close: () => new Promise<void>((res) => server.close(() => res())) });
          });
        });
      case 'udp':
        return new Promise<Held>((resolve, reject) => {
          const sock = dgram.createSocket({ type: v6 ? 'udp6' : 'udp4', ipv6Only: v6 });
          sock.once('error', (err) => {
            sock.close();
            reject(fail(err));
          });
          sock.on('message', () => {}); // never served
          sock.bind({ address: ip, port, exclusive: true }, () => {
            sock.removeAllListeners('error');
            sock.on('error', () => {});
            sock.unref();
            resolve({ close: () => new Promise<void>((res) => sock.close(() => res())) });
          });
        });
      case 'sctp':
        // Node cannot open an SCTP socket: the port is ours in this daemon's books only
        // (another program may still bind it); see docs/networking/firewall.md.
        return { close: async () => {} };
    }
  }
}
