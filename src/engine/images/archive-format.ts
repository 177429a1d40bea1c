/**
 * Reading the image archives `docker load` accepts, once staged (see staging.ts):
 * - docker-archive as `docker save` writes it: `manifest.json` listing each image's
 *   config member, tags and layer members (`<id>/layer.tar` in Docker 20.10,
 *   `blobs/sha256/<hex>` since Docker 25, which also writes an OCI `index.json`);
 * - a plain OCI image layout (`oci-layout`, `index.json`, `blobs/`).
 * The result is a plan per image: config bytes, layer members with their declared
 * diffIDs, and tags. Every name and digest is checked here.
 */
import { createHash } from 'node:crypto';
import { invalidArgument } from '../errdefs';
import type { StagedArchive } from './staging';
import { type DockerImageConfig, type ImageIndex, type ImageManifest, MediaTypes } from './types';

/** One image to register from an archive. */
export interface LoadPlan {
  configBytes: Buffer;
  /** `sha256:` of configBytes: the image ID */
  id: string;
  config: DockerImageConfig;
  /** archive members of the layers, bottom first */
  layers: Array<{ member: string; diffID: string }>;
  /** references as written in the archive (`busybox:latest`, or full names) */
  repoTags: string[];
  /** the OCI manifest it came with, if any */
  manifest?: { bytes: Buffer; digest: string; mediaType: string };
}

interface ArchiveManifestEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

/** Parses a config blob and checks what the store relies on. Throws invalid-argument. */
export function parseImageConfig(bytes: Buffer): DockerImageConfig {
  let c: DockerImageConfig;
  try {
    c = JSON.parse(bytes.toString('utf8')) as DockerImageConfig;
  } catch (err) {
    throw invalidArgument(`invalid image config: ${(err as Error).message}`);
  }
  if (typeof c !== 'object' || c === null || Array.isArray(c)) throw invalidArgument('invalid image config: not an object');
  const ids = c.rootfs?.diff_ids ?? [];
  if (!Array.isArray(ids) || !ids.every((d) => typeof d === 'string' && /^sha256:[0-9a-f]{64}$/.test(d))) {
    throw invalidArgument('invalid image config: rootfs.diff_ids must be sha256 digests');
  }
  if (c.rootfs === undefined) c.rootfs = { type: 'layers', diff_ids: [] };
  return c;
}

function sha256(b: Buffer): string {
  return 'sha256:' + createHash('sha256').update(b).digest('hex');
}

function blobMember(digest: string): string {
  const m = /^sha256:([0-9a-f]{64})$/.exec(digest);
  if (!m) throw invalidArgument(`invalid archive: unsupported digest ${JSON.stringify(digest)}`);
  return `blobs/sha256/${m[1]}`;
}

/** The load plans of a staged archive. Throws invalid-argument. */
export function planLoad(st: StagedArchive): LoadPlan[] {
  if (st.has('manifest.json')) return planDockerArchive(st);
  if (st.has('index.json')) return planOciLayout(st);
  throw invalidArgument('invalid archive: no manifest.json or index.json found (not a docker save or OCI layout archive)');
}

function planDockerArchive(st: StagedArchive): LoadPlan[] {
  const entries = st.json<ArchiveManifestEntry[]>('manifest.json');
  if (!Array.isArray(entries)) throw invalidArgument('invalid archive: manifest.json is not a list');
  return entries.map((e) => {
    if (typeof e?.Config !== 'string' || !Array.isArray(e.Layers) || !e.Layers.every((l) => typeof l === 'string')) {
      throw invalidArgument('invalid archive: malformed manifest.json entry');
    }
    const cf = st.get(e.Config);
    if (!cf.data) throw invalidArgument(`invalid archive: config ${e.Config} is too large`);
    const config = parseImageConfig(cf.data);
    const diffIDs = config.rootfs.diff_ids;
    if (diffIDs.length !== e.Layers.length) {
      throw invalidArgument(`invalid archive: config ${e.Config} lists ${diffIDs.length} layers, manifest.json ${e.Layers.length}`);
    }
    const tags = e.RepoTags ?? [];
    if (!Array.isArray(tags) || !tags.every((t) => typeof t === 'string')) throw invalidArgument('invalid archive: RepoTags must be strings');
    return {
      configBytes: cf.data,
      id: sha256(cf.data),
      config,
      layers: e.Layers.map((member, i) => {
        st.get(member);
        return { member, diffID: diffIDs[i]! };
      }),
      repoTags: tags,
    };
  });
}

