/**
 * Health checks (issue #16): Docker's `HEALTHCHECK` / `Healthcheck` run as probes through
 * the exec path while a container runs, with Docker's state machine (moby daemon/health.go):
 * `starting` at each start, `healthy` after a probe that exits 0, `unhealthy` after
 * `Retries` failures in a row (failures inside `StartPeriod` do not count while still
 * `starting`), the last five results in `Log`, a `health_status: …` event at each change.
 * The monitor runs beside the container, started and stopped by the health start hook
 * (hooks/health.ts), never by the lifecycle. The state is kept in memory and written to
 * the metadata database when the status changes (Docker also persists it only at
 * checkpoints), so it survives a daemon restart, where `resume` picks the monitor up again.
 */
import { nowRfc3339Nano, rfc3339Nano } from '../../../engine/clock';
import type { Logger } from '../../../engine/log';
import type { HealthConfig } from '../types';

/** Longest probe output kept (bytes); longer output ends with `...`. */
export const MAX_OUTPUT = 4096;
export const MAX_LOG_ENTRIES = 5;
const NS_PER_MS = 1_000_000;
const DEFAULT_INTERVAL_NS = 30_000 * NS_PER_MS;
const DEFAULT_TIMEOUT_NS = 30_000 * NS_PER_MS;
const DEFAULT_RETRIES = 3;

export type HealthStatus = 'starting' | 'healthy' | 'unhealthy';

/** One probe's result, as inspect shows it (`State.Health.Log[]`). */
export interface HealthLogEntry {
  Start: string;
  End: string;
  ExitCode: number;
  Output: string;
}

/** `State.Health` */
export interface HealthState {
  Status: HealthStatus;
  FailingStreak: number;
  Log: HealthLogEntry[];
}

/** The health config with the API's extra field of 1.44 (`StartInterval`, nanoseconds). */
export type HealthcheckConfig = HealthConfig & { StartInterval?: number };

/** The probe's command: `CMD` → the arguments; `CMD-SHELL` → the container's shell + the command. Undefined: no probe (`NONE`, empty, unknown type). */
export function probeCommand(hc: HealthcheckConfig | null | undefined, shell: string[] | null | undefined): string[] | undefined {
  const test = hc?.Test ?? [];
  if (test.length === 0) return undefined;
  if (test[0] === 'CMD') return test.length > 1 ? test.slice(1) : undefined;
  if (test[0] === 'CMD-SHELL') return [...(shell && shell.length ? shell : ['/bin/sh', '-c']), ...test.slice(1)];
  return undefined;
}

/** Go's `time.Duration.String()` for a duration in nanoseconds (`30s`, `1.5s`, `100ms`, `1m30s`). */
export function goDuration(ns: number): string {
  if (ns === 0) return '0s';
  const neg = ns < 0;
  let u = Math.abs(Math.round(ns));
  let out: string;
  if (u < 1_000_000_000) {
    const [unit, div] = u < 1_000 ? ['ns', 1] : u < 1_000_000 ? ['µs', 1_000] : ['ms', 1_000_000];
    out = trimFraction(u / div) + unit;
  } else {
    const h = Math.floor(u / 3_600_000_000_000);
    u -= h * 3_600_000_000_000;
    const m = Math.floor(u / 60_000_000_000);
    u -= m * 60_000_000_000;
    const s = trimFraction(u / 1_000_000_000);
    out = (h ? `${h}h` : '') + (h || m ? `${m}m` : '') + `${s}s`;
  }
  return neg ? `-${out}` : out;
}

function trimFraction(v: number): string {
  return v.toFixed(9).replace(/\.?0+$/, '');
}

/** Go's RFC 3339 with nanoseconds, UTC (`2026-12-02T19:50:01.123456789Z`). */
export function goTime(d: Date): string {
  return rfc3339Nano(BigInt(d.getTime()) * 1_000_000n);
}

/** Runs one probe. Throws for a probe that could not run (its message becomes the result's output, exit -1). */
export interface HealthProber {
  run(containerId: string, cmd: string[], timeoutNs: number): Promise<{ exitCode: number; output: string }>;
}

/** Where the state is kept across daemon restarts. */
export interface HealthStateStore {
  load(): Map<string, HealthState>;
  save(containerId: string, h: HealthState): void;
  remove(containerId: string): void;
}

export interface HealthServiceOptions {
  /** runs the probes (the exec path); set later with `useProber` when the exec service is made after this one */
  prober?: HealthProber;
  store: HealthStateStore;
  /** publishes a container event (`health_status: healthy`) */
  publish(containerId: string, action: string): void;
  /** the container is paused: no probe runs (Docker stops the monitor while paused) */
  isPaused(containerId: string): boolean;
  log: Logger;
  now?: () => Date;
}

