import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { percentile, ratio, summarize } from '../../bench/stats.js';

describe('percentile (nearest rank)', () => {
  const ten = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  it.each([
    [50, 5],
    [90, 9],
    [99, 10],
    [100, 10],
    [10, 1],
    [0, 1],
  ])('p%d of 1..10 is %d', (p, expected) => {
    expect(percentile(ten, p)).toBe(expected);
  });

  it('p99 of 200 samples is the 198th, not the maximum', () => {
    const samples = Array.from({ length: 200 }, (_, i) => i + 1);
    expect(percentile(samples, 99)).toBe(198);
  });

  it('is 0 for no samples', () => {
    expect(percentile([], 50)).toBe(0);
  });

  it('is always one of the samples, and grows with p', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 1 }),
        fc.integer({ min: 0, max: 99 }),
        (xs, p) => {
          const sorted = [...xs].sort((a, b) => a - b);
          expect(sorted).toContain(percentile(sorted, p));
          expect(percentile(sorted, p)).toBeLessThanOrEqual(percentile(sorted, p + 1));
        },
      ),
    );
  });
});

describe('summarize', () => {
  it('sorts first and reports n, p50, p99, max, mean', () => {
    expect(summarize([30, 10, 20, 40])).toEqual({ n: 4, p50: 20, p99: 40, max: 40, mean: 25 });
  });

  it('is all zero for no samples', () => {
    expect(summarize([])).toEqual({ n: 0, p50: 0, p99: 0, max: 0, mean: 0 });
  });
});

describe('ratio', () => {
  it('divides, and has no value against 0', () => {
    expect(ratio(9, 3)).toBe(3);
    expect(ratio(1, 0)).toBeUndefined();
  });
});
