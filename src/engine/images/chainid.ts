/**
 * Layer chain IDs (image-spec config.md): chainID(L0) = diffID(L0),
 * chainID(Ln) = sha256(chainID(Ln-1) + " " + diffID(Ln)). A committed snapshot is
 * named by the chain ID of its top layer, so identical stacks are shared.
 */
import { createHash } from 'node:crypto';

/** The chain IDs of every prefix of `diffIDs` (same length as the input). */
export function chainIDs(diffIDs: readonly string[]): string[] {
  const out: string[] = [];
  for (const d of diffIDs) {
    const prev = out[out.length - 1];
    out.push(prev === undefined ? d : 'sha256:' + createHash('sha256').update(`${prev} ${d}`).digest('hex'));
  }
  return out;
}

/** The chain ID of the whole stack, or undefined for no layers. */
export function chainID(diffIDs: readonly string[]): string | undefined {
  const ids = chainIDs(diffIDs);
  return ids[ids.length - 1];
}
