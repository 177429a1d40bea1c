/**
 * NetworkStore: the `networks` and `endpoints` tables of the metadata database (the
 * Docker front end's namespace). A network row is a Docker network object (its IPAM
 * configuration, options, labels, the bridge it is built on); an endpoint row is one
 * container's attachment to one network, and holds its address leases: the IPAM's
 * used set is the network's endpoint rows. Everything a container's network is lives
 * here, so restore, inspect and cleanup read the same source (docs/networking/service.md).
 */
import { conflict } from '../../engine/errdefs';
import { MOBY_NAMESPACE, validateNamespace, type Database, type MetadataDB, type Migration } from '../../engine/metadata';
import type { Pool } from './ipam';

export const networkMigrations: Migration[] = [
  {
    id: 'networks/001-create',
    up(db: Database) {
      db.exec(`CREATE TABLE networks (
        namespace TEXT NOT NULL,
        id TEXT NOT NULL,
        name TEXT NOT NULL,
        driver TEXT NOT NULL,
        scope TEXT NOT NULL,
        created TEXT NOT NULL,
        internal INTEGER NOT NULL,
        attachable INTEGER NOT NULL,
        ingress INTEGER NOT NULL,
        enable_ipv6 INTEGER NOT NULL,
        ipam TEXT NOT NULL,
        options TEXT NOT NULL,
        labels TEXT NOT NULL,
        bridge TEXT NOT NULL,
        cursors TEXT NOT NULL,
        PRIMARY KEY (namespace, id)
      ) STRICT`);
      db.exec(`CREATE TABLE endpoints (
        namespace TEXT NOT NULL,
        network_id TEXT NOT NULL,
        container_id TEXT NOT NULL,
        id TEXT NOT NULL,
        container_name TEXT NOT NULL,
        ipv4 TEXT,
        ipv6 TEXT,
        mac TEXT NOT NULL,
        host_if TEXT NOT NULL,
        if_name TEXT NOT NULL,
        gateway INTEGER NOT NULL,
        aliases TEXT NOT NULL,
        dns_names TEXT NOT NULL,
        links TEXT NOT NULL,
        ipam_config TEXT,
        PRIMARY KEY (namespace, network_id, container_id),
        FOREIGN KEY (namespace, network_id) REFERENCES networks (namespace, id)
      ) STRICT`);
    },
  },
  {
    // what the resolver needs of a container besides its names: its own upstream servers (`--dns`)
    id: 'networks/002-endpoint-dns',
    up(db: Database) {
      db.exec('ALTER TABLE endpoints ADD COLUMN dns TEXT');
    },
  },
];

/** `IPAM.Config[]` as the client gave it (Docker's inspect shows these when a subnet was given). */
export interface IpamConfigEntry {
  Subnet?: string;
  IPRange?: string;
  Gateway?: string;
  AuxiliaryAddresses?: Record<string, string>;
}

export interface NetworkIpam {
  driver: string;
  options: Record<string, string> | null;
  /** the client's entries, verbatim */
  config: IpamConfigEntry[];
  /** the pools in effect (subnet, gateway, range), per family */
  pools4: Pool[];
  pools6: Pool[];
  /** whether the client chose the subnets (static addresses need that) */
  userSubnet4: boolean;
  userSubnet6: boolean;
}

/** One network as stored. */
export interface NetworkRecord {
  /** 64 hex */
  id: string;
  name: string;
  /** `bridge`, `host`, `null` */
  driver: string;
  scope: 'local';
  /** RFC 3339 with nanoseconds, as Go prints a time.Time */
  created: string;
  internal: boolean;
  attachable: boolean;
  ingress: boolean;
  enableIPv6: boolean;
  ipam: NetworkIpam;
  options: Record<string, string>;
  labels: Record<string, string>;
  /** the Linux bridge (`docker0`, `br-<12 hex>`); '' for host and null */
  bridge: string;
}

/** One container's endpoint on one network. */
export interface EndpointRecord {
  networkId: string;
  containerId: string;
  /** 64 hex */
  id: string;
  /** without the leading slash */
  containerName: string;
  /** with prefix: `172.18.0.2/16` */
  ipv4?: string;
  ipv6?: string;
  mac: string;
  hostIfName: string;
  ifName: string;
  /** whether this endpoint gave the container its default route */
  gateway: boolean;
  /** network-scoped aliases as Docker records them (the configured ones, then the short ID…) */
  aliases: string[];
  /** the names the resolver answers for it on this network */
  dnsNames: string[];
  links: string[];
  /** the `IPAMConfig` asked for (static addresses) */
  ipamConfig?: { IPv4Address?: string; IPv6Address?: string };
  /** the container's resolver settings: its `--dns` servers (forwarded queries go there), whether its resolv.conf sets ndots */
  dns?: EndpointDns;
}

