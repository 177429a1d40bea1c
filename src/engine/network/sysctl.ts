/**
 * Kernel parameters under /proc/sys that the bridge data plane reads and sets, host
 * side only (a namespace's own values would need a process inside it; see
 * docs/networking/firewall.md). Keys are path segments, not dotted names, so that an
 * interface name containing a dot (`eth0.100`) needs no escaping.
 *
 * Every function takes an optional `root` (default `/proc/sys`) so tests can point it at
 * a temporary directory.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { errnoCode, internal, notFound } from '../errdefs';

export const PROC_SYS = '/proc/sys';

/** Reads where a sysctl lives: `sysctlPath(['net', 'ipv4', 'ip_forward'])`. */
export function sysctlPath(key: readonly string[], root = PROC_SYS): string {
  for (const seg of key) {
    if (seg === '' || seg === '.' || seg === '..' || seg.includes('/')) {
      throw internal(`invalid sysctl key segment ${JSON.stringify(seg)}`);
    }
  }
  return path.join(root, ...key);
}

/** The value, trimmed. Throws not-found when the key does not exist (no such interface, module not loaded). */
export async function readSysctl(key: readonly string[], root = PROC_SYS): Promise<string> {
  const file = sysctlPath(key, root);
  try {
    return (await fs.readFile(file, 'utf8')).trim();
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') throw notFound(`sysctl ${key.join('.')} does not exist`, err);
    throw internal(`cannot read ${file}: ${(err as Error).message}`, err);
  }
}

/** Writes the value (with a newline, as sysctl(8) does). Throws not-found for a missing key. */
export async function writeSysctl(key: readonly string[], value: string, root = PROC_SYS): Promise<void> {
  const file = sysctlPath(key, root);
  try {
    // 'r+': /proc/sys files exist or the write must fail, never create one
    const fh = await fs.open(file, 'r+');
    try {
      await fh.write(`${value}\n`, 0);
    } finally {
      await fh.close();
    }
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') throw notFound(`sysctl ${key.join('.')} does not exist`, err);
    throw internal(`cannot write ${file}: ${(err as Error).message}`, err);
  }
}

/**
 * Sets the value only when it differs (as libnetwork does, so a read-only /proc/sys with
 * the right value already set is fine). Returns the previous value.
 */
export async function ensureSysctl(key: readonly string[], value: string, root = PROC_SYS): Promise<string> {
  const prev = await readSysctl(key, root);
  if (prev !== value) await writeSysctl(key, value, root);
  return prev;
}

// ---- the keys the bridge driver uses ------------------------------------------------

export const IPV4_FORWARD = ['net', 'ipv4', 'ip_forward'] as const;
/** `net.ipv6.conf.all.forwarding` */
export const IPV6_FORWARD_ALL = ['net', 'ipv6', 'conf', 'all', 'forwarding'] as const;
export const IPV6_FORWARD_DEFAULT = ['net', 'ipv6', 'conf', 'default', 'forwarding'] as const;
/** Present once br_netfilter is loaded. */
export const BRIDGE_NF_CALL_IPTABLES = ['net', 'bridge', 'bridge-nf-call-iptables'] as const;
export const BRIDGE_NF_CALL_IP6TABLES = ['net', 'bridge', 'bridge-nf-call-ip6tables'] as const;
export const IP_LOCAL_PORT_RANGE = ['net', 'ipv4', 'ip_local_port_range'] as const;

/** `net.ipv4.conf.<iface>.route_localnet` */
export function routeLocalnetKey(iface: string): string[] {
  return ['net', 'ipv4', 'conf', iface, 'route_localnet'];
}

/** `net.ipv6.conf.<iface>.disable_ipv6` */
export function disableIpv6Key(iface: string): string[] {
  return ['net', 'ipv6', 'conf', iface, 'disable_ipv6'];
}

/** `net.ipv6.conf.<iface>.forwarding` */
export function ipv6ForwardingKey(iface: string): string[] {
  return ['net', 'ipv6', 'conf', iface, 'forwarding'];
}

/**
 * dockerd `--ip-forward` (default true): turns IPv4 forwarding on. Returns whether it
 * was off before, so the caller can do what Docker does next (Docker sets the filter
 * FORWARD policy to DROP when it had to switch forwarding on; see firewall.md).
 */
