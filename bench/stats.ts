/**
 * Summaries of measured samples. Nearest-rank percentiles, as the scenario runner reports them
 * (sim/runner/report.ts), so the in-process and real-time figures read alike; kept here with the
 * ratios the benchmark targets are stated in.
 */

export interface Summary {
  n: number;
  p50: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentile of `sorted` (ascending): the smallest sample with at least p% at or below it. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] ?? 0;
}

export function summarize(samples: readonly number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const total = sorted.reduce((a, b) => a + b, 0);
  return {
    n: sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1] ?? 0,
    mean: sorted.length === 0 ? 0 : total / sorted.length,
  };
}

/** a / b, or undefined when b is 0 (a ratio to nothing is not a figure). */
export function ratio(a: number, b: number): number | undefined {
  return b === 0 ? undefined : a / b;
}

/** A verdict line's mark. */
export function verdict(met: boolean): 'met' | 'MISSED' {
  return met ? 'met' : 'MISSED';
}
