import * as dns from 'node:dns/promises';
import * as fsp from 'node:fs/promises';
import * as net from 'node:net';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { errnoCode, invalidArgument } from '../errdefs';
import { DEFAULT_DOMAIN } from '../reference';

/** TLS material for one registry host. */
export interface TlsMaterial {
  /** extra CA certificates (PEM), trusted in addition to the system roots */
  ca: Buffer[];
  /** client certificate and key (PEM) */
  cert?: Buffer;
  key?: Buffer;
  /** skip certificate verification (insecure registries only, as Docker does) */
  insecureSkipVerify: boolean;
}

/** One way to reach a registry: tried in order until one answers. */
export interface Endpoint {
  /** `https://host[:port]` or `http://host[:port]`, maybe with a path prefix (mirrors) */
  base: URL;
  /** true for a pull-through mirror of Docker Hub */
  mirror: boolean;
  /** the registry domain of the reference (for credentials and errors) */
  domain: string;
  tls: TlsMaterial;
}

/** Options of {@link RegistryHosts}, named after dockerd's daemon.json keys. */
export interface RegistryHostsOptions {
  /** pull-through mirrors for docker.io, e.g. `https://mirror.example:5000` */
  registryMirrors?: string[];
  /** registries reachable over plain HTTP or unverified TLS: `host:port`, `host` or CIDRs */
  insecureRegistries?: string[];
  /** where `<host:port>/{*.crt,*.cert,*.key}` live (default /etc/docker/certs.d) */
  certsDir?: string;
  /** treat loopback (localhost, 127.0.0.0/8, ::1) as insecure, as Docker does (default true) */
  insecureLoopback?: boolean;
}

/** Docker Hub's registry API host. */
export const DOCKER_HUB_HOST = 'registry-1.docker.io';

/**
 * Decides how to reach a registry domain: which URLs, in which order, with which TLS
 * settings. Secure registries get HTTPS with the system roots plus `certs.d` CAs; an
 * insecure one (loopback, or listed) gets HTTPS without verification first, then HTTP,
 * as dockerd does. Mirrors come first for docker.io pulls.
 */
export class RegistryHosts {
  private readonly certsDir: string;
  private readonly insecureHosts = new Set<string>();
  private readonly insecureCidrs: Array<{ addr: string; bits: number; family: 4 | 6 }> = [];
  private readonly mirrors: URL[];

