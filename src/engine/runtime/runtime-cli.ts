/**
 * Runs OCI runtime commands (`runc` or `crun`, same flags) for one container's
 * runtime root, for the operations the daemon does without the shim: kill, pause,
 * resume, update, ps, state, delete.
 */
import { spawn } from 'node:child_process';
import { internal } from '../errdefs';

/** Which runtime binary, root and global flags a container was created with. */
export interface RuntimeConfig {
  runtime: string;
  root: string;
  args: string[];
}

/** A runtime command that exited non-zero; `stderr` holds its message. */
export class RuntimeCommandError extends Error {
  constructor(
    readonly command: string,
    readonly stderr: string,
    readonly exitCode: number | null,
  ) {
    super(`${command}: ${stderr.trim() || `exit status ${exitCode}`}`);
    this.name = 'RuntimeCommandError';
  }
  /** The runtime says the container does not exist. */
  get notExist(): boolean {
    return /does not exist|not found|no such/i.test(this.stderr);
  }
  /** The runtime says the container is not running (kill after exit). */
  get notRunning(): boolean {
    return /not running|container.*stopped|process already finished|no such process/i.test(this.stderr);
  }
}

const MAX_OUTPUT = 16 * 1024 * 1024;

/**
 * Runs `<runtime> --root R [args] <cmd...>` and returns its stdout. Rejects with
 * RuntimeCommandError on a non-zero exit, with `internal` if it cannot be spawned.
 */
export function runRuntime(cfg: RuntimeConfig, cmd: string[], opts: { input?: string; signal?: AbortSignal } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const argv = ['--root', cfg.root, ...cfg.args, ...cmd];
    const child = spawn(cfg.runtime, argv, { stdio: ['pipe', 'pipe', 'pipe'], signal: opts.signal });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let size = 0;
    const collect = (into: Buffer[]) => (b: Buffer) => {
      size += b.length;
      if (size <= MAX_OUTPUT) into.push(b);
    };
    child.stdout.on('data', collect(out));
    child.stderr.on('data', collect(err));
    child.on('error', (e) => reject(internal(`cannot run ${cfg.runtime}: ${e.message}`, e)));
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out).toString('utf8'));
      else reject(new RuntimeCommandError(`${cfg.runtime} ${cmd[0]}`, Buffer.concat(err).toString('utf8'), code));
    });
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}
