/**
 * Dockerfile-style `changes` of `docker import -c` and `docker commit -c`:
 * CMD, ENTRYPOINT, ENV, EXPOSE, HEALTHCHECK, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR.
 * Each change is one instruction; JSON array arguments or shell form.
 */
import * as path from 'node:path';
import { invalidArgument } from '../errdefs';
import type { ImageConfig } from './types';

const VALID = new Set(['cmd', 'entrypoint', 'env', 'expose', 'healthcheck', 'label', 'onbuild', 'stopsignal', 'user', 'volume', 'workdir']);

/** Applies `changes` to a copy of `base` and returns it. Throws invalid-argument. */
export function applyChanges(base: ImageConfig, changes: string[]): ImageConfig {
  const c: ImageConfig = structuredClone(base);
  for (const raw of changes) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(\S+)\s*([\s\S]*)$/.exec(line)!;
    const cmd = m[1]!.toLowerCase();
    const rest = m[2]!.trim();
    if (!VALID.has(cmd)) throw invalidArgument(`${cmd} is not a valid change command`);
    switch (cmd) {
      case 'cmd':
        c.Cmd = execForm(rest, true);
        break;
      case 'entrypoint':
        c.Entrypoint = execForm(rest, true);
        break;
      case 'env': {
        const env = [...(c.Env ?? [])];
        for (const [k, v] of keyValues(rest, 'ENV')) {
          const i = env.findIndex((e) => e.split('=')[0] === k);
          if (i >= 0) env[i] = `${k}=${v}`;
          else env.push(`${k}=${v}`);
        }
        c.Env = env;
        break;
      }
      case 'label': {
        const labels = { ...(c.Labels ?? {}) };
        for (const [k, v] of keyValues(rest, 'LABEL')) labels[k] = v;
        c.Labels = labels;
        break;
      }
      case 'expose': {
        const ports = { ...(c.ExposedPorts ?? {}) };
        for (const p of words(rest)) {
          if (!/^\d+(-\d+)?(\/(tcp|udp|sctp))?$/i.test(p)) throw invalidArgument(`invalid containerPort: ${p}`);
          ports[p.includes('/') ? p.toLowerCase() : `${p}/tcp`] = {};
        }
        c.ExposedPorts = ports;
        break;
      }
      case 'volume': {
        const vols = { ...(c.Volumes ?? {}) };
        const list = rest.startsWith('[') ? jsonArray(rest) : words(rest);
        if (list.length === 0) throw invalidArgument('VOLUME specified can not be an empty string');
        for (const v of list) vols[v] = {};
        c.Volumes = vols;
        break;
      }
      case 'workdir':
        if (rest === '') throw invalidArgument('WORKDIR requires exactly one argument');
        c.WorkingDir = path.posix.isAbsolute(rest) ? path.posix.normalize(rest) : path.posix.join(c.WorkingDir || '/', rest);
        break;
      case 'user':
        if (rest === '') throw invalidArgument('USER requires exactly one argument');
        c.User = rest;
        break;
      case 'stopsignal':
        if (rest === '') throw invalidArgument('STOPSIGNAL requires exactly one argument');
        c.StopSignal = rest;
        break;
      case 'healthcheck':
        c.Healthcheck = healthcheck(rest);
        break;
      case 'onbuild':
        if (rest === '') throw invalidArgument('ONBUILD requires at least one argument');
        c.OnBuild = [...(c.OnBuild ?? []), rest];
        break;
    }
  }
  return c;
}

function jsonArray(s: string): string[] {
  try {
    const v = JSON.parse(s) as unknown;
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  } catch {
    /* fall through */
  }
  throw invalidArgument(`invalid JSON array: ${s}`);
}

/** JSON form `["a","b"]`, or shell form wrapped in `/bin/sh -c`. */
function execForm(s: string, shell: boolean): string[] {
  if (s.startsWith('[')) {
    try {
      return jsonArray(s);
    } catch {
      /* not JSON: shell form, as Docker does */
    }
  }
  return shell ? ['/bin/sh', '-c', s] : words(s);
}

