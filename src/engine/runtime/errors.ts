/**
 * Errors from the OCI runtime, classified the way Docker does it so the daemon can
 * answer `docker run` with exit code 127 (command not found) or 126 (cannot invoke).
 */
import * as fs from 'node:fs';
import { StevedoreError } from '../errdefs';

/** Why the runtime could not create or start the container's process. */
export type CreateFailure = 'not-found' | 'not-executable' | 'other';

/**
 * `runtime create` (or `start`) failed. `kind` is invalid-argument for 126/127 (the
 * container's config is wrong, HTTP 400 in Docker) and internal otherwise.
 */
export class RuntimeCreateError extends StevedoreError {
  /** 127 for not-found, 126 for not-executable, undefined otherwise. */
  readonly exitCode: 126 | 127 | undefined;
  readonly reason: CreateFailure;
  /** The runtime's own message (e.g. runc's "unable to start container process: …"). */
  readonly runtimeMessage: string;

  constructor(rawMessage: string, op: 'create' | 'start' | 'exec' = 'create') {
    // The shim creates and starts with one `run --detach`; runc then says "runc run
    // failed:" where Docker (create, then start) shows "runc create failed:".
    const runtimeMessage = op === 'create' ? rawMessage.replace(/^(\S+) run failed:/, '$1 create failed:') : rawMessage;
    const reason = classify(runtimeMessage);
    super(reason === 'other' ? 'internal' : 'invalid-argument', `OCI runtime ${op} failed: ${runtimeMessage}: unknown`);
    this.name = 'RuntimeCreateError';
    this.reason = reason;
    this.exitCode = reason === 'not-found' ? 127 : reason === 'not-executable' ? 126 : undefined;
    this.runtimeMessage = runtimeMessage;
  }
}

/** Docker's rules (daemon/start.go): not found → 127, EACCES → 126, ENOTDIR/EISDIR → 127. */
export function classify(msg: string): CreateFailure {
  let r: CreateFailure = 'other';
  if (/executable file not found|no such file or directory|system cannot find the file specified/i.test(msg)) r = 'not-found';
  if (/permission denied/i.test(msg)) r = 'not-executable';
  if (/not a directory|is a directory/i.test(msg)) r = 'not-found';
  return r;
}

/**
 * The last error message the runtime wrote to its `--log-format json` log, or
 * undefined. Reads at most the last 64 KiB; lines that are not JSON are ignored.
 */
export function lastRuntimeError(logPath: string): string | undefined {
  let text: string;
  try {
    const fd = fs.openSync(logPath, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      const len = Math.min(size, 65536);
      const buf = Buffer.alloc(len);
      fs.readSync(fd, buf, 0, len, size - len);
      text = buf.toString('utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return undefined;
  }
  let last: string | undefined;
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const e = JSON.parse(line) as { level?: unknown; msg?: unknown };
      if ((e.level === 'error' || e.level === 'fatal') && typeof e.msg === 'string') last = e.msg;
    } catch {
      // a torn first line of the window, or non-JSON noise
    }
  }
  return last;
}
