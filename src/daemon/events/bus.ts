/**
 * The daemon's event bus: every state change publishes a Docker-shaped event; `/events`
 * streams them live and replays recent ones for `since`/`until`. Old events are kept in
 * a bounded ring (Docker keeps the last 256 in memory; we keep more, the same idea).
 */
export type EventType = 'container' | 'image' | 'volume' | 'network' | 'daemon' | 'plugin' | 'builder';

export interface DockerEvent {
  Type: EventType;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'local';
  /** seconds since the epoch: exactly `timeNano / 1e9`, truncated */
  time: number;
  /** nanoseconds since the epoch; a bigint because it does not fit a double (see `eventJson`) */
  timeNano: bigint;
  /** legacy fields (container and image events only) */
  status?: string;
  id?: string;
  from?: string;
}

/**
 * The JSON of an event as Docker writes it. `timeNano` is Go's int64 nanoseconds, a
 * 19-digit integer that a double cannot hold (it would end in `00`), so it is written
 * from the bigint digits instead of through `JSON.stringify`.
 */
export function eventJson(ev: DockerEvent): string {
  const text = JSON.stringify({ ...ev, timeNano: 0 });
  const at = text.lastIndexOf('"timeNano":0');
  return text.slice(0, at) + `"timeNano":${ev.timeNano.toString()}` + text.slice(at + '"timeNano":0'.length);
}

/** Publication order of an event (a symbol key, so it never appears in the JSON). */
export const SEQ = Symbol('stevedore.event.seq');

export function eventSeq(ev: DockerEvent): number {
  return (ev as DockerEvent & { [SEQ]: number })[SEQ];
}

export type EventListener = (ev: DockerEvent) => void;

export class EventBus {
  private readonly ring: DockerEvent[] = [];
  private readonly listeners = new Set<EventListener>();
  private lastNano = 0n;
  private seq = 0;

  constructor(private readonly capacity = 1024) {}

  /**
   * Publishes an event, filling in time and Docker's legacy fields. `from` is the
   * image of a container event (set it in `attributes.image`).
   */
  publish(type: EventType, action: string, id: string, attributes: Record<string, string> = {}): DockerEvent {
    let nano = BigInt(Date.now()) * 1_000_000n + BigInt(process.hrtime()[1] % 1_000_000);
    if (nano <= this.lastNano) nano = this.lastNano + 1n;
    this.lastNano = nano;
    const ev: DockerEvent = {
      Type: type,
      Action: action,
      Actor: { ID: id, Attributes: attributes },
      scope: 'local',
      time: Number(nano / 1_000_000_000n),
      timeNano: nano,
    };
    Object.defineProperty(ev, SEQ, { value: ++this.seq, enumerable: false });
    if (type === 'container' || type === 'image') {
      ev.status = action;
      ev.id = id;
      if (type === 'container' && attributes.image !== undefined) ev.from = attributes.image;
    }
    this.ring.push(ev);
    if (this.ring.length > this.capacity) this.ring.shift();
    for (const l of this.listeners) l(ev);
    return ev;
  }

  /** Events already recorded, oldest first. */
  recent(): readonly DockerEvent[] {
    return this.ring;
  }

  /** Subscribes to live events; returns the unsubscribe function. */
  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get listenerCount(): number {
    return this.listeners.size;
  }
}
