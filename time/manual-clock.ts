import { sleepWith, type Clock, type Timer } from './clock.js';
import { TimerQueue, type QueuedTimer } from './timer-queue.js';

interface Pending extends QueuedTimer {
  fired: boolean;
}

/** Lets promise chains started by a fired timer run to their next wait before time moves on. */
export async function settle(turns = 8): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/**
 * Simulated time. Timers fire only when a test or the simulator advances the clock, in order of
 * due time (ties in order of creation), with pending promise work settled between each, so a run
 * is deterministic for the same inputs and hundreds of simulated nodes run in seconds.
 */
export class ManualClock implements Clock {
  private current: number;
  private seq = 0;
  private readonly queue = new TimerQueue<Pending>();
  /** Timers neither fired nor cancelled. */
  private live = 0;

  constructor(startMs = Date.UTC(2026, 0, 1)) {
    this.current = startMs;
  }

  now(): number {
    return this.current;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepWith(this, ms, signal);
  }

  setTimer(ms: number, fn: () => void): Timer {
    const entry: Pending = {
      at: this.current + Math.max(0, ms),
      seq: this.seq++,
      fn,
      cancelled: false,
      fired: false,
    };
    this.queue.push(entry);
    this.live++;
    return {
      cancel: () => {
        if (entry.fired || entry.cancelled) return;
        entry.cancelled = true;
        this.live--;
      },
    };
  }

  /** Due time of the earliest live timer, if any. */
  nextTimerAt(): number | undefined {
    return this.queue.peek()?.at;
  }

  /** Timers neither fired nor cancelled. */
  pendingTimers(): number {
    return this.live;
  }

  /** Moves time forward by `ms`, firing every timer due on the way. */
  async advance(ms: number): Promise<void> {
    await this.advanceTo(this.current + ms);
  }

  async advanceTo(target: number): Promise<void> {
    await settle();
    for (;;) {
      const head = this.queue.peek();
      if (!head || head.at > target) break;
      this.queue.pop();
      head.fired = true;
      this.live--;
      this.current = Math.max(this.current, head.at);
      head.fn();
      await settle();
    }
    this.current = Math.max(this.current, target);
  }

  /** Advances timer by timer until `done()` holds or `limitMs` of simulated time has passed. */
  async runUntil(done: () => boolean, limitMs: number): Promise<boolean> {
    const deadline = this.current + limitMs;
    await settle();
    while (!done()) {
      const next = this.nextTimerAt();
      if (next === undefined || next > deadline) {
        await this.advanceTo(deadline);
        return done();
      }
      await this.advanceTo(next);
    }
    return true;
  }
}