  constructor(opts: RegistryHostsOptions = {}) {
    this.certsDir = opts.certsDir ?? '/etc/docker/certs.d';
    const list = [...(opts.insecureRegistries ?? [])];
    if (opts.insecureLoopback !== false) list.push('127.0.0.0/8', '::1/128', 'localhost');
    for (const entry of list) {
      const cidr = parseCidr(entry);
      if (cidr) this.insecureCidrs.push(cidr);
      else this.insecureHosts.add(entry.replace(/^https?:\/\//, '').replace(/\/+$/, '').toLowerCase());
    }
    this.mirrors = (opts.registryMirrors ?? []).map((m) => {
      let u: URL;
      try {
        u = new URL(m);
      } catch {
        throw invalidArgument(`invalid mirror: ${JSON.stringify(m)} is not a URL`);
      }
      if (u.protocol !== 'https:' && u.protocol !== 'http:') throw invalidArgument(`invalid mirror: unsupported scheme in ${m}`);
      if (!u.pathname.endsWith('/')) u.pathname += '/';
      return u;
    });
  }

  /**
   * Endpoints for `domain` (a reference's domain: `docker.io`, `localhost:5000`, …),
   * in the order to try them. Mirrors are only used when `purpose` is `pull`.
   */
  async endpoints(domain: string, purpose: 'pull' | 'push'): Promise<Endpoint[]> {
    const out: Endpoint[] = [];
    if (domain === DEFAULT_DOMAIN && purpose === 'pull') {
      for (const m of this.mirrors) {
        const insecure = await this.isInsecure(m.host);
        out.push({ base: m, mirror: true, domain, tls: await this.tlsFor(m.host, insecure) });
      }
    }
    const host = domain === DEFAULT_DOMAIN ? DOCKER_HUB_HOST : domain;
    const insecure = await this.isInsecure(host);
    const tlsm = await this.tlsFor(host, insecure);
    out.push({ base: new URL(`https://${host}/`), mirror: false, domain, tls: tlsm });
    if (insecure) out.push({ base: new URL(`http://${host}/`), mirror: false, domain, tls: tlsm });
    return out;
  }

  /** Whether `host` (`name[:port]`) may be reached over HTTP / unverified TLS. */
  async isInsecure(host: string): Promise<boolean> {
    const h = host.toLowerCase();
    if (this.insecureHosts.has(h)) return true;
    const name = hostname(h);
    if (this.insecureHosts.has(name)) return true;
    if (this.insecureCidrs.length === 0) return false;
    let addrs: string[];
    if (net.isIP(name)) addrs = [name];
    else {
      try {
        addrs = (await dns.lookup(name, { all: true })).map((a) => a.address);
      } catch {
        return false;
      }
    }
    return addrs.some((a) => this.insecureCidrs.some((c) => cidrContains(c, a)));
  }

  /** TLS material from `<certsDir>/<host>/`: `*.crt` CAs and `*.cert`/`*.key` pairs. */
  async tlsFor(host: string, insecureSkipVerify: boolean): Promise<TlsMaterial> {
    const dir = path.join(this.certsDir, host.replace(/[/\\]/g, '_'));
    const out: TlsMaterial = { ca: [], insecureSkipVerify };
    let names: string[];
    try {
      names = (await fsp.readdir(dir)).sort();
    } catch (err) {
      if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return out;
      throw err;
    }
    for (const n of names) {
      if (n.endsWith('.crt')) out.ca.push(await fsp.readFile(path.join(dir, n)));
      else if (n.endsWith('.cert')) {
        const keyName = n.slice(0, -'.cert'.length) + '.key';
        if (!names.includes(keyName)) throw invalidArgument(`missing key ${keyName} for client certificate ${n}. CA certificates must use the extension .crt`);
        out.cert = await fsp.readFile(path.join(dir, n));
        out.key = await fsp.readFile(path.join(dir, keyName));
      } else if (n.endsWith('.key')) {
        const certName = n.slice(0, -'.key'.length) + '.cert';
        if (!names.includes(certName)) throw invalidArgument(`missing client certificate ${certName} for key ${n}`);
      }
    }
    return out;
  }
}

/** Node TLS options for an endpoint: system roots plus the extra CAs. */
export function tlsOptions(m: TlsMaterial): tls.ConnectionOptions {
  const o: tls.ConnectionOptions = {};
  if (m.ca.length > 0) o.ca = [...tls.rootCertificates, ...m.ca.map((b) => b.toString('utf8'))];
  if (m.cert && m.key) {
    o.cert = m.cert;
    o.key = m.key;
  }
  if (m.insecureSkipVerify) o.rejectUnauthorized = false;
  return o;
}

/** `host` without its port (`[::1]:5000` → `::1`). */
export function hostname(host: string): string {
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end > 0 ? host.slice(1, end) : host;
  }
  const colon = host.lastIndexOf(':');
  return colon >= 0 && host.indexOf(':') === colon ? host.slice(0, colon) : host;
}

function parseCidr(s: string): { addr: string; bits: number; family: 4 | 6 } | undefined {
  const slash = s.indexOf('/');
  if (slash < 0) return undefined;
  const addr = s.slice(0, slash);
  const bits = Number(s.slice(slash + 1));
  const family = net.isIP(addr);
  if (family === 0 || !Number.isInteger(bits) || bits < 0 || bits > (family === 4 ? 32 : 128)) return undefined;
  return { addr, bits, family: family as 4 | 6 };
}

function cidrContains(c: { addr: string; bits: number; family: 4 | 6 }, ip: string): boolean {
  const fam = net.isIP(ip);
  if (fam === 0) return false;
  const list = new net.BlockList();
  list.addSubnet(c.addr, c.bits, c.family === 4 ? 'ipv4' : 'ipv6');
  // BlockList matches IPv4-mapped IPv6 addresses against IPv4 subnets itself
  return list.check(ip, fam === 4 ? 'ipv4' : 'ipv6');
}
