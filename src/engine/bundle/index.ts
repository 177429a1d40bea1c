/** OCI runtime bundles built the way Docker 20.10 builds them. See docs/bundle.md. */
export * from './types';
export type * as oci from './spec';
export { OCI_VERSION, type Spec } from './spec';
export { buildSpec, writeBundle, serializeSpec, type BuildSpecOptions } from './bundle';
export { buildSpecFrom, parseSecurityOpt, cgroupRules, type BuildSpecInput, type BuildFacts } from './build';
export { mergeConfig, replaceOrAppendEnv, type MergedConfig } from './command';
export { tweakCapabilities, normalizeCapabilities, DEFAULT_CAPABILITIES, ALL_CAPABILITIES } from './caps';
export { resolveUser, parsePasswd, parseGroup, type ResolvedUser } from './user';
export { ScopedRootfsReader, type RootfsReader } from './rootfs-files';
export { LinuxHost, type HostInfo } from './host';
export { tmpfsOptions, tmpfsMountData, mountOptions, type ResolvedMount } from './mounts';
export { defaultSeccompProfile, toSpecSeccomp, parseSeccompProfile, type DockerSeccompProfile } from './seccomp';
export { DEFAULT_SHM_SIZE, DEFAULT_PATH_ENV, IN_CONTAINER_INIT_PATH } from './defaults';
