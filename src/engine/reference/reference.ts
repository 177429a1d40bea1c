import { invalidArgument } from '../errdefs';
import { parseDigest } from './digest';
import {
  anchoredDigestRegexp,
  anchoredIdentifierRegexp,
  anchoredNameRegexp,
  anchoredTagRegexp,
  referenceRegexp,
} from './grammar';

/** Longest repository path (without the domain) a reference may have. */
export const REPOSITORY_NAME_MAX = 255;
/** Docker Hub's canonical domain in references. */
export const DEFAULT_DOMAIN = 'docker.io';
/** The legacy name of Docker Hub, normalised to {@link DEFAULT_DOMAIN}. */
export const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
/** Namespace of Docker Hub's official images. */
export const OFFICIAL_REPO_PREFIX = 'library/';
/** Tag added to references that have neither a tag nor a digest. */
export const DEFAULT_TAG = 'latest';

/**
 * A named image reference: `[domain/]path[:tag][@digest]`. Immutable; build it with
 * {@link parseReference}, {@link parseNormalizedNamed} or the `with*` helpers, which
 * validate every part.
 */
export class NamedReference {
  /** @internal use the parse functions. */
  constructor(
    /** Registry host (with port), or '' for a reference parsed without normalisation. */
    readonly domain: string,
    /** Repository path within the registry, e.g. `library/busybox`. */
    readonly path: string,
    readonly tag?: string,
    readonly digest?: string,
  ) {}

  /** `domain/path` (or `path` without a domain): the repository name. */
  get name(): string {
    return this.domain === '' ? this.path : `${this.domain}/${this.path}`;
  }

  /** The full reference: `name[:tag][@digest]`. */
  toString(): string {
    return this.name + (this.tag !== undefined ? ':' + this.tag : '') + (this.digest !== undefined ? '@' + this.digest : '');
  }
}

/**
 * Parses `s` exactly as written, without normalising it (no `docker.io/library/`).
 * @throws invalid-argument with Docker's messages (`invalid reference format`,
 *   `repository name must be lowercase`, `repository name must have at least one component`,
 *   `repository name must not be more than 255 characters`, digest errors).
 */
export function parseReference(s: string): NamedReference {
  if (s === '') throw invalidArgument('repository name must have at least one component');
  const m = referenceRegexp.exec(s);
  if (!m) {
    const lower = s.toLowerCase();
    if (lower !== s && referenceRegexp.test(lower)) throw invalidArgument('repository name must be lowercase');
    throw invalidArgument('invalid reference format');
  }
  const nm = anchoredNameRegexp.exec(m[1]!);
  const domain = nm?.[1] ?? '';
  const path = nm ? nm[2]! : m[1]!;
  if (path.length > REPOSITORY_NAME_MAX) {
    throw invalidArgument(`repository name must not be more than ${REPOSITORY_NAME_MAX} characters`);
  }
  const digest = m[3] !== undefined && m[3] !== '' ? parseDigest(m[3]) : undefined;
  const tag = m[2] !== undefined && m[2] !== '' ? m[2] : undefined;
  return new NamedReference(domain, path, tag, digest);
}

/**
 * Splits a familiar name into registry domain and remainder the way Docker does: a
 * first component that contains `.` or `:`, is `localhost`, or has uppercase letters is
 * a domain; otherwise the name is on Docker Hub (`library/` is added to one-component
 * names there). `index.docker.io` becomes `docker.io`.
 */
export function splitDockerDomain(name: string): { domain: string; remainder: string } {
  const slash = name.indexOf('/');
  if (slash < 0) return { domain: DEFAULT_DOMAIN, remainder: OFFICIAL_REPO_PREFIX + name };
  const first = name.slice(0, slash);
  const rest = name.slice(slash + 1);
  let domain: string;
  let remainder: string;
  if (first === 'localhost' || /[.:]/.test(first) || first.toLowerCase() !== first) {
    domain = first === LEGACY_DEFAULT_DOMAIN ? DEFAULT_DOMAIN : first;
    remainder = rest;
  } else {
    domain = DEFAULT_DOMAIN;
    remainder = name;
  }
  if (domain === DEFAULT_DOMAIN && !remainder.includes('/')) remainder = OFFICIAL_REPO_PREFIX + remainder;
  return { domain, remainder };
}

