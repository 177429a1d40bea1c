/**
 * The wall clock with nanosecond precision, for the times Docker writes as Go's
 * `time.Time` (RFC 3339 with nanoseconds, trailing zeros dropped: `State.StartedAt`,
 * an image's `Created`, `/info`'s `SystemTime`, …). `Date` has milliseconds only, and
 * clients parse and compare these strings (docker-compose orders by them; the
 * differential suite checks the precision).
 *
 * The time is the high-resolution monotonic clock (`process.hrtime`) anchored to the
 * wall clock: its nanosecond steps are real, and when the wall clock moves away from it
 * by more than a millisecond (NTP, a suspended host) it is anchored again. It never goes
 * backwards within a process: a re-anchoring to an earlier time waits for it.
 */

let anchorWallNs = 0n;
let anchorHr = 0n;
let last = 0n;

function anchor(): void {
  anchorWallNs = BigInt(Date.now()) * 1_000_000n;
  anchorHr = process.hrtime.bigint();
}

/** Nanoseconds since the Unix epoch, now. Strictly increasing within the process. */
export function nowNanos(): bigint {
  if (anchorHr === 0n) anchor();
  let ns = anchorWallNs + (process.hrtime.bigint() - anchorHr);
  const drift = ns / 1_000_000n - BigInt(Date.now());
  if (drift > 1n || drift < -1n) {
    anchor();
    ns = anchorWallNs + (process.hrtime.bigint() - anchorHr);
  }
  if (ns <= last) ns = last + 1n;
  last = ns;
  return ns;
}

/** Go's RFC3339Nano in UTC for nanoseconds since the epoch: `2026-12-02T19:50:01.123456789Z`, trailing zeros dropped. */
export function rfc3339Nano(ns: bigint): string {
  const ms = Number(ns / 1_000_000n);
  const base = new Date(ms).toISOString().slice(0, 19);
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  return `${base}${frac ? `.${frac}` : ''}Z`;
}

/**
 * Go's RFC3339Nano in the local zone, as `time.Now().Format(time.RFC3339Nano)` writes it
 * (moby's `/info` `SystemTime`): `2026-12-03T05:31:29.076814658+05:30`, `Z` for a zero
 * offset, trailing zeros of the fraction dropped. The zone is the process's, as Go's
 * `time.Local`: `TZ` when set (`""` or an unknown zone: UTC), else /etc/localtime.
 * `offsetMinutes` (east of UTC) replaces it.
 */
export function rfc3339NanoLocal(ns: bigint, offsetMinutes?: number): string {
  const off = offsetMinutes ?? -new Date(Number(ns / 1_000_000n)).getTimezoneOffset();
  if (off === 0) return rfc3339Nano(ns);
  const abs = Math.abs(off);
  const zone = `${off < 0 ? '-' : '+'}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
  // the wall clock of the zone, written as UTC's, with the zone in place of the Z
  return rfc3339Nano(ns + BigInt(off) * 60_000_000_000n).slice(0, -1) + zone;
}

/** Now, as Go's `time.Now().Format(time.RFC3339Nano)` writes it: in the local zone (`rfc3339NanoLocal`). */
export function nowRfc3339NanoLocal(): string {
  return rfc3339NanoLocal(nowNanos());
}

/** Now, as Go's `time.Now().UTC()` marshals into JSON. */
export function nowRfc3339Nano(): string {
  return rfc3339Nano(nowNanos());
}
