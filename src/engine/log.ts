/**
 * Structured logs: one JSON object per line on stderr (or a given sink), filtered by
 * level. `child()` adds fixed fields (component, container id, …).
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'fatal';

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, fatal: 50 };

export function isLogLevel(s: string): s is LogLevel {
  return Object.prototype.hasOwnProperty.call(ORDER, s);
}

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

export class JsonLogger implements Logger {
  constructor(
    private readonly level: LogLevel = 'info',
    private readonly fields: Record<string, unknown> = {},
    private readonly sink: (line: string) => void = (l) => process.stderr.write(l),
  ) {}

  private write(level: LogLevel, msg: string, fields?: Record<string, unknown>): void {
    if (ORDER[level] < ORDER[this.level]) return;
    const rec: Record<string, unknown> = { time: new Date().toISOString(), level, msg, ...this.fields, ...fields };
    for (const [k, v] of Object.entries(rec)) if (v instanceof Error) rec[k] = v.message;
    this.sink(JSON.stringify(rec) + '\n');
  }
  debug(msg: string, f?: Record<string, unknown>): void {
    this.write('debug', msg, f);
  }
  info(msg: string, f?: Record<string, unknown>): void {
    this.write('info', msg, f);
  }
  warn(msg: string, f?: Record<string, unknown>): void {
    this.write('warn', msg, f);
  }
  error(msg: string, f?: Record<string, unknown>): void {
    this.write('error', msg, f);
  }
  child(fields: Record<string, unknown>): Logger {
    return new JsonLogger(this.level, { ...this.fields, ...fields }, this.sink);
  }
}

/** A logger that drops everything (tests). */
export const nullLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return nullLogger;
  },
};