/** What a monitor needs of its container. */
export interface HealthTarget {
  id: string;
  healthcheck: HealthcheckConfig | null | undefined;
  shell?: string[] | null;
  /** when the container started (StartPeriod counts from it) */
  startedAt: Date;
}

interface Monitor {
  timer: NodeJS.Timeout | undefined;
  stopped: boolean;
  probing: Promise<void> | undefined;
}

export class HealthService {
  private readonly states: Map<string, HealthState>;
  private readonly monitors = new Map<string, Monitor>();
  /** the state before a start that may still fail (restored by `abort`) */
  private readonly before = new Map<string, HealthState | undefined>();
  private prober: HealthProber | undefined;

  constructor(private readonly o: HealthServiceOptions) {
    this.states = o.store.load();
    this.prober = o.prober;
  }

  /** The probes' runner (the composition root sets the exec prober once the exec service exists). */
  useProber(p: HealthProber): void {
    this.prober = p;
  }

  /** `State.Health` of a container (a copy); undefined when it has no health check. */
  state(containerId: string): HealthState | undefined {
    const h = this.states.get(containerId);
    return h ? structuredClone(h) : undefined;
  }

  /** A start: status `starting`, streak 0 (the log is kept), and the monitor runs. Nothing for a container without a probe. */
  begin(t: HealthTarget): void {
    const cmd = probeCommand(t.healthcheck, t.shell);
    if (!cmd) return;
    this.stopMonitor(t.id);
    const prev = this.states.get(t.id);
    this.before.set(t.id, prev ? structuredClone(prev) : undefined);
    const h: HealthState = { Status: 'starting', FailingStreak: 0, Log: prev?.Log ?? [] };
    this.states.set(t.id, h);
    this.persist(t.id, h);
    this.run(t, cmd);
  }

  /** The start that `begin` was for failed: the monitor stops and the state is as it was. */
  abort(containerId: string): void {
    const known = this.before.has(containerId);
    const prev = this.before.get(containerId);
    this.stopMonitor(containerId);
    if (!known) return;
    if (prev) {
      this.states.set(containerId, prev);
      this.persist(containerId, prev);
    } else {
      this.states.delete(containerId);
      this.o.store.remove(containerId);
    }
  }

  /** A container kept running over a daemon restart: its monitor runs again, its state as it was. */
  resume(t: HealthTarget): void {
    const cmd = probeCommand(t.healthcheck, t.shell);
    if (!cmd) return;
    if (!this.states.has(t.id)) this.states.set(t.id, { Status: 'starting', FailingStreak: 0, Log: [] });
    this.stopMonitor(t.id);
    this.run(t, cmd);
  }

  /**
   * The container stopped: the monitor stops (a probe under way is left to finish and
   * ignored), and the status becomes `unhealthy` without an event, as Docker's
   * CloseMonitorChannel sets it "for compatibility reasons".
   */
  end(containerId: string): void {
    const wasRunning = this.stopMonitor(containerId);
    const h = this.states.get(containerId);
    if (wasRunning && h && h.Status !== 'unhealthy') {
      h.Status = 'unhealthy';
      this.persist(containerId, h);
    }
  }

  private stopMonitor(containerId: string): boolean {
    this.before.delete(containerId);
    const m = this.monitors.get(containerId);
    if (!m) return false;
    m.stopped = true;
    if (m.timer) clearTimeout(m.timer);
    this.monitors.delete(containerId);
    return true;
  }

  /** The container is gone. */
  forget(containerId: string): void {
    this.stopMonitor(containerId);
    this.states.delete(containerId);
    this.o.store.remove(containerId);
  }

