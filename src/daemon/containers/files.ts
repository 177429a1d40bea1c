/**
 * The per-container files Docker bind-mounts into every container: /etc/hostname,
 * /etc/hosts and /etc/resolv.conf, generated into `<dataRoot>/containers/<id>/`.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { HostConfig } from './types';

export interface ContainerPaths {
  dir: string;
  hostname: string;
  hosts: string;
  resolvConf: string;
  log: string;
}

export function containerPaths(dataRoot: string, id: string): ContainerPaths {
  const dir = path.join(dataRoot, 'containers', id);
  return {
    dir,
    hostname: path.join(dir, 'hostname'),
    hosts: path.join(dir, 'hosts'),
    resolvConf: path.join(dir, 'resolv.conf'),
    log: path.join(dir, `${id}-json.log`),
  };
}

const BASE_HOSTS = [
  '127.0.0.1\tlocalhost',
  '::1\tlocalhost ip6-localhost ip6-loopback',
  'fe00::0\tip6-localnet',
  'ff00::0\tip6-mcastprefix',
  'ff02::1\tip6-allnodes',
  'ff02::2\tip6-allrouters',
];

/** `/etc/hosts` as Docker writes it for a container without an address (plus ExtraHosts). */
export function hostsFile(hc: HostConfig): string {
  if (hc.NetworkMode === 'host') {
    try {
      return fs.readFileSync('/etc/hosts', 'utf8');
    } catch {
      /* fall through to the generated one */
    }
  }
  const lines = [...BASE_HOSTS];
  for (const e of hc.ExtraHosts ?? []) {
    const i = e.indexOf(':');
    if (i > 0) lines.push(`${e.slice(i + 1)}\t${e.slice(0, i)}`);
  }
  return lines.join('\n') + '\n';
}

const LOCALHOST_NS = /^\s*nameserver\s+(127\.\d+\.\d+\.\d+|::1)\s*$/;

/**
 * `/etc/resolv.conf`: the host's, with loopback nameservers removed (they cannot be
 * reached from the container's network namespace) and Docker's default public
 * servers when none remain; unchanged for the host network. Dns/DnsSearch/DnsOptions
 * replace the corresponding lines.
 */
export function resolvConf(hc: HostConfig, hostText: string): string {
  const hostNet = hc.NetworkMode === 'host';
  let lines = hostText.split('\n');
  if (!hostNet) lines = lines.filter((l) => !LOCALHOST_NS.test(l));
  const dns = hc.Dns ?? [];
  const search = hc.DnsSearch ?? [];
  const opts = hc.DnsOptions ?? [];
  if (dns.length) lines = lines.filter((l) => !/^\s*nameserver\s/.test(l));
  if (search.length) lines = lines.filter((l) => !/^\s*(search|domain)\s/.test(l));
  if (opts.length) lines = lines.filter((l) => !/^\s*options\s/.test(l));
  while (lines.length && lines[lines.length - 1]!.trim() === '') lines.pop();
  const out = [...lines];
  if (search.length) out.push(`search ${search.join(' ')}`);
  for (const ns of dns) out.push(`nameserver ${ns}`);
  if (opts.length) out.push(`options ${opts.join(' ')}`);
  if (!hostNet && !out.some((l) => /^\s*nameserver\s/.test(l))) out.push('nameserver 8.8.8.8', 'nameserver 8.8.4.4');
  return out.join('\n') + '\n';
}

/** The host's resolv.conf, preferring systemd-resolved's upstream file when the stub is in use. */
export function hostResolvConf(): string {
  const read = (p: string) => {
    try {
      return fs.readFileSync(p, 'utf8');
    } catch {
      return undefined;
    }
  };
  const main = read('/etc/resolv.conf') ?? '';
  if (/^\s*nameserver\s+127\.0\.0\.53\s*$/m.test(main)) return read('/run/systemd/resolve/resolv.conf') ?? main;
  return main;
}

/** Writes hostname, hosts and resolv.conf (and an empty log) into the container's directory. */
export function writeContainerFiles(p: ContainerPaths, hostname: string, hc: HostConfig): void {
  fs.mkdirSync(p.dir, { recursive: true, mode: 0o710 });
  fs.writeFileSync(p.hostname, hostname + '\n', { mode: 0o644 });
  fs.writeFileSync(p.hosts, hostsFile(hc), { mode: 0o644 });
  fs.writeFileSync(p.resolvConf, resolvConf(hc, hostResolvConf()), { mode: 0o644 });
}

/** The hostname a container gets when none is configured. */
export function defaultHostname(id: string, hc: HostConfig): string {
  return hc.NetworkMode === 'host' ? os.hostname() : id.slice(0, 12);
}
