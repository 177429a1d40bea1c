/** Garbage collection: references (GC roots), leases, and the collector. */
export { GcRefs, isReferencedIn, type Owner, type Resource } from './refs';
export { LeaseManager, LEASE_OWNER_KIND, leaseNamespaces, type Lease } from './leases';
export { GarbageCollector, type GcContent, type GcSnapshots, type GcNamespaceSnapshots, type CollectOptions, type GcReport } from './collector';
export { gcMigrations } from './migrations';
export { recoverStorage, type StorageRecoverReport } from './recover';
