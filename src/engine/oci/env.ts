/** `KEY=value` environment lists. */

function envKey(e: string): string {
  const i = e.indexOf('=');
  return i < 0 ? e : e.slice(0, i);
}

/**
 * Replace-or-append (`replaceOrAppendEnvValues` in containerd and Docker): entries of
 * `overrides` replace same-key entries of `defaults` or are appended; a bare `KEY` (no
 * `=`) removes KEY from the defaults.
 */
export function replaceOrAppendEnv(defaults: readonly string[], overrides: readonly string[]): string[] {
  const out: (string | null)[] = [...defaults];
  const index = new Map<string, number>();
  defaults.forEach((e, i) => index.set(envKey(e), i));
  for (const v of overrides) {
    if (!v.includes('=')) {
      const i = index.get(v);
      if (i !== undefined) out[i] = null;
      continue;
    }
    const i = index.get(envKey(v));
    if (i !== undefined) out[i] = v;
    else out.push(v);
  }
  return out.filter((e): e is string => e !== null);
}
