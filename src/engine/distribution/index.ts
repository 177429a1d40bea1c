/** Registry client: resolve, pull, push, login (OCI distribution / Docker registry v2). */
export { RegistryClient, type RegistryClientOptions } from './client';
export { decodeAuthHeader, encodeAuthHeader, type AuthConfig } from './authheader';
export { parseChallenges, type Challenge } from './challenge';
export { RegistryHosts, DOCKER_HUB_HOST, type Endpoint, type RegistryHostsOptions, type TlsMaterial } from './hosts';
export { MediaType, MANIFEST_ACCEPT, parseManifest, isIndexType, isManifestType, type ImageIndex, type ImageManifest } from './mediatypes';
export { DEFAULT_PLATFORM, normalizePlatform, parsePlatform, formatPlatform, platformRank, bestPlatformMatch, type Platform } from './platform';
export type { ProgressEvent, PullOptions, PullResult, PullStore } from './pull';
export type { PushBlobOptions, PushBlobOutcome, PushImageOptions } from './push';
export type { ResolveOptions, Resolved, FetchedManifest } from './resolver';
export { loginDomain, type LoginResult } from './login';