/**
 * Parses a name as the user types it (`busybox`, `user/app:1`, `localhost:5000/x@sha256:…`)
 * into its canonical form (`docker.io/library/busybox`, …). Does not add a tag.
 * @throws invalid-argument: `invalid reference format`,
 *   `invalid reference format: repository name must be lowercase`,
 *   `invalid repository name (<s>), cannot specify 64-byte hexadecimal strings`, …
 */
export function parseNormalizedNamed(s: string): NamedReference {
  if (anchoredIdentifierRegexp.test(s)) {
    throw invalidArgument(`invalid repository name (${s}), cannot specify 64-byte hexadecimal strings`);
  }
  const { domain, remainder } = splitDockerDomain(s);
  const colon = remainder.indexOf(':');
  const remote = colon >= 0 ? remainder.slice(0, colon) : remainder;
  if (remote.toLowerCase() !== remote) {
    throw invalidArgument('invalid reference format: repository name must be lowercase');
  }
  return parseReference(`${domain}/${remainder}`);
}

/**
 * Docker's rule for references it stores: normalised, `:latest` added to bare names,
 * and the tag dropped when a digest is present.
 */
export function parseDockerRef(s: string): NamedReference {
  const r = parseNormalizedNamed(s);
  if (r.tag !== undefined && r.digest !== undefined) return new NamedReference(r.domain, r.path, undefined, r.digest);
  return tagNameOnly(r);
}

/**
 * A reference string that may also be an image id: 64 hex digits or `sha256:<hex>`
 * give `{ digest }`, anything else is parsed as a normalised name.
 */
export function parseAnyReference(s: string): NamedReference | { digest: string } {
  if (anchoredIdentifierRegexp.test(s)) return { digest: 'sha256:' + s };
  if (anchoredDigestRegexp.test(s)) {
    try {
      return { digest: parseDigest(s) };
    } catch {
      // not a digest of a supported algorithm: try it as a name
    }
  }
  return parseNormalizedNamed(s);
}

/** True when the reference has neither tag nor digest. */
export function isNameOnly(ref: NamedReference): boolean {
  return ref.tag === undefined && ref.digest === undefined;
}

/** Adds `:latest` to a reference that has neither tag nor digest. */
export function tagNameOnly(ref: NamedReference): NamedReference {
  return isNameOnly(ref) ? new NamedReference(ref.domain, ref.path, DEFAULT_TAG) : ref;
}

/** The repository name alone. */
export function trimNamed(ref: NamedReference): NamedReference {
  return new NamedReference(ref.domain, ref.path);
}

/** `ref` with tag `tag` (a digest, if present, is kept). @throws invalid-argument `invalid tag format` */
export function withTag(ref: NamedReference, tag: string): NamedReference {
  if (!anchoredTagRegexp.test(tag)) throw invalidArgument('invalid tag format');
  return new NamedReference(ref.domain, ref.path, tag, ref.digest);
}

/** `ref` with digest `digest` (a tag, if present, is kept). @throws invalid-argument */
export function withDigest(ref: NamedReference, digest: string): NamedReference {
  if (!anchoredDigestRegexp.test(digest)) throw invalidArgument('invalid digest format');
  return new NamedReference(ref.domain, ref.path, ref.tag, parseDigest(digest));
}

/** The repository name as Docker shows it: `busybox`, `user/app`, `localhost:5000/x`. */
export function familiarName(ref: NamedReference): string {
  if (ref.domain !== DEFAULT_DOMAIN) return ref.name;
  if (ref.path.startsWith(OFFICIAL_REPO_PREFIX)) {
    const rest = ref.path.slice(OFFICIAL_REPO_PREFIX.length);
    if (!rest.includes('/')) return rest;
  }
  return ref.path;
}

/** The whole reference as Docker shows it: `busybox:latest`, `localhost:5000/x:1@sha256:…`. */
export function familiarString(ref: NamedReference): string {
  return familiarName(ref) + (ref.tag !== undefined ? ':' + ref.tag : '') + (ref.digest !== undefined ? '@' + ref.digest : '');
}

/** `familiarString(tagNameOnly(parseNormalizedNamed(s)))`, the usual display form. */
export function familiarize(s: string): string {
  return familiarString(tagNameOnly(parseNormalizedNamed(s)));
}
