/**
 * The differential comparison: the same JSON answer from stevedore and from Docker,
 * compared by shape — key sets (recursively), value types, and string formats
 * (RFC 3339 times with or without nanoseconds, 64-hex ids, `sha256:` digests, …) —
 * ignoring the values that differ between two engines by nature (ids, times, paths,
 * sizes). Values are compared only where a check asks for it. See docs/differential.md.
 */

/** One difference, keyed so a checked-in list can name it. */
export interface Difference {
  /** `<check name> <json path> <kind>`: the key used in the known-differences file */
  key: string;
  /** what each side had, for the report */
  detail: string;
}

export type JsonType = 'null' | 'array' | 'object' | 'string' | 'number' | 'boolean' | 'undefined';

export function jsonType(v: unknown): JsonType {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (Array.isArray(v)) return 'array';
  return typeof v as JsonType;
}

/** The format class of a string: what a client may parse it as. */
export function stringFormat(s: string): string {
  if (s === '') return 'empty';
  if (s === '0001-01-01T00:00:00Z') return 'zero-time';
  // Go's RFC3339Nano drops trailing zeros: a nanosecond clock shows 1 to 3 digits once in a million
  if (/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{4,9}(Z|[+-]\d\d:\d\d)$/.test(s)) return 'rfc3339nano';
  if (/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{1,3}(Z|[+-]\d\d:\d\d)$/.test(s)) return 'rfc3339milli';
  if (/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$/.test(s)) return 'rfc3339';
  if (/^sha256:[0-9a-f]{64}$/.test(s)) return 'sha256-digest';
  if (/^[0-9a-f]{64}$/.test(s)) return 'hex64';
  if (/^[0-9a-f]{12}$/.test(s)) return 'hex12';
  if (/^\d+$/.test(s)) return 'decimal-string';
  if (/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(s)) return 'mac';
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(s)) return 'ipv4';
  if (/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(s)) return 'cidr4';
  if (s.startsWith('/')) return 'abs-path';
  return 'text';
}

/** A number's class: integers and fractions are different things to a Go client. */
export function numberFormat(n: number): string {
  return Number.isInteger(n) ? 'integer' : 'fraction';
}

export interface CompareOptions {
  /**
   * Paths (as printed: `.Config.Labels`, `[].Names`) whose object keys are data, not
   * fields: only the value shapes under them are compared, one against another.
   */
  maps?: string[];
  /**
   * Paths whose values must be equal (after `normalize`), not only of the same shape. A
   * `*` segment stands for any one key (`.*.status`: the `status` of every entry of a map).
   */
  values?: string[];
  /** Paths not compared at all (with the reason in the caller's comment). */
  skip?: string[];
  /** Applied to each side's strings before a value comparison (its ids → placeholders). */
  normalize?: (s: string, side: 'stevedore' | 'docker') => string;
}

/**
 * Compares `ours` (stevedore) with `theirs` (Docker) and returns the differences,
 * each once. Array elements are compared index by index up to the shorter length, under
 * one path (`[]`), and an array empty on one side only is a difference of its own. Under
 * a path named in `values`, every leaf is compared by value and arrays by length too.
 */
