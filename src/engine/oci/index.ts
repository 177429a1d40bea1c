/**
 * The OCI runtime spec: its types, the default spec, and the spec options that compose
 * a container's spec (containerd's pkg/oci in spirit). See docs/bundle.md ("Spec options").
 */
export type * from './spec';
export { OCI_VERSION } from './spec';
export * from './opts';
export {
  defaultSpec,
  defaultMounts,
  defaultNamespaces,
  defaultMaskedPaths,
  defaultReadonlyPaths,
  defaultDeviceRules,
  DEFAULT_PATH_ENV,
} from './defaults';
export { DEFAULT_CAPABILITIES, ALL_CAPABILITIES } from './caps';
export { replaceOrAppendEnv } from './env';
export { resolveUser, parsePasswd, parseGroup, type ResolvedUser, type PasswdEntry, type GroupEntry } from './user';
export { ScopedRootfsReader, type RootfsReader } from './rootfs-files';
export { LinuxHost, type HostInfo } from './host';
export {
  defaultSeccompProfile,
  toSpecSeccomp,
  nativeSeccompArch,
  parseKernelVersion,
  type SeccompProfile,
  type SeccompProfileSyscall,
  type SeccompFilter,
  type SeccompContext,
} from './seccomp';
