/**
 * The network start hook (docs/networking/containers.md): a container's network at start,
 * by its mode — `host`: none of its own (the host's /etc/hosts and resolv.conf);
 * `container:<x>`: x's namespace and files (x must be running); `none`, and the default
 * bridge when the daemon runs without one: a namespace with `lo` only; `bridge` and
 * user-defined networks: a namespace joined to each recorded network through the network
 * service (the first gets the default route), the published ports (reserved host ports
 * and the firewall's DNAT), `/etc/hosts` and `/etc/resolv.conf` as Docker writes them.
 *
 * What a start set up is written to `<container dir>/network.json` as it is made, so a
 * release — after a failed start, an exit, a removal, or a daemon restart — undoes
 * exactly that (and asks the network service to leave every endpoint it still holds
 * for the container). Inspect and the list read the same state (`runtimeOf`).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { conflict, internal, invalidArgument, notFound } from '../../../engine/errdefs';
import type { Logger } from '../../../engine/log';
import { externalConnectivityError } from '../../../engine/network/ports';
import type { Firewall, NetnsManager, PortAllocator, PortMapping, PortReservation, Proto } from '../../../engine/network/types';
import { buildHosts, dnsSettings, extraHostRecords, hostResolvConf, lastField, ownHostNames, resolvConf, type DnsSettings, type HostsRecord } from '../files';
import { initialNetworks, isContainerMode, isUserDefined, parseLink, wantedPorts, type EndpointConfig, type PortWanted } from '../netconfig';
import type { Prepared, ReleaseReason, StartContext, StartHook } from './types';
import { tcp6Proxy, v6Listenable } from './v6proxy';

// the contract with the network service (daemon/networks/types.ts), one definition
import type { EndpointRequest, JoinedEndpoint } from '../../networks/types';
export type { EndpointRequest, JoinedEndpoint };

/** What the hook needs of the network service (daemon/networks NetworkService). */
export interface NetworkJoiner {
  /** The network's ID and name; throws not-found `network x not found`. */
  resolve(idOrName: string): { id: string; name: string };
  join(c: { id: string; name: string; hostname?: string }, network: string, netnsPath: string, ifName: string, req: EndpointRequest, opts: { gateway: boolean }): Promise<JoinedEndpoint>;
  /** Idempotent. */
  leave(containerId: string, network: string): Promise<void>;
  /**
   * Optional: `leave` for a container whose namespace goes with it: resolves once the
   * endpoint's record and addresses are released; its interface goes in `teardown`.
   */
  leaveDeferred?(containerId: string, network: string): Promise<{ teardown: Promise<void> }>;
  /** Optional: a running container's endpoints after a daemon restart, as its start recorded them. */
  adoptEndpoints?(c: { id: string; name: string }, endpoints: readonly JoinedEndpoint[]): void;
  endpointsOf(containerId: string): JoinedEndpoint[];
  /** A bridge network's settings: published ports' default host address (`--ip`, host_binding_ipv4), internal. */
  bridgeSettings?(idOrName: string): { hostBindingIpv4: string; internal: boolean };
}

/** Another container, as `container:<x>` mode and links see it. */
export interface LinkedContainer {
  id: string;
  name: string;
  running: boolean;
  hostname: string;
  env: string[];
  exposedPorts: string[];
  networkMode: string;
}

export interface NetworkSettingsOfDaemon {
  /** `--bridge none`: the default network mode gives `lo` only (Docker: NetworkDisabled); default: whether `bridge` resolves */
  bridgeDisabled?: boolean;
  /** `--host-gateway-ip`, else the default bridge's gateway */
  hostGatewayIp?: string;
  /** `--dns`, `--dns-search`, `--dns-opt` */
  dns: Partial<DnsSettings>;
  /** `--userland-proxy` (Docker's default true): IPv6 bindings of IPv4 containers are proxied by the daemon (TCP) */
  userlandProxy?: boolean;
  /** whether the host can listen on IPv6 (default: tried once per start) */
  v6?: boolean;
}

