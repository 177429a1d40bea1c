/**
 * The shapes the network service shares with its callers: the container start hook
 * (NET-CTR), the API routes, and the composition root. See docs/networking/service.md.
 */
import type { Cidr } from '../../engine/network/types';

/** What a container asks of one network when it joins (its `EndpointSettings`' configuration part). */
export interface EndpointRequest {
  aliases?: string[];
  /** a static address (`IPAMConfig.IPv4Address`), without prefix */
  ipv4?: string;
  ipv6?: string;
  links?: string[];
  macAddress?: string;
  driverOpts?: Record<string, string>;
  /**
   * The container's own upstream nameservers (`--dns`, else the daemon's `--dns`): the
   * resolver forwards the names this network does not know there instead of to the
   * host's resolvers, as Docker's embedded DNS uses the container's servers.
   */
  nameservers?: string[];
  /** the container's resolv.conf sets `ndots` (`--dns-option ndots:n`, or the host's) */
  ndotsSet?: boolean;
}

/** One container's endpoint on one network, as the container side needs it. */
export interface JoinedEndpoint {
  networkId: string;
  networkName: string;
  endpointId: string;
  /** the bridge ('' for host and null networks) */
  bridge: string;
  /** `172.18.0.2/16` */
  ipv4?: Cidr;
  ipv6?: Cidr;
  /** the network's gateways (none on an internal network, as Docker) */
  gateway4?: string;
  gateway6?: string;
  mac: string;
  hostIfName: string;
  /** `eth0`… inside the container */
  ifName: string;
  /** the endpoint's aliases as Docker 20.10 records them: the configured ones, then the short ID (and the hostname when it differs from the name) on user-defined networks */
  aliases: string[];
  /** the names the resolver answers on this network (name, aliases), lower case */
  dnsNames: string[];
  links: string[];
  /** whether this endpoint gave the container its default route */
  gateway: boolean;
  /** the static addresses asked for (`IPAMConfig`) */
  ipamConfig?: { IPv4Address?: string; IPv6Address?: string };
}

/** `EndpointSettings` as recorded on a container (its configuration part, moby's types). */
export interface EndpointConfig {
  IPAMConfig?: { IPv4Address?: string; IPv6Address?: string; LinkLocalIPs?: string[] | null } | null;
  Links?: string[] | null;
  Aliases?: string[] | null;
  NetworkID?: string;
  MacAddress?: string;
  DriverOpts?: Record<string, string> | null;
}

/** What the network service sees of a container. */
export interface NetContainer {
  id: string;
  /** without the leading slash */
  name: string;
  hostname?: string;
  /** running, paused or restarting: it has a network namespace */
  running: boolean;
  /** being removed, or dead: connect/disconnect refuse it */
  removing?: boolean;
  /** the namespace path while running (not for host mode) */
  netnsPath?: string;
  /** `HostConfig.NetworkMode` */
  networkMode: string;
  /** the networks recorded on the container (`NetworkSettings.Networks`' configuration), by network name */
  networks: Record<string, EndpointConfig>;
}

/**
 * The containers, as the network service needs them (the container service provides it;
 * the composition root wires it). connect/disconnect record the container's wish through
 * `setNetworks` and, for a running container, join or leave at once.
 */
export interface ContainerLookup {
  /** Resolves an id, unique prefix or name. Throws not-found `No such container: x`. */
  get(idOrName: string): NetContainer;
  /** Every container (for reconciling endpoints at daemon start). */
  list(): NetContainer[];
  /** Records the container's networks (persisted with the container). */
  setNetworks(id: string, networks: Record<string, EndpointConfig>): Promise<void> | void;
  /**
   * A running container's endpoints changed (live connect/disconnect): the container side
   * rewrites what depends on them (/etc/hosts, published ports). Optional.
   */
  endpointsChanged?(id: string): Promise<void>;
}
