/**
 * The IPv6 side of a port published on every address, for a container without IPv6:
 * Docker 20.10 (userland proxy on, its default) binds `[::]:port` too and its proxy
 * carries the connections to the container's IPv4 address. The kernel cannot DNAT from
 * IPv6 to IPv4, so for TCP the daemon does it: a v6-only listener on the host port that
 * pipes each connection to the container. It is also the port's reservation (nothing else
 * can take `[::]:port`). UDP is reserved only (see docs/networking/containers.md).
 */
import * as net from 'node:net';
import { conflict, internal } from '../../../engine/errdefs';
import type { PortReservation } from '../../../engine/network/types';

/** Listens on `[hostIp]:port` (v6 only) and forwards each TCP connection to `target:targetPort`. */
export function tcp6Proxy(hostIp: string, port: number, target: string, targetPort: number): Promise<PortReservation> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ pauseOnConnect: false }, (client) => {
    const upstream = net.connect({ host: target, port: targetPort });
    sockets.add(client).add(upstream);
    const done = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', done).on('close', done);
    upstream.on('error', done).on('close', done);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  server.unref();
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(err.code === 'EADDRINUSE' ? conflict(`listen tcp6 [${hostIp}]:${port}: bind: address already in use`, err) : internal(`listen tcp6 [${hostIp}]:${port}: ${err.message}`, err));
    });
    server.listen({ host: hostIp, port, ipv6Only: true, exclusive: true }, () => {
      resolve({
        proto: 'tcp',
        hostIp,
        port,
        release: () =>
          new Promise<void>((r) => {
            for (const s of sockets) s.destroy();
            server.close(() => r());
          }),
      });
    });
  });
}

/** Whether the host can listen on IPv6 at all (libnetwork's IsV6Listenable). */
export async function v6Listenable(): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen({ host: '::1', port: 0, ipv6Only: true }, () => s.close(() => resolve(true)));
  });
}