export interface NetworkHookDeps {
  netns: NetnsManager;
  /** absent: bridge and user networks give a namespace with `lo` only */
  networks?: NetworkJoiner;
  /** absent (`--iptables=false`): ports are reserved and reported, no DNAT */
  firewall?: Firewall;
  ports?: PortAllocator;
  settings(): NetworkSettingsOfDaemon;
  /** another container by ID, name or prefix; throws not-found */
  lookup(ref: string): LinkedContainer;
  log: Logger;
  /** the host's resolv.conf (default: files.ts hostResolvConf) */
  hostResolvConf?: () => string;
  /** the host's /etc/hosts (default: read it) */
  hostHosts?: () => string;
}

/** One published port in effect: the firewall's mapping, its key and how it is served. */
export interface PublishedPort extends PortMapping {
  /** `80/tcp` */
  key: string;
  /**
   * how the port reaches the container when not by the firewall's DNAT: `proxy`, the
   * daemon's IPv6 listener to the container's IPv4 address (v6proxy.ts); `held`, reserved
   * only (UDP on IPv6 to an IPv4 container)
   */
  via?: 'proxy' | 'held';
}

/** A legacy link's accept rules (engine/network/firewall.ts LinkRule). */
export interface LinkFirewallRule {
  bridge: string;
  parentIp: string;
  childIp: string;
  ports: { proto: Proto; port: number }[];
}

/** The firewall's view of a published port. */
function mappingOf(p: PublishedPort): PortMapping {
  return { proto: p.proto, hostIp: p.hostIp, hostPort: p.hostPort, containerIp: p.containerIp, containerPort: p.containerPort, bridge: p.bridge };
}

/** A container's network as its start made it (persisted in network.json). */
export interface NetworkRuntime {
  /** Docker's SandboxID: 64 hex */
  sandboxId: string;
  /** the namespace the container runs in (SandboxKey) */
  sandboxKey: string;
  /** set when the namespace is the container's own (removed at release) */
  netnsName?: string;
  endpoints: JoinedEndpoint[];
  ports: PublishedPort[];
  /** the legacy links' firewall rules (removed at release) */
  links?: LinkFirewallRule[];
  /** after a release: the IDs of the networks it was on (Docker's inspect keeps NetworkID of a stopped container) */
  networkIds?: Record<string, string>;
}

const STATE_FILE = 'network.json';

export class NetworkHook implements StartHook {
  readonly name = 'network';
  /** its prepare writes under the container's directory and makes kernel objects: it runs while the rootfs is mounted */
  readonly withoutRootfs = true;
  private readonly state = new Map<string, NetworkRuntime | null>();
  private readonly reservations = new Map<string, PortReservation[]>();
  private readonly dirs = new Map<string, string>();
  /** releases' background work (veth deletion, namespace removal) per container: a new start of it waits */
  private readonly pending = new Map<string, Promise<void>>();

  constructor(private readonly d: NetworkHookDeps) {}

  /**
   * The network a running container has (or a stopped one was left with after a crash), or
   * undefined. Its network.json under `dir` is read once; `dir` may be given as a function,
   * called only then (inspect and the list ask for every container on every request).
   */
  runtimeOf(id: string, dir?: string | (() => string)): NetworkRuntime | undefined {
    if (!this.state.has(id)) {
      const d = (typeof dir === 'function' ? dir() : dir) ?? this.dirs.get(id);
      if (!d) return undefined;
      try {
        this.state.set(id, JSON.parse(fs.readFileSync(path.join(d, STATE_FILE), 'utf8')) as NetworkRuntime);
      } catch {
        this.state.set(id, null);
      }
      this.dirs.set(id, d);
    }
    return this.state.get(id) ?? undefined;
  }

  private save(ctx: StartContext, rt: NetworkRuntime): void {
    this.keep(ctx, rt);
    const file = path.join(ctx.paths.dir, STATE_FILE);
    fs.writeFileSync(file + '.tmp', JSON.stringify(rt));
    fs.renameSync(file + '.tmp', file);
  }

  /** The runtime record in memory only (save writes it too). */
  private keep(ctx: StartContext, rt: NetworkRuntime): void {
    this.state.set(ctx.container.id, rt);
    this.dirs.set(ctx.container.id, ctx.paths.dir);
  }