export async function enableIpForward(root = PROC_SYS): Promise<{ wasEnabled: boolean }> {
  const prev = await ensureSysctl(IPV4_FORWARD, '1', root);
  return { wasEnabled: prev === '1' };
}

/** IPv6 forwarding on `all` and `default` (dockerd with `--ipv6`, as libnetwork's setupIPv6Forwarding). */
export async function enableIpv6Forward(root = PROC_SYS): Promise<void> {
  await ensureSysctl(IPV6_FORWARD_DEFAULT, '1', root);
  await ensureSysctl(IPV6_FORWARD_ALL, '1', root);
}

/** Whether IPv4 forwarding is on. */
export async function ipForwardEnabled(root = PROC_SYS): Promise<boolean> {
  return (await readSysctl(IPV4_FORWARD, root)) === '1';
}

/**
 * Lets packets with a 127/8 source be routed out of `iface` (what makes a port published
 * on 127.0.0.1 reach a container without a userland proxy). Must be paired with the
 * firewall's drop of non-DNAT'd 127/8 traffic arriving on the bridge (firewall.md).
 */
export async function enableRouteLocalnet(iface: string, root = PROC_SYS): Promise<void> {
  await ensureSysctl(routeLocalnetKey(iface), '1', root);
}

/** Host-side `disable_ipv6` of an interface (a bridge or a veth's host end). */
export async function setDisableIpv6(iface: string, disabled: boolean, root = PROC_SYS): Promise<void> {
  await ensureSysctl(disableIpv6Key(iface), disabled ? '1' : '0', root);
}

/**
 * `bridge-nf-call-iptables` (and `-ip6tables` with `ipv6`) on, as libnetwork does for a
 * network with ICC disabled while forwarding is on, so bridged traffic goes through the
 * FORWARD rules. Returns false (and changes nothing) when br_netfilter is not loaded.
 */
export async function enableBridgeNetfilter(ipv6: boolean, root = PROC_SYS): Promise<boolean> {
  try {
    await ensureSysctl(BRIDGE_NF_CALL_IPTABLES, '1', root);
    if (ipv6) await ensureSysctl(BRIDGE_NF_CALL_IP6TABLES, '1', root);
    return true;
  } catch (err) {
    if (errnoCode((err as { cause?: unknown }).cause) === 'ENOENT') return false;
    throw err;
  }
}

/**
 * The kernel's ephemeral port range, `[first, last]`; Docker's fallback 49153–65535 when
 * it cannot be read (libnetwork portallocator).
 */
export async function ephemeralPortRange(root = PROC_SYS): Promise<[number, number]> {
  try {
    const [a, b] = (await readSysctl(IP_LOCAL_PORT_RANGE, root)).split(/\s+/).map((s) => Number.parseInt(s, 10));
    if (a !== undefined && b !== undefined && Number.isInteger(a) && Number.isInteger(b) && a > 0 && b >= a && b <= 65535) return [a, b];
  } catch {
    // fall through to the fallback, as Docker does
  }
  return [49153, 65535];
}

/**
 * Hairpin mode on a bridge port (the host end of a container's veth), as libnetwork sets
 * it when the userland proxy is off (always, for us): with br_netfilter, a container's
 * connection to its own published port through a host address is DNAT'd at the bridge
 * and sent back out of the port it came in by, which a bridge refuses unless the port is
 * in hairpin mode. Written in sysfs (`/sys/class/net/<port>/brport/hairpin_mode`), as
 * libnetwork's fallback does. Throws not-found when the interface is not a bridge port.
 */
export async function enableHairpin(port: string, sysRoot = '/sys'): Promise<void> {
  if (port === '' || port === '.' || port === '..' || port.includes('/')) throw internal(`invalid interface name ${JSON.stringify(port)}`);
  const file = path.join(sysRoot, 'class', 'net', port, 'brport', 'hairpin_mode');
  try {
    const cur = (await fs.readFile(file, 'utf8')).trim();
    if (cur !== '1') await fs.writeFile(file, '1\n');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') throw notFound(`${port} is not a bridge port`, err);
    throw internal(`cannot set hairpin mode on ${port}: ${(err as Error).message}`, err);
  }
}
