/**
 * System routes: /_ping, /version, /info, /events.
 */
import { type DockerEvent, eventJson, eventSeq } from '../../daemon/events/bus';
import { eventMatches, parseEventTime } from '../../daemon/events/filter';
import type { RequestContext } from '../context';
import type { Route } from '../router';
import { writeLine } from '../streams';
import { eventFor, shapeFor } from '../apiversions';

// ---------- backend: what these routes need of the daemon (moby's router/system/backend.go) ----------

/** `/version` and `/info` (daemon/system/system.ts). */
export interface SystemInfoBackend {
  version(): Promise<Record<string, unknown>>;
  info(): Promise<Record<string, unknown>>;
}

/** The daemon's event log (daemon/events/bus.ts). */
export interface EventsBackend {
  /** Calls `fn` with each event published from now on; returns the unsubscribe. */
  subscribe(fn: (ev: DockerEvent) => void): () => void;
  /** The events kept for `since` (oldest first). */
  recent(): Iterable<DockerEvent>;
}

export interface SystemBackend {
  system: SystemInfoBackend;
  events: EventsBackend;
}

function ping(ctx: RequestContext): void {
  const res = ctx.response;
  res.setHeader('Docker-Experimental', 'false');
  res.setHeader('Builder-Version', '1');
  res.setHeader('Cache-Control', 'no-cache, no-store, must-revalidate');
  res.setHeader('Pragma', 'no-cache');
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  if (ctx.req.method === 'HEAD') {
    res.setHeader('Content-Length', '0');
    res.writeHead(200);
    res.end();
    return;
  }
  res.writeHead(200, { 'Content-Length': '2' });
  res.end('OK');
}

async function events(b: SystemBackend, ctx: RequestContext): Promise<void> {
  // Docker accepts unknown filter keys on /events (they match nothing special).
  const filters = ctx.filters();
  const now = BigInt(Date.now()) * 1_000_000n;
  const sinceRaw = ctx.string('since');
  const untilRaw = ctx.string('until');
  const since = sinceRaw ? parseEventTime(sinceRaw) : undefined;
  const until = untilRaw ? parseEventTime(untilRaw) : undefined;
  const signal = ctx.signal;
  const res = ctx.startStream(200, 'application/json');
  const wanted = (ev: DockerEvent) => {
    const t = ev.timeNano;
    if (since !== undefined && t < since) return false;
    if (until !== undefined && t > until) return false;
    return eventMatches(filters, ev);
  };
  // Subscribe before replaying so nothing published in between is lost.
  const live: DockerEvent[] = [];
  let replaying = true;
  let lastReplayed = -1;
  let wake: (() => void) | undefined;
  const unsubscribe = b.events.subscribe((ev) => {
    if (replaying || wanted(ev)) {
      live.push(ev);
      wake?.();
    }
  });
  try {
    if (since !== undefined) {
      for (const ev of b.events.recent()) {
        if (wanted(ev)) {
          const shown = eventFor(ctx.version, ev); // API versions: src/api/apiversions.ts
          if (shown) await writeLine(res, eventJson(shown));
          lastReplayed = eventSeq(ev);
        }
      }
    }
    replaying = false;
    if (until !== undefined && until <= now) return;
    if (signal.aborted) return;
    const closed = new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    let timer: NodeJS.Timeout | undefined;
    const deadline =
      until !== undefined ? new Promise<void>((resolve) => (timer = setTimeout(resolve, Number((until - now) / 1_000_000n)))) : new Promise<void>(() => {});
    try {
      for (;;) {
        while (live.length) {
          const ev = live.shift()!;
          if (eventSeq(ev) <= lastReplayed || !wanted(ev)) continue;
          const shown = eventFor(ctx.version, ev); // API versions: src/api/apiversions.ts
          if (shown) await writeLine(res, eventJson(shown));
        }
        if (signal.aborted) break;
        const next = new Promise<void>((resolve) => (wake = resolve));
        const r = await Promise.race([next.then(() => 'ev'), closed.then(() => 'closed'), deadline.then(() => 'deadline')]);
        if (r !== 'ev') break;
      }
    } finally {
      clearTimeout(timer);
    }
  } finally {
    unsubscribe();
    res.end();
  }
}

export function systemRoutes(b: SystemBackend): Route[] {
  return [
    { method: 'GET', path: '/_ping', handler: ping },
    { method: 'HEAD', path: '/_ping', handler: ping },
    { method: 'GET', path: '/version', handler: async (ctx) => ctx.send(200, await b.system.version()) },
    { method: 'GET', path: '/info', handler: async (ctx) => ctx.send(200, shapeFor(ctx.version, 'GET /info', await b.system.info())) },
    { method: 'GET', path: '/events', handler: (ctx) => events(b, ctx) },
  ];
}