  /**
   * Stops every monitor (daemon shutdown), the state as it is (live restore resumes it).
   * Waits for the probes under way at most `waitMs` (a probe's own timeout may be long;
   * whatever it reports later is ignored).
   */
  async close(waitMs = 2000): Promise<void> {
    const probing = [...this.monitors.values()].map((m) => m.probing).filter((p): p is Promise<void> => p !== undefined);
    for (const id of [...this.monitors.keys()]) this.stopMonitor(id);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled(probing), new Promise<void>((r) => (timer = setTimeout(r, waitMs)))]);
    clearTimeout(timer);
  }

  private run(t: HealthTarget, cmd: string[]): void {
    const hc = t.healthcheck ?? {};
    const interval = ms(hc.Interval || DEFAULT_INTERVAL_NS);
    const startInterval = hc.StartInterval ? ms(hc.StartInterval) : undefined;
    const startPeriod = (hc.StartPeriod || 0) / NS_PER_MS;
    const timeoutNs = hc.Timeout || DEFAULT_TIMEOUT_NS;
    const m: Monitor = { timer: undefined, stopped: false, probing: undefined };
    this.monitors.set(t.id, m);
    const now = () => (this.o.now ? this.o.now() : new Date());
    // Docker 20.10: every `Interval` (from the end of one probe to the start of the next).
    // With `StartInterval` (API 1.44) the probes of the start period come that often.
    const next = () => {
      const h = this.states.get(t.id);
      const inStart = now().getTime() - t.startedAt.getTime() < startPeriod;
      return startInterval !== undefined && inStart && h?.Status === 'starting' ? startInterval : interval;
    };
    const tick = () => {
      if (m.stopped) return;
      m.probing = this.probe(t, cmd, timeoutNs, m, now).finally(() => {
        m.probing = undefined;
        if (!m.stopped) m.timer = setTimeout(tick, next());
      });
    };
    m.timer = setTimeout(tick, next());
  }

  private async probe(t: HealthTarget, cmd: string[], timeoutNs: number, m: Monitor, now: () => Date): Promise<void> {
    // paused (Docker stops the monitor meanwhile), or the exec path not wired yet (restore at daemon start): no probe this time
    if (this.o.isPaused(t.id) || !this.prober) return;
    const start = now();
    const startText = this.timeText(start);
    let result: { exitCode: number; output: string };
    try {
      result = await this.prober.run(t.id, cmd, timeoutNs);
    } catch (err) {
      if (m.stopped) return;
      this.o.log.warn('health check error', { id: t.id, err: String(err) });
      result = { exitCode: -1, output: err instanceof Error ? err.message : String(err) };
    }
    if (m.stopped) return; // the container stopped while the probe ran: ignored, as Docker does
    this.record(t, { Start: startText, End: this.timeText(now()), ExitCode: result.exitCode, Output: result.output }, start);
  }

  /** A log entry's time as Docker writes it: nanoseconds from the real clock, or the injected test clock's. */
  private timeText(d: Date): string {
    return this.o.now ? goTime(d) : nowRfc3339Nano();
  }

  /** Docker's handleProbeResult. */
  private record(t: HealthTarget, entry: HealthLogEntry, start: Date): void {
    const h = this.states.get(t.id);
    if (!h) return;
    const old = h.Status;
    h.Log = [...h.Log, entry].slice(-MAX_LOG_ENTRIES);
    const retries = t.healthcheck?.Retries && t.healthcheck.Retries > 0 ? t.healthcheck.Retries : DEFAULT_RETRIES;
    if (entry.ExitCode === 0) {
      h.FailingStreak = 0;
      h.Status = 'healthy';
    } else {
      const inStart = h.Status === 'starting' && start.getTime() - t.startedAt.getTime() < (t.healthcheck?.StartPeriod || 0) / NS_PER_MS;
      if (!inStart) {
        h.FailingStreak++;
        if (h.FailingStreak >= retries) h.Status = 'unhealthy';
      }
    }
    if (h.Status !== old) {
      this.persist(t.id, h);
      this.o.publish(t.id, `health_status: ${h.Status}`);
    }
  }

  private persist(id: string, h: HealthState): void {
    try {
      this.o.store.save(id, h);
    } catch (err) {
      // best effort, as Docker's: the state in memory is what inspect shows
      this.o.log.warn('cannot record the health state', { id, err: String(err) });
    }
  }
}

function ms(ns: number): number {
  return Math.max(1, Math.round(ns / NS_PER_MS));
}

/** Docker's checks at create (daemon/container.go verifyContainerSettings); the message names the field. */
export function validateHealthcheck(hc: HealthcheckConfig | null | undefined): string | undefined {
  if (!hc) return undefined;
  const min = NS_PER_MS; // containertypes.MinimumDuration = 1ms
  const short = (f: 'Interval' | 'Timeout' | 'StartPeriod' | 'StartInterval') => {
    const v = hc[f];
    return v !== undefined && v !== 0 && v < min ? `${f} in Healthcheck cannot be less than ${goDuration(min)}` : undefined;
  };
  // Docker's order: Interval, Timeout, Retries, StartPeriod (StartInterval from API 1.44)
  return short('Interval') ?? short('Timeout') ?? (hc.Retries !== undefined && hc.Retries < 0 ? 'Retries in Healthcheck cannot be negative' : undefined) ?? short('StartPeriod') ?? short('StartInterval');
}
