/**
 * The container state machine. A container is always in exactly one `Status`; the
 * `can*` predicates say which operations the status allows, so every endpoint checks
 * the same rules (youki's ContainerStatus, Docker's `container.State`).
 *
 *   created ──start──▶ running ◀──unpause── paused
 *      ▲                 │  └─────pause─────▶  │
 *      │     exit / exit-restart / exit-remove │ (kill/stop unpause first)
 *      │                 ▼                     │
 *      └─(start)──── exited / restarting ◀─────┘     restarting ──cancel-restart──▶ exited
 *   created / exited / dead / restarting ──remove──▶ removing ──▶ (gone)
 *   removing ──remove-failed──▶ dead   (a failed removal, or one a crash cut off)
 *
 * `transition(status, event)` is the one place a status changes; the `can*` predicates
 * are the user-facing checks made before it (with Docker's messages).
 */
import { conflict } from '../../engine/errdefs';

export type Status = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

/**
 * What happens to a container, as far as its status is concerned. Every status change
 * of the lifecycle goes through {@link transition} with one of these.
 */
export type StateEvent =
  /** its task started (a user's start, a policy restart, a start at daemon boot) */
  | 'start'
  /** a start failed after the checks (runtime error, mount error) */
  | 'start-failed'
  | 'pause'
  | 'unpause'
  /** its task exited and nothing follows */
  | 'exit'
  /** its task exited and the restart policy will start it again after a back-off */
  | 'exit-restart'
  /** its task exited and AutoRemove removes it: the exit and the removal's start are one write */
  | 'exit-remove'
  /** a pending policy restart was called off (stop, kill, daemon restart) */
  | 'cancel-restart'
  /** its removal starts */
  | 'remove'
  /** its removal failed, or was cut off by a daemon crash */
  | 'remove-failed';

const TRANSITIONS: Record<StateEvent, Partial<Record<Status, Status>>> = {
  start: { created: 'running', exited: 'running', restarting: 'running' },
  'start-failed': { created: 'created', exited: 'exited', restarting: 'exited' },
  pause: { running: 'paused' },
  unpause: { paused: 'running' },
  exit: { running: 'exited', paused: 'exited' },
  'exit-restart': { running: 'restarting', paused: 'restarting' },
  'exit-remove': { running: 'removing', paused: 'removing' },
  'cancel-restart': { restarting: 'exited' },
  remove: { created: 'removing', exited: 'removing', dead: 'removing', restarting: 'removing' },
  'remove-failed': { removing: 'dead' },
};

/**
 * The status after `event`, or a conflict error when the event is impossible in
 * `from` (a lifecycle bug or a race the caller lost: the state is left as it was).
 */
export function transition(from: Status, event: StateEvent): Status {
  const to = TRANSITIONS[event][from];
  if (to === undefined) throw conflict(`cannot ${event.replace('-', ' ')} a container in state ${from}`);
  return to;
}

/** The persisted state of one container (the `State` object of inspect, in our own names). */
export interface StateData {
  status: Status;
  pid: number;
  exitCode: number;
  error: string;
  oomKilled: boolean;
  /** ISO timestamps; '0001-01-01T00:00:00Z' when never */
  startedAt: string;
  finishedAt: string;
  /** stopped by the user (stop, kill): `unless-stopped` does not restart it */
  manuallyStopped: boolean;
  /** has ever been started (for `docker ps` filters and restart policies) */
  hasBeenStarted: boolean;
}

export const ZERO_TIME = '0001-01-01T00:00:00Z';

export function initialState(): StateData {
  return {
    status: 'created',
    pid: 0,
    exitCode: 0,
    error: '',
    oomKilled: false,
    startedAt: ZERO_TIME,
    finishedAt: ZERO_TIME,
    manuallyStopped: false,
    hasBeenStarted: false,
  };
}

/** True while the container has a live process (running or paused). */
export function isRunning(s: Status): boolean {
  return s === 'running' || s === 'paused';
}
export const canStart = (s: Status) => s === 'created' || s === 'exited' || s === 'restarting';
export const canKill = (s: Status) => s === 'running' || s === 'paused';
export const canPause = (s: Status) => s === 'running';
export const canUnpause = (s: Status) => s === 'paused';
/** Removal without force. */
export const canRemove = (s: Status) => s === 'created' || s === 'exited' || s === 'dead';
export const canRename = (s: Status) => s !== 'removing' && s !== 'dead';

/** The `State.Status` string of inspect and the `State` of `/containers/json`. */
export function statusString(s: Status): string {
  return s;
}

/** Human `Status` column of `docker ps`, as Docker words it. */
export function humanStatus(st: StateData, now = Date.now(), health?: string): string {
  switch (st.status) {
    case 'running':
      // Docker's State.String: `Up 5 seconds (healthy)`, `(health: starting)`
      if (health) return `Up ${humanDuration(now - Date.parse(st.startedAt))} (${health === 'starting' ? 'health: starting' : health})`;
      return `Up ${humanDuration(now - Date.parse(st.startedAt))}`;
    case 'paused':
      return `Up ${humanDuration(now - Date.parse(st.startedAt))} (Paused)`;
    case 'restarting':
      return `Restarting (${st.exitCode}) ${humanDuration(now - Date.parse(st.finishedAt))} ago`;
    case 'removing':
      return 'Removal In Progress';
    case 'dead':
      return 'Dead';
    case 'created':
      return 'Created';
    case 'exited':
      if (st.finishedAt === ZERO_TIME) return '';
      return `Exited (${st.exitCode}) ${humanDuration(now - Date.parse(st.finishedAt))} ago`;
  }
}

/** go-units HumanDuration. */
export function humanDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 1) return 'Less than a second';
  if (s === 1) return '1 second';
  if (s < 60) return `${s} seconds`;
  const m = Math.round(ms / 60000);
  if (m === 1) return 'About a minute';
  if (m < 60) return `${m} minutes`;
  const h = Math.round(ms / 3600000);
  if (h === 1) return 'About an hour';
  if (h < 48) return `${h} hours`;
  if (h < 24 * 7 * 2) return `${Math.round(h / 24)} days`;
  if (h < 24 * 30 * 2) return `${Math.round(h / 24 / 7)} weeks`;
  if (h < 24 * 365 * 2) return `${Math.round(h / 24 / 30)} months`;
  return `${Math.round(h / 24 / 365)} years`;
}
