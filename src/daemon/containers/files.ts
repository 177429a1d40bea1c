/**
 * The per-container files Docker bind-mounts into every container: /etc/hostname,
 * /etc/hosts and /etc/resolv.conf, generated into `<dataRoot>/containers/<id>/`.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { errnoCode, invalidArgument } from '../../engine/errdefs';
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

/** One line of /etc/hosts: an address and its names (`fqdn host`). */
export interface HostsRecord {
  ip: string;
  names: string;
}

/**
 * `/etc/hosts` as libnetwork writes it (etchosts.Build, then the records each endpoint's
 * join adds): the default content, the extra records (`ExtraHosts`, then links), then
 * `<ip>\t<fqdn> <host>` for each address of the container's endpoints.
 */
export function buildHosts(extra: HostsRecord[], own: HostsRecord[] = []): string {
  return [...BASE_HOSTS, ...extra.map((r) => `${r.ip}\t${r.names}`), ...own.map((r) => `${r.ip}\t${r.names}`)].join('\n') + '\n';
}

/** The names of the container's own record: `host.domain host` when a domain is given (or the hostname is a FQDN). */
export function ownHostNames(hostname: string, domainname?: string): string {
  const fqdn = domainname ? `${hostname}.${domainname}` : hostname;
  const i = fqdn.indexOf('.');
  return i >= 0 ? `${fqdn} ${fqdn.slice(0, i)}` : fqdn;
}

/**
 * `ExtraHosts` (`name:ip`) as records; `host-gateway` is `hostGateway` (Docker's error
 * when there is none). Throws invalid-argument for an entry without an address.
 */
export function extraHostRecords(entries: readonly string[], hostGateway?: string): HostsRecord[] {
  return entries.map((e) => {
    const i = e.indexOf(':');
    if (i <= 0) throw invalidArgument(`invalid argument "${e}" for "--add-host" flag: invalid IP address`);
    let ip = e.slice(i + 1);
    if (ip === 'host-gateway') {
      if (!hostGateway) throw invalidArgument('unable to derive the IP value for host-gateway');
      ip = hostGateway;
    }
    return { ip, names: e.slice(0, i) };
  });
}

/**
 * `/etc/hosts` as Docker writes it for a container without an address (plus ExtraHosts;
 * `host-gateway` ones only when its address is given: at create it is not, the start
 * writes the file again); the host's for the host network.
 */
export function hostsFile(hc: HostConfig, hostGateway?: string): string {
  if (hc.NetworkMode === 'host' && (hc.ExtraHosts ?? []).length === 0) {
    try {
      return fs.readFileSync('/etc/hosts', 'utf8');
    } catch {
      /* fall through to the generated one */
    }
  }
  return buildHosts(extraHostRecords((hc.ExtraHosts ?? []).filter((e) => hostGateway || !e.endsWith(':host-gateway')), hostGateway));
}

const LOCALHOST_NS = /^nameserver\s+(127\.\d+\.\d+\.\d+|::1)\s*\n*/gm;
const IPV6_NS = /^nameserver\s+([0-9A-Fa-f]{0,4}:){2,7}([0-9A-Fa-f]{0,4})(%\w+)?\s*\n*/gm;

/** The DNS settings of a container: its own, else the daemon's (`--dns`, `--dns-search`, `--dns-opt`). */
export interface DnsSettings {
  dns: string[];
  search: string[];
  options: string[];
}

export function dnsSettings(hc: HostConfig, daemon: Partial<DnsSettings> = {}): DnsSettings {
  const pick = (own: string[] | null | undefined, d: string[] | undefined) => ((own ?? []).length ? own! : d ?? []);
  return { dns: pick(hc.Dns, daemon.dns), search: pick(hc.DnsSearch, daemon.search), options: pick(hc.DnsOptions, daemon.options) };
}

