import type { TokenBucket } from '../../provider/rate-limits.js';

/**
 * Checks start times against a token bucket: in every window [t_i, t_j] at most
 * size + refill * (t_j - t_i) calls may start (plus `slack` for a limiter that refills in steps).
 * Returns the worst excess found (<= 0 when the bucket was respected).
 */
export function worstBucketExcess(startsMs: readonly number[], bucket: TokenBucket, slack = 0): number {
  const sorted = [...startsMs].sort((a, b) => a - b);
  let worst = -Infinity;
  for (let i = 0; i < sorted.length; i++) {
    for (let j = i; j < sorted.length; j++) {
      const allowed = bucket.size + (bucket.refillPerSecond * (sorted[j]! - sorted[i]!)) / 1000 + slack;
      worst = Math.max(worst, j - i + 1 - allowed);
    }
  }
  return worst;
}

/** Calls per second after the initial burst of `size`, from the first start to the last. */
export function sustainedRate(startsMs: readonly number[], bucket: TokenBucket): number {
  const sorted = [...startsMs].sort((a, b) => a - b);
  const elapsedMs = sorted[sorted.length - 1]! - sorted[0]!;
  return ((sorted.length - bucket.size) * 1000) / elapsedMs;
}
