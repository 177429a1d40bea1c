/**
 * Docker's container configuration → the OCI spec, through the engine's spec options
 * (engine/oci). See docs/bundle.md ("Spec options").
 */
export { buildSpec, gatherFacts, type BuildSpecOptions } from './build';
export { buildSpecFrom, specOpts, type BuildFacts, type BuildSpecInput } from './options';
export { mergeConfig, type MergedConfig } from './command';
export { tweakCapabilities, normalizeCapabilities } from './caps';
export { tmpfsOptions, tmpfsMountData, mountOptions, type ResolvedMount } from './mounts';
export { parseSecurityOpt, type SecurityOpts } from './security-opt';
export { parseSeccompProfile } from './seccomp';
export { toResources, toRlimits, cgroupRules } from './resources';
export { DEFAULT_SHM_SIZE, IN_CONTAINER_INIT_PATH } from './defaults';
