/**
 * The filters every prune endpoint shares (moby's daemon/prune.go): the check that only
 * accepted keys were sent, `until` (one value: Unix seconds, an RFC 3339 date or a
 * duration before now) and `label` / `label!` (Go's `filters.Args.MatchKVList`).
 * Used by /containers/prune, /images/prune, /networks/prune, /volumes/prune and
 * /build/prune; the filters arrive already parsed by the API layer (map or list form).
 */
import { isStevedoreError, invalidArgument } from '../../engine/errdefs';
import { goParseDuration } from '../../engine/gostr';
import { parseEventTime } from '../events/filter';

/** The filters of /containers/prune and /networks/prune. */
export const UNTIL_AND_LABELS: readonly string[] = ['until', 'label', 'label!'];

/** Throws Docker's invalid-argument `Invalid filter '<key>'` for the first key not in `accepted`. */
export function validatePruneFilters(filters: Map<string, string[]>, accepted: readonly string[]): void {
  for (const k of filters.keys()) if (!accepted.includes(k)) throw invalidArgument(`Invalid filter '${k}'`);
}

/**
 * The `until` filter as nanoseconds since the epoch, or undefined when absent. Throws
 * invalid-argument `more than one until filter specified` or `failed to parse value as
 * time or duration: "<v>"` (moby's messages; Docker 20.10 answered both with a 500,
 * later engines with a 400).
 */
export function pruneUntil(filters: Map<string, string[]>, now = Date.now()): bigint | undefined {
  const values = filters.get('until') ?? [];
  if (values.length === 0) return undefined;
  if (values.length > 1) throw invalidArgument('more than one until filter specified');
  const v = values[0]!;
  try {
    if (v.trim() === '') throw invalidArgument('empty');
    return parseEventTime(v, now);
  } catch (err) {
    if (!isStevedoreError(err)) throw err;
    throw invalidArgument(`failed to parse value as time or duration: ${JSON.stringify(v)}`);
  }
}

/**
 * Whether a thing created at `createdNano` (ns since the epoch: engine/timeparse.ts's
 * `rfc3339ToNanos` of its creation time) is kept by `until` (moby: `Created.After(until)` keeps it).
 */
export function keptByUntil(until: bigint | undefined, createdNano: bigint): boolean {
  return until !== undefined && createdNano > until;
}

/** Go's `filters.Args.MatchKVList(key, labels)`: every value (`k` or `k=v`) matches; true when the key is absent. */
export function matchKVList(values: string[] | undefined, labels: Record<string, string> | null | undefined): boolean {
  if (!values || values.length === 0) return true;
  const l = labels ?? {};
  if (Object.keys(l).length === 0) return false;
  return values.every((spec) => {
    const i = spec.indexOf('=');
    if (i < 0) return Object.prototype.hasOwnProperty.call(l, spec);
    const k = spec.slice(0, i);
    return Object.prototype.hasOwnProperty.call(l, k) && l[k] === spec.slice(i + 1);
  });
}

/**
 * moby's prune `matchLabels`: every `label` matches, and unless `label!` is absent, not
 * every `label!` matches.
 */
export function matchPruneLabels(filters: Map<string, string[]>, labels: Record<string, string> | null | undefined): boolean {
  if (!matchKVList(filters.get('label'), labels)) return false;
  const not = filters.get('label!');
  if (not && not.length > 0 && matchKVList(not, labels)) return false;
  return true;
}

/** The build-cache fields /build/prune accepts as filters (moby 20.10's builder-next cacheFields). */
const BUILD_CACHE_FIELDS = ['id', 'parent', 'type', 'description', 'inuse', 'shared', 'private'];

/**
 * Checks a /build/prune request as Docker 20.10's builder does before it prunes: the
 * filters (`until`/`unused-for` as one Go duration, `label`, `label!` and the cache
 * fields, each with one value) and `keep-storage` (an integer). Errors carry Docker's
 * messages, prefixed `failed to prune build cache: ` where Docker prefixes them.
 * Throws invalid-argument.
 */
export function checkBuildPrune(filters: Map<string, string[]>, opts: { keepStorage?: string } = {}): void {
  const ks = opts.keepStorage ?? '';
  if (ks !== '' && !/^[+-]?\d+$/.test(ks)) throw invalidArgument(`keep-storage is in bytes and expects an integer, got ${ks}: strconv.Atoi: parsing ${JSON.stringify(ks)}: invalid syntax`);
  const fail = (m: string) => invalidArgument(`failed to prune build cache: ${m}`);
  for (const k of filters.keys()) if (!['until', 'unused-for', 'label', 'label!', ...BUILD_CACHE_FIELDS].includes(k)) throw fail(`Invalid filter '${k}'`);
  const until = filters.get('until') ?? [];
  const unusedFor = filters.get('unused-for') ?? [];
  if (until.length > 0 && unusedFor.length > 0) throw fail('conflicting filters: "until" and "unused-for"');
  const key = unusedFor.length > 0 ? 'unused-for' : 'until';
  const values = [...until, ...unusedFor];
  if (values.length > 1) throw fail('filters expect only one value');
  if (values.length === 1) {
    // Go's own message: invalid duration, missing unit or unknown unit (goParseDuration's)
    try {
      goParseDuration(values[0]!);
    } catch (err) {
      throw fail(`"${key}" filter expects a duration (e.g., '24h'): ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  for (const f of BUILD_CACHE_FIELDS) if ((filters.get(f) ?? []).length > 1) throw fail('filters expect only one value');
}

