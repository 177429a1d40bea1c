/**
 * Running a child process to its end and collecting what it printed: the one way the
 * tests and their helpers run the docker CLI, docker-compose, Python clients and shell
 * pipelines (test/helpers/target.ts's `docker`, the e2e files' own runners).
 */
import { spawn } from 'node:child_process';
import * as os from 'node:os';

/** How a process ended: its exit code (128 + the signal's number when killed by one), stdout and stderr. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /**
   * What the process reads: `input` written to a pipe that is then closed (`''` for an
   * empty pipe); with `openStdin` the pipe stays open after `input` (if any), with nothing
   * more written, until the process exits: a terminal nobody types on. Neither: /dev/null.
   */
  input?: string | Buffer;
  openStdin?: boolean;
  /** killed with SIGKILL after this long (default 120 s) */
  timeoutMs?: number;
}

/** Runs `cmd args` to its end; rejects only when it cannot be started. */
export function runProcess(cmd: string, args: string[], o: RunOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const piped = o.input !== undefined || o.openStdin === true;
    const p = spawn(cmd, args, { env: o.env ?? process.env, cwd: o.cwd, stdio: [piped ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    const so: Buffer[] = [];
    const se: Buffer[] = [];
    p.stdout!.on('data', (c: Buffer) => so.push(c));
    p.stderr!.on('data', (c: Buffer) => se.push(c));
    const timer = setTimeout(() => p.kill('SIGKILL'), o.timeoutMs ?? 120_000);
    p.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    p.on('close', (code, sig) => {
      clearTimeout(timer);
      p.stdin?.destroy();
      resolve({ code: code ?? (sig ? 128 + (os.constants.signals[sig] ?? 0) : -1), stdout: Buffer.concat(so).toString(), stderr: Buffer.concat(se).toString() });
    });
    if (p.stdin) {
      p.stdin.on('error', () => {});
      if (o.openStdin) {
        if (o.input !== undefined) p.stdin.write(o.input);
      } else p.stdin.end(o.input);
    }
  });
}

/** Runs `python3 -c code` (killed after 60 s). */
export function python(code: string, env: NodeJS.ProcessEnv): Promise<CliResult> {
  return runProcess('python3', ['-c', code], { env, timeoutMs: 60_000 });
}
