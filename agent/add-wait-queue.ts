import type { Clock, Timer } from '../time/clock.js';

export type WaitOutcome<R> =
  | { kind: 'served'; result: R; waitedMs: number }
  | { kind: 'timeout'; waitedMs: number }
  | { kind: 'aborted'; waitedMs: number };

interface Entry<C, R> {
  constraints: C;
  enqueuedAt: number;
  timer: Timer;
  settle: (outcome: WaitOutcome<R>) => void;
}

/**
 * CNI ADDs that found no free address wait here, in arrival order, for addresses that are on their
 * way, instead of failing at once and entering kubelet's back-off (the AWS VPC CNI's "failed to
 * assign an IP address" under bursts). Each wait is bounded; the caller turns a timeout into CNI
 * error 11 (try again later) with the reason the pool could not grow.
 */
export class AddWaitQueue<C, R> {
  private entries: Entry<C, R>[] = [];

  constructor(private readonly clock: Clock) {}

  get length(): number {
    return this.entries.length;
  }

  /** Constraints of every waiter, oldest first: the planner's pending demand. */
  waiting(): C[] {
    return this.entries.map((e) => e.constraints);
  }

  /** Milliseconds the oldest waiter has waited, 0 when none. */
  oldestWaitMs(): number {
    const first = this.entries[0];
    return first ? this.clock.now() - first.enqueuedAt : 0;
  }

  wait(constraints: C, boundMs: number, signal?: AbortSignal): Promise<WaitOutcome<R>> {
    const enqueuedAt = this.clock.now();
    if (signal?.aborted) return Promise.resolve({ kind: 'aborted', waitedMs: 0 });
    return new Promise<WaitOutcome<R>>((resolve) => {
      const entry: Entry<C, R> = {
        constraints,
        enqueuedAt,
        timer: this.clock.setTimer(boundMs, () => {
          finish({ kind: 'timeout', waitedMs: this.clock.now() - enqueuedAt });
        }),
        settle: (outcome) => {
          finish(outcome);
        },
      };
      const onAbort = (): void => {
        finish({ kind: 'aborted', waitedMs: this.clock.now() - enqueuedAt });
      };
      const finish = (outcome: WaitOutcome<R>): void => {
        const index = this.entries.indexOf(entry);
        if (index < 0) return; // already settled
        this.entries.splice(index, 1);
        entry.timer.cancel();
        signal?.removeEventListener('abort', onAbort);
        resolve(outcome);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.entries.push(entry);
    });
  }

  /**
   * Offers waiters, oldest first, to `tryServe`; a waiter it returns a result for is answered. A
   * waiter that cannot be served (its subnet has nothing free yet) does not block younger waiters
   * whose constraints can be met. Returns how many were served.
   */
  serve(tryServe: (constraints: C) => R | undefined): number {
    let served = 0;
    for (const entry of [...this.entries]) {
      const result = tryServe(entry.constraints);
      if (result === undefined) continue;
      entry.settle({ kind: 'served', result, waitedMs: this.clock.now() - entry.enqueuedAt });
      served++;
    }
    return served;
  }

  /** Answers the waiters `match` picks as aborted (a DEL for their attachment came); returns how many. */
  cancel(match: (constraints: C) => boolean): number {
    let cancelled = 0;
    for (const entry of [...this.entries]) {
      if (!match(entry.constraints)) continue;
      entry.settle({ kind: 'aborted', waitedMs: this.clock.now() - entry.enqueuedAt });
      cancelled++;
    }
    return cancelled;
  }

  /** Answers every waiter with a timeout-like outcome: used when the agent stops. */
  drain(): void {
    for (const entry of [...this.entries]) {
      entry.settle({ kind: 'aborted', waitedMs: this.clock.now() - entry.enqueuedAt });
    }
  }
}
