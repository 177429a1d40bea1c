import { invalidArgument } from '../errdefs';
import type { Descriptor } from '../content';
import { parseDigest } from '../reference/digest';
import { MediaTypes } from '../images/types';

/**
 * Manifest and blob media types the registry client knows: the image model's, plus the
 * ones only a registry speaks (schema1, which is refused; non-distributable layers).
 */
export const MediaType = {
  ...MediaTypes,
  DockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  DockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  OciLayerNonDistributableGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
} as const;

/** The Accept header sent when fetching manifests, most preferred first. */
export const MANIFEST_ACCEPT = [
  MediaType.OciIndex,
  MediaType.DockerManifestList,
  MediaType.OciManifest,
  MediaType.DockerManifest,
].join(', ');

/** Manifest types whose content lists other manifests. */
export function isIndexType(mt: string): boolean {
  return mt === MediaType.OciIndex || mt === MediaType.DockerManifestList;
}

/** Single-platform image manifest types. */
export function isManifestType(mt: string): boolean {
  return mt === MediaType.OciManifest || mt === MediaType.DockerManifest;
}

export function isSchema1Type(mt: string): boolean {
  return mt === MediaType.DockerSchema1 || mt === MediaType.DockerSchema1Signed;
}

/** Layers that are not to be fetched from or pushed to a registry (Windows foreign layers). */
export function isNonDistributable(mt: string): boolean {
  return mt === MediaType.DockerForeignLayerGzip || mt.startsWith('application/vnd.oci.image.layer.nondistributable.');
}

/** A parsed image manifest (Docker schema2 or OCI). */
export interface ImageManifest {
  schemaVersion: 2;
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

/** A parsed image index / manifest list. */
export interface ImageIndex {
  schemaVersion: 2;
  mediaType: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

/** Docker's refusal of schema1 manifests. */
export function schema1Error(ref: string) {
  return invalidArgument(
    '[DEPRECATION NOTICE] Docker Image Format v1 and Docker Image manifest version 2, schema 1 support is disabled by ' +
      `default and will be removed in an upcoming release. Suggest the author of ${ref} to upgrade the image to the OCI ` +
      'Format or Docker Image manifest v2, schema 2. More information at https://docs.docker.com/go/deprecated-image-specs/',
  );
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringMap(v: unknown, what: string): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isRecord(v) || !Object.values(v).every((x) => typeof x === 'string')) {
    throw invalidArgument(`invalid ${what}: annotations must be a map of strings`);
  }
  return v as Record<string, string>;
}

/**
 * Checks a descriptor from a registry response: media type, digest (supported algorithm,
 * well formed), size (a non-negative safe integer). Returns a clean copy.
 * @throws invalid-argument naming `what`.
 */
export function validateDescriptor(v: unknown, what: string): Descriptor {
  if (!isRecord(v)) throw invalidArgument(`invalid ${what}: descriptor is not an object`);
  const { mediaType, digest, size } = v;
  if (typeof mediaType !== 'string' || mediaType === '' || mediaType.length > 255) {
    throw invalidArgument(`invalid ${what}: bad media type`);
  }
  if (typeof digest !== 'string') throw invalidArgument(`invalid ${what}: missing digest`);
  try {
    parseDigest(digest);
  } catch (err) {
    throw invalidArgument(`invalid ${what}: digest ${JSON.stringify(digest.slice(0, 100))}: ${(err as Error).message}`);
  }
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw invalidArgument(`invalid ${what}: bad size`);
  }
  const d: Descriptor = { mediaType, digest, size };
  const annotations = stringMap(v.annotations, what);
  if (annotations) d.annotations = annotations;
  if (Array.isArray(v.urls) && v.urls.every((u) => typeof u === 'string')) d.urls = v.urls as string[];
  if (isRecord(v.platform)) {
    const p = v.platform;
    if (typeof p.architecture !== 'string' || typeof p.os !== 'string') {
      throw invalidArgument(`invalid ${what}: platform needs os and architecture`);
    }
    d.platform = { architecture: p.architecture, os: p.os };
    if (typeof p.variant === 'string' && p.variant !== '') d.platform.variant = p.variant;
    if (typeof p['os.version'] === 'string') d.platform['os.version'] = p['os.version'];
  }
  return d;
}

/**
 * Parses manifest bytes from a registry. The media type is the content's own `mediaType`
 * field; `headerType` (Content-Type) is used only when the field is absent, and then
 * the shape decides between index and manifest if the header says nothing useful.
 * @param ref shown in the schema1 refusal.
 * @throws invalid-argument for malformed JSON, schema1, unknown types, bad descriptors.
 */
export function parseManifest(bytes: Buffer, headerType: string | undefined, ref: string): ImageManifest | ImageIndex {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw invalidArgument(`invalid manifest for ${ref}: not JSON`);
  }
  if (!isRecord(json)) throw invalidArgument(`invalid manifest for ${ref}: not a JSON object`);
  let mt: string | undefined = typeof json.mediaType === 'string' && json.mediaType !== '' ? json.mediaType : undefined;
  if (json.schemaVersion === 1 || (mt && isSchema1Type(mt))) throw schema1Error(ref);
  if (mt === undefined && headerType) {
    const h = headerType.split(';')[0]!.trim().toLowerCase();
    if (isSchema1Type(h)) throw schema1Error(ref);
    if (isIndexType(h) || isManifestType(h)) mt = h;
  }
  if (mt === undefined) mt = Array.isArray(json.manifests) ? MediaType.OciIndex : MediaType.OciManifest;
  if (json.schemaVersion !== 2) throw invalidArgument(`invalid manifest for ${ref}: unsupported schemaVersion`);
  const annotations = stringMap(json.annotations, `manifest for ${ref}`);
  if (isIndexType(mt)) {
    if (!Array.isArray(json.manifests)) throw invalidArgument(`invalid manifest list for ${ref}: no manifests`);
    const manifests = json.manifests.map((m, i) => validateDescriptor(m, `manifest list entry ${i} of ${ref}`));
    return { schemaVersion: 2, mediaType: mt, manifests, ...(annotations ? { annotations } : {}) };
  }
  if (!isManifestType(mt)) throw invalidArgument(`unsupported manifest media type ${JSON.stringify(mt)} for ${ref}`);
  if (!Array.isArray(json.layers)) throw invalidArgument(`invalid manifest for ${ref}: no layers`);
  const config = validateDescriptor(json.config, `config descriptor of ${ref}`);
  const layers = json.layers.map((l, i) => validateDescriptor(l, `layer ${i} of ${ref}`));
  return { schemaVersion: 2, mediaType: mt, config, layers, ...(annotations ? { annotations } : {}) };
}

export function isIndex(m: ImageManifest | ImageIndex): m is ImageIndex {
  return isIndexType(m.mediaType);
}