export function compareShapes(check: string, ours: unknown, theirs: unknown, o: CompareOptions = {}): Difference[] {
  const out = new Map<string, Difference>();
  const add = (p: string, kind: string, detail: string) => {
    const key = `${check} ${p || '.'} ${kind}`;
    if (!out.has(key)) out.set(key, { key, detail });
  };
  const norm = o.normalize ?? ((s: string) => s);
  const patterns = (o.values ?? []).filter((v) => v.includes('*')).map((v) => new RegExp(`^${v.split('*').map((x) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('[^.]*')}$`));
  const isValued = (p: string) => (o.values?.includes(p) ?? false) || patterns.some((r) => r.test(p));
  const walk = (p: string, a: unknown, b: unknown, inValues = false): void => {
    if (o.skip?.includes(p)) return;
    const valued = inValues || isValued(p);
    const ta = jsonType(a);
    const tb = jsonType(b);
    if (ta !== tb) {
      add(p, 'type', `stevedore ${ta} ${brief(a)}, docker ${tb} ${brief(b)}`);
      return;
    }
    if (valued && ta !== 'object' && ta !== 'array') {
      // a leaf under a compared path: its value, ids replaced by roles
      const va = canonical(a, (x) => norm(x, 'stevedore'));
      const vb = canonical(b, (x) => norm(x, 'docker'));
      if (va !== vb) add(p, 'value', `stevedore ${brief(va)}, docker ${brief(vb)}`);
    }
    if (valued && ta === 'array' && (a as unknown[]).length !== (b as unknown[]).length) {
      add(p, 'length', `stevedore ${brief(canonical(a, (x) => norm(x, 'stevedore')))}, docker ${brief(canonical(b, (x) => norm(x, 'docker')))}`);
    }
    switch (ta) {
      case 'string': {
        const fa = stringFormat(a as string);
        const fb = stringFormat(b as string);
        if (fa !== fb) add(p, 'format', `stevedore ${fa} ${brief(a)}, docker ${fb} ${brief(b)}`);
        return;
      }
      case 'number': {
        const fa = numberFormat(a as number);
        const fb = numberFormat(b as number);
        if (fa !== fb) add(p, 'format', `stevedore ${fa} ${a as number}, docker ${fb} ${b as number}`);
        return;
      }
      case 'array': {
        const xa = a as unknown[];
        const xb = b as unknown[];
        if ((xa.length === 0) !== (xb.length === 0)) add(p, 'emptiness', `stevedore ${xa.length} items, docker ${xb.length} items`);
        for (let i = 0; i < Math.min(xa.length, xb.length); i++) walk(`${p}[]`, xa[i], xb[i], valued);
        return;
      }
      case 'object': {
        const oa = a as Record<string, unknown>;
        const ob = b as Record<string, unknown>;
        // compared by value, a map's keys are values: compared as fields
        if (o.maps?.includes(p) && !valued) {
          const va = Object.values(oa);
          const vb = Object.values(ob);
          if ((va.length === 0) !== (vb.length === 0)) add(p, 'emptiness', `stevedore keys ${brief(Object.keys(oa))}, docker keys ${brief(Object.keys(ob))}`);
          for (let i = 0; i < Math.min(va.length, vb.length); i++) walk(`${p}{}`, va[i], vb[i]);
          return;
        }
        for (const k of Object.keys(oa)) if (!(k in ob)) add(`${p}.${k}`, 'only-stevedore', `stevedore ${brief(oa[k])}`);
        for (const k of Object.keys(ob)) if (!(k in oa)) add(`${p}.${k}`, 'only-docker', `docker ${brief(ob[k])}`);
        for (const k of Object.keys(oa)) if (k in ob) walk(`${p}.${k}`, oa[k], ob[k], valued);
        return;
      }
      default:
        return;
    }
  };
  walk('', ours, theirs);
  return [...out.values()];
}

/** JSON with object keys sorted (Go marshals maps sorted; key order means nothing to a client) and strings normalized. */
export function canonical(v: unknown, str: (s: string) => string = (s) => s): string {
  return JSON.stringify(v, (_k, x: unknown) => {
    if (typeof x === 'string') return str(x);
    if (x && typeof x === 'object' && !Array.isArray(x)) return Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([p], [q]) => (p < q ? -1 : p > q ? 1 : 0)));
    return x;
  });
}

function brief(v: unknown): string {
  const s = typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v) ?? String(v);
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
}

/**
 * Sets of the known differences against what was found: `unexpected` are new ones,
 * `stale` are listed ones that no longer occur.
 */
export function reconcile(found: Difference[], known: Record<string, string>): { unexpected: Difference[]; stale: string[] } {
  const keys = new Set(found.map((d) => d.key));
  return {
    unexpected: found.filter((d) => !(d.key in known)),
    stale: Object.keys(known).filter((k) => !keys.has(k)),
  };
}
