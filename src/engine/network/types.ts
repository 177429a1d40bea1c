/**
 * The network data plane's interfaces (docs/networking.md). The engine provides the
 * mechanisms — namespaces, links, firewall rules, port reservations, the resolver — and
 * knows nothing of Docker's network objects; the daemon (daemon/networks) decides what to
 * build with them. Kept in one place so the pieces are written against the same shapes.
 */

/** An address with its prefix, `172.17.0.2/16` or `fd00::2/64`. */
export type Cidr = string;

/** Network namespaces, bind-mounted at `<execRoot>/netns/<name>` (as Docker's libnetwork does). */
export interface NetnsManager {
  /** Creates a namespace with `lo` up (or takes one prepared ahead); returns its path. */
  create(name: string): Promise<string>;
  /** Unmounts and unlinks it. Idempotent: a missing namespace is not an error. */
  remove(name: string): Promise<void>;
  /** The names bind-mounted now (for reconciling after a crash). */
  list(): Promise<string[]>;
  /** The path a name would have. */
  pathOf(name: string): string;
}

export interface BridgeSpec {
  /** `docker0`, `br-<12 hex>` */
  name: string;
  /** the gateway addresses, with the subnet's prefix (`172.17.0.1/16`) */
  addresses: Cidr[];
  mtu?: number;
}

/** One container's interface on a bridge. */
export interface EndpointSpec {
  /** the bridge the host side joins */
  bridge: string;
  /** the host side of the veth pair (`veth` + 7 hex, at most 15 bytes) */
  hostIfName: string;
  /** the container's namespace */
  netnsPath: string;
  /** the name inside the container: `eth0`, `eth1`, … */
  ifName: string;
  /** `02:42:ac:11:00:02` */
  mac: string;
  addresses: Cidr[];
  /** default routes to set (only for the endpoint that gives the container its gateway) */
  gateway4?: string;
  gateway6?: string;
  mtu?: number;
}

/** Links and addresses: the bridge path, done without spawning a process per container where possible. */
export interface LinkOps {
  /** Creates the bridge if missing (or adopts an existing one), sets its addresses and MTU, brings it up. */
  ensureBridge(b: BridgeSpec): Promise<void>;
  /** Deletes a bridge. Idempotent. */
  deleteBridge(name: string): Promise<void>;
  /** Whether a link of that name exists on the host, and its IPv4/IPv6 addresses. */
  linkAddresses(name: string): Promise<Cidr[] | undefined>;
  /** Creates the veth pair, moves the peer into the namespace as `ifName` with its MAC, addresses and routes, up. */
  addEndpoint(e: EndpointSpec): Promise<void>;
  /** Deletes the host side (the kernel deletes the peer). Idempotent. */
  removeEndpoint(hostIfName: string): Promise<void>;
  /** Deletes an interface inside a namespace (disconnect of a running container). Idempotent. */
  removeInNamespace(netnsPath: string, ifName: string): Promise<void>;
  /** The host's routes' destinations (to keep new subnets clear of networks the host has). */
  hostRoutes(): Promise<Cidr[]>;
}

/** What the firewall sets up once per bridge network. */
export interface FirewallNetwork {
  bridge: string;
  subnets: Cidr[];
  /** `Internal`: no traffic leaves the bridge (no masquerade, no forward out) */
  internal: boolean;
  /** masquerade outbound traffic from the subnets (dockerd `--ip-masq`, the network option `com.docker.network.bridge.enable_ip_masquerade`) */
  masquerade: boolean;
  /** inter-container connectivity on the bridge (`--icc`, `com.docker.network.bridge.enable_icc`) */
  icc: boolean;
}

export type Proto = 'tcp' | 'udp' | 'sctp';

/** One published port: host side and container side. */
export interface PortMapping {
  proto: Proto;
  /** '' or '0.0.0.0' for every IPv4 address; '::' for every IPv6 address */
  hostIp: string;
  hostPort: number;
  containerIp: string;
  containerPort: number;
  /** the bridge the container sits on */
  bridge: string;
}

/** NAT, forwarding and published ports in iptables (chains of our own, rules once per network). */
export interface Firewall {
  /** Installs our chains and the jumps to them if missing. Idempotent. */
  init(): Promise<void>;
  /** Rules for a bridge network (forward, isolation, masquerade). Idempotent. */
  setupNetwork(n: FirewallNetwork): Promise<void>;
  /** Removes the network's rules. Idempotent. */
  teardownNetwork(bridge: string): Promise<void>;
  /** The DNAT (and hairpin) rules of one published port. Idempotent. */
  publish(p: PortMapping): Promise<void>;
  unpublish(p: PortMapping): Promise<void>;
}

/** A host port held by the daemon so nothing else takes it while it is published. */
export interface PortReservation {
  readonly proto: Proto;
  readonly hostIp: string;
  readonly port: number;
  release(): Promise<void>;
}

export interface PortAllocator {
  /**
   * Reserves `port` (or, when 0/undefined, a free one from the ephemeral range), on
   * `hostIp`. A port in use fails with Docker's words (conflict kind):
   * `... bind: address already in use`.
   */
  reserve(proto: Proto, hostIp: string, port?: number): Promise<PortReservation>;
}

/** One name the resolver answers on one network. */
export interface DnsRecord {
  /** container name, aliases, short ID (lower case, no trailing dot) */
  names: string[];
  ipv4: string[];
  ipv6: string[];
}

export interface DnsNetwork {
  /** the network's ID (for logs) */
  id: string;
  /** the addresses the resolver listens on for this network (the bridge's gateway addresses) */
  listen: string[];
  records: DnsRecord[];
}

/**
 * The embedded resolver, run as a process of its own so names keep resolving while the
 * daemon restarts (live restore). The daemon hands it the whole table; it answers the
 * names of the network whose address a query came to, and forwards the rest upstream.
 */
export interface NameService {
  /** Starts the resolver, or adopts the one a previous daemon left running. */
  start(): Promise<void>;
  /** Replaces the table (atomically: written, then the resolver reloads). */
  update(networks: DnsNetwork[]): Promise<void>;
  /** Stops it only when asked (a daemon shutting down with live restore leaves it running). */
  stop(): Promise<void>;
}
