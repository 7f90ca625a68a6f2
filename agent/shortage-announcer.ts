/**
 * Reports a node whose pool is short and cannot grow as events on its Node object (readiness stays
 * true for a full node: issue 14). `announce` is the pure rule that keeps events few: a shortage is
 * reported once it has lasted SHORTAGE_EVENT_HOLD_MS, again when its cause changes, repeated at most
 * every SHORTAGE_EVENT_REPEAT_MS while it lasts, and reported over (one Normal event) once it has
 * been gone for the hold time. `ShortageAnnouncer` looks every SHORTAGE_CHECK_INTERVAL_MS and hands
 * what `announce` returns to a sink (agent/kube/node-events.ts) that never blocks the agent.
 */
import type { Shortage, ShortageCause } from '../ipam/pool-rules.js';
import { repeatEvery, type Clock } from '../time/clock.js';
import { SHORTAGE_CHECK_INTERVAL_MS, SHORTAGE_EVENT_HOLD_MS, SHORTAGE_EVENT_REPEAT_MS } from './intervals.js';
import type { Logger } from './logger.js';

export interface AnnouncerTiming {
  readonly holdMs: number;
  readonly repeatMs: number;
}

export const ANNOUNCER_TIMING: AnnouncerTiming = {
  holdMs: SHORTAGE_EVENT_HOLD_MS,
  repeatMs: SHORTAGE_EVENT_REPEAT_MS,
};

export interface AnnouncerState {
  /** Since when the pool has been short (undefined: it is not, or has been clear for the hold). */
  readonly shortSince?: number;
  /** Since when a shortage has been gone, while it is not yet reported over. */
  readonly clearSince?: number;
  /** The shortage last reported, and when its event was last written. */
  readonly reported?: { readonly cause: ShortageCause; readonly lastAt: number; readonly count: number };
}

export type Announcement =
  | {
      readonly type: 'Warning';
      readonly cause: ShortageCause;
      readonly message: string;
      /** 1 for a new shortage or cause; more for a repeat of the same one. */
      readonly count: number;
    }
  | { readonly type: 'Normal'; readonly cause: ShortageCause; readonly message: string };

/** The next state, and the event to write now if any. */
export function announce(
  state: AnnouncerState,
  observed: Shortage | undefined,
  now: number,
  timing: AnnouncerTiming = ANNOUNCER_TIMING,
): { state: AnnouncerState; event?: Announcement } {
  if (observed === undefined) {
    if (state.shortSince === undefined) return { state: {} };
    const clearSince = state.clearSince ?? now;
    if (now - clearSince < timing.holdMs) return { state: { ...state, clearSince } };
    if (state.reported === undefined) return { state: {} };
    const { cause } = state.reported;
    return {
      state: {},
      event: { type: 'Normal', cause, message: `the address pool can grow again (it was short: ${cause})` },
    };
  }
  const shortSince = state.shortSince ?? now;
  const next: AnnouncerState = { shortSince, ...(state.reported ? { reported: state.reported } : {}) };
  if (now - shortSince < timing.holdMs) return { state: next };
  const { reported } = state;
  if (reported?.cause === observed.cause) {
    if (now - reported.lastAt < timing.repeatMs) return { state: next };
    const count = reported.count + 1;
    return {
      state: { shortSince, reported: { cause: observed.cause, lastAt: now, count } },
      event: warning(observed, count),
    };
  }
  // A new cause is reported at once, but causes that alternate write at most one event per hold.
  if (reported !== undefined && now - reported.lastAt < timing.holdMs) return { state: next };
  return {
    state: { shortSince, reported: { cause: observed.cause, lastAt: now, count: 1 } },
    event: warning(observed, 1),
  };
}

function warning(observed: Shortage, count: number): Announcement {
  return {
    type: 'Warning',
    cause: observed.cause,
    message: `the address pool is short and cannot grow: ${observed.message}`,
    count,
  };
}

/** Where announcements go: writes them (Kubernetes events) without ever throwing or blocking. */
export interface NodeEventSink {
  record(event: Announcement): void;
}

export interface ShortageAnnouncerDeps {
  clock: Clock;
  logger: Pick<Logger, 'info' | 'warn'>;
  /** The shortage now, as events report it; undefined while the agent is starting. */
  observe: () => Shortage | undefined;
  sink: NodeEventSink;
  timing?: AnnouncerTiming;
  intervalMs?: number;
}

export class ShortageAnnouncer {
  private state: AnnouncerState = {};

  constructor(private readonly deps: ShortageAnnouncerDeps) {}

  /** Looks now (tests and the first check), writing an event when `announce` says so. */
  check(): void {
    const { clock, logger, sink } = this.deps;
    let observed: Shortage | undefined;
    try {
      observed = this.deps.observe();
    } catch (err) {
      // The agent is starting (no view yet): nothing to report.
      logger.warn({ err: (err as Error).message }, 'cannot look at the pool for shortage events');
      return;
    }
    const step = announce(this.state, observed, clock.now(), this.deps.timing);
    this.state = step.state;
    if (step.event) {
      logger.info({ event: step.event }, 'node event: address pool shortage');
      sink.record(step.event);
    }
  }

  /** Checks every interval until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const intervalMs = this.deps.intervalMs ?? SHORTAGE_CHECK_INTERVAL_MS;
    await repeatEvery(this.deps.clock, intervalMs, signal, () => {
      this.check();
    });
  }
}
