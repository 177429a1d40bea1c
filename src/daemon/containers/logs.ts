/**
 * Reads a container's Docker json-file log (written by the shim, rotated as
 * `<log>.1` … `<log>.N`, oldest last) as an async iterable of entries, with Docker's
 * `tail`, `since`, `until` and `follow` semantics. Files are streamed, never loaded whole.
 */
import * as fs from 'node:fs';

export interface LogEntry {
  stream: 'stdout' | 'stderr';
  /** the raw bytes of the line (with its newline, if it had one) */
  log: Buffer;
  /** RFC 3339 with nanoseconds, as written */
  time: string;
  /** nanoseconds since the epoch */
  nanos: bigint;
}

export interface LogReadOptions {
  stdout: boolean;
  stderr: boolean;
  /** last N entries; undefined or negative = all */
  tail?: number;
  /** nanoseconds since the epoch (exclusive lower bound as Docker: entries before are skipped) */
  since?: bigint;
  until?: bigint;
  follow: boolean;
  /** for follow: whether the container may still write (checked at each idle poll) */
  isLive: () => boolean;
  signal?: AbortSignal;
  pollMs?: number;
}

/** Parses Docker's `since`/`until` query values: `seconds[.nanos]`. Undefined for 0/empty. */
export function parseTimestamp(v: string | undefined): bigint | undefined {
  if (!v) return undefined;
  const m = /^(\d+)(?:\.(\d{1,9}))?$/.exec(v.trim());
  if (!m) return undefined;
  const n = BigInt(m[1]!) * 1_000_000_000n + BigInt((m[2] ?? '').padEnd(9, '0') || '0');
  return n === 0n ? undefined : n;
}

export function timeToNanos(t: string): bigint {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(t);
  if (!m) return 0n;
  const secs = BigInt(Math.floor(Date.parse(m[1]! + m[3]!) / 1000));
  return secs * 1_000_000_000n + BigInt((m[2] ?? '').slice(0, 9).padEnd(9, '0') || '0');
}

function parseLine(line: string): LogEntry | undefined {
  try {
    const j = JSON.parse(line) as { log?: unknown; stream?: unknown; time?: unknown };
    if (typeof j.log !== 'string' || (j.stream !== 'stdout' && j.stream !== 'stderr') || typeof j.time !== 'string') return undefined;
    return { stream: j.stream, log: Buffer.from(j.log, 'utf8'), time: j.time, nanos: timeToNanos(j.time) };
  } catch {
    return undefined;
  }
}

/** Lines of `fd` from `start` to `end` (exclusive); yields [line, offsetAfter]. Incomplete last line is not yielded. */
async function* lines(fd: number, start: number, end: number): AsyncGenerator<[string, number]> {
  const buf = Buffer.allocUnsafe(64 * 1024);
  let pos = start;
  let carry: Buffer = Buffer.alloc(0);
  let carryStart = start;
  while (pos < end) {
    const n = await new Promise<number>((res, rej) => fs.read(fd, buf, 0, Math.min(buf.length, end - pos), pos, (e, r) => (e ? rej(e) : res(r))));
    if (n === 0) break;
    pos += n;
    let chunk: Buffer = carry.length ? Buffer.concat([carry, buf.subarray(0, n)]) : Buffer.from(buf.subarray(0, n));
    let off = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, off);
      if (nl < 0) break;
      yield [chunk.subarray(off, nl).toString('utf8'), carryStart + nl + 1];
      off = nl + 1;
    }
    carryStart += off;
    chunk = chunk.subarray(off);
    carry = chunk;
  }
}

function rotated(logPath: string): string[] {
  const out: string[] = [];
  for (let i = 1; i < 1000; i++) {
    if (!fs.existsSync(`${logPath}.${i}`)) break;
    out.push(`${logPath}.${i}`);
  }
  return out.reverse();
}

function openMaybe(p: string): number | undefined {
  try {
    return fs.openSync(p, 'r');
  } catch {
    return undefined;
  }
}

/** The entries of a json-file log, honouring every option. */
export async function* readJsonLog(logPath: string, o: LogReadOptions): AsyncGenerator<LogEntry> {
  const wanted = (e: LogEntry) =>
    ((e.stream === 'stdout' && o.stdout) || (e.stream === 'stderr' && o.stderr)) &&
    (o.since === undefined || e.nanos >= o.since) &&
    (o.until === undefined || e.nanos <= o.until);
  // Snapshot the files and their sizes now.
  const files: Array<{ fd: number; size: number; live: boolean }> = [];
  for (const p of rotated(logPath)) {
    const fd = openMaybe(p);
    if (fd !== undefined) files.push({ fd, size: fs.fstatSync(fd).size, live: false });
  }
  let liveFd = openMaybe(logPath);
  if (liveFd !== undefined) files.push({ fd: liveFd, size: fs.fstatSync(liveFd).size, live: true });
  try {
    let skip = 0;
    if (o.tail !== undefined && o.tail >= 0) {
      let total = 0;
      for (const f of files) for await (const [l] of lines(f.fd, 0, f.size)) if (l) total++;
      skip = Math.max(0, total - o.tail);
    }
    let livePos = 0;
    for (const f of files) {
      for await (const [l, after] of lines(f.fd, 0, f.size)) {
        if (f.live) livePos = after;
        if (!l) continue;
        if (skip > 0) {
          skip--;
          continue;
        }
        const e = parseLine(l);
        if (e && wanted(e)) yield e;
        if (o.until !== undefined && e && e.nanos > o.until) return;
      }
    }
    for (const f of files) if (!f.live) fs.closeSync(f.fd);
    files.length = 0;
    if (!o.follow) return;
    // Follow: poll for growth; switch files when the log was rotated.
    let ino = liveFd !== undefined ? fs.fstatSync(liveFd).ino : -1;
    let idleAfterStop = 0;
    while (!o.signal?.aborted) {
      let progressed = false;
      if (liveFd === undefined) {
        liveFd = openMaybe(logPath);
        livePos = 0;
        if (liveFd !== undefined) ino = fs.fstatSync(liveFd).ino;
      }
      if (liveFd !== undefined) {
        const size = fs.fstatSync(liveFd).size;
        if (size > livePos) {
          for await (const [l, after] of lines(liveFd, livePos, size)) {
            livePos = after;
            progressed = true;
            const e = l ? parseLine(l) : undefined;
            if (e && wanted(e)) yield e;
          }
        }
        let cur: fs.Stats | undefined;
        try {
          cur = fs.statSync(logPath);
        } catch {
          cur = undefined;
        }
        if (cur && cur.ino !== ino && fs.fstatSync(liveFd).size <= livePos) {
          fs.closeSync(liveFd);
          liveFd = openMaybe(logPath);
          livePos = 0;
          ino = liveFd !== undefined ? fs.fstatSync(liveFd).ino : -1;
          progressed = true;
        }
      }
      if (progressed) continue;
      if (!o.isLive()) {
        // One more look after the container stopped, for lines written at the very end.
        if (++idleAfterStop > 1) return;
      }
      await new Promise((r) => setTimeout(r, o.pollMs ?? 100));
    }
  } finally {
    for (const f of files) if (!f.live) fs.closeSync(f.fd);
    if (liveFd !== undefined) fs.closeSync(liveFd);
  }
}
