/**
 * Reading the times Docker writes as Go's `time.Time` (RFC 3339 with up to nine
 * fraction digits): the inverse of clock.ts's `rfc3339Nano`, for the code that compares
 * them (log `since`/`until`, prune `until` against a creation time).
 */

const RFC3339 = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/;

/**
 * An RFC 3339 time (`2026-12-03T00:34:05.32557379Z`, `…+01:00`; any number of fraction
 * digits, those past the ninth dropped) as nanoseconds since the Unix epoch. 0n when
 * `t` is not one (an empty or missing time compares as the epoch).
 */
export function rfc3339ToNanos(t: string): bigint {
  return parseRfc3339Nanos(t) ?? 0n;
}

/** The same, undefined when `t` is not an RFC 3339 time (for callers that try other forms next). */
export function parseRfc3339Nanos(t: string): bigint | undefined {
  const m = RFC3339.exec(t);
  if (!m) return undefined;
  const ms = Date.parse(m[1]! + m[3]!);
  if (Number.isNaN(ms)) return undefined;
  return BigInt(Math.floor(ms / 1000)) * 1_000_000_000n + BigInt((m[2] ?? '').slice(0, 9).padEnd(9, '0'));
}
