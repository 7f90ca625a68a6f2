import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { planNode, type NodeEni, type NodeState } from '../../ipam/node-plan.js';
import type { Placement } from '../../ipam/placement.js';
import { RELEASES, servesPlacement } from '../../ipam/pool-rules.js';
import { targets } from './planner-harness.js';

const SUBNETS = ['subnet-a', 'subnet-b'] as const;
const POOLS = ['db', 'cache'] as const;

const placementArb: fc.Arbitrary<Placement> = fc.oneof(
  fc.constant({}),
  fc.constantFrom(...SUBNETS).map((subnetId) => ({ subnetId })),
  fc.constantFrom(...POOLS).map((pool) => ({ pool, subnetId: 'subnet-b' })),
);

/** A random but consistent node with ADDs waiting for the default pool, subnets and pools. */
const nodeArb = fc
  .record({
    maxEnis: fc.integer({ min: 1, max: 6 }),
    ipv4PerEni: fc.integer({ min: 2, max: 30 }),
    prefixes: fc.boolean(),
    warmEniTarget: fc.integer({ min: 0, max: 2 }),
    enis: fc.array(
      fc.record({
        subnetId: fc.constantFrom(...SUBNETS),
        pool: fc.option(fc.constantFrom(...POOLS), { nil: undefined }),
        usedShare: fc.double({ min: 0, max: 1, noNaN: true }),
        takenShare: fc.double({ min: 0, max: 1, noNaN: true }),
        busy: fc.boolean(),
        full: fc.boolean(),
      }),
      { minLength: 1, maxLength: 6 },
    ),
    waiting: fc.array(placementArb, { maxLength: 60 }),
    defaultEnisInFlight: fc.integer({ min: 0, max: 1 }),
    overSince: fc.option(fc.integer({ min: 0, max: 200_000 }), { nil: undefined }),
    eniLimitReached: fc.boolean(),
  })
  .filter((r) => r.enis.length <= r.maxEnis)
  .map((r) => {
    const slots = r.ipv4PerEni - 1;
    const enis = r.enis.map((e, i): NodeEni => {
      const units = Math.floor(e.usedShare * slots);
      const addresses = r.prefixes ? units * 16 : units;
      return {
        id: `eni-${i}`,
        primary: i === 0,
        subnetId: i === 0 ? 'subnet-a' : e.subnetId,
        ...(i === 0 || e.pool === undefined ? {} : { pool: e.pool }),
        ips: r.prefixes ? 0 : units,
        prefixes: r.prefixes ? units : 0,
        assigned: Math.floor(addresses * e.takenShare),
        cooldown: 0,
        busy: i > 0 && e.busy,
        full: i > 0 && e.full,
      };
    });
    const state: NodeState = {
      enis,
      waiting: r.waiting,
      inFlight: r.defaultEnisInFlight > 0 ? { default: { units: 1, enis: r.defaultEnisInFlight } } : {},
      eniLimitReached: r.eniLimitReached,
      ...(r.overSince === undefined ? {} : { overSince: r.overSince }),
    };
    return {
      state,
      settings: {
        limits: { maxEnis: r.maxEnis, ipv4PerEni: r.ipv4PerEni, maxPods: 250, prefixes: r.prefixes },
        targets: targets({ warmEniTarget: r.warmEniTarget, prefixDelegation: r.prefixes }),
        shrinkAfterMs: 60_000,
      },
    };
  });

const NOW = 200_000;

describe('planNode (properties, pinned pools included)', () => {
  it('one mutation per ENI per round, on an ENI that serves the placement, within its slots', () => {
    fc.assert(
      fc.property(nodeArb, ({ state, settings }) => {
        const decided = planNode(state, settings, NOW);
        const touched = new Set<string>();
        const byId = new Map(state.enis.map((e) => [e.id, e]));
        for (const { action, placement } of decided.actions) {
          if (action.type === 'createEni') continue;
          expect(touched.has(action.eni)).toBe(false);
          touched.add(action.eni);
          const eni = byId.get(action.eni)!;
          expect(eni.busy === true).toBe(false);
          if (RELEASES.has(action.type)) continue;
          expect(eni.full === true).toBe(false);
          expect(servesPlacement(eni, placement, false)).toBe(true);
          const units = settings.limits.prefixes ? eni.prefixes : eni.ips;
          expect(units + ('count' in action ? action.count : 0)).toBeLessThanOrEqual(
            settings.limits.ipv4PerEni - 1,
          );
        }
      }),
      { numRuns: 500 },
    );
  });

  it('never plans past the ENI limit; a pinned shortfall at the limit is reported as the blocker', () => {
    fc.assert(
      fc.property(nodeArb, ({ state, settings }) => {
        const decided = planNode(state, settings, NOW);
        const creates = decided.actions.filter((a) => a.action.type === 'createEni').length;
        const deletes = decided.actions.filter((a) => a.action.type === 'deleteEni').length;
        const inFlight = state.inFlight['default']?.enis ?? 0;
        if (state.eniLimitReached) expect(creates).toBe(0);
        expect(state.enis.length + inFlight + creates - deletes).toBeLessThanOrEqual(
          Math.max(settings.limits.maxEnis, state.enis.length + inFlight),
        );
        if (decided.blocker) {
          expect(
            state.eniLimitReached ||
              state.enis.length + inFlight + creates - deletes >= settings.limits.maxEnis,
          ).toBe(true);
          expect(decided.shortage?.message).toContain(decided.blocker.detail);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('pinned placements grow on demand only, never for more than waits', () => {
    fc.assert(
      fc.property(nodeArb, ({ state, settings }) => {
        const decided = planNode(state, settings, NOW);
        const unit = settings.limits.prefixes ? 16 : 1;
        for (const pinned of decided.pinned) {
          const asked = pinned.actions.reduce((n, a) => n + ('count' in a ? a.count : 0), 0);
          expect(pinned.actions.every((a) => !RELEASES.has(a.type))).toBe(true);
          expect(asked).toBeLessThanOrEqual(Math.ceil(pinned.waiting / unit));
        }
        const waitingPinned = state.waiting.filter((p) => p.pool !== undefined || p.subnetId !== undefined);
        expect(decided.pinned.reduce((n, p) => n + p.waiting, 0)).toBe(waitingPinned.length);
      }),
      { numRuns: 500 },
    );
  });

  it('releases start only once the pool has been over its target for the whole delay', () => {
    fc.assert(
      fc.property(nodeArb, ({ state, settings }) => {
        const decided = planNode(state, settings, NOW);
        const releasing = decided.actions.some((a) => RELEASES.has(a.action.type));
        if (releasing) expect(NOW - (state.overSince ?? NOW)).toBeGreaterThanOrEqual(settings.shrinkAfterMs);
        if (decided.heldBack.length > 0) expect(decided.releaseDueAt).toBeGreaterThan(NOW);
      }),
      { numRuns: 500 },
    );
  });
});