  async prepare(ctx: StartContext): Promise<Prepared> {
    const c = ctx.container;
    // the last release's teardown of the same container (its namespace has our name)
    const teardown = this.pending.get(c.id);
    if (teardown) await teardown;
    const hc = c.hostConfig;
    const mode = hc.NetworkMode || 'default';
    if (c.config.NetworkDisabled) return {};
    if (mode === 'host') {
      // no namespace of its own; the `host` network's endpoint (no interface) as Docker records one
      const rt: NetworkRuntime = { sandboxId: sandboxIdOf(c.id), sandboxKey: this.d.netns.pathOf('default'), endpoints: [], ports: [] };
      try {
        this.save(ctx, rt);
        await this.joinNetworks(ctx, rt, '');
        this.writeFiles(ctx, [], [], false);
      } catch (err) {
        await this.release(ctx, 'failed-start');
        throw err;
      }
      return {};
    }
    if (isContainerMode(mode)) return this.joinContainer(ctx, mode.slice('container:'.length));
    const netnsName = c.id.slice(0, 12);
    const rt: NetworkRuntime = { sandboxId: sandboxIdOf(c.id), sandboxKey: this.d.netns.pathOf(netnsName), netnsName, endpoints: [], ports: [] };
    try {
      // in memory before the namespace exists (a failure below releases what it finds
      // here); on disk with the first endpoint joined (each join and each port is saved
      // as it is made), or after the joins when there is none — a namespace a crash
      // leaves without a record is removed at restore (reconcile: by name, for every
      // container not running)
      this.state.set(c.id, rt);
      this.dirs.set(c.id, ctx.paths.dir);
      rt.sandboxKey = await this.d.netns.create(netnsName);
      const links = await this.joinNetworks(ctx, rt, rt.sandboxKey);
      if (!rt.endpoints.length) this.save(ctx, rt);
      await this.publishPorts(ctx, rt);
      this.writeFiles(ctx, rt.endpoints, links.records, rt.endpoints.length > 0 || links.none);
      // the container's own variables win over the links' (Docker's CreateDaemonEnvironment)
      const own = new Set((c.config.Env ?? []).map((e) => e.split('=')[0]));
      const env = links.env.filter((e) => !own.has(e.split('=')[0]));
      return { netnsPath: rt.sandboxKey, ...(env.length ? { env } : {}) };
    } catch (err) {
      await this.release(ctx, 'failed-start');
      throw err;
    }
  }

  /** Whether the default bridge network exists (`--bridge none`: it does not). */
  private bridgeDisabled(): boolean {
    const s = this.d.settings().bridgeDisabled;
    if (s !== undefined) return s;
    if (!this.d.networks) return true;
    try {
      this.d.networks.resolve('bridge');
      return false;
    } catch {
      return true;
    }
  }

  /** `container:<x>`: x's namespace and its hosts and resolv.conf (Docker uses x's files). */
  private async joinContainer(ctx: StartContext, ref: string): Promise<Prepared> {
    const other = this.d.lookup(ref);
    if (!other.running) throw conflict(`cannot join network of a non running container: ${other.id}`);
    // (its directory is our sibling: after a daemon restart its state is read from there)
    const theirs = this.runtimeOf(other.id, path.join(path.dirname(ctx.paths.dir), other.id));
    if (!theirs) throw conflict(`cannot join network of a non running container: ${other.id}`);
    const otherDir = path.join(path.dirname(ctx.paths.dir), other.id);
    for (const f of ['hosts', 'resolv.conf']) {
      try {
        fs.copyFileSync(path.join(otherDir, f), path.join(ctx.paths.dir, f));
      } catch {
        /* theirs are missing: ours (from create) stay */
      }
    }
    this.save(ctx, { sandboxId: theirs.sandboxId, sandboxKey: theirs.sandboxKey, endpoints: [], ports: [] });
    return other.networkMode === 'host' ? {} : { netnsPath: theirs.sandboxKey };
  }

