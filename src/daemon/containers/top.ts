/**
 * `GET /containers/{id}/top`, as Docker 20.10's daemon/top_unix.go: `ps <ps_args>` on the
 * host with `-q <the container's pids>` appended (so that arguments such as `x` or
 * `-o pid,comm` list the container's processes, not only the caller's), run once more
 * without `-q` when ps refuses that combination (`f`), and the rows whose PID column is
 * one of the container's kept.
 */
import { execFile } from 'node:child_process';
import { internal } from '../../engine/errdefs';

export interface TopResult {
  Titles: string[];
  Processes: string[][] | null;
}

/**
 * Docker's validatePSArgs: `<key>=PID…` renames of the PID column are only allowed for
 * the `pid` key (else the column could not be found). Throws (a 500 in Docker: the error
 * carries no kind).
 */
export function validatePsArgs(psArgs: string): void {
  for (const m of psArgs.matchAll(/[\t\n\f\r ]+([^\t\n\f\r ]*)=[\t\n\f\r ]*(PID[^\t\n\f\r ]*)/g)) {
    if (m[1] !== 'pid') throw internal(`specifying "${m[1]!}=${m[2]!}" is not allowed`);
  }
}

/** `-q1,2,3`: the container's pids for ps (Docker's psPidsArg). */
export function psPidsArg(pids: number[]): string {
  return `-q${pids.join(',')}`;
}

function runPs(args: string[]): Promise<{ ok: true; out: string } | { ok: false; err: string }> {
  return new Promise((resolve) => {
    execFile('ps', args, { maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (!err) return resolve({ ok: true, out: stdout });
      // Docker reports the first line of ps's stderr
      const first = String(stderr).split('\n')[0] ?? '';
      resolve({ ok: false, err: first || err.message });
    });
  });
}

/**
 * Runs ps with `psArgs` (split on single spaces, as Docker does) and keeps the rows of
 * `pids`. Throws internal when ps fails or its output has no PID column.
 */
export async function top(pids: number[], psArgs = '-ef'): Promise<TopResult> {
  const args = psArgs.split(' ');
  let r = await runPs([...args, psPidsArg(pids)]);
  // some ps options (such as f) cannot be used together with q: retry without it
  if (!r.ok) r = await runPs(args);
  if (!r.ok) throw internal(`ps: ${r.err}`);
  return parsePs(r.out, pids);
}

/** Go's strings.FieldsFunc on ASCII white space (Docker's fieldsASCII). */
function fieldsAscii(s: string): string[] {
  return s.split(/[\t\n\f\r ]+/).filter(Boolean);
}

/**
 * Docker's parsePSOutput: the titles, then each row of one of `pids` split into as many
 * fields as there are titles (the last keeps its spaces); thread rows (`-` in the PID
 * column, from `m`) follow the process row they belong to. Throws internal when there is
 * no PID column, or invalid-argument… no: internal for an unparsable PID, as Docker.
 */
export function parsePs(out: string, pids: number[]): TopResult {
  const lines = out.split('\n');
  const titles = fieldsAscii(lines[0] ?? '');
  const pidIndex = titles.indexOf('PID');
  if (pidIndex < 0) throw internal("Couldn't find PID field in ps output");
  const want = new Set(pids);
  const procs: string[][] = [];
  const row = (fields: string[]) => [...fields.slice(0, titles.length - 1), fields.slice(titles.length - 1).join(' ')];
  let inContainer = false;
  for (const line of lines.slice(1)) {
    if (line.length === 0) continue;
    const fields = fieldsAscii(line);
    const f = fields[pidIndex] ?? '';
    if (f === '-') {
      if (inContainer) procs.push(row(fields));
      continue;
    }
    if (!/^[+-]?\d+$/.test(f)) throw internal(`Unexpected pid '${f}': strconv.Atoi: parsing ${JSON.stringify(f)}: invalid syntax`);
    if (want.has(Number(f))) {
      inContainer = true;
      procs.push(row(fields));
      continue;
    }
    inContainer = false;
  }
  return { Titles: titles, Processes: procs.length ? procs : null };
}
