/** The container record: what is persisted for one container. */
import type { HealthState } from './health/health';
import type { ContainerConfig, HostConfig } from './types';
import type { StateData } from './state';
import type { MountPoint } from '../volumes/mountpoints';
import type { NetworkRuntime } from './hooks/network';
import type { EndpointConfig } from './netconfig';

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
  /** binds, volumes and tmpfs mounts resolved at create (volumes/mountpoints.ts); absent on records made before them */
  mountPoints?: MountPoint[];
  /**
   * The networks the container is on (Docker's NetworkSettings.Networks, their
   * configuration: aliases, IPAM config, links, MAC), by network name; joined again at
   * each start. Absent on records made before networking (then the network mode's).
   */
  networks?: Record<string, EndpointConfig>;
  /** not persisted: the network its start made (hooks/network.ts), attached by the service for views */
  networkRuntime?: NetworkRuntime;
  /** not persisted here: `State.Health` (health/health.ts keeps it), attached by the service for views */
  health?: HealthState;
}