const field = (text: string, key: string): string[] => {
  const out: string[] = [];
  for (const l of text.split('\n')) {
    const m = new RegExp(`^\\s*${key}\\s+(.*)$`).exec(l.replace(/#.*$/, ''));
    if (m) out.push(...m[1]!.trim().split(/\s+/).filter(Boolean));
  }
  return out;
};
/** The words of the last `key` line (resolvconf's GetSearchDomains, GetOptions). */
export const lastField = (text: string, key: string): string[] => {
  let out: string[] = [];
  for (const l of text.split('\n')) {
    const m = new RegExp(`^\\s*${key}\\s+(.*)$`).exec(l.replace(/#.*$/, ''));
    if (m) out = m[1]!.trim().split(/\s+/).filter(Boolean);
  }
  return out;
};

/** resolvconf.FilterResolvDNS: no loopback nameservers (nor IPv6 ones without IPv6), Google's when none remain. */
function filterResolvDns(text: string, ipv6: boolean): string {
  let out = text.replace(LOCALHOST_NS, '');
  if (!ipv6) out = out.replace(IPV6_NS, '');
  if (field(out, 'nameserver').length === 0) {
    const dns = ['nameserver 8.8.8.8', 'nameserver 8.8.4.4', ...(ipv6 ? ['nameserver 2001:4860:4860::8888', 'nameserver 2001:4860:4860::8844'] : [])];
    out += '\n' + dns.join('\n');
  }
  return out;
}

/** resolvconf.Build: search, nameservers, options. */
export function buildResolvConf(dns: string[], search: string[], options: string[]): string {
  let out = '';
  if (search.length && search.join(' ').trim() !== '.') out += `search ${search.join(' ')}\n`;
  for (const d of dns) out += `nameserver ${d}\n`;
  if (options.length && options.join(' ').trim() !== '') out += `options ${options.join(' ')}\n`;
  return out;
}

/**
 * `/etc/resolv.conf` as libnetwork writes it (sandbox setupDNS/updateDNS):
 * - host network without DNS settings: the host's, unchanged;
 * - with DNS settings (the container's or the daemon's): rebuilt from them, the host's
 *   nameservers/search/options filling what is not set;
 * - otherwise the host's without loopback nameservers (and without IPv6 ones when the
 *   network has no IPv6), Google's public servers when none remain;
 * - on a user-defined network (`nameserver` given: the network's gateway, where the
 *   resolver listens — Docker writes 127.0.0.11): that nameserver, the host's IPv6
 *   nameservers, its search domains, its options plus `ndots:0` unless an ndots is set.
 */
export function resolvConf(hc: HostConfig, hostText: string, o: { daemon?: Partial<DnsSettings>; joined?: boolean; ipv6?: boolean; nameserver?: string } = {}): string {
  const s = dnsSettings(hc, o.daemon);
  const custom = s.dns.length > 0 || s.search.length > 0 || s.options.length > 0;
  if (hc.NetworkMode === 'host' && !custom) return hostText;
  let text: string;
  if (custom) {
    text = buildResolvConf(s.dns.length ? s.dns : field(hostText, 'nameserver'), s.search.length ? s.search : lastField(hostText, 'search'), s.options.length ? s.options : lastField(hostText, 'options'));
  } else {
    // setupDNS filters with IPv6 on; each network joined filters again with its own setting (updateDNS)
    text = filterResolvDns(hostText, true);
    if (o.joined ?? true) text = filterResolvDns(text, o.ipv6 === true);
  }
  if (o.nameserver === undefined) return text;
  const options = lastField(text, 'options');
  const ns = [o.nameserver, ...field(text, 'nameserver').filter((n) => n.includes(':'))];
  if (!options.some((x) => x.includes('ndots'))) options.push('ndots:0');
  return buildResolvConf(ns, lastField(text, 'search'), options);
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

/** What a removed container's directory is renamed to, beside the others, until it is deleted. */
const DISCARDED = '.removed-';

/**
 * Takes a removed container's directory out of its place at once (a rename) and returns
 * where it went, to be deleted off the removal's path; undefined when there was none. If
 * the rename fails, the directory is deleted here.
 */
export function discardContainerDir(p: ContainerPaths, id: string): string | undefined {
  const to = path.join(path.dirname(p.dir), DISCARDED + id);
  try {
    fs.renameSync(p.dir, to);
    return to;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    fs.rmSync(p.dir, { recursive: true, force: true });
    return undefined;
  }
}

/** Directories of removed containers that a crash left before they were deleted (restore deletes them). */
export function discardedContainerDirs(dataRoot: string): string[] {
  const root = path.join(dataRoot, 'containers');
  try {
    return fs.readdirSync(root).filter((n) => n.startsWith(DISCARDED)).map((n) => path.join(root, n));
  } catch {
    return [];
  }
}

/** The hostname a container gets when none is configured. */
export function defaultHostname(id: string, hc: HostConfig): string {
  return hc.NetworkMode === 'host' ? os.hostname() : id.slice(0, 12);
}
