/**
 * Docker's event filters (`docker events --filter`): type, event, container, image,
 * label, volume, network, daemon, scope. Within one key values are OR-ed, across keys
 * AND-ed, as in moby's daemon/events/filter.go.
 */
import { invalidArgument } from '../../engine/errdefs';
import { goParseDuration } from '../../engine/gostr';
import { parseRfc3339Nanos } from '../../engine/timeparse';
import type { DockerEvent } from './bus';

function matchesAny(values: string[] | undefined, ...candidates: Array<string | undefined>): boolean {
  if (!values || values.length === 0) return true;
  return values.some((v) => candidates.some((c) => c !== undefined && c !== '' && c === v));
}

/** Image filter: an image reference matches with or without the ":latest" tag. */
function matchesImage(values: string[] | undefined, ev: DockerEvent): boolean {
  if (!values || values.length === 0) return true;
  const img = ev.Type === 'image' ? ev.Actor.ID : ev.Actor.Attributes.image;
  const name = ev.Type === 'image' ? ev.Actor.Attributes.name : undefined;
  const strip = (s: string | undefined) => (s && s.endsWith(':latest') ? s.slice(0, -7) : s);
  return values.some((v) => {
    const sv = strip(v);
    return [img, name].some((c) => c !== undefined && (c === v || strip(c) === sv || (c.startsWith('sha256:') && c.slice(7).startsWith(v))));
  });
}

function matchesLabels(values: string[] | undefined, attrs: Record<string, string>): boolean {
  if (!values || values.length === 0) return true;
  return values.every((v) => {
    const i = v.indexOf('=');
    if (i < 0) return Object.prototype.hasOwnProperty.call(attrs, v);
    return attrs[v.slice(0, i)] === v.slice(i + 1);
  });
}

/** Go's `filters.Args.FuzzyMatch`: no values, an equal value, or a value that is a prefix of `source`. */
function fuzzyMatch(values: string[] | undefined, source: string): boolean {
  if (!values || values.length === 0) return true;
  return values.some((v) => source.startsWith(v));
}

/** Event actions matched by prefix when one of them is a filter value (moby #25798). */
const PREFIX_ACTIONS = new Set(['health_status', 'exec_create', 'exec_start']);

/** Keys matched against the actor's ID or `name` attribute, by prefix (moby's `fuzzyMatchName`). */
const NAME_KEYS = ['daemon', 'container', 'plugin', 'volume', 'network', 'node', 'service', 'secret', 'config'];

/**
 * moby's `events.Filter.Include`. The name keys (`container`, `volume`, …) match any
 * event whose actor ID or `name` attribute starts with a value — not only events of
 * that type, as in Docker. A container's events carry the name it had when they were
 * published, so events from before a rename still match the old name; the `rename`
 * event itself carries the new name (and the old one as `oldName`).
 */
export function eventMatches(filters: Map<string, string[]>, ev: DockerEvent): boolean {
  const f = (k: string) => filters.get(k);
  const attrs = ev.Actor.Attributes;
  const events = f('event');
  if (events?.length) {
    const prefix = events.some((e) => PREFIX_ACTIONS.has(e));
    if (!events.some((e) => (prefix ? ev.Action.startsWith(e) : ev.Action === e))) return false;
  }
  if (!matchesAny(f('type'), ev.Type)) return false;
  if (f('scope')?.length && !f('scope')!.includes(ev.scope)) return false;
  for (const k of NAME_KEYS) {
    if (!fuzzyMatch(f(k), ev.Actor.ID) && !fuzzyMatch(f(k), attrs.name ?? '')) return false;
  }
  if (!matchesImage(f('image'), ev)) return false;
  if (!matchesLabels(f('label'), attrs)) return false;
  return true;
}

/**
 * Parses the `since`/`until` values clients send, as moby's GetTimestamp (the CLI's
 * `--since`/`--until`, the prune `until` filter): a Go duration before now (`10m`,
 * `1h30m`, `-5s`, `.5h`; Go's `time.ParseDuration`, any but "0"; whole seconds, as
 * GetTimestamp's `Unix()`), Unix seconds with an
 * optional fraction ("1700000000.123456789") or an RFC 3339 date. Returns nanoseconds
 * since the epoch. Throws invalid-argument `invalid timestamp: <value>`.
 */
export function parseEventTime(value: string, now = Date.now()): bigint {
  const v = value.trim();
  if (v !== '0') {
    try {
      // whole seconds, as GetTimestamp formats `reference.Add(-d).Unix()`
      const at = BigInt(now) * 1_000_000n - goParseDuration(v);
      return (at < 0n ? (at - 999_999_999n) / 1_000_000_000n : at / 1_000_000_000n) * 1_000_000_000n;
    } catch {
      // not a duration
    }
  }
  const m = /^(\d+)(?:\.(\d{1,9}))?$/.exec(v);
  if (m) return BigInt(m[1]!) * 1_000_000_000n + BigInt((m[2] ?? '').padEnd(9, '0') || '0');
  // an RFC 3339 time to the nanosecond (as the CLI's GetTimestamp sends it); looser dates to the millisecond
  const exact = parseRfc3339Nanos(v);
  if (exact !== undefined) return exact;
  const t = Date.parse(v);
  if (!Number.isNaN(t)) return BigInt(t) * 1_000_000n;
  throw invalidArgument(`invalid timestamp: ${value}`);
}
