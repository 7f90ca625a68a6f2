import type { TokenBucket } from './rate-limits.js';

/**
 * How far one RequestLimitExceeded cuts the rate: TCP's half. A quarter collapsed a node whose
 * calls EC2 throttles at random (a fifth of them, on a bad day; test/e2e/faults-ec2.test.ts) to one
 * call every several seconds, so pods waiting on it timed out; hundreds of nodes that learn of the
 * same dry bucket still fall fast, as each throttle in a later refill halves them again.
 */
export const THROTTLE_DECREASE = 0.5;
/** The floor: a node never waits longer than this between two calls of one API. */
export const MIN_INTERVAL_MS = 120_000;
/**
 * Additive increase per answered call, as a fraction of the configured rate: about twenty calls in
 * a row without a throttle bring a node from its floor back to its configured rate.
 */
export const RECOVERY_STEP = 0.05;

/**
 * The adaptive part of a node's limiter for one API (AIMD, in the spirit of the AWS SDKs' adaptive
 * retry mode). EC2 answers RequestLimitExceeded when the account's bucket is dry: other nodes, or
 * other tools of the account, are spending it. The node cannot see them, so it treats each throttle
 * as a measure of the account's load: its rate falls multiplicatively (and its burst to one call),
 * and every call EC2 answers afterwards earns back a little. Throttles that report the same dry
 * moment (calls that were already in flight) count once.
 */
export class AdaptiveRate {
  private rate: number;
  private burst: number;
  private lastDecreaseAt = -Infinity;

  constructor(private readonly ceiling: TokenBucket) {
    this.rate = ceiling.refillPerSecond;
    this.burst = ceiling.size;
  }

  /** Tokens per second the node may spend now. */
  refillPerSecond(): number {
    return this.rate;
  }

  /** Tokens the node may hold now (its burst). */
  size(): number {
    return this.burst;
  }

  /** The floor of the rate: one call per MIN_INTERVAL_MS, or the configured rate if lower. */
  floor(): number {
    return Math.min(this.ceiling.refillPerSecond, 1000 / MIN_INTERVAL_MS);
  }

  throttled(now: number): void {
    // Calls in flight when the first throttle came back saw the same empty bucket.
    if (now - this.lastDecreaseAt < 1000 / this.rate) return;
    this.lastDecreaseAt = now;
    this.rate = Math.max(this.floor(), this.rate * THROTTLE_DECREASE);
    this.burst = 1;
  }

  answered(): void {
    if (this.rate >= this.ceiling.refillPerSecond && this.burst >= this.ceiling.size) return;
    this.rate = Math.min(
      this.ceiling.refillPerSecond,
      this.rate + this.ceiling.refillPerSecond * RECOVERY_STEP,
    );
    // The burst comes back only with the full rate: a burst is what storms a shared bucket.
    if (this.rate >= this.ceiling.refillPerSecond) this.burst = Math.min(this.ceiling.size, this.burst + 1);
  }
}