function planOciLayout(st: StagedArchive): LoadPlan[] {
  const index = st.json<ImageIndex>('index.json');
  if (!Array.isArray(index?.manifests)) throw invalidArgument('invalid archive: index.json has no manifests');
  const plans: LoadPlan[] = [];
  const visit = (desc: ImageIndex['manifests'][number], depth: number, name?: string) => {
    if (depth > 4) throw invalidArgument('invalid archive: indexes nested too deeply');
    const member = blobMember(desc.digest);
    const f = st.get(member);
    if (f.digest !== desc.digest) throw invalidArgument(`invalid archive: ${member} does not match its digest`);
    if (!f.data) throw invalidArgument(`invalid archive: manifest ${desc.digest} is too large`);
    const ann = desc.annotations ?? {};
    const ref = name ?? ann['io.containerd.image.name'] ?? refFromOciName(ann['org.opencontainers.image.ref.name']);
    let doc: ImageManifest & ImageIndex;
    try {
      doc = JSON.parse(f.data.toString('utf8')) as ImageManifest & ImageIndex;
    } catch (err) {
      throw invalidArgument(`invalid archive: manifest ${desc.digest}: ${(err as Error).message}`);
    }
    const mt = doc.mediaType ?? desc.mediaType;
    if (mt === MediaTypes.OciIndex || mt === MediaTypes.DockerManifestList || Array.isArray(doc.manifests)) {
      const linux = doc.manifests.filter((m) => !m.platform || m.platform.os === 'linux');
      const arch = goArch();
      const pick = linux.find((m) => m.platform?.architecture === arch) ?? linux.find((m) => !m.platform);
      if (!pick) throw invalidArgument(`invalid archive: no image for linux/${arch} in ${desc.digest}`);
      visit(pick, depth + 1, ref);
      return;
    }
    if (!doc.config || !Array.isArray(doc.layers)) throw invalidArgument(`invalid archive: ${desc.digest} is not an image manifest`);
    const cf = st.get(blobMember(doc.config.digest));
    if (cf.digest !== doc.config.digest || !cf.data) throw invalidArgument(`invalid archive: config ${doc.config.digest} is missing or does not match`);
    const config = parseImageConfig(cf.data);
    if (config.rootfs.diff_ids.length !== doc.layers.length) throw invalidArgument(`invalid archive: manifest ${desc.digest} and its config disagree on the number of layers`);
    const layers = doc.layers.map((l, i) => {
      const m = blobMember(l.digest);
      const lf = st.get(m);
      if (lf.digest !== l.digest) throw invalidArgument(`invalid archive: layer ${l.digest} does not match its digest`);
      return { member: m, diffID: config.rootfs.diff_ids[i]! };
    });
    const existing = plans.find((p) => p.id === cf.digest);
    if (existing) {
      if (ref) existing.repoTags.push(ref);
      return;
    }
    plans.push({
      configBytes: cf.data,
      id: cf.digest,
      config,
      layers,
      repoTags: ref ? [ref] : [],
      manifest: { bytes: f.data, digest: desc.digest, mediaType: mt ?? MediaTypes.OciManifest },
    });
  };
  for (const d of index.manifests) visit(d, 0);
  return plans;
}

/** `org.opencontainers.image.ref.name` is a full reference only when it has a name part. */
function refFromOciName(v: string | undefined): string | undefined {
  if (!v || !/[/:]/.test(v) || /^[\w][\w.-]*$/.test(v)) return undefined;
  return v;
}

/** Node's arch in Go's GOARCH spelling. */
export function goArch(): string {
  const a = process.arch;
  return a === 'x64' ? 'amd64' : a === 'ia32' ? '386' : a;
}
