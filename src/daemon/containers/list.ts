/** `GET /containers/json` filtering, with Docker's filter keys and rules. */
import { invalidArgument } from '../../engine/errdefs';
import type { ContainerRecord } from './model';
import { resolve } from './names';
import { isRunning } from './state';

const KEYS = new Set(['id', 'name', 'label', 'status', 'ancestor', 'before', 'since', 'exited', 'health', 'network', 'volume', 'is-task', 'publish', 'expose']);
const STATUSES = new Set(['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead']);

export interface ListOptions {
  all: boolean;
  limit?: number;
  filters: Map<string, string[]>;
}

function matchValue(pattern: string, source: string): boolean {
  if (pattern === source) return true;
  try {
    return new RegExp(pattern).test(source);
  } catch {
    return false;
  }
}

function labelMatch(filters: string[], labels: Record<string, string>): boolean {
  return filters.every((f) => {
    const i = f.indexOf('=');
    if (i < 0) return f in labels;
    return labels[f.slice(0, i)] === f.slice(i + 1);
  });
}

/** Validates filters and returns the matching containers, newest first. Throws invalid-argument. */
export function filterContainers(all: ContainerRecord[], o: ListOptions, imageMatches: (c: ContainerRecord, ref: string) => boolean): ContainerRecord[] {
  const f = o.filters;
  for (const k of f.keys()) if (!KEYS.has(k)) throw invalidArgument(`Invalid filter '${k}'`);
  for (const s of f.get('status') ?? []) if (!STATUSES.has(s)) throw invalidArgument(`Invalid filter 'status=${s}'`);
  const exited = (f.get('exited') ?? []).map((e) => {
    if (!/^-?\d+$/.test(e)) throw invalidArgument(`invalid filter 'exited=${e}'`);
    return Number(e);
  });
  for (const h of f.get('health') ?? []) if (!['starting', 'healthy', 'unhealthy', 'none'].includes(h)) throw invalidArgument(`Invalid filter 'health=${h}'`);
  let showAll = o.all || f.has('status') || (o.limit !== undefined && o.limit > 0);
  const sorted = [...all].sort((a, b) => (a.created < b.created ? 1 : a.created > b.created ? -1 : 0));
  const before = f.get('before')?.map((r) => resolve(r, all));
  const since = f.get('since')?.map((r) => resolve(r, all));
  if (before || since) showAll = showAll || false;
  const out: ContainerRecord[] = [];
  for (const c of sorted) {
    if (!showAll && !isRunning(c.state.status) && c.state.status !== 'restarting') continue;
    if (f.has('id') && !f.get('id')!.some((v) => matchValue(v, c.id))) continue;
    if (f.has('name') && !f.get('name')!.some((v) => matchValue(v, c.name) || matchValue(v, c.name.slice(1)))) continue;
    if (f.has('label') && !labelMatch(f.get('label')!, c.config.Labels ?? {})) continue;
    if (f.has('status') && !f.get('status')!.includes(c.state.status)) continue;
    if (exited.length && (c.state.status !== 'exited' || !exited.includes(c.state.exitCode))) continue;
    if (f.has('health') && !f.get('health')!.includes('none')) continue;
    if (f.has('ancestor') && !f.get('ancestor')!.some((r) => imageMatches(c, r))) continue;
    if (before && !before.every((b) => c.created < b.created)) continue;
    if (since && !since.every((s) => c.created > s.created)) continue;
    if (f.has('network')) {
      const mode = c.hostConfig.NetworkMode === 'default' ? 'bridge' : c.hostConfig.NetworkMode ?? 'bridge';
      if (!f.get('network')!.includes(mode)) continue;
    }
    if (f.has('volume')) {
      const binds = (c.hostConfig.Binds ?? []).flatMap((b) => b.split(':').slice(0, 2));
      if (!f.get('volume')!.some((v) => binds.includes(v))) continue;
    }
    if (f.has('publish') || f.has('expose')) continue;
    if (f.has('is-task') && f.get('is-task')!.includes('true')) continue;
    out.push(c);
    if (o.limit !== undefined && o.limit > 0 && out.length >= o.limit) break;
  }
  return out;
}
