/**
 * `LinkOps` through iproute2: `ip -batch -` on the host and `nsenter --net=<path> ip
 * -batch -` inside a namespace. The slow path (two processes per endpoint), kept as the
 * reference the netlink implementation is compared with in tests and measurements
 * (docs/networking/dataplane.md), and as a fallback where the addon cannot be used.
 */
import { spawn } from 'node:child_process';
import { conflict, internal, notFound } from '../errdefs';
import { checkEndpoint } from './links';
import { checkIfName, parseCidr, AF_INET, AF_INET6 } from './link-netlink';
import type { BridgeSpec, Cidr, EndpointSpec, LinkOps } from './types';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], input?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const p = spawn(file, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    p.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    if (p.stdin) {
      p.stdin.on('error', () => undefined); // it may exit before reading everything; its exit status says why
      p.stdin.end(input);
    }
  });
}

async function ip(what: string, args: string[], batch?: string[], netnsPath?: string): Promise<Run> {
  const ipArgs = batch ? ['-batch', '-', ...args] : args;
  const r = netnsPath ? await run('nsenter', [`--net=${netnsPath}`, 'ip', ...ipArgs], batch?.join('\n')) : await run('ip', ipArgs, batch?.join('\n'));
  return { ...r, stderr: r.stderr.trim() || `${what}: exit status ${r.code}` };
}

function fail(what: string, r: Run): never {
  const msg = `${what}: ${r.stderr}`;
  if (/File exists/.test(r.stderr)) throw conflict(msg);
  if (/Cannot find device|does not exist|No such file/.test(r.stderr)) throw notFound(msg);
  throw internal(msg);
}

interface IpLink {
  ifname: string;
  linkinfo?: { info_kind?: string };
  flags?: string[];
  mtu?: number;
}
interface IpAddr {
  ifname: string;
  addr_info?: { family: string; local: string; prefixlen: number; scope: string }[];
}

export class IpLinkOps implements LinkOps {
  private async link(name: string): Promise<IpLink | undefined> {
    const r = await ip(`looking up ${name}`, ['-d', '-j', 'link', 'show', 'dev', name]);
    if (r.code !== 0) {
      if (/does not exist/.test(r.stderr)) return undefined;
      fail(`looking up ${name}`, r);
    }
    return (JSON.parse(r.stdout) as IpLink[])[0];
  }

  async ensureBridge(b: BridgeSpec): Promise<void> {
    checkIfName(b.name);
    const link = await this.link(b.name);
    if (link && link.linkinfo?.info_kind !== 'bridge') throw conflict(`cannot use ${b.name} as a bridge: it is not a bridge`);
    const cmds: string[] = [];
    if (!link) cmds.push(`link add name ${b.name}${b.mtu ? ` mtu ${b.mtu}` : ''} type bridge`);
    else if (b.mtu && link.mtu !== b.mtu) cmds.push(`link set dev ${b.name} mtu ${b.mtu}`);
    const have = link ? ((await this.linkAddresses(b.name)) ?? []) : [];
    const same = (x: string, y: string) => parseCidr(x).bytes.equals(parseCidr(y).bytes) && parseCidr(x).prefixLen === parseCidr(y).prefixLen;
    const wants4 = b.addresses.some((a) => parseCidr(a).family === AF_INET);
    for (const a of have) if (wants4 && parseCidr(a).family === AF_INET && !b.addresses.some((w) => same(w, a))) cmds.push(`addr del ${a} dev ${b.name}`);
    for (const a of b.addresses) {
      if (have.some((h) => same(h, a))) continue;
      cmds.push(parseCidr(a).family === AF_INET6 ? `addr add ${a} dev ${b.name} nodad` : `addr add ${a} brd + dev ${b.name}`);
    }
    cmds.push(`link set dev ${b.name} up`);
    const r = await ip(`creating bridge ${b.name}`, [], cmds);
    if (r.code !== 0) fail(`creating bridge ${b.name}`, r);
  }

  async deleteBridge(name: string): Promise<void> {
    checkIfName(name);
    const link = await this.link(name);
    if (!link) return;
    if (link.linkinfo?.info_kind !== 'bridge') throw conflict(`refusing to delete ${name}: it is not a bridge`);
    const r = await ip(`deleting bridge ${name}`, ['link', 'del', 'dev', name]);
    if (r.code !== 0 && !/does not exist|Cannot find device/.test(r.stderr)) fail(`deleting bridge ${name}`, r);
  }

