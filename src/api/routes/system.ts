/**
 * System routes: /_ping, /version, /info, /events.
 */
import { type DockerEvent, type EventBus, eventSeq } from '../../daemon/events/bus';
import { eventMatches, parseEventTime } from '../../daemon/events/filter';
import type { SystemService } from '../../daemon/system/system';
import type { RequestContext } from '../context';
import type { Route } from '../router';
import { writeJsonLine } from '../streams';

export interface SystemBackend {
  system: SystemService;
  events: EventBus;
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
  const res = ctx.startStream(200, 'application/json');
  const wanted = (ev: DockerEvent) => {
    const t = BigInt(ev.timeNano);
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
          await writeJsonLine(res, ev);
          lastReplayed = eventSeq(ev);
        }
      }
    }
    replaying = false;
    if (until !== undefined && until <= now) return;
    const closed = new Promise<void>((resolve) => res.on('close', resolve));
    const deadline =
      until !== undefined
        ? new Promise<void>((resolve) => {
            const t = setTimeout(resolve, Number((until - now) / 1_000_000n));
            res.on('close', () => clearTimeout(t));
          })
        : new Promise<void>(() => {});
    for (;;) {
      while (live.length) {
        const ev = live.shift()!;
        if (eventSeq(ev) <= lastReplayed || !wanted(ev)) continue;
        await writeJsonLine(res, ev);
      }
      const next = new Promise<void>((resolve) => (wake = resolve));
      const r = await Promise.race([next.then(() => 'ev'), closed.then(() => 'closed'), deadline.then(() => 'deadline')]);
      if (r !== 'ev') break;
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
    { method: 'GET', path: '/info', handler: async (ctx) => ctx.send(200, await b.system.info()) },
    { method: 'GET', path: '/events', handler: (ctx) => events(b, ctx) },
  ];
}
