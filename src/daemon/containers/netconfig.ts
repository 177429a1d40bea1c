/**
 * A container's networking configuration at create (docs/networking/containers.md):
 * Docker's runconfig checks of the network mode against the other options (with its
 * messages), the checks of `NetworkingConfig`, the networks recorded on the container
 * (moby's updateContainerNetworkSettings), published ports parsed as Docker's nat
 * package parses them, and `--link` specs.
 */
import * as net from 'node:net';
import { invalidArgument } from '../../engine/errdefs';
import type { ContainerConfig, HostConfig, PortMap } from './types';

// `EndpointSettings` (its configuration part): one definition, the network service's
import type { EndpointConfig } from '../networks/types';
export type { EndpointConfig };

export interface NetworkingConfig {
  EndpointsConfig?: Record<string, EndpointConfig | null> | null;
}

export const isContainerMode = (mode: string | undefined): boolean => (mode ?? '').startsWith('container:');
/** `bridge`, `host`, `none`, `default`, or `container:…` — anything else names a user-defined network. */
export const isUserDefined = (mode: string | undefined): boolean => !['', 'default', 'bridge', 'host', 'none'].includes(mode ?? '') && !isContainerMode(mode);

/**
 * runconfig's validateNetMode (and validateNetContainerMode), on the request as the client
 * sent it (its own Hostname, ExposedPorts). Throws invalid-argument with Docker's messages.
 */
export function validateNetworkMode(c: ContainerConfig, hc: HostConfig): void {
  const mode = hc.NetworkMode ?? '';
  const container = isContainerMode(mode);
  if (mode.split(':')[0] === 'container') {
    const parts = mode.split(':');
    if (parts.length < 2 || parts[1] === '') throw invalidArgument('Invalid network mode: invalid container format container:<name|id>');
  }
  if (container && c.Hostname) throw invalidArgument('conflicting options: hostname and the network mode');
  if (container && (hc.Links ?? []).length > 0) throw invalidArgument("conflicting options: container type network can't be used with links. This would result in undefined behavior");
  if (container && (hc.Dns ?? []).length > 0) throw invalidArgument('conflicting options: dns and the network mode');
  if (container && (hc.ExtraHosts ?? []).length > 0) throw invalidArgument('conflicting options: custom host-to-IP mapping and the network mode');
  if ((container || mode === 'host') && c.MacAddress) throw invalidArgument('conflicting options: mac-address and the network mode');
  if (container && (Object.keys(hc.PortBindings ?? {}).length > 0 || hc.PublishAllPorts)) {
    throw invalidArgument('conflicting options: port publishing and the container type network mode');
  }
  if (container && Object.keys(c.ExposedPorts ?? {}).length > 0) throw invalidArgument('conflicting options: port exposing and the container type network mode');
  if (hc.UTSMode === 'host' && c.Hostname) throw invalidArgument('conflicting options: hostname and the UTS mode');
  if (mode === 'host' && (hc.Links ?? []).length > 0) throw invalidArgument("conflicting options: host type networking can't be used with links. This would result in undefined behavior");
  validatePortBindings(hc.PortBindings ?? {});
}

/** moby's validatePortBindings: container ports are numbers, host ports numbers or ranges. */
export function validatePortBindings(pm: PortMap): void {
  for (const [port, bindings] of Object.entries(pm)) {
    const portStr = splitProtoPort(port).port;
    if (portStr !== '' && parsePortNumber(portStr) === undefined) throw invalidArgument(`invalid port specification: ${JSON.stringify(portStr)}`);
    for (const b of bindings ?? []) {
      const hp = b.HostPort ?? '';
      if (hp !== '' && parsePortRange(hp) === undefined) throw invalidArgument(`invalid port specification: ${JSON.stringify(hp)}`);
    }
  }
}

/** nat.SplitProtoPort: `80/udp` → udp, 80; `80` → tcp. */
export function splitProtoPort(raw: string): { proto: string; port: string } {
  const parts = raw.split('/');
  if (parts.length === 0 || raw === '') return { proto: '', port: '' };
  if (parts.length === 1 || parts[1] === '') return { proto: 'tcp', port: parts[0]! };
  return { proto: parts[1]!.toLowerCase(), port: parts[0]! };
}

function parsePortNumber(s: string): number | undefined {
  if (!/^\d+$/.test(s)) return undefined;
  const n = Number(s);
  return n <= 65535 ? n : undefined;
}

/** nat.ParsePortRangeToInt: `8080` or `8000-8010` (start ≤ end). */
export function parsePortRange(s: string): { start: number; end: number } | undefined {
  if (s === '') return { start: 0, end: 0 };
  const i = s.indexOf('-');
  if (i < 0) {
    const n = parsePortNumber(s);
    return n === undefined ? undefined : { start: n, end: n };
  }
  const start = parsePortNumber(s.slice(0, i));
  const end = parsePortNumber(s.slice(i + 1));
  if (start === undefined || end === undefined || end < start) return undefined;
  return { start, end };
}

export const isIPv4 = (s: string): boolean => net.isIPv4(s);
export const isIPv6 = (s: string): boolean => net.isIPv6(s);

/**
 * moby's verifyNetworkingConfig, except that several networks are accepted (Docker 20.10
 * refuses more than one; API 1.44 clients such as compose v2 send them all and Docker 25
 * joins them all: issue #13 asks for that). Throws invalid-argument.
 */
