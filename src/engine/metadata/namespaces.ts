/**
 * Namespaces (containerd's model): every metadata object — image, container, snapshot,
 * lease, GC reference — lives in exactly one namespace, and a store opened on one
 * namespace neither sees nor changes another's objects. Names are unique per namespace
 * (two namespaces may both hold an image `busybox:latest` or a snapshot of the same
 * chain ID, each its own). Content blobs are shared by all namespaces, as in containerd:
 * what keeps a blob alive is a reference from any namespace (see engine/gc).
 *
 * Front ends choose their namespace: the Docker daemon uses `moby` (as dockerd does on
 * containerd), a CRI front end would use `k8s.io`.
 */
import { invalidArgument } from '../errdefs';

/** The namespace of an engine store opened without one (containerd's `default`). */
export const DEFAULT_NAMESPACE = 'default';

/** The Docker front end's namespace (dockerd's on containerd). */
export const MOBY_NAMESPACE = 'moby';

/**
 * The namespace that rows written before namespaces existed move into when a data root
 * is upgraded: the Docker front end was the only one, so they are `moby`'s.
 */
export const LEGACY_NAMESPACE = MOBY_NAMESPACE;

const NAMESPACE_RE = /^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$/;

/**
 * Checks a namespace name (containerd's rule: letters, digits, and `.`, `_`, `-`
 * between them; at most 76 characters) and returns it. Throws invalid-argument.
 */
export function validateNamespace(ns: string): string {
  if (typeof ns !== 'string' || ns.length === 0 || ns.length > 76 || !NAMESPACE_RE.test(ns)) {
    throw invalidArgument(`namespace ${JSON.stringify(ns)}: must be 1 to 76 letters, digits, '.', '_' or '-', starting and ending with a letter or digit`);
  }
  return ns;
}
