/**
 * The engine's network data plane (docs/networking.md): namespaces, links, firewall,
 * port reservations, the resolver. The daemon (daemon/networks) imports from here; the
 * interfaces are in ./types. Each module is also exported whole under its own name, so
 * helpers with the same name in two modules never collide.
 */
export type * from './types';

export { NativeNetnsManager } from './netns';
export { NetlinkLinkOps, netlinkError } from './links';
export { IpLinkOps } from './link-ip';
export { IptablesFirewall, cleanupFirewall, type IptablesFirewallOptions } from './firewall';
export { SocketPortAllocator, type SocketPortAllocatorOptions } from './ports';
export { ProcessNameService, type ProcessNameServiceOptions } from './dns/service';

export * as netlink from './link-netlink';
export * as firewall from './firewall';
export * as ports from './ports';
export * as sysctl from './sysctl';
export * as dns from './dns/service';
