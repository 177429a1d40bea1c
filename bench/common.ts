/**
 * Shared benchmark helpers: timing whole commands, medians, and a busybox image in a
 * target. Benchmarks run stevedore and Docker 20.10 side by side on the same machine,
 * through the same harness as the end-to-end tests, and report ratios.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Runs a command to completion and returns its wall time in ms; throws on non-zero exit. */
export function timeCommand(cmd: string, args: string[], env: NodeJS.ProcessEnv, input?: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const p = spawn(cmd, args, { env, stdio: [input ? 'pipe' : 'ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    if (input) p.stdin!.end(input);
    p.on('error', reject);
    p.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (code !== 0) reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err}`));
      else resolve(ms);
    });
  });
}

export { importBusybox } from '../test/helpers/busybox';

export function fmt(ms: number): string {
  return `${ms.toFixed(1)} ms`;
}

/**
 * Replaces the body of the `## <title>` section of docs/benchmarks.md in place (up to its
 * first `###` note or the next section, so hand-written notes stay under it), or appends
 * the section.
 */
export function writeSection(title: string, body: string): void {
  const file = path.resolve(__dirname, '..', '..', 'docs', 'benchmarks.md');
  let text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Benchmarks\n\nstevedore against Docker 20.10 (Debian docker.io) on the same machine, through the same harness.\n';
  const head = `## ${title}\n`;
  const at = text.startsWith(head) ? 0 : text.indexOf('\n' + head) + 1 || -1;
  if (at >= 0) {
    const from = at + head.length;
    const m = /\n##? |\n### /.exec(text.slice(from));
    const end = m ? from + m.index + 1 : text.length;
    text = `${text.slice(0, from)}\n${body.trim()}\n\n${text.slice(end)}`.trimEnd() + '\n';
  } else {
    text = text.trimEnd() + `\n\n${head}\n${body.trim()}\n`;
  }
  fs.writeFileSync(file, text);
}
