/**
 * NetworkService: Docker's network objects (moby's daemon/network.go and libnetwork's
 * controller, bridge driver and default IPAM) over the network store and the engine's
 * data plane (links, firewall, resolver), which it takes by constructor injection.
 *
 * Lifecycle: `open()` at daemon start (default networks, bridges and firewall rules of
 * every network ensured, the resolver started), `setContainers()` once the container
 * service exists, `reconcile()` after the containers were restored (endpoints of
 * containers that are not running released). Then the routes call
 * list/inspect/create/remove/prune/connect/disconnect and the container start hook calls
 * join/leave/endpointsOf. See docs/networking/service.md.
 */
import * as crypto from 'node:crypto';
import { conflict, forbidden, internal, invalidArgument, notFound, notImplemented } from '../../engine/errdefs';
import type { Logger } from '../../engine/log';
import { nowRfc3339Nano } from '../../engine/clock';
import type { MetadataDB } from '../../engine/metadata';
import type { ResolverNetwork } from '../../engine/network/dns/table';
import type { Firewall, LinkOps, NameService, PortAllocator } from '../../engine/network/types';
import type { EventBus } from '../events/bus';
import { rfc3339ToNanos } from '../../engine/timeparse';
import { keptByUntil, matchPruneLabels, pruneUntil, UNTIL_AND_LABELS, validatePruneFilters } from '../system/prune-filters';
import { DEFAULT_ADDRESS_POOLS, allocate, contains, formatIp, macFor, overlaps, parseCidr, parseIp, pickSubnet, prefixString, type Pool, type Prefix } from './ipam';
import { NetworkStore, type EndpointRecord, type IpamConfigEntry, type NetworkRecord } from './store';
import type { ContainerLookup, EndpointConfig, EndpointRequest, JoinedEndpoint, NetContainer } from './types';
import { filterNetworks, isPredefined, networkView } from './views';

/** The daemon's network settings (dockerd's flags and daemon.json keys). */
export interface NetworkConfig {
  /** `--bridge`: undefined → `docker0`; `none` → no default bridge network */
  bridge?: string;
  /** `--bip`: the default bridge's address with prefix */
  bip?: string;
  /** `--fixed-cidr`, `--fixed-cidr-v6`: the default bridge's allocation ranges */
  fixedCidr?: string;
  fixedCidrV6?: string;
  /** `--ipv6`: the default bridge gets IPv6 (needs `--fixed-cidr-v6`) */
  ipv6?: boolean;
  /** `--mtu` of the default bridge (Docker: 1500) */
  mtu?: number;
  /** `--icc`, `--ip-masq` for the default bridge (Docker: true) */
  icc?: boolean;
  ipMasq?: boolean;
  /** `--ip`: the default host address of published ports */
  hostBindingIpv4?: string;
  /** `--iptables` (Docker: true): without it no firewall is set up */
  iptables?: boolean;
  /** `--ip6tables` (Docker 20.10: false) */
  ip6tables?: boolean;
  /** `--default-address-pool` */
  defaultAddressPools?: Array<{ base: string; size: number }>;
}

export interface NetworkServiceOptions {
  db: MetadataDB;
  events: EventBus;
  log: Logger;
  links: LinkOps;
  /** undefined with `--iptables=false` */
  firewall?: Firewall;
  ports?: PortAllocator;
  dns?: NameService;
  config?: NetworkConfig;
  /** randomness (ids, veth names, MACs without IPv4); tests pass a seeded one */
  random?: (n: number) => Buffer;
  /**
   * Turns on IP forwarding (`--ip-forward`, Docker's default; never the FORWARD policy):
   * called once, when the first bridge network is set up. Absent: left as it is.
   */
  enableIpForward?: () => Promise<void>;
  /**
   * Puts a container's bridge port in hairpin mode (engine/network/sysctl.ts
   * enableHairpin), so that it reaches its own published ports through a host address,
   * as libnetwork does without the userland proxy. Called with the firewall only.
   */
  hairpin?: (hostIfName: string) => Promise<void>;
}

/** `POST /networks/create`'s body (types.NetworkCreateRequest). */
export interface NetworkCreateRequest {
  Name?: string;
  CheckDuplicate?: boolean;
  Driver?: string;
  Scope?: string;
  EnableIPv6?: boolean;
  IPAM?: { Driver?: string; Options?: Record<string, string> | null; Config?: IpamConfigEntry[] | null } | null;
  Internal?: boolean;
  Attachable?: boolean;
  Ingress?: boolean;
  ConfigOnly?: boolean;
  ConfigFrom?: { Network?: string } | null;
  Options?: Record<string, string> | null;
  Labels?: Record<string, string> | null;
}

/** A bridge network's driver settings (for the container side: published ports' default host address). */
export interface BridgeSettings {
  bridge: string;
  icc: boolean;
  masquerade: boolean;
  hostBindingIpv4: string;
  mtu?: number;
  internal: boolean;
}

const OPT = {
  name: 'com.docker.network.bridge.name',
  icc: 'com.docker.network.bridge.enable_icc',
  masq: 'com.docker.network.bridge.enable_ip_masquerade',
  hostBinding: 'com.docker.network.bridge.host_binding_ipv4',
  defaultBridge: 'com.docker.network.bridge.default_bridge',
  inhibitIpv4: 'com.docker.network.bridge.inhibit_ipv4',
  mtu: 'com.docker.network.driver.mtu',
  enableIpv6: 'com.docker.network.enable_ipv6',
  ifPrefix: 'com.docker.network.container_iface_prefix',
  hostIp: 'com.docker.network.host_ipv4',
} as const;

/**
 * Go's strconv.ParseBool, as the bridge driver parses its options. libnetwork's
 * BadRequest errors have no HTTP mapping in moby: Docker answers them 500 (checked
 * against Docker 20.10), so they are `internal` here too.
 */
function parseBool(label: string, v: string): boolean {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  throw internal(`failed to parse ${label} value: ${v} (strconv.ParseBool: parsing ${JSON.stringify(v)}: invalid syntax)`);
}

const shortId = (id: string) => id.slice(0, 12);

export class NetworkService {
  private readonly store: NetworkStore;
  private readonly random: (n: number) => Buffer;
  private readonly cfg: NetworkConfig;
  private containers: ContainerLookup | undefined;
  /** serialises create/remove and joins (the kernel side of a network is built once) */
  private chain: Promise<unknown> = Promise.resolve();
  /** the host-wide parts (firewall chains, forwarding, resolver) are set up with the first network that needs them */
  private hostReady: Promise<void> | undefined;
  private dnsStarted = false;
  /**
   * Endpoints that hold no lease — on `host` and `none` (null) — kept in memory only:
   * they have no address, no interface and no name to give back, and the start hook's
   * network.json records what a release needs, so writing them to the database (a commit
   * at every start and another at every exit) bought nothing. A running container's are
   * registered again at restore (`adoptEndpoints`). Rows of such endpoints that an older
   * release wrote are still read and deleted. Keyed `<networkId>/<containerId>`.
   */
  private readonly bare = new Map<string, EndpointRecord>();
  /** veth deletions started by `leaveDeferred`, awaited by `close()` */
  private readonly teardowns = new Set<Promise<void>>();

