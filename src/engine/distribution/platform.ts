/**
 * Platform matching for choosing an entry of an image index, after containerd's
 * `platforms` package: names are normalised (x86_64 → amd64, aarch64 → arm64,
 * arm64 variant v8 ≡ no variant, arm defaults to v7), and a wanted platform also accepts
 * older compatible variants, preferring the closest (arm/v7 takes v7, then v6, then v5).
 */

/** An OCI platform. */
export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

/** linux/amd64: what we pull when nothing else is asked for. */
export const DEFAULT_PLATFORM: Platform = { os: 'linux', architecture: 'amd64' };

/** Normalises os / architecture / variant spellings. */
export function normalizePlatform(p: Platform): Platform {
  const os = p.os.toLowerCase();
  let arch = p.architecture.toLowerCase();
  let variant = (p.variant ?? '').toLowerCase();
  switch (arch) {
    case 'i386':
      arch = '386';
      variant = '';
      break;
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      arch = 'amd64';
      if (variant === 'v1') variant = '';
      break;
    case 'aarch64':
    case 'arm64':
      arch = 'arm64';
      if (variant === '8' || variant === 'v8' || variant === 'v8.0') variant = '';
      break;
    case 'armhf':
      arch = 'arm';
      variant = 'v7';
      break;
    case 'armel':
      arch = 'arm';
      variant = 'v6';
      break;
    case 'arm':
      if (variant === '' || variant === '7') variant = 'v7';
      else if (variant === '5' || variant === '6' || variant === '8') variant = 'v' + variant;
      break;
  }
  return variant === '' ? { os, architecture: arch } : { os, architecture: arch, variant };
}

/** Parses `os/arch[/variant]` (also `arch` alone, meaning linux). */
export function parsePlatform(s: string): Platform {
  const parts = s.split('/');
  if (parts.length === 1) return normalizePlatform({ os: 'linux', architecture: parts[0]! });
  if (parts.length > 3 || parts.some((x) => x === '')) throw new Error(`invalid platform ${JSON.stringify(s)}`);
  return normalizePlatform({ os: parts[0]!, architecture: parts[1]!, ...(parts[2] ? { variant: parts[2] } : {}) });
}

/** `os/arch[/variant]`. */
export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter((x) => x).join('/');
}

/** Platforms acceptable for `want`, best first (all normalised). */
function acceptable(want: Platform): Platform[] {
  const w = normalizePlatform(want);
  if (w.architecture === 'arm' && w.variant && /^v[5-8]$/.test(w.variant)) {
    const out: Platform[] = [];
    for (let v = Number(w.variant.slice(1)); v >= 5; v--) out.push({ os: w.os, architecture: 'arm', variant: `v${v}` });
    return out;
  }
  return [w];
}

/**
 * Rank of `have` for `want`: 0 is an exact match, higher is a worse but compatible one,
 * -1 means it does not match.
 */
export function platformRank(want: Platform, have: Platform): number {
  const h = normalizePlatform(have);
  const list = acceptable(want);
  return list.findIndex(
    (p) => p.os === h.os && p.architecture === h.architecture && (p.variant ?? '') === (h.variant ?? ''),
  );
}

/** Index of the best entry for `want` among `candidates` (undefined platform never matches), or -1. */
export function bestPlatformMatch(want: Platform, candidates: Array<Platform | undefined>): number {
  let best = -1;
  let bestRank = Infinity;
  candidates.forEach((c, i) => {
    if (!c) return;
    const r = platformRank(want, c);
    if (r >= 0 && r < bestRank) {
      best = i;
      bestRank = r;
    }
  });
  return best;
}
