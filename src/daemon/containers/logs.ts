/**
 * Reads a container's Docker json-file log (written by the shim, rotated as
 * `<log>.1` … `<log>.N`, oldest last) as an async iterable of entries, with Docker's
 * `tail`, `since`, `until` and `follow` semantics. Files are streamed, never loaded whole.
 * `ContainerLogs` is the daemon's log reader: the routes ask it for a container's
 * entries and only frame them.
 */
import * as fs from 'node:fs';
import { invalidArgument, notImplemented } from '../../engine/errdefs';
import { rfc3339ToNanos } from '../../engine/timeparse';
import type { ContainerPaths } from './files';
import type { ContainerRecord } from './model';
import { ZERO_TIME, isRunning, type StateData } from './state';

export interface LogEntry {
  stream: 'stdout' | 'stderr';
  /** the raw bytes of the line (with its newline, if it had one) */
  log: Buffer;
  /** RFC 3339 with nanoseconds, as written */
  time: string;
  /** nanoseconds since the epoch */
  nanos: bigint;
  /** the `attrs` of the json-file line, when it has them */
  attrs?: Record<string, string>;
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
  /**
   * for follow: the start (ns since the epoch) of a run that succeeded the followed one,
   * once there is one (a restart between two polls). Docker's follow ends with the run it
   * follows: the new run's entries (from its start on) end the stream.
   */
  nextRunStart?: () => bigint | undefined;
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

/**
 * A log entry's time as `docker logs --timestamps` writes it: moby's WriteLogStream uses
 * RFC3339NanoFixed, always nine fraction digits, while the json-file `time` (Go's
 * RFC3339Nano) drops trailing zeros (`…05.32557379Z`).
 */
export function rfc3339NanoFixed(t: string): string {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(t);
  if (!m) return t;
  return `${m[1]}.${(m[2] ?? '').slice(0, 9).padEnd(9, '0')}${m[3]}`;
}

function parseLine(line: string): LogEntry | undefined {
  try {
    const j = JSON.parse(line) as { log?: unknown; stream?: unknown; time?: unknown; attrs?: unknown };
    if (typeof j.log !== 'string' || (j.stream !== 'stdout' && j.stream !== 'stderr') || typeof j.time !== 'string') return undefined;
    const e: LogEntry = { stream: j.stream, log: Buffer.from(j.log, 'utf8'), time: j.time, nanos: rfc3339ToNanos(j.time) };
    if (typeof j.attrs === 'object' && j.attrs !== null && !Array.isArray(j.attrs)) e.attrs = j.attrs as Record<string, string>;
    return e;
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
      const cut = o.nextRunStart?.();
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
            if (e && cut !== undefined && e.nanos >= cut) return;
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
      if (cut !== undefined) return;
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

/** What `logAttributes` needs of a container. */
export interface LogAttributeSource {
  id: string;
  /** with or without the leading slash */
  name: string;
  labels: Record<string, string>;
  env: string[];
  /** the image as the user named it, and its ID */
  imageName: string;
  imageId: string;
  /** the log driver's options (`--log-opt`) */
  logOpts: Record<string, string>;
}

/**
 * The extra attributes of a json-file log line (moby's `logger.Info.ExtraAttributes`
 * plus json-file's `tag`): the container labels named by the `labels` option or
 * matching `labels-regex`, the environment variables named by `env` or matching
 * `env-regex`, and `tag` when that option is set. Docker stores them in each line's
 * `attrs`; they depend only on the container's configuration, so we compute them when
 * reading. `docker logs --details` prints them before each line.
 */
export function logAttributes(c: LogAttributeSource): Record<string, string> {
  const o = c.logOpts;
  const extra: Record<string, string> = {};
  if (o.labels) for (const l of o.labels.split(',')) if (Object.prototype.hasOwnProperty.call(c.labels, l)) extra[l] = c.labels[l]!;
  if (o['labels-regex']) {
    const re = new RegExp(o['labels-regex']);
    for (const [k, v] of Object.entries(c.labels)) if (re.test(k)) extra[k] = v;
  }
  const env = new Map<string, string>();
  for (const e of c.env) {
    const i = e.indexOf('=');
    if (i >= 0) env.set(e.slice(0, i), e.slice(i + 1));
  }
  if (o.env) for (const k of o.env.split(',')) if (env.has(k)) extra[k] = env.get(k)!;
  if (o['env-regex']) {
    const re = new RegExp(o['env-regex']);
    for (const [k, v] of env) if (re.test(k)) extra[k] = v;
  }
  if (o.tag) {
    // the fields of moby's logger.Info that tag templates use most
    const fields: Record<string, string> = {
      ID: c.id.slice(0, 12),
      FullID: c.id,
      Name: c.name.replace(/^\//, ''),
      ImageID: c.imageId.replace(/^sha256:/, '').slice(0, 12),
      ImageFullID: c.imageId,
      ImageName: c.imageName,
      DaemonName: 'docker',
    };
    extra.tag = o.tag.replace(/\{\{\s*\.(\w+)\s*\}\}/g, (m, f: string) => fields[f] ?? m);
  }
  return extra;
}

/** Go's url.QueryEscape: unreserved bytes stay, space becomes `+`, everything else %XX. */
function queryEscape(s: string): string {
  return encodeURIComponent(s)
    .replace(/%20/g, '+')
    .replace(/[!'()*]/g, (ch) => '%' + ch.charCodeAt(0).toString(16).toUpperCase());
}

/**
 * The `--details` prefix of a line (moby's httputils.WriteLogStream): the attributes
 * sorted by key as `k=v` pairs, query-escaped and comma-separated, then one space —
 * a lone space when there are none.
 */
export function detailsPrefix(attrs: Record<string, string>): string {
  const keys = Object.keys(attrs).sort();
  return keys.map((k) => `${queryEscape(k)}=${queryEscape(attrs[k]!)}`).join(',') + ' ';
}

/** What the log reader needs of the containers. */
export interface LogContainers {
  /** Resolves a reference; throws not-found. */
  get(ref: string): ContainerRecord;
  /** A container's state (a copy of it only, for follow's polls); throws not-found. */
  stateOf(id: string): StateData;
  paths(id: string): ContainerPaths;
}

/** A request for a container's log (`docker logs`' options, parsed). */
export interface ContainerLogsRequest extends Pick<LogReadOptions, 'stdout' | 'stderr' | 'since' | 'until' | 'follow' | 'signal'> {
  /** last N entries; undefined = all */
  tail?: number;
  /** fill each entry's `attrs` (from the line, else from the container's log options): `--details` */
  details?: boolean;
}

/** The daemon's log reader: a container's log entries as an async iterable. */
export class ContainerLogs {
  constructor(
    private readonly containers: LogContainers,
    private readonly opts: { pollMs?: number } = {},
  ) {}

  /**
   * The entries of container `ref`'s log. Throws (before the first entry) not-found,
   * invalid-argument when neither stream is chosen, not-implemented when its log driver
   * keeps nothing to read. With `follow`, the iterable ends once the container has
   * stopped and its last lines were read, or when `signal` aborts.
   */
  read(ref: string, r: ContainerLogsRequest): AsyncIterable<LogEntry> {
    const c = this.containers.get(ref);
    if (!r.stdout && !r.stderr) throw invalidArgument('Bad parameters: you must choose at least one stream');
    if (c.hostConfig.LogConfig?.Type === 'none') throw notImplemented('configured logging driver does not support reading');
    const attrs = r.details
      ? logAttributes({ id: c.id, name: c.name, labels: c.config.Labels ?? {}, env: c.config.Env ?? [], imageName: c.imageRef, imageId: c.image, logOpts: c.hostConfig.LogConfig?.Config ?? {} })
      : undefined;
    // the run a follow follows (Docker's follow ends with it, even when a restart follows)
    const run = c.state.startedAt;
    // the container's state now, or undefined once it is gone (asked at each poll)
    const state = (): StateData | undefined => {
      try {
        return this.containers.stateOf(c.id);
      } catch {
        return undefined;
      }
    };
    const entries = readJsonLog(this.containers.paths(c.id).log, {
      stdout: r.stdout,
      stderr: r.stderr,
      ...(r.tail !== undefined && !Number.isNaN(r.tail) ? { tail: r.tail } : {}),
      ...(r.since !== undefined ? { since: r.since } : {}),
      ...(r.until !== undefined ? { until: r.until } : {}),
      follow: r.follow,
      isLive: () => {
        const s = state();
        return s !== undefined && isRunning(s.status) && s.startedAt === run;
      },
      nextRunStart: () => {
        const s = state();
        return s && s.startedAt !== run && s.startedAt !== ZERO_TIME ? rfc3339ToNanos(s.startedAt) : undefined;
      },
      ...(r.signal ? { signal: r.signal } : {}),
      ...(this.opts.pollMs !== undefined ? { pollMs: this.opts.pollMs } : {}),
    });
    if (!attrs) return entries;
    return (async function* () {
      for await (const e of entries) yield e.attrs ? e : { ...e, attrs };
    })();
  }

  /**
   * What the container has logged so far on the chosen streams (attach's `logs=1`):
   * nothing when its log driver keeps nothing. Throws not-found.
   */
  logged(ref: string, streams: { stdout: boolean; stderr: boolean }): AsyncIterable<LogEntry> {
    const c = this.containers.get(ref);
    if (c.hostConfig.LogConfig?.Type === 'none' || (!streams.stdout && !streams.stderr)) return (async function* () {})();
    return readJsonLog(this.containers.paths(c.id).log, { ...streams, follow: false, isLive: () => false });
  }
}
