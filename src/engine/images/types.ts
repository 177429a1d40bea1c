/**
 * The image model: the image config JSON (stored byte for byte; the image ID is the
 * sha256 of those bytes) in the Docker image spec v1.2 form, which is the OCI image
 * config plus Docker's extras; the manifests of the Docker v2 schema2 and OCI formats;
 * and what the image store records about an image.
 */
import type { Descriptor } from '../content/types';

/** An image's health check (Docker image spec extra); durations in nanoseconds. */
export interface ImageHealthcheck {
  /** `[]` inherit, `["NONE"]` disable, `["CMD", …]` exec, `["CMD-SHELL", cmd]` shell. */
  Test?: string[];
  Interval?: number;
  Timeout?: number;
  Retries?: number;
  StartPeriod?: number;
}

/**
 * The execution parameters of an image config (`config`, and the legacy
 * `container_config`): the OCI image spec's runtime fields, then the extras of Docker's
 * image spec that images carry and that must round-trip (health check, ONBUILD, SHELL,
 * and the fields a committed container's config brings along). Nullable where images in
 * the wild write `null`.
 */
export interface ImageConfig {
  // OCI image spec (image-spec config.md "config")
  User?: string;
  /** `{"80/tcp": {}}` */
  ExposedPorts?: Record<string, Record<string, never>> | null;
  /** `KEY=value` entries */
  Env?: string[] | null;
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Volumes?: Record<string, Record<string, never>> | null;
  WorkingDir?: string;
  Labels?: Record<string, string> | null;
  StopSignal?: string | null;
  ArgsEscaped?: boolean | null;
  // Docker image spec v1.2 extras
  Healthcheck?: ImageHealthcheck | null;
  OnBuild?: string[] | null;
  Shell?: string[] | null;
  /** seconds */
  StopTimeout?: number | null;
  Hostname?: string;
  Domainname?: string;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  Tty?: boolean;
  OpenStdin?: boolean;
  StdinOnce?: boolean;
  Image?: string;
  NetworkDisabled?: boolean | null;
  MacAddress?: string | null;
}

/** One entry of an image config's `history`. */
export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

/** An image config in Docker's form (a superset of the OCI image config). */
export interface DockerImageConfig {
  architecture: string;
  os: string;
  variant?: string;
  'os.version'?: string;
  created?: string;
  author?: string;
  comment?: string;
  parent?: string;
  container?: string;
  docker_version?: string;
  config?: ImageConfig;
  container_config?: ImageConfig;
  rootfs: { type: 'layers'; diff_ids: string[] };
  history?: HistoryEntry[];
  [extra: string]: unknown;
}

/** A Docker v2 schema2 or OCI image manifest. */
export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

/** An OCI image index or Docker manifest list. */
export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

/** A layer of a stored image: the blob that holds it, its diffID and unpacked size. */
export interface LayerRecord {
  /** the blob in the content store (compressed or not, see mediaType) */
  digest: string;
  mediaType: string;
  /** size of the blob */
  size: number;
  /** sha256 of the uncompressed tar: the config's rootfs.diff_ids entry */
  diffID: string;
  /** bytes of the unpacked layer */
  unpackedSize: number;
}

/** What the image store records about an image. */
export interface ImageRecord {
  /** `sha256:` + hex of the config blob */
  id: string;
  /** the manifest it came with (pull, OCI load), if any */
  manifestDigest?: string;
  layers: LayerRecord[];
  /** chain ID of the top layer (its committed snapshot); undefined with no layers */
  chainId?: string;
  /** the image this one was built or committed from (Docker's `Parent`) */
  parent?: string;
  /** when it was registered here (ms since the epoch) */
  createdAt: number;
  /** last time a tag was added (ms since the epoch), if ever */
  lastTagTime?: number;
}

export const MediaTypes = {
  DockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  DockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DockerConfig: 'application/vnd.docker.container.image.v1+json',
  DockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
  DockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  DockerForeignLayerGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  OciManifest: 'application/vnd.oci.image.manifest.v1+json',
  OciIndex: 'application/vnd.oci.image.index.v1+json',
  OciConfig: 'application/vnd.oci.image.config.v1+json',
  OciLayer: 'application/vnd.oci.image.layer.v1.tar',
  OciLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  OciLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
} as const;
