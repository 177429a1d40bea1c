/**
 * Docker's event filters (`docker events --filter`): type, event, container, image,
 * label, volume, network, daemon, scope. Within one key values are OR-ed, across keys
 * AND-ed, as in moby's daemon/events/filter.go.
 */
import { invalidArgument } from '../../engine/errdefs';
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

export function eventMatches(filters: Map<string, string[]>, ev: DockerEvent): boolean {
  const f = (k: string) => filters.get(k);
  const action = ev.Action;
  const events = f('event');
  if (events && events.length && !events.some((e) => action === e || action.startsWith(e + ':'))) return false;
  if (!matchesAny(f('type'), ev.Type)) return false;
  if (!matchesAny(f('scope'), ev.scope)) return false;
  const attrs = ev.Actor.Attributes;
  if (f('container')?.length) {
    if (ev.Type !== 'container') return false;
    if (!f('container')!.some((c) => c === attrs.name || ev.Actor.ID === c || (c.length >= 1 && ev.Actor.ID.startsWith(c)))) return false;
  }
  if (f('image')?.length && !(ev.Type === 'image' || ev.Type === 'container')) return false;
  if (!matchesImage(f('image'), ev)) return false;
  if (f('volume')?.length && !(ev.Type === 'volume' && matchesAny(f('volume'), ev.Actor.ID, attrs.name))) return false;
  if (f('network')?.length && !(ev.Type === 'network' && matchesAny(f('network'), ev.Actor.ID, attrs.name))) return false;
  if (f('daemon')?.length && !(ev.Type === 'daemon' && matchesAny(f('daemon'), ev.Actor.ID, attrs.name))) return false;
  if (!matchesLabels(f('label'), attrs)) return false;
  return true;
}

/**
 * Parses the `since`/`until` values clients send: Unix seconds with an optional
 * fraction ("1700000000.123456789"), RFC 3339 dates, or durations relative to now
 * ("10m", "1h30m"). Returns nanoseconds since the epoch.
 */
export function parseEventTime(value: string, now = Date.now()): bigint {
  const v = value.trim();
  let m = /^(\d+)(?:\.(\d{1,9}))?$/.exec(v);
  if (m) return BigInt(m[1]!) * 1_000_000_000n + BigInt((m[2] ?? '').padEnd(9, '0') || '0');
  m = /^(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+$/.exec(v);
  if (m) {
    let ms = 0;
    for (const part of v.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) {
      const n = Number(part[1]);
      const unit = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[part[2] as 'ns'];
      ms += n * unit;
    }
    return BigInt(Math.round(now - ms)) * 1_000_000n;
  }
  const t = Date.parse(v);
  if (!Number.isNaN(t)) return BigInt(t) * 1_000_000n;
  throw invalidArgument(`invalid timestamp: ${value}`);
}
