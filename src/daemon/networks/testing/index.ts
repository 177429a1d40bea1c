/**
 * In-memory fakes of the data plane's interfaces (engine/network/types.ts) and of the
 * container lookup, for the network service's unit tests and for other daemon tests
 * that need a network service without root.
 */
import { notFound } from '../../../engine/errdefs';
import type { BridgeSpec, Cidr, DnsNetwork, EndpointSpec, Firewall, FirewallNetwork, LinkOps, NameService, PortAllocator, PortMapping, PortReservation, Proto } from '../../../engine/network/types';
import type { ContainerLookup, EndpointConfig, NetContainer } from '../types';

export class FakeLinks implements LinkOps {
  readonly bridges = new Map<string, BridgeSpec>();
  readonly endpoints = new Map<string, EndpointSpec>();
  /** links that exist on the "host" before the daemon (name → addresses) */
  readonly hostLinks = new Map<string, Cidr[]>();
  routes: Cidr[] = [];
  /** set to make the next addEndpoint fail */
  failNextEndpoint: Error | undefined;

  async ensureBridge(b: BridgeSpec): Promise<void> {
    this.bridges.set(b.name, b);
  }
  async deleteBridge(name: string): Promise<void> {
    this.bridges.delete(name);
    this.hostLinks.delete(name);
  }
  async linkAddresses(name: string): Promise<Cidr[] | undefined> {
    return this.bridges.get(name)?.addresses ?? this.hostLinks.get(name);
  }
  async addEndpoint(e: EndpointSpec): Promise<void> {
    if (this.failNextEndpoint) {
      const err = this.failNextEndpoint;
      this.failNextEndpoint = undefined;
      throw err;
    }
    if (!this.bridges.has(e.bridge)) throw new Error(`no bridge ${e.bridge}`);
    this.endpoints.set(e.hostIfName, e);
  }
  async removeEndpoint(hostIfName: string): Promise<void> {
    this.endpoints.delete(hostIfName);
  }
  async removeInNamespace(netnsPath: string, ifName: string): Promise<void> {
    for (const [k, e] of this.endpoints) if (e.netnsPath === netnsPath && e.ifName === ifName) this.endpoints.delete(k);
  }
  async hostRoutes(): Promise<Cidr[]> {
    return [...this.routes, ...[...this.bridges.values()].flatMap((b) => b.addresses)];
  }
}

export class FakeFirewall implements Firewall {
  inits = 0;
  readonly networks = new Map<string, FirewallNetwork>();
  readonly published: PortMapping[] = [];
  async init(): Promise<void> {
    this.inits++;
  }
  async setupNetwork(n: FirewallNetwork): Promise<void> {
    this.networks.set(n.bridge, n);
  }
  async teardownNetwork(bridge: string): Promise<void> {
    this.networks.delete(bridge);
  }
  async publish(p: PortMapping): Promise<void> {
    this.published.push(p);
  }
  async unpublish(p: PortMapping): Promise<void> {
    const i = this.published.findIndex((x) => x.proto === p.proto && x.hostIp === p.hostIp && x.hostPort === p.hostPort);
    if (i >= 0) this.published.splice(i, 1);
  }
}

export class FakePorts implements PortAllocator {
  readonly held = new Set<string>();
  private next = 49153;
  async reserve(proto: Proto, hostIp: string, port?: number): Promise<PortReservation> {
    const p = port || this.next++;
    const key = `${proto}/${hostIp}/${p}`;
    if (this.held.has(key)) throw new Error(`listen ${proto} ${hostIp}:${p}: bind: address already in use`);
    this.held.add(key);
    return { proto, hostIp, port: p, release: async () => void this.held.delete(key) };
  }
}

export class FakeNameService implements NameService {
  started = 0;
  table: DnsNetwork[] = [];
  updates = 0;
  async start(): Promise<void> {
    this.started++;
  }
  async update(networks: DnsNetwork[]): Promise<void> {
    this.table = networks;
    this.updates++;
  }
  async stop(): Promise<void> {
    this.started = 0;
  }
}

/** Containers in memory: tests add them and flip `running`. */
export class FakeContainers implements ContainerLookup {
  readonly items: NetContainer[] = [];
  changed: string[] = [];

  add(c: Partial<NetContainer> & { id: string; name: string }): NetContainer {
    const full: NetContainer = { running: false, networkMode: 'bridge', networks: {}, ...c };
    this.items.push(full);
    return full;
  }
  get(ref: string): NetContainer {
    const c = this.items.find((x) => x.id === ref || x.name === ref.replace(/^\//, '')) ?? this.items.filter((x) => x.id.startsWith(ref)).at(0);
    if (!c) throw notFound(`No such container: ${ref}`);
    return c;
  }
  list(): NetContainer[] {
    return this.items;
  }
  setNetworks(id: string, networks: Record<string, EndpointConfig>): void {
    this.get(id).networks = networks;
  }
  async endpointsChanged(id: string): Promise<void> {
    this.changed.push(id);
  }
}
