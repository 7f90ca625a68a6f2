import type { Clock } from '../time/clock.js';

/** A random source in [0, 1); injected so that simulated runs are deterministic for a seed. */
export type RandomSource = () => number;

export interface BackoffPolicy {
  /** Delay ceiling of the first retry; doubles with every attempt. */
  baseMs: number;
  /** No single wait is longer than this, however many attempts came before. */
  capMs: number;
}

/**
 * Exponential backoff with full jitter: a uniform wait in [0, min(cap, base * 2^attempt)).
 * Full jitter spreads the retries of many nodes that were throttled by the same bucket at the same
 * moment, instead of having them all come back together (AWS Architecture Blog, "Exponential
 * Backoff And Jitter").
 */
export function backoffDelay(attempt: number, policy: BackoffPolicy, random: RandomSource): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.max(0, attempt));
  return Math.floor(random() * ceiling);
}

/** Waits the backoff delay of `attempt` on the injected clock. */
export function sleepBackoff(
  clock: Clock,
  attempt: number,
  policy: BackoffPolicy,
  random: RandomSource,
  signal?: AbortSignal,
): Promise<void> {
  return clock.sleep(backoffDelay(attempt, policy, random), signal);
}
