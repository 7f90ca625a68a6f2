/**
 * Elapsed real time for the real-time benchmarks (plugin executions, node start-up). It reads the
 * monotonic high-resolution clock: these are measurements of tens of milliseconds, where the
 * Clock's epoch milliseconds would be too coarse and a wall-clock step would corrupt a sample.
 * Nothing is scheduled with it.
 */
import { performance } from 'node:perf_hooks';

export function startStopwatch(): () => number {
  const start = performance.now();
  return () => performance.now() - start;
}
