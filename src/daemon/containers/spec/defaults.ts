/** Docker's own defaults for a container's spec (the runtime-level ones are in engine/oci/defaults.ts). */

/** 64 MiB: the size of /dev/shm when `ShmSize` is 0. */
export const DEFAULT_SHM_SIZE = 64 * 1024 * 1024;

/** Where the init binary (tini) is bind-mounted inside the container. */
export const IN_CONTAINER_INIT_PATH = '/sbin/docker-init';

/** Default mounts that stay writable under `ReadonlyRootfs` (moby daemon/oci_linux.go). */
export const WRITABLE_UNDER_READONLY_ROOTFS: readonly string[] = ['/proc', '/dev/pts', '/dev/shm', '/dev/mqueue', '/dev'];
