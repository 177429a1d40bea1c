/** The container record: what is persisted for one container. */
import type { ContainerConfig, HostConfig } from '../../engine/bundle/types';
import type { StateData } from './state';

export interface ContainerRecord {
  /** 64 hex */
  id: string;
  /** with the leading slash, as Docker stores it: "/name" */
  name: string;
  /** ISO 8601 with nanoseconds */
  created: string;
  /** the resolved image id, sha256:… */
  image: string;
  /** Config.Image as the client gave it */
  imageRef: string;
  /** the image's committed snapshot (chain id), parent of the container's layer */
  parentSnapshot: string | undefined;
  /** the container's writable snapshot key */
  snapshotKey: string;
  /** Path and Args: the command actually run (after entrypoint/cmd merging) */
  path: string;
  args: string[];
  config: ContainerConfig;
  hostConfig: HostConfig;
  state: StateData;
  restartCount: number;
}
