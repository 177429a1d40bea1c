/**
 * `GET /containers/{id}/top`: Docker runs `ps <ps_args>` on the host and keeps the
 * rows whose PID belongs to the container.
 */
import { execFile } from 'node:child_process';
import { invalidArgument, internal } from '../../engine/errdefs';

export interface TopResult {
  Titles: string[];
  Processes: string[][];
}

/** Runs ps and filters it to `pids`. Throws invalid-argument for unusable ps_args. */
export function top(pids: number[], psArgs = '-ef'): Promise<TopResult> {
  const args = psArgs.trim() ? psArgs.trim().split(/\s+/) : [];
  return new Promise((resolve, reject) => {
    execFile('ps', args, { maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) return reject(internal(`ps: ${(stderr || err.message).trim()}`));
      try {
        resolve(parsePs(stdout, pids));
      } catch (e) {
        reject(e);
      }
    });
  });
}

/** Docker's parsePSOutput: find the PID column, split rows into that many fields (the last keeps spaces). */
export function parsePs(out: string, pids: number[]): TopResult {
  const lines = out.split('\n');
  const titles = (lines[0] ?? '').trim().split(/\s+/).filter(Boolean);
  const pidIndex = titles.indexOf('PID');
  if (pidIndex < 0) throw invalidArgument("Couldn't find PID field in ps output");
  const want = new Set(pids);
  const procs: string[][] = [];
  for (const line of lines.slice(1)) {
    if (!line.trim()) continue;
    const fields = line.trim().split(/\s+/);
    if (fields.length < titles.length) continue;
    const row = [...fields.slice(0, titles.length - 1), fields.slice(titles.length - 1).join(' ')];
    const pid = Number(row[pidIndex]);
    if (want.has(pid)) procs.push(row);
  }
  return { Titles: titles, Processes: procs };
}
