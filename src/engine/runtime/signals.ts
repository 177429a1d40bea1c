/**
 * Signal names and numbers, as `docker kill --signal` and the runtimes take them. Any
 * task service and its callers use this; it knows nothing of how a task is run.
 */
import { constants as osConstants } from 'node:os';
import { invalidArgument } from '../errdefs';

const SIGNALS = osConstants.signals as Record<string, number>;

/** Normalises 9, "9", "KILL", "SIGKILL" to a signal number; throws invalid-argument. */
export function parseSignal(sig: number | string): number {
  if (typeof sig === 'number' || /^\d+$/.test(sig)) {
    const n = Number(sig);
    if (Number.isInteger(n) && n > 0 && n < 65) return n;
  } else {
    const name = sig.toUpperCase().startsWith('SIG') ? sig.toUpperCase() : 'SIG' + sig.toUpperCase();
    if (SIGNALS[name] !== undefined) return SIGNALS[name];
  }
  throw invalidArgument(`Invalid signal: ${sig}`);
}