  async linkAddresses(name: string): Promise<Cidr[] | undefined> {
    checkIfName(name);
    const r = await ip(`reading the addresses of ${name}`, ['-j', 'addr', 'show', 'dev', name]);
    if (r.code !== 0) {
      if (/does not exist/.test(r.stderr)) return undefined;
      fail(`reading the addresses of ${name}`, r);
    }
    const [l] = JSON.parse(r.stdout) as IpAddr[];
    return (l?.addr_info ?? []).filter((a) => !(a.family === 'inet6' && a.scope === 'link')).map((a) => `${a.local}/${a.prefixlen}`);
  }

  async addEndpoint(e: EndpointSpec): Promise<void> {
    checkIfName(e.hostIfName);
    checkIfName(e.ifName);
    checkEndpoint(e);
    if (!(await this.link(e.bridge))) throw notFound(`creating interface ${e.hostIfName}: bridge ${e.bridge} not found`);
    const mtu = e.mtu ? ` mtu ${e.mtu}` : '';
    const host = await ip(`creating veth pair ${e.hostIfName}/${e.ifName}`, [], [
      `link add name ${e.hostIfName}${mtu} type veth peer name ${e.ifName} address ${e.mac}${mtu} netns ${e.netnsPath}`,
      `link set dev ${e.hostIfName} master ${e.bridge} up`,
    ]);
    if (host.code !== 0) {
      // only what this call made: not a link that was there already
      if (!/File exists/.test(host.stderr)) await ip('cleanup', ['link', 'del', 'dev', e.hostIfName]).catch(() => undefined);
      fail(`creating veth pair ${e.hostIfName}/${e.ifName} on ${e.bridge}`, host);
    }
    const cmds = e.addresses.map((a) => (parseCidr(a).family === AF_INET6 ? `addr add ${a} dev ${e.ifName} nodad` : `addr add ${a} brd + dev ${e.ifName}`));
    cmds.push(`link set dev ${e.ifName} up`);
    if (e.gateway4) cmds.push(`route add default via ${e.gateway4} dev ${e.ifName}`);
    if (e.gateway6) cmds.push(`route add default via ${e.gateway6} dev ${e.ifName}`);
    const ns = await ip(`configuring ${e.ifName} in ${e.netnsPath}`, [], cmds, e.netnsPath);
    if (ns.code !== 0) {
      await ip('cleanup', ['link', 'del', 'dev', e.hostIfName]).catch(() => undefined);
      fail(`configuring ${e.ifName} in ${e.netnsPath}`, ns);
    }
  }

  async removeEndpoint(hostIfName: string): Promise<void> {
    checkIfName(hostIfName);
    const r = await ip(`deleting interface ${hostIfName}`, ['link', 'del', 'dev', hostIfName]);
    if (r.code !== 0 && !/does not exist|Cannot find device/.test(r.stderr)) fail(`deleting interface ${hostIfName}`, r);
  }

  async removeInNamespace(netnsPath: string, ifName: string): Promise<void> {
    checkIfName(ifName);
    const r = await ip(`deleting ${ifName} in ${netnsPath}`, ['link', 'del', 'dev', ifName], undefined, netnsPath);
    if (r.code !== 0 && !/does not exist|Cannot find device|No such file|Invalid argument/.test(r.stderr)) fail(`deleting ${ifName} in ${netnsPath}`, r);
  }

  async hostRoutes(): Promise<Cidr[]> {
    const out = new Set<string>();
    for (const fam of ['-4', '-6']) {
      const r = await ip('listing routes', [fam, '-j', 'route', 'show', 'table', 'main']);
      if (r.code !== 0) fail('listing routes', r);
      for (const rt of JSON.parse(r.stdout || '[]') as { dst: string }[]) {
        if (rt.dst === 'default' || rt.dst.startsWith('ff')) continue;
        out.add(rt.dst.includes('/') ? rt.dst : `${rt.dst}/${fam === '-4' ? 32 : 128}`);
      }
    }
    return [...out];
  }
}
