/**
 * The files the daemon and the resolver share in `<execRoot>/dns/` (docs/networking/dns.md):
 *
 * | file | written by | what |
 * |---|---|---|
 * | `table.json` | daemon (temp + rename) | the {@link TableFile}: every network's listen addresses and records, with a generation |
 * | `status.json` | resolver (temp + rename), after each load | {@link StatusFile}: the generation loaded, the addresses bound, the binds that failed |
 * | `stevedore-dns.pid` | resolver | its pid, while it runs |
 * | `stevedore-dns.log` | resolver's stderr | JSON lines |
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BindFailure } from './server';

export const DNS_FILES = {
  table: 'table.json',
  status: 'status.json',
  pid: 'stevedore-dns.pid',
  log: 'stevedore-dns.log',
} as const;

export interface StatusFile {
  pid: number;
  /** the generation of the table in use */
  generation: number;
  /** the highest generation read from table.json (more than `generation` when it could not be loaded: see `error`) */
  attempted: number;
  listening: string[];
  failed: BindFailure[];
  /** why the last table read was not loaded */
  error?: string;
}

let seq = 0;

/** Writes JSON to `file` atomically: a temp file in the same directory, then rename. */
export function writeJsonAtomic(file: string, value: unknown): void {
  writeFileAtomic(file, JSON.stringify(value));
}

/** Writes `text` to `file` atomically (temp file in the same directory, then rename). */
export function writeFileAtomic(file: string, text: string): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${++seq}.tmp`);
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

/** The resolver's status file, or undefined when missing or unreadable. */
export function readStatus(dir: string): StatusFile | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, DNS_FILES.status), 'utf8')) as StatusFile;
  } catch {
    return undefined;
  }
}

/** The pid in the resolver's pidfile, or undefined. */
export function readPid(dir: string): number | undefined {
  try {
    const n = Number(fs.readFileSync(path.join(dir, DNS_FILES.pid), 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether `pid` is a live stevedore-dns serving `dir`: its /proc/<pid>/cmdline runs
 * `…/stevedore-dns/main.js` (or `bin/stevedore-dns`) with `--dir <dir>`. A pid reused
 * by another process after a reboot or a crash is not taken for ours.
 */
export function isResolverProcess(pid: number, dir: string): boolean {
  let args: string[];
  try {
    args = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return false;
  }
  // a zombie has an empty cmdline
  const ours = args.some((a) => (path.basename(a) === 'main.js' && path.basename(path.dirname(a)) === 'stevedore-dns') || path.basename(a) === 'stevedore-dns');
  if (!ours) return false;
  const want = path.resolve(dir);
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--dir' && args[i + 1] !== undefined && path.resolve(args[i + 1]!) === want) return true;
    if (a.startsWith('--dir=') && path.resolve(a.slice(6)) === want) return true;
  }
  return false;
}
