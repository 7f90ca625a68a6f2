import { describe, expect, it } from 'vitest';
import type { EniUsage, PlanInput, PlanLimits } from '../../ipam/plan-types.js';
import {
  actionUnderWay,
  BASELINE_ENV,
  BASELINE_POLICY,
  BASELINE_TICK_MS,
  baselineView,
  planBaseline,
} from '../../bench/baseline-policy.js';

/** m5.large: 3 ENIs x 10 IPv4 (9 secondary slots), max pods 29. */
const m5: PlanLimits = { maxEnis: 3, ipv4PerEni: 10, maxPods: 29, prefixes: false };

function eni(id: string, fields: Partial<EniUsage> = {}): EniUsage {
  return { id, primary: false, ips: 0, prefixes: 0, assigned: 0, cooldown: 0, ...fields };
}

function input(fields: Partial<PlanInput> = {}): PlanInput {
  return {
    limits: m5,
    targets: {
      warmEniTarget: 1,
      warmIpTarget: undefined,
      minimumIpTarget: undefined,
      warmPrefixTarget: undefined,
      maxEni: undefined,
      prefixDelegation: false,
    },
    enis: [eni('eni-a', { primary: true })],
    pending: 0,
    ...fields,
  };
}

const withIpTarget = (warmIpTarget: number): PlanInput['targets'] => ({ ...input().targets, warmIpTarget });

describe('planBaseline: the VPC CNI model, one action per tick', () => {
  const cases: { name: string; in: PlanInput; actions: ReturnType<typeof planBaseline>['actions'] }[] = [
    {
      name: 'an empty primary ENI is filled (WARM_ENI_TARGET=1)',
      in: input(),
      actions: [{ type: 'assignIps', eni: 'eni-a', count: 9 }],
    },
    {
      name: 'the shortfall exceeds what the primary holds: still only the assignment, no ENI in the same tick',
      in: input({ targets: withIpTarget(20) }),
      actions: [{ type: 'assignIps', eni: 'eni-a', count: 9 }],
    },
    {
      name: 'a new ENI only when no ENI has room',
      in: input({ enis: [eni('eni-a', { primary: true, ips: 9, assigned: 9 })] }),
      actions: [{ type: 'createEni', count: 9 }],
    },
    {
      name: 'ADDs waiting are invisible to it: with the warm target met nothing is done',
      in: input({ enis: [eni('eni-a', { primary: true, ips: 9 })], pending: 30 }),
      actions: [],
    },
    {
      name: 'cooling addresses count as free: 9 cooling meet WARM_ENI_TARGET=1',
      in: input({ enis: [eni('eni-a', { primary: true, ips: 9, cooldown: 9 })] }),
      actions: [],
    },
    {
      name: 'nothing while an ENI is being created (the synchronous loop is still in it)',
      in: input({ enis: [eni('eni-a', { primary: true, ips: 9, assigned: 9 })], enisInFlight: 1 }),
      actions: [],
    },
    {
      name: 'nothing while addresses are being assigned',
      in: input({ enis: [eni('eni-a', { primary: true, ips: 2, assigned: 2 })], inFlight: 7 }),
      actions: [],
    },
    {
      name: 'nothing while an ENI is busy with a mutation',
      in: input({
        enis: [eni('eni-a', { primary: true, ips: 9, assigned: 9 }), eni('eni-b', { busy: true })],
      }),
      actions: [],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const decision = planBaseline(c.in);
      expect(decision.actions).toEqual(c.actions);
      expect(decision.actions.length).toBeLessThanOrEqual(1);
    });
  }
});

describe('release', () => {
  it('surplus is released one action at a time too', () => {
    const decision = planBaseline(
      input({
        targets: withIpTarget(2),
        enis: [eni('eni-a', { primary: true, ips: 9 }), eni('eni-b', { ips: 9 })],
      }),
    );
    expect(decision.poolTooHigh).toBe(true);
    expect(decision.actions).toHaveLength(1);
    expect(decision.actions[0]?.type).toMatch(/^(unassignIps|deleteEni)$/);
  });
});

describe('what the baseline sees', () => {
  it('drops pending demand and cooldown, keeps everything else', () => {
    const original = input({
      enis: [eni('eni-a', { primary: true, ips: 5, assigned: 2, cooldown: 3 })],
      pending: 4,
    });
    const seen = baselineView(original);
    expect(seen.pending).toBe(0);
    expect(seen.enis).toEqual([eni('eni-a', { primary: true, ips: 5, assigned: 2, cooldown: 0 })]);
    // The input is not mutated: the agent keeps using it.
    expect(original.enis[0]?.cooldown).toBe(3);
  });

  it('knows an action is under way from in-flight units, ENIs or a busy ENI', () => {
    expect(actionUnderWay(input())).toBe(false);
    expect(actionUnderWay(input({ inFlight: 1 }))).toBe(true);
    expect(actionUnderWay(input({ enisInFlight: 1 }))).toBe(true);
    expect(actionUnderWay(input({ enis: [eni('eni-a', { primary: true, busy: true })] }))).toBe(true);
  });
});

describe('BASELINE_POLICY', () => {
  it('plans on a 5 s tick only, and its ADDs never wait', () => {
    expect(BASELINE_POLICY).toMatchObject({ tickMs: 5_000, eventDriven: false });
    expect(BASELINE_TICK_MS).toBe(5_000);
    expect(BASELINE_ENV).toEqual({ ENI_IPAM_ADD_WAIT_SECONDS: '0' });
  });
});