  constructor(private readonly o: NetworkServiceOptions) {
    this.store = new NetworkStore(o.db);
    this.random = o.random ?? ((n) => crypto.randomBytes(n));
    this.cfg = o.config ?? {};
  }

  /** The firewall, for the container side's port publishing (undefined with `--iptables=false`). */
  get portsFirewall(): Firewall | undefined {
    return this.o.firewall;
  }

  /** The host-port allocator, for the container side's port publishing. */
  get allocator(): PortAllocator | undefined {
    return this.o.ports;
  }

  /** Tells the service where the containers are (the composition root, once both exist). */
  setContainers(c: ContainerLookup): void {
    this.containers = c;
  }

  private lookup(): ContainerLookup {
    if (!this.containers) throw internal('the network service has no container lookup');
    return this.containers;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private newId(): string {
    return this.random(32).toString('hex');
  }

  // ------------------------------------------------------------------ start and reconcile

  /**
   * At daemon start: the firewall's chains, the default networks (`bridge` from the flags,
   * `host`, `none`), every bridge network's bridge and rules, and the resolver with the
   * current table. Throws (the daemon does not start) when the default bridge cannot be
   * set up, in Docker's words.
   */
  async open(): Promise<void> {
    await this.ensurePredefined();
    for (const n of this.store.all()) {
      if (n.driver !== 'bridge') continue;
      try {
        await this.buildBridge(n);
      } catch (err) {
        if (n.name === 'bridge') throw err;
        this.o.log.error('cannot set up network', { network: n.name, bridge: n.bridge, err: String(err) });
      }
    }
    // a resolver a previous daemon left running is adopted (and its table refreshed) when user networks exist
    if (this.store.all().some((n) => n.driver === 'bridge' && !isPredefined(n.name))) await this.publishDns(true);
  }

  /** Firewall chains and IP forwarding: once, before the first bridge network's rules (a daemon without networks changes nothing on the host). */
  private hostSetup(): Promise<void> {
    this.hostReady ??= (async () => {
      if (this.o.firewall) await this.o.firewall.init();
      if (this.o.enableIpForward) await this.o.enableIpForward();
    })();
    this.hostReady.catch(() => (this.hostReady = undefined));
    return this.hostReady;
  }

  /**
   * After the containers were restored: endpoints of containers that are not running (or
   * gone) are released and their veths deleted, as a daemon that crashed left them.
   */
  async reconcile(): Promise<void> {
    const running = new Set(this.lookup().list().filter((c) => c.running).map((c) => c.id));
    let changed = false;
    for (const e of [...this.store.allEndpoints(), ...this.bare.values()]) {
      if (running.has(e.containerId)) continue;
      try {
        if (e.hostIfName) await this.o.links.removeEndpoint(e.hostIfName);
      } catch (err) {
        this.o.log.warn('cannot delete a stale veth', { veth: e.hostIfName, err: String(err) });
      }
      this.dropEndpointRow(e.networkId, e.containerId);
      changed = true;
    }
    if (changed) await this.publishDns();
  }

  /**
   * At daemon shutdown: the resolver keeps running for the containers that do (live
   * restore), and stops when none has a name to answer, or when asked (`stopResolver`:
   * a daemon without live restore).
   */
  async close(opts: { stopResolver?: boolean } = {}): Promise<void> {
    await Promise.all([...this.teardowns]);
    if (!this.o.dns || !this.dnsStarted) return;
    if (opts.stopResolver || this.dnsTable().every((n) => n.records.length === 0)) {
      await this.o.dns.stop();
      this.dnsStarted = false;
    }
  }

  private async ensurePredefined(): Promise<void> {
    const byName = (name: string) => this.store.all().find((n) => n.name === name);
    for (const [name, driver] of [
      ['host', 'host'],
      ['none', 'null'],
    ] as const) {
      if (byName(name)) continue;
      this.store.insert(this.record({ id: this.newId(), name, driver, bridge: '', ipam: emptyIpam(), options: {}, labels: {} }));
    }
    const existing = byName('bridge');
    if (this.cfg.bridge === 'none') {
      // DisableBridge: no default bridge network (its endpoints, if any, go with it)
      if (existing) {
        if (this.o.firewall) await this.o.firewall.teardownNetwork(existing.bridge).catch(() => undefined);
        this.store.delete(existing.id);
      }
      return;
    }
    const want = await this.defaultBridge(existing);
    if (existing) this.store.update({ ...want, id: existing.id, created: existing.created });
    else this.store.insert(want);
  }

  /** The default bridge network as the flags describe it (moby's initBridgeDriver). */
  private async defaultBridge(existing: NetworkRecord | undefined): Promise<NetworkRecord> {
    const name = this.cfg.bridge || 'docker0';
    const addrs = await this.o.links.linkAddresses(name);
    if (name !== 'docker0' && addrs === undefined) throw invalidArgument(`bridge device with non default name ${name} must be created manually`);
    let gw: { family: 4 | 6; addr: bigint } | undefined;
    let subnet: Prefix | undefined;
    if (this.cfg.bip) {
      const p = parseCidr(this.cfg.bip);
      if (!p || p.family !== 4) throw invalidArgument(`invalid bip: ${this.cfg.bip}`);
      subnet = p;
      gw = { family: 4, addr: p.addr };
    } else {
      const own = (addrs ?? []).map(parseCidr).find((p) => p?.family === 4);
      if (own) {
        subnet = own;
        gw = { family: 4, addr: own.addr };
      } else if (name !== 'docker0') {
        throw invalidArgument(`bridge device with non default name ${name} must have a valid IP address`);
      } else {
        const prev = existing?.ipam.pools4[0];
        if (prev) {
          subnet = parseCidr(prev.subnet)!;
          gw = { family: 4, addr: parseIp(prev.gateway)!.value };
        } else {
          subnet = pickSubnet(this.cfg.defaultAddressPools ?? DEFAULT_ADDRESS_POOLS, await this.takenPrefixes(undefined));
          gw = { family: 4, addr: subnet.base + 1n };
        }
      }
    }
    const pool4: Pool = { subnet: prefixString(subnet), gateway: formatIp(4, gw.addr) };
    const config: IpamConfigEntry[] = [{ Subnet: pool4.subnet, Gateway: pool4.gateway }];
    if (this.cfg.fixedCidr) {
      const r = parseCidr(this.cfg.fixedCidr);
      if (!r || r.family !== 4 || !overlaps(r, subnet) || r.bits < subnet.bits) throw invalidArgument(`setup FixedCIDRv4 failed for subnet ${this.cfg.fixedCidr} in ${pool4.subnet}: container subnet must be a subset of bridge network`);
      pool4.ipRange = prefixString(r);
      config[0]!.IPRange = pool4.ipRange;
    }
    const pools6: Pool[] = [];
    if (this.cfg.ipv6) {
      if (!this.cfg.fixedCidrV6) throw invalidArgument('IPv6 is enabled for the default bridge, but no subnet is configured. Specify an IPv6 subnet using --fixed-cidr-v6');
      const r = parseCidr(this.cfg.fixedCidrV6);
      if (!r || r.family !== 6) throw invalidArgument(`invalid fixed-cidr-v6: ${this.cfg.fixedCidrV6}`);
      const p6: Pool = { subnet: prefixString(r), gateway: formatIp(6, r.base + 1n) };
      pools6.push(p6);
      config.push({ Subnet: p6.subnet, Gateway: p6.gateway });
    }
    const mtu = this.cfg.mtu ?? 1500;
    return this.record({
      id: existing?.id ?? this.newId(),
      name: 'bridge',
      driver: 'bridge',
      bridge: name,
      enableIPv6: !!this.cfg.ipv6,
      ipam: { driver: 'default', options: null, config, pools4: [pool4], pools6, userSubnet4: false, userSubnet6: false },
      options: {
        [OPT.defaultBridge]: 'true',
        [OPT.icc]: String(this.cfg.icc ?? true),
        [OPT.masq]: String(this.cfg.ipMasq ?? true),
        [OPT.hostBinding]: this.cfg.hostBindingIpv4 ?? '0.0.0.0',
        [OPT.name]: name,
        [OPT.mtu]: String(mtu),
      },
      labels: {},
    });
  }

  private record(p: Partial<NetworkRecord> & Pick<NetworkRecord, 'id' | 'name' | 'driver' | 'bridge' | 'ipam' | 'options' | 'labels'>): NetworkRecord {
    return { scope: 'local', created: nowRfc3339Nano(), internal: false, attachable: false, ingress: false, enableIPv6: false, ...p };
  }

  /** Subnets a new network must not overlap: other networks' pools and the host's routes. */
  private async takenPrefixes(except: string | undefined): Promise<Prefix[]> {
    const out: Prefix[] = [];
    for (const n of this.store.all()) {
      if (n.id === except) continue;
      for (const p of [...n.ipam.pools4, ...n.ipam.pools6]) out.push(parseCidr(p.subnet)!);
    }
    for (const r of await this.o.links.hostRoutes()) {
      const p = parseCidr(r.includes('/') ? r : `${r}/${r.includes(':') ? 128 : 32}`);
      if (p && p.bits > 0) out.push(p);
    }
    return out;
  }

  /** The bridge and the firewall rules of a bridge network (idempotent). */
  private async buildBridge(n: NetworkRecord): Promise<void> {
    await this.hostSetup();
    const s = this.settings(n);
    const addresses = [...n.ipam.pools4, ...(n.enableIPv6 ? n.ipam.pools6 : [])].map((p) => `${p.gateway}/${p.subnet.split('/')[1]}`);
    await this.o.links.ensureBridge({ name: n.bridge, addresses, ...(s.mtu ? { mtu: s.mtu } : {}) });
    if (this.o.firewall) {
      const subnets = [...n.ipam.pools4.map((p) => p.subnet), ...(n.enableIPv6 && this.cfg.ip6tables ? n.ipam.pools6.map((p) => p.subnet) : [])];
      await this.o.firewall.setupNetwork({ bridge: n.bridge, subnets, internal: n.internal, masquerade: s.masquerade, icc: s.icc });
    }
  }

  /** A bridge network's driver settings, from its options. */
  private settings(n: NetworkRecord): BridgeSettings {
    const o = n.options;
    const mtu = o[OPT.mtu] !== undefined ? Number(o[OPT.mtu]) : undefined;
    return {
      bridge: n.bridge,
      icc: o[OPT.icc] !== undefined ? parseBool(OPT.icc, o[OPT.icc]!) : true,
      masquerade: o[OPT.masq] !== undefined ? parseBool(OPT.masq, o[OPT.masq]!) : true,
      hostBindingIpv4: o[OPT.hostBinding] ?? this.cfg.hostBindingIpv4 ?? '0.0.0.0',
      ...(mtu ? { mtu } : {}),
      internal: n.internal,
    };
  }

  /** The default bridge's IPv4 gateway (what `host-gateway` stands for unless `--host-gateway-ip`); undefined without one. */
  defaultGateway(): string | undefined {
    return this.store.all().find((n) => n.name === 'bridge')?.ipam.pools4[0]?.gateway;
  }

  /** A bridge network's settings (published ports' default host address…). Throws not-found. */
  bridgeSettings(idOrName: string): BridgeSettings {
    return this.settings(this.resolve(idOrName));
  }

  // ------------------------------------------------------------------ lookups and views

  /**
   * A network by full ID, then exact name, then unique ID prefix (moby's router).
   * Throws not-found `network x not found`, invalid-argument when ambiguous.
   */
  resolve(idOrName: string): NetworkRecord {
    const all = this.store.all();
    const byId = all.find((n) => n.id === idOrName);
    if (byId) return byId;
    const byName = all.filter((n) => n.name === idOrName);
    if (byName.length === 1) return byName[0]!;
    if (byName.length > 1) throw invalidArgument(`${byName.length} matches found based on name: network ${idOrName} is ambiguous`);
    const byPrefix = idOrName === '' ? [] : all.filter((n) => n.id.startsWith(idOrName));
    if (byPrefix.length === 1) return byPrefix[0]!;
    if (byPrefix.length > 1) throw invalidArgument(`${byPrefix.length} matches found based on ID prefix: network ${idOrName} is ambiguous`);
    throw notFound(`network ${idOrName} not found`);
  }

  /** `GET /networks`: Docker's list shape (API ≥ 1.28: `Containers` empty). Throws invalid-argument for a bad filter. */
  list(filters: Map<string, string[]>, opts: { detailed?: boolean } = {}): Record<string, unknown>[] {
    const nets = filterNetworks(this.store.all(), filters, (n) => this.endpointsOfNetwork(n.id).length > 0);
    return nets.map((n) => networkView(n, opts.detailed ? this.endpointsOfNetwork(n.id) : undefined));
  }

  /** `GET /networks/{id}`. Throws not-found, invalid-argument (ambiguous, bad scope). */
  inspect(idOrName: string, opts: { scope?: string } = {}): Record<string, unknown> {
    const n = this.resolve(idOrName);
    if (opts.scope && opts.scope !== n.scope) throw notFound(`network ${idOrName} not found`);
    return networkView(n, this.endpointsOfNetwork(n.id));
  }

  // ------------------------------------------------------------------ create, remove, prune

  /** `POST /networks/create`. Returns `{ Id, Warning }`. Errors in Docker's words and kinds. */
  create(req: NetworkCreateRequest): Promise<{ Id: string; Warning: string }> {
    return this.serial(() => this.createNow(req));
  }

  private async createNow(req: NetworkCreateRequest): Promise<{ Id: string; Warning: string }> {
    const name = req.Name ?? '';
    if (isPredefined(name)) throw forbidden(`operation is not permitted on predefined ${name} network `);
    let warning = '';
    // Docker looks an empty name up as the default network (daemon.GetNetworkByName): a duplicate of it
    const dup = this.store.all().find((n) => n.name === (name || 'bridge'));
    if (dup) {
      if (req.CheckDuplicate) throw conflict(`network with name ${name} already exists`);
      warning = `Network with name ${name} (id : ${dup.id}) already exists`;
    }
    if (name === '') throw internal('invalid name: '); // libnetwork's BadRequest: 500 in Docker
    const driver = req.Driver || 'bridge';
    if (driver === 'host' || driver === 'null') throw forbidden(`only one instance of "${driver}" network is allowed`);
    if (driver === 'overlay') throw internal('This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.');
    if (driver === 'macvlan' || driver === 'ipvlan') throw notImplemented(`network driver ${driver} is not supported by stevedore`);
    if (driver !== 'bridge') throw notFound(`plugin ${JSON.stringify(driver)} not found`);
    if (req.Scope && req.Scope !== 'local') throw forbidden(`cannot downgrade network scope for ${driver} networks`);
    if (req.Ingress) throw forbidden('Ingress network can only be global scope network');
    if (req.ConfigOnly) throw notImplemented('ConfigOnly networks are not supported by stevedore');
    if (req.ConfigFrom?.Network) throw notImplemented('ConfigFrom is not supported by stevedore');
    const ipamDriver = req.IPAM?.Driver || 'default';
    if (ipamDriver !== 'default') throw notFound(`plugin ${JSON.stringify(ipamDriver)} not found`);

    const options = { ...(req.Options ?? {}) };
    const labels = { ...(req.Labels ?? {}) };
    // the bridge driver's options (libnetwork's fromLabels), checked as it parses them
    for (const k of [OPT.icc, OPT.masq, OPT.enableIpv6, OPT.defaultBridge, OPT.inhibitIpv4]) if (options[k] !== undefined) parseBool(k, options[k]!);
    if (options[OPT.mtu] !== undefined && !/^[+-]?\d+$/.test(options[OPT.mtu]!)) throw internal(`failed to parse ${OPT.mtu} value: ${options[OPT.mtu]} (strconv.Atoi: parsing ${JSON.stringify(options[OPT.mtu])}: invalid syntax)`);
    if (options[OPT.mtu] !== undefined && Number(options[OPT.mtu]) < 0) throw internal(`invalid MTU number: ${Number(options[OPT.mtu])}`);
    if (options[OPT.hostBinding] !== undefined && !parseIp(options[OPT.hostBinding]!)) throw internal(`failed to parse ${OPT.hostBinding} value: ${options[OPT.hostBinding]} (nil ip)`);
    if (options[OPT.inhibitIpv4] !== undefined && parseBool(OPT.inhibitIpv4, options[OPT.inhibitIpv4]!)) throw notImplemented(`${OPT.inhibitIpv4} is not supported by stevedore`);
    if (options[OPT.ifPrefix]) throw notImplemented(`${OPT.ifPrefix} is not supported by stevedore`);
    if (options[OPT.hostIp]) throw notImplemented(`${OPT.hostIp} is not supported by stevedore`);
    if (options[OPT.defaultBridge] !== undefined && parseBool(OPT.defaultBridge, options[OPT.defaultBridge]!)) throw forbidden('a default bridge network exists already');

    const id = this.newId();
    const bridge = options[OPT.name] || `br-${shortId(id)}`;
    if (bridge.length > 15) throw invalidArgument(`bridge name ${bridge} is longer than 15 characters`);
    const clash = this.store.all().find((n) => n.bridge === bridge);
    if (clash) throw forbidden(`cannot create network ${id} (${bridge}): conflicts with network ${clash.id} (${clash.bridge}): networks have same bridge name`);

    const ipam = await this.planIpam(id, req, !!req.EnableIPv6, options[OPT.name] ? await this.o.links.linkAddresses(bridge) : undefined);
    const rec = this.record({ id, name, driver, bridge, ipam, options, labels, enableIPv6: !!req.EnableIPv6, internal: !!req.Internal, attachable: !!req.Attachable });
    await this.buildBridge(rec);
    this.store.insert(rec);
    this.o.events.publish('network', 'create', id, { name, type: driver });
    return { Id: id, Warning: warning };
  }

  /** The pools of a new network: the client's (checked) or picked from the default pools. */
  private async planIpam(id: string, req: NetworkCreateRequest, enableIPv6: boolean, existingBridge: string[] | undefined): Promise<NetworkRecord['ipam']> {
    const config = (req.IPAM?.Config ?? []).map((c) => ({ ...c }));
    const v4: Array<IpamConfigEntry & { prefix: Prefix & { addr: bigint } }> = [];
    const v6: typeof v4 = [];
    for (const c of config) {
      if (c.Gateway && !parseIp(c.Gateway)) throw internal(`invalid gateway address ${c.Gateway} in Ipam configuration`);
      if (!c.Subnet) {
        // moby's getIpamConfig parses every entry's subnet
        throw internal(`Invalid subnet  : invalid CIDR address: `);
      }
      const p = parseCidr(c.Subnet);
      if (!p) throw internal(`Invalid subnet ${c.Subnet} : invalid CIDR address: ${c.Subnet}`);
      (p.family === 4 ? v4 : v6).push({ ...c, prefix: p });
    }
    if (v4.length > 1 || v6.length > 1) throw forbidden("bridge driver doesn't support multiple subnets");
    const taken = await this.takenPrefixes(id);
    const poolOf = (c: (typeof v4)[number]): Pool => {
      const subnet: Prefix = { family: c.prefix.family, base: c.prefix.base, bits: c.prefix.bits };
      if (taken.some((t) => overlaps(t, subnet))) throw forbidden('Pool overlaps with other one on this address space');
      const pool: Pool = { subnet: prefixString(subnet), gateway: '' };
      if (c.IPRange) {
        const r = parseCidr(c.IPRange);
        if (!r || r.family !== subnet.family || r.bits < subnet.bits || !contains(subnet, r.family, r.base)) throw internal('Invalid Address SubPool');
        pool.ipRange = prefixString(r);
      }
      if (c.Gateway) {
        const g = parseIp(c.Gateway)!;
        if (!contains(subnet, g.family, g.value)) throw internal(`failed to allocate gateway (${c.Gateway}): Requested address is out of range`);
        pool.gateway = formatIp(g.family, g.value);
      } else {
        pool.gateway = formatIp(subnet.family, subnet.base + 1n);
        if (pool.ipRange) {
          // libnetwork takes the gateway from the range when one is given
          const r = parseCidr(pool.ipRange)!;
          pool.gateway = formatIp(subnet.family, r.base === subnet.base ? r.base + 1n : r.base);
        }
      }
      for (const [k, v] of Object.entries(c.AuxiliaryAddresses ?? {})) {
        const a = parseIp(v);
        if (!a) throw internal(`non parsable secondary ip address (${k}:${v}) passed for network ${req.Name ?? ''}`);
        if (!contains(subnet, a.family, a.value)) throw forbidden(`auxiliary address: (${k}:${v}) must belong to the master pool: ${pool.subnet}`);
      }
      if (c.AuxiliaryAddresses && Object.keys(c.AuxiliaryAddresses).length) pool.aux = { ...c.AuxiliaryAddresses };
      return pool;
    };
    let pools4: Pool[];
    if (v4.length) pools4 = v4.map(poolOf);
    else {
      const own = (existingBridge ?? []).map(parseCidr).find((p) => p?.family === 4);
      const subnet = own ? { family: 4 as const, base: own.base, bits: own.bits } : pickSubnet(this.cfg.defaultAddressPools ?? DEFAULT_ADDRESS_POOLS, taken);
      pools4 = [{ subnet: prefixString(subnet), gateway: formatIp(4, own ? own.addr : subnet.base + 1n) }];
    }
    let pools6: Pool[] = [];
    if (v6.length) pools6 = v6.map(poolOf);
    else if (enableIPv6) throw notFound('could not find an available, non-overlapping IPv6 address pool among the defaults to assign to the network');
    if (!enableIPv6) pools6 = [];
    return {
      driver: req.IPAM?.Driver || 'default',
      options: req.IPAM?.Options ?? null,
      config: config.map((c) => ({ ...(c.Subnet ? { Subnet: c.Subnet } : {}), ...(c.IPRange ? { IPRange: c.IPRange } : {}), ...(c.Gateway ? { Gateway: c.Gateway } : {}), ...(c.AuxiliaryAddresses ? { AuxiliaryAddresses: c.AuxiliaryAddresses } : {}) })),
      pools4,
      pools6,
      userSubnet4: v4.length > 0,
      userSubnet6: v6.length > 0,
    };
  }

  /**
   * `DELETE /networks/{id}`. Throws not-found; forbidden for a predefined network
   * (`bridge is a pre-defined network and cannot be removed`) and for one with endpoints
   * (`error while removing network: network x id … has active endpoints`).
   */
  remove(idOrName: string): Promise<void> {
    return this.serial(async () => {
      const n = this.resolve(idOrName);
      if (isPredefined(n.name)) throw forbidden(`${n.name} is a pre-defined network and cannot be removed`);
      if (this.endpointsOfNetwork(n.id).length > 0) throw forbidden(`error while removing network: network ${n.name} id ${n.id} has active endpoints`);
      await this.teardown(n);
      this.o.events.publish('network', 'destroy', n.id, { name: n.name, type: n.driver });
    });
  }

  private async teardown(n: NetworkRecord): Promise<void> {
    if (n.driver === 'bridge') {
      if (this.o.firewall) await this.o.firewall.teardownNetwork(n.bridge);
      await this.o.links.deleteBridge(n.bridge);
    }
    this.store.delete(n.id);
    await this.publishDns();
  }

  /**
   * `POST /networks/prune`: custom networks without endpoints, kept by `until` (created
   * after it) and `label`/`label!` (moby's localNetworkPrune). `NetworksDeleted` is null
   * when none went, as Docker's nil slice. Throws invalid-argument for an unknown filter
   * or a bad `until`.
   */
  prune(filters: Map<string, string[]>): Promise<{ NetworksDeleted: string[] | null }> {
    validatePruneFilters(filters, UNTIL_AND_LABELS);
    const until = pruneUntil(filters);
    return this.serial(async () => {
      const deleted: string[] = [];
      for (const n of this.store.all()) {
        if (isPredefined(n.name)) continue;
        if (keptByUntil(until, rfc3339ToNanos(n.created))) continue;
        if (!matchPruneLabels(filters, n.labels)) continue;
        if (this.store.endpointsOfNetwork(n.id).length > 0) continue;
        try {
          await this.teardown(n);
          this.o.events.publish('network', 'destroy', n.id, { name: n.name, type: n.driver });
          deleted.push(n.name);
        } catch (err) {
          this.o.log.warn('could not remove local network', { name: n.name, err: String(err) });
        }
      }
      this.o.events.publish('network', 'prune', '', { reclaimed: '0' });
      return { NetworksDeleted: deleted.length ? deleted : null };
    });
  }

  // ------------------------------------------------------------------ endpoints

  /** The names the resolver answers for an endpoint (user-defined networks only). */
  private dnsNamesOf(n: NetworkRecord, containerName: string, aliases: string[]): string[] {
    if (isPredefined(n.name)) return [];
    return [...new Set([containerName, ...aliases].map((s) => s.toLowerCase()))];
  }

  /**
   * Joins container `c` to `network`: allocates its addresses (static ones when asked),
   * creates the veth into the bridge with the addresses (and the default route when
   * `opts.gateway`), records the endpoint, updates the resolver's table and publishes
   * `network connect`. Throws not-found, forbidden `endpoint with name x already exists in
   * network y`, invalid-argument (static addresses or aliases where Docker refuses them),
   * IPAM errors (`Address already in use`, …).
   */
  join(c: { id: string; name: string; hostname?: string }, network: string, netnsPath: string, ifName: string, req: EndpointRequest, opts: { gateway: boolean }): Promise<JoinedEndpoint> {
    return this.serial(() => this.joinNow(c, network, netnsPath, ifName, req, opts));
  }

  private async joinNow(c: { id: string; name: string; hostname?: string }, network: string, netnsPath: string, ifName: string, req: EndpointRequest, opts: { gateway: boolean }): Promise<JoinedEndpoint> {
    const n = this.resolve(network);
    const name = c.name.replace(/^\//, '');
    if (this.endpointRow(n.id, c.id)) throw forbidden(`endpoint with name ${name} already exists in network ${n.name}`);
    const userDefined = !isPredefined(n.name);
    if (!userDefined && (req.ipv4 || req.ipv6)) throw invalidArgument('user specified IP address is supported on user defined networks only');
    if (!userDefined && (req.aliases ?? []).length > 0) throw invalidArgument('network-scoped alias is supported only for containers in user defined networks');
    if (req.ipv4 && !n.ipam.userSubnet4) throw invalidArgument('user specified IP address is supported only when connecting to networks with user configured subnets');
    if (req.ipv6 && !n.ipam.userSubnet6) throw invalidArgument('user specified IP address is supported only when connecting to networks with user configured subnets');
    // Docker 20.10 records the short ID (and a hostname other than the name) as aliases on user-defined networks
    const aliases = [...(req.aliases ?? [])];
    if (userDefined) {
      if (!aliases.includes(shortId(c.id))) aliases.push(shortId(c.id));
      if (c.hostname && c.hostname !== name && !aliases.includes(c.hostname)) aliases.push(c.hostname);
    }
    const ipamConfig = req.ipv4 || req.ipv6 ? { ...(req.ipv4 ? { IPv4Address: req.ipv4 } : {}), ...(req.ipv6 ? { IPv6Address: req.ipv6 } : {}) } : undefined;
    if (n.driver !== 'bridge') {
      // host and null: an endpoint without an interface (Docker records one too)
      const ep: EndpointRecord = { networkId: n.id, containerId: c.id, id: this.newId(), containerName: name, mac: '', hostIfName: '', ifName: '', gateway: false, aliases, dnsNames: [], links: req.links ?? [], ...(ipamConfig ? { ipamConfig } : {}) };
      this.bare.set(`${n.id}/${c.id}`, ep);
      this.o.events.publish('network', 'connect', n.id, { container: c.id, name: n.name, type: n.driver });
      return this.joined(n, ep);
    }
    // addresses and the row in one transaction: the leases are the rows
    const ep = this.store.tx(() => {
      const used = new Set(this.endpointsOfNetwork(n.id).flatMap((e) => [e.ipv4, e.ipv6].filter((x): x is string => !!x).map((x) => x.split('/')[0]!)));
      const lease = (pools: Pool[], preferred: string | undefined): string | undefined => {
        const pool = pools[0];
        if (!pool) return undefined;
        const { address, cursor } = allocate(pool, used, this.store.cursor(n.id, pool.subnet), preferred);
        if (!preferred) this.store.setCursor(n.id, pool.subnet, cursor);
        return `${address}/${pool.subnet.split('/')[1]}`;
      };
      const ipv4 = lease(n.ipam.pools4, req.ipv4);
      const ipv6 = n.enableIPv6 ? lease(n.ipam.pools6, req.ipv6) : undefined;
      const rec: EndpointRecord = {
        networkId: n.id,
        containerId: c.id,
        id: this.newId(),
        containerName: name,
        ...(ipv4 ? { ipv4 } : {}),
        ...(ipv6 ? { ipv6 } : {}),
        mac: req.macAddress ? req.macAddress.toLowerCase().replace(/-/g, ':') : macFor(ipv4?.split('/')[0], () => this.random(4)),
        hostIfName: `veth${this.random(4).toString('hex').slice(0, 7)}`,
        ifName,
        gateway: opts.gateway && !n.internal,
        aliases,
        dnsNames: this.dnsNamesOf(n, name, aliases),
        links: req.links ?? [],
        ...(ipamConfig ? { ipamConfig } : {}),
        ...(req.nameservers?.length || req.ndotsSet ? { dns: { ...(req.nameservers?.length ? { nameservers: req.nameservers } : {}), ...(req.ndotsSet ? { ndotsSet: true } : {}) } } : {}),
      };
      this.store.insertEndpoint(rec);
      return rec;
    });
    const joined = this.joined(n, ep);
    try {
      await this.o.links.addEndpoint({
        bridge: n.bridge,
        hostIfName: ep.hostIfName,
        netnsPath,
        ifName,
        mac: ep.mac,
        addresses: [ep.ipv4, ep.ipv6].filter((x): x is string => !!x),
        ...(ep.gateway && joined.gateway4 ? { gateway4: joined.gateway4 } : {}),
        ...(ep.gateway && joined.gateway6 ? { gateway6: joined.gateway6 } : {}),
        ...(this.settings(n).mtu ? { mtu: this.settings(n).mtu } : {}),
      });
      if (this.o.firewall && this.o.hairpin) await this.o.hairpin(ep.hostIfName);
    } catch (err) {
      this.store.deleteEndpoint(n.id, c.id);
      await this.o.links.removeEndpoint(ep.hostIfName).catch(() => undefined);
      throw err;
    }
    // the resolver answers on user-defined networks only (dnsTable): a start on the
    // default bridge leaves its table as it is
    if (!isPredefined(n.name)) await this.publishDns();
    this.o.events.publish('network', 'connect', n.id, { container: c.id, name: n.name, type: n.driver });
    return joined;
  }

  private joined(n: NetworkRecord, e: EndpointRecord): JoinedEndpoint {
    const out: JoinedEndpoint = {
      networkId: n.id,
      networkName: n.name,
      endpointId: e.id,
      bridge: n.bridge,
      mac: e.mac,
      hostIfName: e.hostIfName,
      ifName: e.ifName,
      aliases: e.aliases,
      dnsNames: e.dnsNames,
      links: e.links,
      gateway: e.gateway,
      ...(e.ipamConfig ? { ipamConfig: e.ipamConfig } : {}),
    };
    if (e.ipv4) out.ipv4 = e.ipv4;
    if (e.ipv6) out.ipv6 = e.ipv6;
    if (n.driver === 'bridge' && !n.internal) {
      if (n.ipam.pools4[0] && e.ipv4) out.gateway4 = n.ipam.pools4[0].gateway;
      if (n.ipam.pools6[0] && e.ipv6) out.gateway6 = n.ipam.pools6[0].gateway;
    }
    return out;
  }

  /**
   * Releases container `containerId`'s endpoint on `network` (by id or name; a network
   * already gone is skipped): its veth, its addresses, its names; publishes `network
   * disconnect`. Idempotent.
   */
  leave(containerId: string, network: string): Promise<void> {
    return this.serial(() => this.leaveNow(containerId, network));
  }

  /**
   * The same for a container whose network namespace goes away with it (the start hook's
   * release after an exit, a failed start or a removal): the endpoint's record, its
   * addresses, its names and the `network disconnect` event are done when this
   * resolves; the veth's deletion — ~10 ms of the kernel's RCU waits, nothing anyone
   * can observe through the API — goes on in `teardown`, off the exit's critical path.
   * Crash safety: a veth whose deletion a crash cut off lives in the container's
   * namespace, which the start hook removes (or, after a crash, its reconciliation at
   * restore), and the kernel deletes both ends of a veth with the namespace.
   */
  leaveDeferred(containerId: string, network: string): Promise<{ teardown: Promise<void> }> {
    return this.serial(async () => {
      let veth = '';
      await this.leaveNow(containerId, network, (name) => (veth = name));
      if (!veth) return { teardown: Promise.resolve() };
      const p: Promise<void> = this.o.links
        .removeEndpoint(veth)
        .catch((err) => this.o.log.warn('cannot delete a veth', { veth, err: String(err) }))
        .finally(() => this.teardowns.delete(p));
      this.teardowns.add(p);
      return { teardown: p };
    });
  }

  private async leaveNow(containerId: string, network: string, deferVeth?: (hostIfName: string) => void): Promise<void> {
    let n: NetworkRecord;
    try {
      n = this.resolve(network);
    } catch {
      return;
    }
    const ep = this.endpointRow(n.id, containerId);
    if (!ep) return;
    if (ep.hostIfName) {
      if (deferVeth) deferVeth(ep.hostIfName);
      else await this.o.links.removeEndpoint(ep.hostIfName);
    }
    this.dropEndpointRow(n.id, containerId);
    if (n.driver === 'bridge' && !isPredefined(n.name)) await this.publishDns();
    this.o.events.publish('network', 'disconnect', n.id, { container: containerId, name: n.name, type: n.driver });
  }

  /** Releases every endpoint of a container (its stop). Idempotent. */
  async leaveAll(containerId: string): Promise<void> {
    for (const e of this.endpointsOfContainer(containerId)) await this.leave(containerId, e.networkId);
  }

  /** A container's endpoints, in the order it joined. */
  endpointsOf(containerId: string): JoinedEndpoint[] {
    const out: JoinedEndpoint[] = [];
    for (const e of this.endpointsOfContainer(containerId)) {
      const n = this.store.get(e.networkId);
      if (n) out.push(this.joined(n, e));
    }
    return out;
  }

  /**
   * A running container's lease-less endpoints after a daemon restart (live restore): the
   * start hook hands back what its network.json recorded. Endpoints on bridge networks
   * are rows of the database and need nothing.
   */
  adoptEndpoints(c: { id: string; name: string }, endpoints: readonly JoinedEndpoint[]): void {
    for (const e of endpoints) {
      const n = this.store.get(e.networkId);
      if (!n || n.driver === 'bridge' || this.endpointRow(n.id, c.id)) continue;
      this.bare.set(`${n.id}/${c.id}`, {
        networkId: n.id,
        containerId: c.id,
        id: e.endpointId,
        containerName: c.name.replace(/^\//, ''),
        mac: '',
        hostIfName: '',
        ifName: '',
        gateway: false,
        aliases: [...e.aliases],
        dnsNames: [],
        links: [...e.links],
        ...(e.ipamConfig ? { ipamConfig: e.ipamConfig } : {}),
      });
    }
  }

  /** An endpoint: lease-less ones from memory, the others (and an older release's lease-less rows) from the database. */
  private endpointRow(networkId: string, containerId: string): EndpointRecord | undefined {
    return this.bare.get(`${networkId}/${containerId}`) ?? this.store.endpoint(networkId, containerId);
  }

  private endpointsOfNetwork(networkId: string): EndpointRecord[] {
    const rows = this.store.endpointsOfNetwork(networkId);
    for (const e of this.bare.values()) if (e.networkId === networkId) rows.push(e);
    return rows;
  }

  private endpointsOfContainer(containerId: string): EndpointRecord[] {
    const rows = this.store.endpointsOfContainer(containerId);
    for (const e of this.bare.values()) if (e.containerId === containerId) rows.push(e);
    return rows;
  }

  private dropEndpointRow(networkId: string, containerId: string): void {
    if (!this.bare.delete(`${networkId}/${containerId}`)) this.store.deleteEndpoint(networkId, containerId);
  }

  /** The container was renamed: its DNS names follow (Docker: the embedded DNS answers the new name). */
  async containerRenamed(containerId: string, newName: string): Promise<void> {
    const name = newName.replace(/^\//, '');
    for (const e of this.bare.values()) if (e.containerId === containerId) e.containerName = name;
    this.store.renameContainer(containerId, name, (e) => {
      const n = this.store.get(e.networkId);
      return n ? this.dnsNamesOf(n, name, e.aliases) : [];
    });
    await this.publishDns();
  }

  // ------------------------------------------------------------------ connect / disconnect (the API's)

  /**
   * `POST /networks/{id}/connect` (moby's ConnectToNetwork): a stopped container records
   * the network (joined at its next start); a running one joins now on the next free
   * `ethN`. Errors in Docker's words.
   */
  async connect(networkRef: string, containerRef: string, cfg: EndpointConfig | null | undefined): Promise<void> {
    const lookup = this.lookup();
    const c = lookup.get(containerRef);
    const epc: EndpointConfig = { ...(cfg ?? {}) };
    if (c.removing) throw conflict(`Could not connect container ${c.id}: removal of container ${c.id} is already in progress`);
    if (c.networkMode.startsWith('container:')) throw invalidArgument('container sharing network namespace with another container or host cannot be connected to any other network');
    const n = this.resolve(networkRef);
    this.checkConnect(c, n, epc);
    if (c.networks[n.name] !== undefined && !c.running) return; // moby: "avoid duplicate config"
    if (c.running) {
      if (!c.netnsPath && n.driver === 'bridge') throw invalidArgument('container sharing network namespace with another container or host cannot be connected to any other network');
      const used = new Set(this.endpointsOf(c.id).map((e) => e.ifName));
      let i = 0;
      while (used.has(`eth${i}`)) i++;
      const hasGateway = this.endpointsOf(c.id).some((e) => e.gateway);
      await this.join(
        { id: c.id, name: c.name, ...(c.hostname ? { hostname: c.hostname } : {}) },
        n.id,
        c.netnsPath ?? '',
        `eth${i}`,
        {
          ...(epc.Aliases?.length ? { aliases: epc.Aliases } : {}),
          ...(epc.IPAMConfig?.IPv4Address ? { ipv4: epc.IPAMConfig.IPv4Address } : {}),
          ...(epc.IPAMConfig?.IPv6Address ? { ipv6: epc.IPAMConfig.IPv6Address } : {}),
          ...(epc.Links?.length ? { links: epc.Links } : {}),
          ...(epc.MacAddress ? { macAddress: epc.MacAddress } : {}),
          ...(epc.DriverOpts ? { driverOpts: epc.DriverOpts } : {}),
        },
        { gateway: !hasGateway },
      );
    }
    const networks = { ...c.networks, [n.name]: { ...epc, NetworkID: n.id } };
    try {
      await lookup.setNetworks(c.id, networks);
    } catch (err) {
      if (c.running) await this.leave(c.id, n.id);
      throw err;
    }
    if (c.running && lookup.endpointsChanged) await lookup.endpointsChanged(c.id);
  }

  /** moby's updateNetworkSettings and validateNetworkingConfig checks. */
  private checkConnect(c: NetContainer, n: NetworkRecord, epc: EndpointConfig): void {
    if (c.networkMode !== 'host' && n.driver === 'host') throw invalidArgument('container cannot be disconnected from host network or connected to host network');
    for (const name of Object.keys(c.networks)) {
      let other: NetworkRecord;
      try {
        other = this.resolve(c.networks[name]?.NetworkID || name);
      } catch {
        continue;
      }
      if (other.id === n.id) {
        if (c.running) throw forbidden(`endpoint with name ${c.name} already exists in network ${n.name}`);
        return;
      }
      if (other.driver === 'host' || n.driver === 'host') throw invalidArgument('container sharing network namespace with another container or host cannot be connected to any other network');
      if (other.name === 'none' || n.name === 'none') throw invalidArgument('container cannot be connected to multiple networks with one of the networks in private (none) mode');
    }
    const userDefined = !isPredefined(n.name);
    const ip4 = epc.IPAMConfig?.IPv4Address ?? '';
    const ip6 = epc.IPAMConfig?.IPv6Address ?? '';
    if (!userDefined && (ip4 || ip6 || (epc.IPAMConfig?.LinkLocalIPs ?? []).length)) throw invalidArgument('user specified IP address is supported on user defined networks only');
    if (!userDefined && (epc.Aliases ?? []).length) throw invalidArgument('network-scoped alias is supported only for containers in user defined networks');
    if ((ip4 && !n.ipam.userSubnet4) || (ip6 && !n.ipam.userSubnet6)) throw invalidArgument('user specified IP address is supported only when connecting to networks with user configured subnets');
    if ((epc.IPAMConfig?.LinkLocalIPs ?? []).length) throw notImplemented('IPAMConfig.LinkLocalIPs is not supported by stevedore');
  }

  /**
   * `POST /networks/{id}/disconnect` (moby's DisconnectFromNetwork): a stopped container
   * forgets the network; a running one leaves it now. With `force`, a container that is
   * gone has its endpoint released anyway.
   */
  async disconnect(networkRef: string, containerRef: string, force = false): Promise<void> {
    const lookup = this.lookup();
    let c: NetContainer;
    try {
      c = lookup.get(containerRef);
    } catch (err) {
      if (!force) throw err;
      // moby's ForceEndpointDelete: the endpoint of a container that is gone
      const n = this.resolve(networkRef);
      const ep = this.endpointsOfNetwork(n.id).find((e) => e.containerName === containerRef.replace(/^\//, '') || e.containerId === containerRef);
      if (!ep) throw err;
      await this.leave(ep.containerId, n.id);
      return;
    }
    let n: NetworkRecord | undefined;
    let findErr: unknown;
    try {
      n = this.resolve(networkRef);
    } catch (err) {
      findErr = err;
    }
    if (!c.running || (findErr !== undefined && force)) {
      if (c.removing) throw conflict(`Could not disconnect container ${c.id}: removal of container ${c.id} is already in progress`);
      const name = n ? n.name : networkRef;
      if (c.networks[name] === undefined) throw internal(`container ${c.id} is not connected to the network ${name}`);
      const networks = { ...c.networks };
      delete networks[name];
      await lookup.setNetworks(c.id, networks);
      if (n) this.o.events.publish('network', 'disconnect', n.id, { container: c.id, name: n.name, type: n.driver });
      return;
    }
    if (!n) throw findErr;
    if (c.networkMode === 'host' && n.driver === 'host') throw invalidArgument('container cannot be disconnected from host network or connected to host network');
    if (!this.endpointRow(n.id, c.id) && c.networks[n.name] === undefined) throw internal(`container ${c.id} is not connected to network ${n.name}`);
    await this.leave(c.id, n.id);
    const networks = { ...c.networks };
    delete networks[n.name];
    await lookup.setNetworks(c.id, networks);
    if (lookup.endpointsChanged) await lookup.endpointsChanged(c.id);
  }

  // ------------------------------------------------------------------ the resolver's table

  /**
   * The resolver's table (the resolver's extended shape, engine/network/dns/table.ts):
   * every user-defined bridge network with endpoints — its name, gateways (where it
   * listens), subnets (who may ask), whether it is internal — and each endpoint's names,
   * addresses, container (so a container on several networks sees all their names),
   * links as aliases (`--link db:mydb`), and its own upstream servers.
   */
  dnsTable(): ResolverNetwork[] {
    const out: ResolverNetwork[] = [];
    for (const n of this.store.all()) {
      if (n.driver !== 'bridge' || isPredefined(n.name)) continue;
      const eps = this.endpointsOfNetwork(n.id);
      if (eps.length === 0) continue;
      const pools = [...n.ipam.pools4, ...(n.enableIPv6 ? n.ipam.pools6 : [])];
      out.push({
        id: n.id,
        name: n.name,
        internal: n.internal,
        subnets: pools.map((p) => p.subnet),
        listen: pools.map((p) => p.gateway),
        records: eps.map((e) => {
          const links: Record<string, string> = {};
          for (const l of e.links) {
            const [name, alias] = l.replace(/^\//, '').split(':');
            if (name) links[(alias ?? name).replace(/^.*\//, '').toLowerCase()] = name.toLowerCase();
          }
          return {
            names: e.dnsNames,
            ipv4: e.ipv4 ? [e.ipv4.split('/')[0]!] : [],
            ipv6: e.ipv6 ? [e.ipv6.split('/')[0]!] : [],
            container: e.containerId,
            ...(Object.keys(links).length ? { links } : {}),
            ...(e.dns?.nameservers?.length ? { nameservers: e.dns.nameservers } : {}),
            ...(e.dns?.ndotsSet ? { ndotsSet: true } : {}),
          };
        }),
      });
    }
    return out;
  }

  private async publishDns(force = false): Promise<void> {
    if (!this.o.dns) return;
    try {
      const table = this.dnsTable();
      if (!this.dnsStarted) {
        if (table.length === 0 && !force) return;
        await this.o.dns.start();
        this.dnsStarted = true;
      }
      await this.o.dns.update(table);
    } catch (err) {
      this.o.log.error('cannot update the resolver', { err: String(err) });
    }
  }
}

function emptyIpam(): NetworkRecord['ipam'] {
  return { driver: 'default', options: null, config: [], pools4: [], pools6: [], userSubnet4: false, userSubnet6: false };
}
