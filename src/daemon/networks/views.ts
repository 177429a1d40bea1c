/**
 * Docker's network document (types.NetworkResource, API v1.41 and later) and the list
 * filters (moby's daemon/network/filter.go), over the stored records.
 */
import { internal, invalidArgument } from '../../engine/errdefs';
import type { EndpointRecord, IpamConfigEntry, NetworkRecord } from './store';

/** Docker's predefined network names (runconfig.IsPreDefinedNetwork). */
export const isPredefined = (name: string): boolean => ['bridge', 'host', 'none', 'default', 'ingress'].includes(name);

/** The `IPAM.Config` Docker shows: the client's entries of a family when it gave a subnet, else the pools in effect. */
export function ipamConfigView(n: NetworkRecord): IpamConfigEntry[] {
  const out: IpamConfigEntry[] = [];
  const entry = (e: IpamConfigEntry): IpamConfigEntry => ({
    ...(e.Subnet ? { Subnet: e.Subnet } : {}),
    ...(e.IPRange ? { IPRange: e.IPRange } : {}),
    ...(e.Gateway ? { Gateway: e.Gateway } : {}),
    ...(e.AuxiliaryAddresses && Object.keys(e.AuxiliaryAddresses).length ? { AuxiliaryAddresses: e.AuxiliaryAddresses } : {}),
  });
  const given = (v6: boolean) => n.ipam.config.filter((c) => c.Subnet && c.Subnet.includes(':') === v6);
  if (given(false).length) out.push(...given(false).map(entry));
  else out.push(...n.ipam.pools4.map((p) => entry({ Subnet: p.subnet, Gateway: p.gateway })));
  if (given(true).length) out.push(...given(true).map(entry));
  else if (n.enableIPv6) out.push(...n.ipam.pools6.map((p) => entry({ Subnet: p.subnet, Gateway: p.gateway })));
  return out;
}

/** One endpoint in a network's `Containers` (types.EndpointResource). */
export function endpointView(e: EndpointRecord): Record<string, unknown> {
  return { Name: e.containerName, EndpointID: e.id, MacAddress: e.mac, IPv4Address: e.ipv4 ?? '', IPv6Address: e.ipv6 ?? '' };
}

/** types.NetworkResource, in Docker's field order. `endpoints` undefined: the list shape (`Containers: {}`). */
export function networkView(n: NetworkRecord, endpoints: EndpointRecord[] | undefined): Record<string, unknown> {
  const containers: Record<string, unknown> = {};
  for (const e of endpoints ?? []) containers[e.containerId] = endpointView(e);
  return {
    Name: n.name,
    Id: n.id,
    Created: n.created,
    Scope: n.scope,
    Driver: n.driver,
    EnableIPv6: n.enableIPv6,
    IPAM: { Driver: n.ipam.driver, Options: n.ipam.options, Config: ipamConfigView(n) },
    Internal: n.internal,
    Attachable: n.attachable,
    Ingress: n.ingress,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: containers,
    Options: n.options,
    Labels: n.labels,
  };
}

const LIST_FILTERS = new Set(['dangling', 'driver', 'id', 'label', 'name', 'scope', 'type']);

/** filters.Args.Match: an exact value, or a regular expression that matches (invalid expressions never match). */
function match(values: string[], source: string): boolean {
  return values.some((v) => {
    if (v === source) return true;
    try {
      return new RegExp(v).test(source);
    } catch {
      return false;
    }
  });
}

/** filters.Args.MatchKVList: each `key` or `key=value` is in the labels. */
export function matchLabels(labels: Record<string, string>, wanted: string[]): boolean {
  return wanted.every((w) => {
    const i = w.indexOf('=');
    if (i < 0) return w in labels;
    return labels[w.slice(0, i)] === w.slice(i + 1);
  });
}

/**
 * moby's FilterNetworks: `driver` (exact), `name` and `id` (regular expressions, so a
 * substring or prefix matches), `label`, `scope`, `dangling` (true: custom networks without
 * endpoints), `type` (`custom`, `builtin`). Throws invalid-argument in Docker's words.
 */
export function filterNetworks(nets: NetworkRecord[], filters: Map<string, string[]>, inUse: (n: NetworkRecord) => boolean): NetworkRecord[] {
  for (const k of filters.keys()) if (!LIST_FILTERS.has(k)) throw invalidArgument(`Invalid filter '${k}'`);
  let out = nets.filter((n) => {
    const f = (k: string) => filters.get(k) ?? [];
    if (f('driver').length && !f('driver').includes(n.driver)) return false;
    if (f('name').length && !match(f('name'), n.name)) return false;
    if (f('id').length && !match(f('id'), n.id)) return false;
    if (f('label').length && !matchLabels(n.labels, f('label'))) return false;
    if (f('scope').length && !f('scope').includes(n.scope)) return false;
    return true;
  });
  const dangling = filters.get('dangling') ?? [];
  if (dangling.length > 0) {
    if (dangling.length > 1) throw invalidArgument('got more than one value for filter key "dangling"');
    let only: boolean;
    if (dangling[0] === '1' || dangling[0] === 'true') only = true;
    else if (dangling[0] === '0' || dangling[0] === 'false') only = false;
    else throw invalidArgument(`invalid value for filter 'dangling', must be "true" (or "1"), or "false" (or "0")`);
    out = out.filter((n) => (only ? !isPredefined(n.name) && !inUse(n) : isPredefined(n.name) || inUse(n)));
  }
  const types = filters.get('type') ?? [];
  if (types.length > 0) {
    const picked: NetworkRecord[] = [];
    for (const t of types) {
      if (t === 'builtin') picked.push(...out.filter((n) => isPredefined(n.name)));
      else if (t === 'custom') picked.push(...out.filter((n) => !isPredefined(n.name)));
      else throw internal(`invalid filter: 'type'='${t}'`); // a plain error in moby: 500
    }
    out = picked;
  }
  return out;
}
