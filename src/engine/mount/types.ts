/**
 * A mount to perform, in the shape snapshotters return (containerd's `mount.Mount`).
 * Paths in `source` and in overlay options are absolute; `mountAll` shortens overlay
 * lowerdir lists that do not fit in one page (see `overlay-options.ts`).
 */
export interface Mount {
  type: 'overlay' | 'bind';
  /** the device or directory: 'overlay' for overlayfs, the directory for a bind mount */
  source: string;
  /** e.g. ['rbind', 'ro'] or ['lowerdir=…', 'upperdir=…', 'workdir=…'] */
  options: string[];
}