export interface EndpointDns {
  nameservers?: string[];
  ndotsSet?: boolean;
}

interface NetRow {
  id: string;
  name: string;
  driver: string;
  scope: string;
  created: string;
  internal: number;
  attachable: number;
  ingress: number;
  enable_ipv6: number;
  ipam: string;
  options: string;
  labels: string;
  bridge: string;
}

interface EpRow {
  network_id: string;
  container_id: string;
  id: string;
  container_name: string;
  ipv4: string | null;
  ipv6: string | null;
  mac: string;
  host_if: string;
  if_name: string;
  gateway: number;
  aliases: string;
  dns_names: string;
  links: string;
  ipam_config: string | null;
  dns: string | null;
}

const toNetwork = (r: NetRow): NetworkRecord => ({
  id: r.id,
  name: r.name,
  driver: r.driver,
  scope: 'local',
  created: r.created,
  internal: r.internal === 1,
  attachable: r.attachable === 1,
  ingress: r.ingress === 1,
  enableIPv6: r.enable_ipv6 === 1,
  ipam: JSON.parse(r.ipam) as NetworkIpam,
  options: JSON.parse(r.options) as Record<string, string>,
  labels: JSON.parse(r.labels) as Record<string, string>,
  bridge: r.bridge,
});

const toEndpoint = (r: EpRow): EndpointRecord => ({
  networkId: r.network_id,
  containerId: r.container_id,
  id: r.id,
  containerName: r.container_name,
  ...(r.ipv4 !== null ? { ipv4: r.ipv4 } : {}),
  ...(r.ipv6 !== null ? { ipv6: r.ipv6 } : {}),
  mac: r.mac,
  hostIfName: r.host_if,
  ifName: r.if_name,
  gateway: r.gateway === 1,
  aliases: JSON.parse(r.aliases) as string[],
  dnsNames: JSON.parse(r.dns_names) as string[],
  links: JSON.parse(r.links) as string[],
  ...(r.ipam_config !== null ? { ipamConfig: JSON.parse(r.ipam_config) as EndpointRecord['ipamConfig'] } : {}),
  ...(r.dns !== null ? { dns: JSON.parse(r.dns) as EndpointDns } : {}),
});

const NET_COLS = 'id, name, driver, scope, created, internal, attachable, ingress, enable_ipv6, ipam, options, labels, bridge';
const EP_COLS = 'network_id, container_id, id, container_name, ipv4, ipv6, mac, host_if, if_name, gateway, aliases, dns_names, links, ipam_config, dns';

export class NetworkStore {
  readonly namespace: string;

  constructor(
    private readonly db: MetadataDB,
    opts: { namespace?: string } = {},
  ) {
    db.migrate(networkMigrations);
    this.namespace = validateNamespace(opts.namespace ?? MOBY_NAMESPACE);
  }

  /** Runs `fn` in one transaction (allocation: read the leases, write the new one). */
  tx<T>(fn: () => T): T {
    return this.db.tx(() => fn());
  }

  /** Inserts a network. Throws conflict when the id is taken. */
  insert(n: NetworkRecord): void {
    this.db.tx((raw) => {
      if (raw.prepare('SELECT 1 FROM networks WHERE namespace = ? AND id = ?').get(this.namespace, n.id)) throw conflict(`network ${n.id} already exists`);
      raw
        .prepare(`INSERT INTO networks (namespace, ${NET_COLS}, cursors) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '{}')`)
        .run(this.namespace, n.id, n.name, n.driver, n.scope, n.created, +n.internal, +n.attachable, +n.ingress, +n.enableIPv6, JSON.stringify(n.ipam), JSON.stringify(n.options), JSON.stringify(n.labels), n.bridge);
    });
  }

  /** Replaces a network's configuration (the default bridge, re-derived from the flags at each start). */
  update(n: NetworkRecord): void {
    this.db.tx((raw) =>
      raw
        .prepare('UPDATE networks SET name = ?, driver = ?, internal = ?, attachable = ?, ingress = ?, enable_ipv6 = ?, ipam = ?, options = ?, labels = ?, bridge = ? WHERE namespace = ? AND id = ?')
        .run(n.name, n.driver, +n.internal, +n.attachable, +n.ingress, +n.enableIPv6, JSON.stringify(n.ipam), JSON.stringify(n.options), JSON.stringify(n.labels), n.bridge, this.namespace, n.id),
    );
  }

  get(id: string): NetworkRecord | undefined {
    const r = this.db.raw.prepare(`SELECT ${NET_COLS} FROM networks WHERE namespace = ? AND id = ?`).get(this.namespace, id) as NetRow | undefined;
    return r ? toNetwork(r) : undefined;
  }

