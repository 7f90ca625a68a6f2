import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { EniUsage, PlanAction, PlanInput } from '../../ipam/plan-types.js';
import { plan } from '../../ipam/planner.js';
import { addresses, apply, settle, targets } from './planner-harness.js';

const optionalCount = (max: number) => fc.option(fc.integer({ min: 0, max }), { nil: undefined });

/** A random but consistent node: ENIs within their slots, assigned + cooling within their addresses. */
const planInput: fc.Arbitrary<PlanInput> = fc
  .record({
    maxEnis: fc.integer({ min: 1, max: 8 }),
    ipv4PerEni: fc.integer({ min: 2, max: 30 }),
    maxPods: fc.integer({ min: 1, max: 400 }),
    prefixes: fc.boolean(),
    primaryEniExcluded: fc.boolean(),
    warmEniTarget: fc.integer({ min: 0, max: 3 }),
    warmIpTarget: optionalCount(40),
    minimumIpTarget: optionalCount(60),
    warmPrefixTarget: optionalCount(4),
    maxEni: fc.option(fc.integer({ min: 1, max: 8 }), { nil: undefined }),
    enis: fc.array(
      fc.record({
        slotsUsedShare: fc.double({ min: 0, max: 1, noNaN: true }),
        ipShare: fc.double({ min: 0, max: 1, noNaN: true }),
        takenShare: fc.double({ min: 0, max: 1, noNaN: true }),
        coolShare: fc.double({ min: 0, max: 1, noNaN: true }),
        busy: fc.boolean(),
        full: fc.boolean(),
      }),
      { minLength: 1, maxLength: 8 },
    ),
    pending: fc.integer({ min: 0, max: 40 }),
    inFlight: fc.integer({ min: 0, max: 3 }),
    enisInFlight: fc.integer({ min: 0, max: 2 }),
    eniLimitReached: fc.boolean(),
  })
  .map((r): PlanInput => {
    const slots = r.ipv4PerEni - 1;
    const enis = r.enis.map((e, i): EniUsage => {
      const used = Math.floor(e.slotsUsedShare * slots);
      // In prefix mode most slots hold prefixes; a few leftover IPs model a switch of mode.
      const ips = r.prefixes ? Math.floor(used * e.ipShare * 0.3) : used;
      const prefixes = r.prefixes ? used - ips : Math.floor((slots - used) * e.ipShare * 0.2);
      const total = ips + prefixes * 16;
      const taken = Math.floor(total * e.takenShare);
      const cooldown = Math.floor(taken * e.coolShare);
      return {
        id: `eni-${String(i).padStart(2, '0')}`,
        primary: i === 0,
        ips,
        prefixes,
        assigned: taken - cooldown,
        cooldown,
        ...(i > 0 && e.busy ? { busy: true } : {}),
        ...(i > 0 && e.full ? { full: true } : {}),
      };
    });
    return {
      limits: {
        maxEnis: r.maxEnis,
        ipv4PerEni: r.ipv4PerEni,
        maxPods: r.maxPods,
        prefixes: r.prefixes,
        primaryEniExcluded: r.primaryEniExcluded,
      },
      targets: targets({
        warmEniTarget: r.warmEniTarget,
        warmIpTarget: r.warmIpTarget,
        minimumIpTarget: r.minimumIpTarget,
        warmPrefixTarget: r.warmPrefixTarget,
        maxEni: r.maxEni,
        prefixDelegation: r.prefixes,
      }),
      enis,
      pending: r.pending,
      inFlight: r.inFlight,
      enisInFlight: r.enisInFlight,
      eniLimitReached: r.eniLimitReached,
    };
  });

const growth = (a: PlanAction) =>
  a.type === 'assignIps' || a.type === 'assignPrefixes' || a.type === 'createEni';
const podEnis = (s: PlanInput) => s.enis.filter((e) => !(e.primary && s.limits.primaryEniExcluded === true));
const unitSize = (s: PlanInput) => (s.limits.prefixes ? 16 : 1);
const podAddresses = (s: PlanInput) =>
  podEnis(s).reduce((sum, e) => sum + addresses(e), 0) + (s.inFlight ?? 0) * unitSize(s);
const effectiveMaxEnis = (s: PlanInput) => Math.min(s.limits.maxEnis, s.targets.maxEni ?? s.limits.maxEnis);

/**
 * The node with no mutation under way on any ENI and no ENI being created. Work under way that
 * leaves room takes part of a shortfall once it lands (a later round assigns there), so "one
 * round" holds only without it; the harness never lands the input's own in-flight work.
 */
function nothingUnderWay(input: PlanInput): PlanInput {
  return { ...input, enis: input.enis.map((eni) => ({ ...eni, busy: false })), enisInFlight: 0 };
}

