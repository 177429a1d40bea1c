/**
 * `CapAdd` / `CapDrop` the way Docker 20.10 applies them: over the engine's default set
 * of 14, with the `ALL` keyword, names accepted with or without `CAP_` in any case.
 */
import { invalidArgument } from '../../../engine/errdefs';
import { ALL_CAPABILITIES, DEFAULT_CAPABILITIES } from '../../../engine/oci/caps';

const ALL = 'ALL';

/**
 * Upper-cases names, adds the `CAP_` prefix, keeps `ALL` as is.
 * Throws invalid-argument `unknown capability: "CAP_X"` for names Docker does not know.
 */
export function normalizeCapabilities(caps: readonly string[]): string[] {
  return caps.map((raw) => {
    let c = raw.toUpperCase();
    if (c === ALL) return c;
    if (!c.startsWith('CAP_')) c = 'CAP_' + c;
    if (!ALL_CAPABILITIES.includes(c)) throw invalidArgument(`unknown capability: "${c}"`);
    return c;
  });
}

/**
 * The capability set of a container: all of them when privileged; otherwise the
 * defaults minus `drops` plus `adds`, where `adds: ALL` means everything but `drops`
 * and `drops: ALL` means only `adds`.
 */
export function tweakCapabilities(
  adds: readonly string[] | null | undefined,
  drops: readonly string[] | null | undefined,
  privileged: boolean,
  basics: readonly string[] = DEFAULT_CAPABILITIES,
): string[] {
  if (privileged) return [...ALL_CAPABILITIES];
  if (!adds?.length && !drops?.length) return [...basics];
  const capDrop = normalizeCapabilities(drops ?? []);
  const capAdd = normalizeCapabilities(adds ?? []);
  let caps: string[];
  if (capAdd.includes(ALL)) {
    caps = ALL_CAPABILITIES.filter((c) => !capDrop.includes(c));
  } else if (capDrop.includes(ALL)) {
    caps = capAdd;
  } else {
    caps = [...basics.filter((c) => !capDrop.includes(c)), ...capAdd];
  }
  return [...new Set(caps)];
}