export function verifyNetworkingConfig(nc: NetworkingConfig | undefined | null): void {
  for (const [k, v] of Object.entries(nc?.EndpointsConfig ?? {})) {
    if (v == null) throw invalidArgument(`no EndpointSettings for ${k}`);
    const ip4 = v.IPAMConfig?.IPv4Address ?? '';
    if (ip4 !== '' && !isIPv4(ip4)) throw invalidArgument(`invalid IPv4 address: ${ip4}`);
    const ip6 = v.IPAMConfig?.IPv6Address ?? '';
    if (ip6 !== '' && (!isIPv6(ip6) || isIPv4(ip6))) throw invalidArgument(`invalid IPv6 address: ${ip6}`);
    const mac = v.MacAddress ?? '';
    if (mac !== '' && !isMac(mac)) throw invalidArgument(`invalid MAC address: ${mac}`);
  }
}

export const isMac = (s: string): boolean => /^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$/.test(s);

/**
 * The networks recorded on a new container (moby's updateContainerNetworkSettings): the
 * client's endpoint configs by the name it gave (the default mode's under `bridge`), or
 * else one empty config for the network of the mode; none for `container:` mode or a
 * disabled network. `defaultNetwork` is the daemon's default (`bridge`).
 */
export function initialNetworks(c: ContainerConfig, hc: HostConfig, nc: NetworkingConfig | undefined | null, defaultNetwork = 'bridge'): Record<string, EndpointConfig> {
  const mode = hc.NetworkMode || 'default';
  if (c.NetworkDisabled || isContainerMode(mode)) return {};
  const networkName = mode === 'default' ? defaultNetwork : mode;
  const out: Record<string, EndpointConfig> = {};
  for (const [name, ep] of Object.entries(nc?.EndpointsConfig ?? {})) if (ep) out[name] = endpointConfigOf(ep);
  if (Object.keys(out).length === 0) out[networkName] = {};
  if (mode === 'default' && out.default && networkName !== 'default') {
    out[networkName] = out.default;
    delete out.default;
  }
  return out;
}

/** Only the configuration part of an EndpointSettings (what a client may set). */
function endpointConfigOf(ep: EndpointConfig): EndpointConfig {
  const out: EndpointConfig = {};
  if (ep.IPAMConfig) out.IPAMConfig = ep.IPAMConfig;
  if (ep.Links?.length) out.Links = ep.Links;
  if (ep.Aliases?.length) out.Aliases = ep.Aliases;
  if (ep.NetworkID) out.NetworkID = ep.NetworkID;
  if (ep.MacAddress) out.MacAddress = ep.MacAddress;
  if (ep.DriverOpts && Object.keys(ep.DriverOpts).length) out.DriverOpts = ep.DriverOpts;
  return out;
}

/** opts.ParseLink: `name:alias` or `name` (alias = name); leading slashes dropped. */
export function parseLink(raw: string): { name: string; alias: string } {
  if (raw === '') throw invalidArgument('empty string specified for links');
  const parts = raw.split(':');
  if (parts.length > 2) throw invalidArgument(`bad format for links: ${raw}`);
  const name = parts[0]!.replace(/^\/+/, '');
  const alias = (parts[1] ?? parts[0]!).replace(/^\/+/, '');
  if (name === '' || alias === '') throw invalidArgument(`bad format for links: ${raw}`);
  return { name, alias };
}

/** One published port, as it is in effect (or wanted) for a container. */
export interface PortWanted {
  /** `80/tcp` */
  key: string;
  proto: 'tcp' | 'udp' | 'sctp';
  containerPort: number;
  hostIp: string;
  /** 0: an ephemeral port */
  hostStart: number;
  hostEnd: number;
}

/** `80` → `80/tcp`, `53/UDP` → `53/udp`. */
export const portKey = (raw: string): string => {
  const { proto, port } = splitProtoPort(raw);
  return `${Number(port)}/${proto}`;
};

/**
 * The ports to publish (moby's buildSandboxOptions): for each exposed port (the CLI adds
 * the published ones to `ExposedPorts`; a binding of a port not exposed is not published,
 * as in Docker), its bindings, or with `PublishAllPorts` and no binding an ephemeral host
 * port. Sorted by container port and protocol, as Docker sorts them.
 */
export function wantedPorts(c: ContainerConfig, hc: HostConfig): PortWanted[] {
  const out: PortWanted[] = [];
  const given: PortMap = {};
  for (const [k, v] of Object.entries(hc.PortBindings ?? {})) given[portKey(k)] = [...(given[portKey(k)] ?? []), ...(v ?? [])];
  const bindings: PortMap = {};
  for (const k of Object.keys(c.ExposedPorts ?? {}).map(portKey)) {
    bindings[k] = (given[k] ?? []).length ? given[k]! : hc.PublishAllPorts ? [{ HostIp: '', HostPort: '' }] : [];
  }
  for (const [key, list] of Object.entries(bindings)) {
    const { proto, port } = splitProtoPort(key);
    const containerPort = Number(port);
    for (const b of list ?? []) {
      const range = parsePortRange(b.HostPort ?? '') ?? { start: 0, end: 0 };
      out.push({ key: `${containerPort}/${proto}`, proto: proto as PortWanted['proto'], containerPort, hostIp: b.HostIp ?? '', hostStart: range.start, hostEnd: range.end });
    }
  }
  return out.sort((a, b) => a.containerPort - b.containerPort || a.proto.localeCompare(b.proto));
}
