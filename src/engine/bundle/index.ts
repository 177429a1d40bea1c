/** OCI bundles on disk. The spec itself is composed in engine/oci. See docs/bundle.md. */
export { writeBundle, serializeSpec } from './bundle';