describe('plan: properties', () => {
  it('never plans beyond the ENI limit, MAX_ENI, or the slots of an ENI', () => {
    fc.assert(
      fc.property(planInput, (state) => {
        const { actions } = plan(state);
        const creates = actions.filter((a) => a.type === 'createEni').length;
        if (creates > 0) {
          expect(state.eniLimitReached).toBe(false);
          expect(state.enis.length + (state.enisInFlight ?? 0) + creates).toBeLessThanOrEqual(
            effectiveMaxEnis(state),
          );
        }
        const after = apply(state, actions);
        for (const e of after.enis) {
          const before = state.enis.find((b) => b.id === e.id);
          if (before === undefined || before.ips + before.prefixes !== e.ips + e.prefixes) {
            expect(e.ips + e.prefixes).toBeLessThanOrEqual(state.limits.ipv4PerEni - 1);
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  it('never grows the node beyond max pods', () => {
    fc.assert(
      fc.property(planInput, (state) => {
        const { actions } = plan(state);
        if (!actions.some(growth)) return;
        // With prefixes the last /28 may reach past max pods by up to 15 addresses.
        expect(podAddresses(apply(state, actions))).toBeLessThan(state.limits.maxPods + unitSize(state));
        expect(podAddresses(state)).toBeLessThan(state.limits.maxPods);
      }),
      { numRuns: 500 },
    );
  });

  it('never unassigns an assigned or cooling address, never deletes the primary, never acts on busy or full ENIs', () => {
    fc.assert(
      fc.property(planInput, (state) => {
        for (const action of plan(state).actions) {
          if (action.type === 'createEni') {
            expect(action.count).toBeGreaterThan(0);
            continue;
          }
          const target = state.enis.find((e) => e.id === action.eni);
          expect(target).toBeDefined();
          const e = target!;
          expect(e.busy ?? false).toBe(false);
          expect(e.full ?? false).toBe(false);
          expect(e.primary && state.limits.primaryEniExcluded === true).toBe(false);
          const taken = e.assigned + e.cooldown;
          switch (action.type) {
            case 'unassignIps':
              expect(action.count).toBeGreaterThan(0);
              expect(action.count).toBeLessThanOrEqual(e.ips - taken);
              break;
            case 'unassignPrefixes':
              expect(action.count).toBeGreaterThan(0);
              expect(action.count * 16).toBeLessThanOrEqual(e.prefixes * 16 - taken);
              break;
            case 'deleteEni':
              expect(e.primary).toBe(false);
              expect(taken).toBe(0);
              break;
            case 'assignIps':
            case 'assignPrefixes':
              expect(action.count).toBeGreaterThan(0);
              break;
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  it('never both grows and shrinks, and short and over are never both positive', () => {
    fc.assert(
      fc.property(planInput, (state) => {
        const decision = plan(state);
        expect(decision.short > 0 && decision.over > 0).toBe(false);
        const grows = decision.actions.some(growth);
        const shrinks = decision.actions.some((a) => !growth(a));
        expect(grows && shrinks).toBe(false);
        expect(decision.poolTooLow).toBe(decision.short > 0);
      }),
      { numRuns: 500 },
    );
  });

  it('is idempotent: once its actions are visible, the next round asks for no more', () => {
    fc.assert(
      fc.property(planInput, (given) => {
        const state = { ...nothingUnderWay(given), pending: 0 };
        const next = apply(state, plan(state).actions);
        expect(plan(next).actions.filter(growth)).toEqual([]);
      }),
      { numRuns: 500 },
    );
  });

  it('serves waiting demand in one round: the next round (same demand) asks for no more', () => {
    fc.assert(
      fc.property(planInput.map(nothingUnderWay), (state) => {
        const next = apply(state, plan(state).actions);
        expect(plan(next).actions.filter(growth)).toEqual([]);
      }),
      { numRuns: 500 },
    );
  });

  it('is idempotent while its requests are still in flight', () => {
    fc.assert(
      fc.property(planInput, (given) => {
        const state = { ...given, pending: 0 };
        const { actions } = plan(state);
        const requested = actions.reduce((sum, a) => sum + (growth(a) && 'count' in a ? a.count : 0), 0);
        const creates = actions.filter((a) => a.type === 'createEni').length;
        // The agent marks an ENI busy while a mutation on it is under way (EniUsage.busy).
        const touched = new Set(actions.map((a) => ('eni' in a ? a.eni : '')));
        const next = {
          ...state,
          enis: state.enis.map((e) => (touched.has(e.id) ? { ...e, busy: true } : e)),
          inFlight: (state.inFlight ?? 0) + requested,
          enisInFlight: (state.enisInFlight ?? 0) + creates,
        };
        expect(plan(next).actions.filter(growth)).toEqual([]);
      }),
      { numRuns: 500 },
    );
  });

  it('shrinking keeps the targets: the round after a release does not grow again', () => {
    fc.assert(
      fc.property(planInput, (given) => {
        const state = { ...given, pending: 0, inFlight: 0, enisInFlight: 0 };
        const { actions } = plan(state);
        if (actions.some(growth)) return;
        expect(plan(apply(state, actions)).actions.filter(growth)).toEqual([]);
      }),
      { numRuns: 500 },
    );
  });

  it('settles: no allocate/free thrash, whatever the settings (at most 3 rounds)', () => {
    fc.assert(
      fc.property(planInput, (given) => {
        let state: PlanInput = { ...given, pending: 0, inFlight: 0, enisInFlight: 0 };
        for (let round = 0; round < 3; round++) state = apply(state, plan(state).actions);
        expect(plan(state).actions).toEqual([]);
        expect(() => settle(given)).not.toThrow();
      }),
      { numRuns: 500 },
    );
  });

  it('same input, same decision, whatever the order of the ENIs', () => {
    fc.assert(
      fc.property(planInput, fc.integer({ min: 0, max: 1000 }), (state, seed) => {
        const shuffled = [...state.enis].sort(
          (a, b) => ((a.id.charCodeAt(4) * seed) % 7) - ((b.id.charCodeAt(4) * seed) % 7),
        );
        expect(plan({ ...state, enis: shuffled })).toEqual(plan(structuredClone(state)));
      }),
      { numRuns: 300 },
    );
  });
});