/** Words split on whitespace, honouring double and single quotes. */
function words(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote: string | undefined;
  let inWord = false;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (quote) {
      if (ch === quote) quote = undefined;
      else if (ch === '\\' && quote === '"' && i + 1 < s.length) cur += s[++i];
      else cur += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      inWord = true;
    } else if (ch === '\\' && i + 1 < s.length) {
      cur += s[++i];
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += ch;
      inWord = true;
    }
  }
  if (quote) throw invalidArgument(`unmatched quote in ${JSON.stringify(s)}`);
  if (inWord) out.push(cur);
  return out;
}

/** `k=v k2="v 2"` or the legacy `k v` form. */
function keyValues(s: string, what: string): Array<[string, string]> {
  const ws = words(s);
  if (ws.length === 0) throw invalidArgument(`${what} requires at least one argument`);
  if (!ws[0]!.includes('=')) {
    const m = /^(\S+)\s+([\s\S]*)$/.exec(s);
    if (!m) throw invalidArgument(`${what} must have two arguments`);
    return [[m[1]!, words(m[2]!).join(' ')]];
  }
  return ws.map((w) => {
    const i = w.indexOf('=');
    if (i <= 0) throw invalidArgument(`${what} names can not be blank`);
    return [w.slice(0, i), w.slice(i + 1)];
  });
}

/** Go's time.ParseDuration for the units a Dockerfile uses (`30s`, `1m30s`, `100ms`, `1.5s`), in nanoseconds. */
function goDurationNs(flag: string, v: string): number {
  const units: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  if (v === '0') return 0;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let at = 0;
  for (let m = re.exec(v); m; m = re.exec(v)) {
    total += Number(m[1]) * units[m[2]!]!;
    at = re.lastIndex;
  }
  if (v === '' || at !== v.length) throw invalidArgument(`time: invalid duration "${v}"`);
  if (total < 0) throw invalidArgument(`Interval "${flag}" cannot be negative`);
  return Math.round(total);
}

/** `HEALTHCHECK [--interval=…] [--timeout=…] [--start-period=…] [--start-interval=…] [--retries=N] CMD …` or `NONE` (the builder's rules). */
function healthcheck(rest: string): NonNullable<ImageConfig['Healthcheck']> {
  let s = rest;
  const flags: Record<string, string> = {};
  for (let m = /^--([a-z-]+)=(\S*)\s*/.exec(s); m; m = /^--([a-z-]+)=(\S*)\s*/.exec(s)) {
    if (!['interval', 'timeout', 'start-period', 'start-interval', 'retries'].includes(m[1]!)) throw invalidArgument(`Unknown flag: ${m[1]}`);
    flags[m[1]!] = m[2]!;
    s = s.slice(m[0].length);
  }
  const m = /^(\S+)\s*([\s\S]*)$/.exec(s);
  const kind = (m?.[1] ?? '').toUpperCase();
  if (kind === 'NONE') {
    if ((m?.[2] ?? '') !== '' || Object.keys(flags).length) throw invalidArgument('HEALTHCHECK NONE takes no arguments');
    return { Test: ['NONE'] };
  }
  if (kind !== 'CMD') throw invalidArgument(`Unknown type "${kind}" in HEALTHCHECK (try CMD)`);
  const arg = (m?.[2] ?? '').trim();
  if (arg === '') throw invalidArgument('Missing command after HEALTHCHECK CMD');
  let test: string[];
  if (arg.startsWith('[')) {
    try {
      test = ['CMD', ...jsonArray(arg)];
    } catch {
      test = ['CMD-SHELL', arg];
    }
  } else test = ['CMD-SHELL', arg];
  const hc: NonNullable<ImageConfig['Healthcheck']> & { StartInterval?: number } = { Test: test };
  if (flags['interval'] !== undefined) hc.Interval = goDurationNs('interval', flags['interval']);
  if (flags['timeout'] !== undefined) hc.Timeout = goDurationNs('timeout', flags['timeout']);
  if (flags['start-period'] !== undefined) hc.StartPeriod = goDurationNs('start-period', flags['start-period']);
  if (flags['start-interval'] !== undefined) hc.StartInterval = goDurationNs('start-interval', flags['start-interval']);
  if (flags['retries'] !== undefined) {
    const n = Number(flags['retries']);
    if (!Number.isInteger(n)) throw invalidArgument(`strconv.ParseInt: parsing "${flags['retries']}": invalid syntax`);
    if (n < 1) throw invalidArgument('--retries must be at least 1 (not ' + n + ')');
    hc.Retries = n;
  }
  return hc;
}
