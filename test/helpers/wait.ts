/**
 * Waiting helpers for e2e tests: whether a process is alive, and a bounded poll.
 */

/** Whether a process with this pid exists (signal 0). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Polls `cond` every `everyMs` until it holds, at most `tries` times; throws
 * "gave up waiting for <what>" when it never did.
 */
export async function until(cond: () => boolean | Promise<boolean>, what: string, opts: { tries?: number; everyMs?: number } = {}): Promise<void> {
  const tries = opts.tries ?? 300;
  const everyMs = opts.everyMs ?? 100;
  for (let i = 0; i < tries; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`gave up waiting for ${what}`);
}
