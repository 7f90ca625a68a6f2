import type { Clock, Timer } from '../time/clock.js';
import { noopObserver, type Ec2Observer } from './observer.js';
import type { Ec2Api, TokenBucket } from './rate-limits.js';

/**
 * A client-side token bucket per EC2 API, so that the node spends its budget by waiting in line
 * instead of by collecting RequestLimitExceeded (which EC2 charges against the same bucket).
 */
export interface Ec2Limiter {
  /** Runs `fn` once the API's bucket has a token; calls to one API start in FIFO order. */
  schedule<T>(api: Ec2Api, fn: () => Promise<T>): Promise<T>;
  /**
   * EC2 answered RequestLimitExceeded: the account's bucket is dry (other nodes or tools spend it
   * too), so our estimate is too generous. Empty our bucket: the API then runs at its refill rate
   * only, with no burst, until it has been quiet long enough to refill.
   */
  drain(api: Ec2Api): void;
  /** Stops timers and connections; queued calls are left to their callers' cancellation. */
  close(): Promise<void>;
}

/** Float refills may land a hair under a whole token; count that as a token. */
const TOKEN_EPSILON = 1e-9;

interface BucketState {
  tokens: number;
  lastRefillAt: number;
  waiting: (() => void)[];
  timer: Timer | undefined;
}

/**
 * A token bucket on the injected Clock with continuous refill. The simulator and the benchmarks run
 * hundreds of agents on a ManualClock, where bottleneck's own setInterval heartbeat cannot run; on
 * simulated time this limiter is exact, which is also what makes its rate testable to the token.
 */
export class ClockTokenBucketLimiter implements Ec2Limiter {
  private readonly states = new Map<Ec2Api, BucketState>();
  private closed = false;

  constructor(
    private readonly buckets: Readonly<Record<Ec2Api, TokenBucket>>,
    private readonly clock: Clock,
    private readonly observer: Ec2Observer = noopObserver,
  ) {}

  schedule<T>(api: Ec2Api, fn: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error('EC2 limiter is closed'));
    return new Promise<T>((resolve, reject) => {
      this.state(api).waiting.push(() => {
        fn().then(resolve, reject);
      });
      this.pump(api);
    });
  }

  drain(api: Ec2Api): void {
    const state = this.state(api);
    this.refill(api, state);
    state.tokens = 0;
    this.report(api, state);
  }

  /** Tokens available now (for tests and introspection). */
  tokens(api: Ec2Api): number {
    const state = this.state(api);
    this.refill(api, state);
    return state.tokens;
  }

  queued(api: Ec2Api): number {
    return this.states.get(api)?.waiting.length ?? 0;
  }

  close(): Promise<void> {
    this.closed = true;
    for (const state of this.states.values()) {
      state.timer?.cancel();
      state.timer = undefined;
    }
    return Promise.resolve();
  }

  private state(api: Ec2Api): BucketState {
    let state = this.states.get(api);
    if (!state) {
      // A fresh bucket starts full, as EC2's do.
      state = { tokens: this.buckets[api].size, lastRefillAt: this.clock.now(), waiting: [], timer: undefined };
      this.states.set(api, state);
    }
    return state;
  }

  private refill(api: Ec2Api, state: BucketState): void {
    const now = this.clock.now();
    const bucket = this.buckets[api];
    const elapsed = Math.max(0, now - state.lastRefillAt);
    state.tokens = Math.min(bucket.size, state.tokens + (elapsed * bucket.refillPerSecond) / 1000);
    state.lastRefillAt = now;
  }

  private pump(api: Ec2Api): void {
    const state = this.state(api);
    this.refill(api, state);
    while (state.waiting.length > 0 && state.tokens >= 1 - TOKEN_EPSILON) {
      state.tokens = Math.max(0, state.tokens - 1);
      state.waiting.shift()?.();
    }
    this.report(api, state);
    if (state.waiting.length > 0 && state.timer === undefined && !this.closed) {
      const missing = 1 - state.tokens;
      const waitMs = Math.ceil((missing * 1000) / this.buckets[api].refillPerSecond);
      state.timer = this.clock.setTimer(waitMs, () => {
        state.timer = undefined;
        this.pump(api);
      });
    }
  }

  private report(api: Ec2Api, state: BucketState): void {
    this.observer.onLimiter({ api, queued: state.waiting.length, tokens: state.tokens });
  }
}
