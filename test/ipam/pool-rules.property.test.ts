import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addressesPerUnit } from '../../ipam/address.js';
import type { Placement } from '../../ipam/placement.js';
import {
  planPinnedGrowth,
  servesPlacement,
  type PinnedEni,
  type PinnedGrowthInput,
} from '../../ipam/pool-rules.js';

const SUBNETS = ['subnet-a', 'subnet-b'] as const;
const POOLS = ['db', 'cache'] as const;

const placementArb: fc.Arbitrary<Placement> = fc.oneof(
  fc.constantFrom(...SUBNETS).map((subnetId) => ({ subnetId })),
  fc.constantFrom(...POOLS).map((pool) => ({ pool, subnetId: 'subnet-b' })),
);

const inputArb: fc.Arbitrary<PinnedGrowthInput> = fc
  .record({
    maxEnis: fc.integer({ min: 1, max: 8 }),
    ipv4PerEni: fc.integer({ min: 2, max: 50 }),
    prefixes: fc.boolean(),
    primaryEniExcluded: fc.boolean(),
    placement: placementArb,
    waiting: fc.integer({ min: 0, max: 200 }),
    unitsInFlight: fc.integer({ min: 0, max: 20 }),
    enis: fc.array(
      fc.record({
        subnetId: fc.constantFrom(...SUBNETS),
        pool: fc.option(fc.constantFrom(...POOLS), { nil: undefined }),
        units: fc.integer({ min: 0, max: 60 }),
        busy: fc.boolean(),
        full: fc.boolean(),
      }),
      { maxLength: 8 },
    ),
    extraInFlight: fc.integer({ min: 0, max: 3 }),
    eniLimitReached: fc.boolean(),
  })
  .map((r) => {
    const enis: PinnedEni[] = r.enis.map((e, i) => ({
      id: `eni-${i}`,
      primary: i === 0,
      subnetId: e.subnetId,
      ...(e.pool === undefined ? {} : { pool: e.pool }),
      units: e.units,
      busy: e.busy,
      full: e.full,
    }));
    return {
      limits: {
        maxEnis: r.maxEnis,
        ipv4PerEni: r.ipv4PerEni,
        maxPods: 250,
        prefixes: r.prefixes,
        ...(r.primaryEniExcluded ? { primaryEniExcluded: true } : {}),
      },
      placement: r.placement,
      waiting: r.waiting,
      unitsInFlight: r.unitsInFlight,
      enis,
      enisInUse: enis.length + r.extraInFlight,
      eniLimitReached: r.eniLimitReached,
    };
  });

describe('planPinnedGrowth (properties)', () => {
  it('asks only ENIs that serve the placement, never past their slots, never for more than waits', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const { actions, eniLimit } = planPinnedGrowth(input);
        const slots = input.limits.ipv4PerEni - 1;
        const need = Math.ceil(input.waiting / addressesPerUnit(input.limits.prefixes)) - input.unitsInFlight;
        let requested = 0;
        const seen = new Set<string>();
        for (const action of actions) {
          if (action.type === 'createEni') {
            expect(input.enisInUse).toBeLessThan(input.limits.maxEnis);
            expect(input.eniLimitReached).toBe(false);
            expect(action.count).toBeLessThanOrEqual(slots);
            requested += action.count;
            continue;
          }
          expect(action.type).toBe(input.limits.prefixes ? 'assignPrefixes' : 'assignIps');
          if (action.type !== 'assignIps' && action.type !== 'assignPrefixes')
            throw new Error('only assigns');
          const eni = input.enis.find((e) => e.id === action.eni)!;
          expect(servesPlacement(eni, input.placement, input.limits.primaryEniExcluded === true)).toBe(true);
          expect(eni.busy || eni.full).toBe(false);
          expect(eni.units + action.count).toBeLessThanOrEqual(slots);
          expect(seen.has(eni.id)).toBe(false);
          seen.add(eni.id);
          requested += action.count;
        }
        expect(requested).toBeLessThanOrEqual(Math.max(0, need));
        // A shortfall is either asked for in full or reported as the ENI limit.
        if (eniLimit === undefined && need > 0) {
          expect(requested === need || actions.some((a) => a.type === 'createEni')).toBe(true);
        }
        if (eniLimit !== undefined) expect(actions.some((a) => a.type === 'createEni')).toBe(false);
      }),
      { numRuns: 500 },
    );
  });
});
