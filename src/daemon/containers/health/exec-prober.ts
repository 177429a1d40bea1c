/**
 * The health probe through the exec path, as Docker's cmdProbe: an exec of the probe's
 * command with the container's user and working directory, stdout and stderr captured
 * together up to 4096 bytes (then `...`), its exit code the result. Past `Timeout` the
 * probe is sent SIGTERM, then SIGKILL after 10 s (Docker's exec termination), and once it
 * has exited the result is -1 `Health check exceeded timeout (…)`.
 */
import type { Duplex } from 'node:stream';
import { goDuration, MAX_OUTPUT, type HealthProber } from './health';

/** What the prober needs of the exec service (daemon/exec/service.ts). */
export interface ProbeExecs {
  create(containerRef: string, body: { Cmd: string[]; AttachStdout: boolean; AttachStderr: boolean; AttachStdin: boolean; Tty: boolean; User?: string; WorkingDir?: string; Privileged: boolean }): { id: string };
  start(id: string, opts: { detach: boolean; tty?: boolean }): Promise<{ stream?: Duplex; exited: Promise<number> }>;
  get(id: string): { pid: number };
}

const TERM_GRACE_MS = 10_000;

/** Keeps the first MAX_OUTPUT bytes of the probe's stdout and stderr (Docker's limitedBuffer). */
class LimitedOutput {
  private readonly parts: Buffer[] = [];
  private size = 0;
  private truncated = false;
  write(b: Buffer): void {
    const keep = Math.min(MAX_OUTPUT - this.size, b.length);
    if (keep > 0) {
      this.parts.push(b.subarray(0, keep));
      this.size += keep;
    }
    if (keep < b.length) this.truncated = true;
  }
  toString(): string {
    const out = Buffer.concat(this.parts).toString('utf8');
    return this.truncated ? `${out}...` : out;
  }
}

/** Reads the exec's stdcopy frames (no tty) into `out`; resolves at the stream's end. */
function collect(stream: Duplex, out: LimitedOutput): Promise<void> {
  return new Promise((resolve) => {
    let pending: Buffer = Buffer.alloc(0);
    stream.on('data', (chunk: Buffer) => {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      while (pending.length >= 8) {
        const size = pending.readUInt32BE(4);
        if (pending.length < 8 + size) break;
        out.write(pending.subarray(8, 8 + size));
        pending = pending.subarray(8 + size);
      }
    });
    stream.on('error', () => resolve());
    stream.on('close', () => resolve());
    stream.on('end', () => resolve());
    stream.resume();
  });
}

export class ExecProber implements HealthProber {
  constructor(private readonly execs: ProbeExecs, private readonly kill: (pid: number, signal: NodeJS.Signals) => void = (pid, sig) => process.kill(pid, sig)) {}

  async run(containerId: string, cmd: string[], timeoutNs: number): Promise<{ exitCode: number; output: string }> {
    const { id } = this.execs.create(containerId, { Cmd: cmd, AttachStdout: true, AttachStderr: true, AttachStdin: false, Tty: false, Privileged: false });
    const started = await this.execs.start(id, { detach: false, tty: false });
    const out = new LimitedOutput();
    const read = started.stream ? collect(started.stream, out) : Promise.resolve();
    let timedOut = false;
    let killTimer: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      const pid = this.execs.get(id).pid;
      if (pid > 0) {
        this.signal(pid, 'SIGTERM');
        killTimer = setTimeout(() => this.signal(pid, 'SIGKILL'), TERM_GRACE_MS);
      }
    }, Math.max(1, Math.round(timeoutNs / 1_000_000)));
    try {
      const code = await started.exited;
      await read;
      if (timedOut) {
        const text = out.toString();
        const head = `Health check exceeded timeout (${goDuration(timeoutNs)})`;
        return { exitCode: -1, output: text ? `${head}: ${text}` : head };
      }
      return { exitCode: code, output: out.toString() };
    } finally {
      clearTimeout(timer);
      if (killTimer) clearTimeout(killTimer);
      started.stream?.destroy();
    }
  }

  private signal(pid: number, sig: NodeJS.Signals): void {
    try {
      this.kill(pid, sig);
    } catch {
      /* already gone */
    }
  }
}