  /** Joins each recorded network (the default bridge first); returns the links' hosts records and env vars. */
  private async joinNetworks(ctx: StartContext, rt: NetworkRuntime, netnsPath: string): Promise<{ records: HostsRecord[]; env: string[]; none: boolean }> {
    const c = ctx.container;
    const hc = c.hostConfig;
    const mode = hc.NetworkMode || 'default';
    const recorded: Record<string, EndpointConfig> = c.networks ?? initialNetworks(c.config, hc, null);
    const names = Object.keys(recorded).sort((a, b) => (a === 'bridge' ? -1 : b === 'bridge' ? 1 : 0));
    const links = { records: [] as HostsRecord[], env: [] as string[], none: false };
    // what the resolver needs of the container: its upstreams, and whether its resolv.conf sets ndots
    const ds = dnsSettings(hc, this.d.settings().dns);
    const options = ds.options.length ? ds.options : lastField((this.d.hostResolvConf ?? hostResolvConf)(), 'options');
    const dns = { nameservers: ds.dns, ndotsSet: options.some((o) => o.includes('ndots')) };
    for (const name of names) {
      const ep = recorded[name]!;
      if (!isUserDefined(name)) {
        const ip = ep.IPAMConfig?.IPv4Address || ep.IPAMConfig?.IPv6Address;
        if (ip) throw invalidArgument('user specified IP address is supported on user defined networks only');
        if ((ep.Aliases ?? []).length) throw invalidArgument('network-scoped alias is supported only for containers in user defined networks');
      }
      if (name === 'none') links.none = true;
      if (name === 'bridge' && this.bridgeDisabled()) continue;
      if (!this.d.networks) {
        if (!isUserDefined(name)) continue;
        throw notFound(`network ${name} not found`);
      }
      const own = name === (mode === 'default' ? 'bridge' : mode);
      const mac = ep.MacAddress || (own ? c.config.MacAddress ?? '' : '');
      const req: EndpointRequest = {
        ...(ep.Aliases?.length ? { aliases: ep.Aliases } : {}),
        ...(ep.IPAMConfig?.IPv4Address ? { ipv4: ep.IPAMConfig.IPv4Address } : {}),
        ...(ep.IPAMConfig?.IPv6Address ? { ipv6: ep.IPAMConfig.IPv6Address } : {}),
        ...(ep.Links?.length ? { links: ep.Links } : {}),
        ...(mac ? { macAddress: mac } : {}),
        ...(ep.DriverOpts && Object.keys(ep.DriverOpts).length ? { driverOpts: ep.DriverOpts } : {}),
        ...(dns.nameservers.length ? { nameservers: dns.nameservers } : {}),
        ...(dns.ndotsSet ? { ndotsSet: true } : {}),
      };
      // the next ethN; the first endpoint that can give a default route gets it
      const ifName = `eth${rt.endpoints.filter((e) => e.hostIfName).length}`;
      const gateway = !rt.endpoints.some((e) => e.gateway);
      const joined = await this.d.networks.join({ id: c.id, name: c.name.replace(/^\//, ''), hostname: c.config.Hostname ?? '' }, name, netnsPath, ifName, req, { gateway });
      rt.endpoints.push(joined);
      this.save(ctx, rt);
      if (name === 'bridge') {
        this.links(c, links, joined, rt, path.dirname(ctx.paths.dir));
        this.save(ctx, rt);
        for (const l of rt.links ?? []) await this.linkFirewall()?.allowLink(l);
      }
    }
    return links;
  }

  /** Legacy links on the default bridge: a hosts record per linked container, and its env vars. */
  private links(c: StartContext['container'], out: { records: HostsRecord[]; env: string[] }, own: JoinedEndpoint, rt: NetworkRuntime, containersDir: string): void {
    for (const l of c.hostConfig.Links ?? []) {
      const { name, alias: full } = parseLink(l);
      const alias = full.split('/').pop()!;
      const child = this.d.lookup(name);
      if (!child.running) throw internal(`Cannot link to a non running container: ${child.name} AS ${c.name}/${alias}`);
      const ep = this.runtimeOf(child.id, path.join(containersDir, child.id))?.endpoints.find((e) => e.networkName === 'bridge');
      if (!ep?.ipv4) throw internal(`Cannot link to ${child.name}, as it does not belong to the default network`);
      const ip = ep.ipv4.split('/')[0]!;
      let names = `${alias} ${child.hostname}`;
      if (alias !== child.name.replace(/^\//, '')) names += ` ${child.name.replace(/^\//, '')}`;
      out.records.push({ ip, names });
      out.env.push(...linkEnv(alias, `${c.name}/${alias}`, ip, child));
      // with --icc=false only linked containers talk: the link's accept rules (libnetwork's ChainInfo.Link)
      if (own.ipv4 && child.exposedPorts.length) {
        const ports = child.exposedPorts.map((k) => ({ proto: (k.split('/')[1] ?? 'tcp') as Proto, port: Number(k.split('/')[0]) }));
        rt.links = [...(rt.links ?? []), { bridge: own.bridge, parentIp: own.ipv4.split('/')[0]!, childIp: ip, ports }];
      }
    }
  }

  /** The firewall's legacy-link rules (an extra of IptablesFirewall), when it has them. */
  private linkFirewall(): { allowLink(l: LinkFirewallRule): Promise<void>; removeLink(l: LinkFirewallRule): Promise<void> } | undefined {
    const f = this.d.firewall as (Firewall & { allowLink?: (l: LinkFirewallRule) => Promise<void>; removeLink?: (l: LinkFirewallRule) => Promise<void> }) | undefined;
    return f?.allowLink && f.removeLink ? (f as never) : undefined;
  }

  /** Reserves and publishes each wanted port on the first endpoint's address. */
  private async publishPorts(ctx: StartContext, rt: NetworkRuntime): Promise<void> {
    const wanted = wantedPorts(ctx.container.config, ctx.container.hostConfig);
    if (wanted.length === 0 || !this.d.ports) return;
    // Docker maps the ports on the first non-internal network the container joins
    const settingsOf = (e: JoinedEndpoint) => {
      try {
        return this.d.networks?.bridgeSettings?.(e.networkId);
      } catch {
        return undefined;
      }
    };
    const ep = rt.endpoints.find((e) => e.hostIfName && e.ipv4 && !settingsOf(e)?.internal);
    if (!ep?.ipv4) return;
    const defaultIp = settingsOf(ep)?.hostBindingIpv4 || '0.0.0.0';
    const held: PortReservation[] = this.reservations.get(ctx.container.id) ?? [];
    this.reservations.set(ctx.container.id, held);
    const c4 = ep.ipv4.split('/')[0]!;
    const c6 = ep.ipv6?.split('/')[0];
    const userlandProxy = this.d.settings().userlandProxy ?? true;
    let v6ok: boolean | undefined;
    const add = async (p: PublishedPort, r: PortReservation) => {
      held.push(r);
      rt.ports.push(p);
      this.save(ctx, rt);
      if (!p.via) await this.d.firewall?.publish(mappingOf(p));
    };
    for (const w of wanted) {
      const v6Binding = w.hostIp.includes(':');
      let port: number | undefined;
      if (!v6Binding) {
        const hostIp = w.hostIp || defaultIp;
        const r = await this.reserve(ctx, ep, w, hostIp);
        port = r.port;
        await add({ key: w.key, proto: w.proto, hostIp, hostPort: r.port, containerIp: c4, containerPort: w.containerPort, bridge: ep.bridge }, r);
      }
      // libnetwork's allocatePortsInternal: the IPv6 binding of an explicit IPv6 address, or of
      // "every address" when the host can listen on IPv6 — to the container's IPv6 address, or
      // (userland proxy on, Docker's default) to its IPv4 one through the proxy
      if (!v6Binding && !(w.hostIp === '' && defaultIp === '0.0.0.0' && (v6ok ??= this.d.settings().v6 ?? (await v6Listenable())))) continue;
      const hostIp = v6Binding ? w.hostIp : '::';
      const want: PortWanted = port ? { ...w, hostStart: port, hostEnd: port } : w;
      if (c6) {
        const r = await this.reserve(ctx, ep, want, hostIp);
        await add({ key: w.key, proto: w.proto, hostIp, hostPort: r.port, containerIp: c6, containerPort: w.containerPort, bridge: ep.bridge }, r);
      } else if (userlandProxy && w.proto === 'tcp') {
        let r: PortReservation;
        try {
          r = await tcp6Proxy(hostIp, want.hostStart, c4, w.containerPort);
        } catch (err) {
          throw externalConnectivityError(ctx.container.name.replace(/^\//, ''), ep.endpointId, err);
        }
        await add({ key: w.key, proto: w.proto, hostIp, hostPort: r.port, containerIp: c4, containerPort: w.containerPort, bridge: ep.bridge, via: 'proxy' }, r);
      } else if (userlandProxy) {
        const r = await this.reserve(ctx, ep, want, hostIp);
        await add({ key: w.key, proto: w.proto, hostIp, hostPort: r.port, containerIp: c4, containerPort: w.containerPort, bridge: ep.bridge, via: 'held' }, r);
      }
    }
  }

  private async reserve(ctx: StartContext, ep: JoinedEndpoint, w: PortWanted, hostIp: string): Promise<PortReservation> {
    const fail = (err: unknown) => externalConnectivityError(ctx.container.name.replace(/^\//, ''), ep.endpointId, err);
    if (w.hostStart === w.hostEnd) {
      try {
        return await this.d.ports!.reserve(w.proto, hostIp, w.hostStart || undefined);
      } catch (err) {
        throw fail(err);
      }
    }
    let last: unknown;
    for (let port = w.hostStart; port <= w.hostEnd; port++) {
      try {
        return await this.d.ports!.reserve(w.proto, hostIp, port);
      } catch (err) {
        last = err;
      }
    }
    throw fail(last);
  }

  /** /etc/hosts and /etc/resolv.conf of the container, from what its start made. */
  private writeFiles(ctx: StartContext, endpoints: JoinedEndpoint[], links: HostsRecord[], joined: boolean): void {
    const c = ctx.container;
    const hc = c.hostConfig;
    const settings = this.d.settings();
    const hostText = (this.d.hostResolvConf ?? hostResolvConf)();
    let hosts: string;
    if ((hc.NetworkMode || 'default') === 'host' && (hc.ExtraHosts ?? []).length === 0) {
      hosts = (this.d.hostHosts ?? (() => fs.readFileSync('/etc/hosts', 'utf8')))();
    } else {
      const own = this.ownRecords(c, endpoints).map((l) => ({ ip: l.slice(0, l.indexOf('\t')), names: l.slice(l.indexOf('\t') + 1) }));
      hosts = buildHosts([...extraHostRecords(hc.ExtraHosts ?? [], settings.hostGatewayIp), ...links], own);
    }
    fs.writeFileSync(ctx.paths.hosts, hosts, { mode: 0o644 });
    this.writeResolv(ctx, endpoints, joined, hostText);
  }

  private writeResolv(ctx: StartContext, endpoints: JoinedEndpoint[], joined: boolean, hostText = (this.d.hostResolvConf ?? hostResolvConf)()): void {
    const user = endpoints.find((e) => isUserDefined(e.networkName) && e.gateway4);
    const resolv = resolvConf(ctx.container.hostConfig, hostText, {
      daemon: this.d.settings().dns,
      joined,
      ipv6: endpoints.some((e) => !!e.ipv6),
      ...(user?.gateway4 ? { nameserver: user.gateway4 } : {}),
    });
    fs.writeFileSync(ctx.paths.resolvConf, resolv, { mode: 0o644 });
  }

  /** The container's own `/etc/hosts` records for its endpoints. */
  private ownRecords(c: StartContext['container'], endpoints: JoinedEndpoint[]): string[] {
    const names = ownHostNames(c.config.Hostname ?? c.id.slice(0, 12), c.config.Domainname);
    return endpoints.flatMap((e) => [e.ipv4, e.ipv6].filter((a): a is string => !!a).map((a) => `${a.split('/')[0]!}\t${names}`));
  }

  /**
   * A running container was connected to or disconnected from a network (the network
   * service joined or left it live): its endpoints are read again, /etc/hosts gets the new
   * endpoint's records or loses the old one's (libnetwork's etchosts Add/Delete), and
   * resolv.conf points at the resolver once it is on a user-defined network.
   */
  async endpointsChanged(ctx: StartContext): Promise<void> {
    const rt = this.runtimeOf(ctx.container.id, ctx.paths.dir);
    if (!rt || !this.d.networks || (ctx.container.hostConfig.NetworkMode || 'default') === 'host') return;
    const before = this.ownRecords(ctx.container, rt.endpoints);
    rt.endpoints = this.d.networks.endpointsOf(ctx.container.id);
    this.save(ctx, rt);
    const after = this.ownRecords(ctx.container, rt.endpoints);
    try {
      const lines = fs.readFileSync(ctx.paths.hosts, 'utf8').split('\n').filter((l) => l !== '');
      const kept = lines.filter((l) => !before.includes(l) || after.includes(l));
      for (const r of after) if (!kept.includes(r)) kept.push(r);
      fs.writeFileSync(ctx.paths.hosts, kept.join('\n') + '\n', { mode: 0o644 });
      this.writeResolv(ctx, rt.endpoints, true);
    } catch (err) {
      this.d.log.warn('cannot update the container files after a network change', { id: ctx.container.id, err: String(err) });
    }
  }

  async release(ctx: StartContext, reason: ReleaseReason): Promise<void> {
    const id = ctx.container.id;
    const rt = this.runtimeOf(id, ctx.paths.dir);
    for (const r of this.reservations.get(id) ?? []) await r.release().catch((err) => this.d.log.warn('cannot release a port', { id, err: String(err) }));
    this.reservations.delete(id);
    for (const p of rt?.ports ?? []) {
      if (!p.via) await this.d.firewall?.unpublish(mappingOf(p)).catch((err) => this.d.log.warn('cannot unpublish a port', { id, err: String(err) }));
    }
    for (const l of rt?.links ?? []) await this.linkFirewall()?.removeLink(l).catch((err) => this.d.log.warn('cannot remove a link\'s rules', { id, err: String(err) }));
    // The endpoints' records, addresses and names go now; the kernel objects — veths and
    // the namespace, which nothing outside the daemon can see once the container is gone —
    // in the background (`pending`), off the exit's and the removal's critical path. A
    // crash in between leaves a namespace file without a running container: reconcile
    // removes it at restore, and the kernel deletes its veths with it.
    const background: Promise<void>[] = [];
    if (this.d.networks) {
      const names = new Set([...(rt?.endpoints ?? []).map((e) => e.networkName), ...this.d.networks.endpointsOf(id).map((e) => e.networkName)]);
      const warn = (n: string) => (err: unknown) => this.d.log.warn('cannot leave a network', { id, network: n, err: String(err) });
      for (const n of names) {
        if (this.d.networks.leaveDeferred && rt?.netnsName) {
          const left = await this.d.networks.leaveDeferred(id, n).catch(warn(n));
          if (left) background.push(left.teardown);
        } else {
          await this.d.networks.leave(id, n).catch(warn(n));
        }
      }
    }
    if (rt?.netnsName) background.push(this.d.netns.remove(rt.netnsName).catch((err) => this.d.log.warn('cannot remove a network namespace', { id, err: String(err) })));
    if (background.length) {
      const before = this.pending.get(id);
      const p: Promise<void> = Promise.all([before, ...background]).then(() => {
        if (this.pending.get(id) === p) this.pending.delete(id);
      });
      this.pending.set(id, p);
    }
    // what stays is the sandbox's name and key: Docker's inspect keeps SandboxID and SandboxKey after an exit
    if (rt?.sandboxKey && (rt.endpoints.length || rt.ports.length || rt.netnsName || rt.links?.length)) {
      const networkIds = Object.fromEntries(rt.endpoints.map((e) => [e.networkName, e.networkId]));
      const left: NetworkRuntime = { sandboxId: rt.sandboxId, sandboxKey: rt.sandboxKey, endpoints: [], ports: [], ...(rt.endpoints.length ? { networkIds } : rt.networkIds ? { networkIds: rt.networkIds } : {}) };
      // At an exit that the container's removal follows (AutoRemove) the file is not
      // rewritten: its directory goes with the removal. A crash in between leaves the file
      // as the start wrote it, and the release at restore (which then removes the
      // container) finds the endpoints and the namespace gone already: leaving and
      // removing are idempotent.
      if (reason === 'exit' && ctx.removalFollows) this.keep(ctx, left);
      else this.save(ctx, left);
    } else if (!rt) {
      fs.rmSync(path.join(ctx.paths.dir, STATE_FILE), { force: true });
      this.state.set(id, null);
    }
  }

  /** Resolves when every release's background teardown is done (the daemon closes). */
  async drain(): Promise<void> {
    while (this.pending.size) await Promise.all([...this.pending.values()]);
  }

  /**
   * At restore, after every container was restored: namespaces in the directory that no
   * running container owns are what a crash left (a start cut off before its
   * network.json, a release's background teardown cut off): removed, and their veths
   * with them.
   */
  async reconcile(running: ReadonlySet<string>): Promise<void> {
    const owners = new Set([...running].map((id) => id.slice(0, 12)));
    for (const name of await this.d.netns.list().catch(() => [] as string[])) {
      if (owners.has(name) || !/^[0-9a-f]{12}$/.test(name)) continue;
      await this.d.netns.remove(name).catch((err) => this.d.log.warn('cannot remove a stale network namespace', { name, err: String(err) }));
    }
  }

  /**
   * A container still running after a daemon restart (live restore): its namespace and
   * endpoints stay; its published ports are reserved again (nothing else may take them).
   */
  async adopt(ctx: StartContext): Promise<void> {
    const id = ctx.container.id;
    const rt = this.runtimeOf(id, ctx.paths.dir);
    if (rt) this.d.networks?.adoptEndpoints?.({ id, name: ctx.container.name }, rt.endpoints);
    if (!rt || !this.d.ports) return;
    const held: PortReservation[] = [];
    for (const p of rt.ports) {
      try {
        if (p.via === 'proxy') {
          held.push(await tcp6Proxy(p.hostIp, p.hostPort, p.containerIp, p.containerPort));
          continue;
        }
        held.push(await this.d.ports.reserve(p.proto, p.hostIp, p.hostPort));
        if (!p.via) await this.d.firewall?.publish(mappingOf(p));
      } catch (err) {
        this.d.log.warn('cannot reserve a published port again', { id, port: `${p.hostIp}:${p.hostPort}/${p.proto}`, err: String(err) });
      }
    }
    this.reservations.set(id, held);
  }
}

/** Docker's sandbox IDs are random; ours derive from the container's ID (stable across restarts). */
function sandboxIdOf(id: string): string {
  return [...id].reverse().join('');
}

/**
 * Docker's link env vars (daemon/links/links.go): `<ALIAS>_PORT` (the first exposed port),
 * `_START`/`_END` entries for runs of consecutive port numbers, `<ALIAS>_PORT_<port>_<PROTO>`
 * with `_ADDR`, `_PORT`, `_PROTO` for each, `<ALIAS>_NAME`, and the child's env as
 * `<ALIAS>_ENV_<name>` (except HOME and PATH).
 */
export function linkEnv(aliasName: string, name: string, ip: string, child: Pick<LinkedContainer, 'env' | 'exposedPorts'>): string[] {
  const alias = aliasName.toUpperCase().replace(/-/g, '_');
  const ports = child.exposedPorts
    .map((k) => {
      const [p, proto = 'tcp'] = k.split('/');
      return { port: Number(p), proto: proto.toLowerCase() };
    })
    .sort((a, b) => a.port - b.port || (a.proto === 'tcp' ? -1 : b.proto === 'tcp' ? 1 : 0));
  const env: string[] = [];
  if (ports.length) {
    env.push(`${alias}_PORT=${ports[0]!.proto}://${ip}:${ports[0]!.port}`);
    for (let i = 0; i < ports.length; ) {
      const p = ports[i]!;
      // nextContiguous: the index after the run of consecutive numbers starting at i
      let j = i + 1;
      let value = p.port;
      if (j < ports.length) {
        for (; j < ports.length; j++, value++) if (ports[j]!.port > value + 1) break;
      }
      if (j > i + 1) {
        const k = `${alias}_PORT_${p.port}_${p.proto.toUpperCase()}`;
        const q = ports[j - 1]!;
        env.push(`${k}_START=${p.proto}://${ip}:${p.port}`, `${k}_ADDR=${ip}`, `${k}_PROTO=${p.proto}`, `${k}_PORT_START=${p.port}`);
        const e = `${alias}_PORT_${p.port}_${q.proto.toUpperCase()}`;
        env.push(`${e}_END=${q.proto}://${ip}:${q.port}`, `${e}_PORT_END=${q.port}`);
        i = j;
        continue;
      }
      i++;
    }
    for (const { port, proto } of ports) {
      const k = `${alias}_PORT_${port}_${proto.toUpperCase()}`;
      env.push(`${k}=${proto}://${ip}:${port}`, `${k}_ADDR=${ip}`, `${k}_PORT=${port}`, `${k}_PROTO=${proto}`);
    }
  }
  env.push(`${alias}_NAME=${name}`);
  for (const e of child.env) {
    const i = e.indexOf('=');
    if (i < 0) continue;
    const key = e.slice(0, i);
    if (key === 'HOME' || key === 'PATH') continue;
    env.push(`${alias}_ENV_${key}=${e.slice(i + 1)}`);
  }
  // ReplaceOrAppendEnvValues: one entry per name (the range entries repeat _ADDR and _PROTO)
  const seen = new Set<string>();
  return env.filter((e) => {
    const k = e.slice(0, e.indexOf('='));
    return seen.has(k) ? false : (seen.add(k), true);
  });
}