  /** Every network, in creation order. */
  all(): NetworkRecord[] {
    return (this.db.raw.prepare(`SELECT ${NET_COLS} FROM networks WHERE namespace = ? ORDER BY created, id`).all(this.namespace) as NetRow[]).map(toNetwork);
  }

  /** Deletes a network and (should any be left) its endpoints. */
  delete(id: string): void {
    this.db.tx((raw) => {
      raw.prepare('DELETE FROM endpoints WHERE namespace = ? AND network_id = ?').run(this.namespace, id);
      raw.prepare('DELETE FROM networks WHERE namespace = ? AND id = ?').run(this.namespace, id);
    });
  }

  /** The allocation cursor of a pool (the last address handed out, as a decimal string). */
  cursor(networkId: string, subnet: string): bigint | undefined {
    const c = this.db.raw.prepare('SELECT cursors FROM networks WHERE namespace = ? AND id = ?').pluck().get(this.namespace, networkId) as string | undefined;
    const v = c ? (JSON.parse(c) as Record<string, string>)[subnet] : undefined;
    return v === undefined ? undefined : BigInt(v);
  }

  setCursor(networkId: string, subnet: string, v: bigint): void {
    const c = this.db.raw.prepare('SELECT cursors FROM networks WHERE namespace = ? AND id = ?').pluck().get(this.namespace, networkId) as string | undefined;
    const m = c ? (JSON.parse(c) as Record<string, string>) : {};
    m[subnet] = v.toString();
    this.db.raw.prepare('UPDATE networks SET cursors = ? WHERE namespace = ? AND id = ?').run(JSON.stringify(m), this.namespace, networkId);
  }

  /** Inserts an endpoint. Throws conflict when the container already has one on the network. */
  insertEndpoint(e: EndpointRecord): void {
    const raw = this.db.raw;
    if (raw.prepare('SELECT 1 FROM endpoints WHERE namespace = ? AND network_id = ? AND container_id = ?').get(this.namespace, e.networkId, e.containerId)) {
      throw conflict(`endpoint for container ${e.containerId} already exists in network ${e.networkId}`);
    }
    raw
      .prepare(`INSERT INTO endpoints (namespace, ${EP_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
      .run(
        this.namespace,
        e.networkId,
        e.containerId,
        e.id,
        e.containerName,
        e.ipv4 ?? null,
        e.ipv6 ?? null,
        e.mac,
        e.hostIfName,
        e.ifName,
        +e.gateway,
        JSON.stringify(e.aliases),
        JSON.stringify(e.dnsNames),
        JSON.stringify(e.links),
        e.ipamConfig ? JSON.stringify(e.ipamConfig) : null,
        e.dns ? JSON.stringify(e.dns) : null,
      );
  }

  endpoint(networkId: string, containerId: string): EndpointRecord | undefined {
    const r = this.db.raw.prepare(`SELECT ${EP_COLS} FROM endpoints WHERE namespace = ? AND network_id = ? AND container_id = ?`).get(this.namespace, networkId, containerId) as EpRow | undefined;
    return r ? toEndpoint(r) : undefined;
  }

  /** A network's endpoints, oldest first. */
  endpointsOfNetwork(networkId: string): EndpointRecord[] {
    return (this.db.raw.prepare(`SELECT ${EP_COLS} FROM endpoints WHERE namespace = ? AND network_id = ? ORDER BY rowid`).all(this.namespace, networkId) as EpRow[]).map(toEndpoint);
  }

  /** A container's endpoints, in the order it joined them. */
  endpointsOfContainer(containerId: string): EndpointRecord[] {
    return (this.db.raw.prepare(`SELECT ${EP_COLS} FROM endpoints WHERE namespace = ? AND container_id = ? ORDER BY rowid`).all(this.namespace, containerId) as EpRow[]).map(toEndpoint);
  }

  allEndpoints(): EndpointRecord[] {
    return (this.db.raw.prepare(`SELECT ${EP_COLS} FROM endpoints WHERE namespace = ? ORDER BY rowid`).all(this.namespace) as EpRow[]).map(toEndpoint);
  }

  deleteEndpoint(networkId: string, containerId: string): void {
    this.db.raw.prepare('DELETE FROM endpoints WHERE namespace = ? AND network_id = ? AND container_id = ?').run(this.namespace, networkId, containerId);
  }

  /** The container's name changed (rename): its endpoints' names and DNS names follow. */
  renameContainer(containerId: string, name: string, dnsNames: (e: EndpointRecord) => string[]): void {
    this.db.tx((raw) => {
      for (const e of this.endpointsOfContainer(containerId)) {
        raw
          .prepare('UPDATE endpoints SET container_name = ?, dns_names = ? WHERE namespace = ? AND network_id = ? AND container_id = ?')
          .run(name, JSON.stringify(dnsNames({ ...e, containerName: name })), this.namespace, e.networkId, containerId);
      }
    });
  }
}
