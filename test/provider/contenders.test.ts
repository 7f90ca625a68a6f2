import { describe, expect, it } from 'vitest';
import {
  OVERSUBSCRIPTION_AT_END,
  OVERSUBSCRIPTION_AT_START,
  oversubscription,
  sharingNodes,
} from '../../provider/contenders.js';

describe('sharingNodes', () => {
  it.each([
    // A node alone runs on its own buckets (at most 1 share).
    { count: { recent: 1, settled: 0 }, expected: 1 / OVERSUBSCRIPTION_AT_START },
    // A scale-up of 1,150 nodes, none done: 1,000 shares.
    { count: { recent: 1150, settled: 0 }, expected: 1000 },
    // Half of 1,000 done: the 500 still working over 1.15 + 0.45 / 2.
    { count: { recent: 1000, settled: 500 }, expected: 500 / 1.375 },
    // All but this one done: this node alone, over the end's factor.
    { count: { recent: 1000, settled: 999 }, expected: 1 / (1.15 + (0.45 * 999) / 1000) },
    // Reports of more settled nodes than recent ones (a listing that lags the watch) count as all.
    { count: { recent: 10, settled: 40 }, expected: 1 / OVERSUBSCRIPTION_AT_END },
    { count: { recent: 0, settled: 0 }, expected: 1 / OVERSUBSCRIPTION_AT_START },
  ])(
    'divides $count.recent recent nodes, $count.settled settled, into $expected shares',
    ({ count, expected }) => {
      expect(sharingNodes(count)).toBeCloseTo(expected, 9);
    },
  );

  it('gives a node a share that only grows as other nodes settle', () => {
    const shares = [0, 100, 500, 900, 999].map((settled) => 1 / sharingNodes({ recent: 1000, settled }));
    for (let i = 1; i < shares.length; i++) expect(shares[i]).toBeGreaterThan(shares[i - 1] ?? Infinity);
  });

  it('oversubscribes from the start factor to the end factor as nodes settle', () => {
    expect(oversubscription({ recent: 1000, settled: 0 })).toBe(OVERSUBSCRIPTION_AT_START);
    expect(oversubscription({ recent: 1000, settled: 1000 })).toBe(OVERSUBSCRIPTION_AT_END);
    expect(oversubscription({ recent: 1000, settled: -5 })).toBe(OVERSUBSCRIPTION_AT_START);
  });
});
