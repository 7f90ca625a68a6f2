import { describe, expect, it } from 'vitest';
import {
  addressesBrought,
  planNode,
  servesWaitingAdds,
  type NodeEni,
  type NodeSettings,
  type NodeState,
} from '../../ipam/node-plan.js';
import type { PlanAction, PlanLimits } from '../../ipam/plan-types.js';
import { targets } from './planner-harness.js';

/** An m5.large: 3 ENIs of 10 addresses, max pods 29. */
const M5_LARGE: PlanLimits = { maxEnis: 3, ipv4PerEni: 10, maxPods: 29, prefixes: false };
const SHRINK = 60_000;
const NOW = 100_000;

const settings = (over: Partial<NodeSettings> = {}): NodeSettings => ({
  limits: M5_LARGE,
  targets: targets(),
  shrinkAfterMs: SHRINK,
  ...over,
});

const eni = (id: string, over: Partial<NodeEni> = {}): NodeEni => ({
  id,
  primary: false,
  subnetId: 'subnet-a',
  ips: 9,
  prefixes: 0,
  assigned: 9,
  cooldown: 0,
  ...over,
});

/** The primary ENI, full of pods: the default pool needs an ENI's worth (WARM_ENI_TARGET=1). */
const PRIMARY = eni('eni-0', { primary: true });

const state = (over: Partial<NodeState> = {}): NodeState => ({
  enis: [PRIMARY],
  waiting: [],
  inFlight: {},
  eniLimitReached: false,
  ...over,
});

/** The actions to start now, as `key: type eni/count`, in order. */
function started(s: NodeState, set = settings()): string[] {
  return planNode(s, set, NOW).actions.map(({ key, action }) =>
    `${key}: ${action.type} ${'eni' in action ? action.eni : ''}${'count' in action ? ` ${action.count}` : ''}`.replace(
      '  ',
      ' ',
    ),
  );
}

describe('planNode: what starts now', () => {
  it.each<[string, NodeState, string[]]>([
    ['the default pool grows by the warm-pool planner', state(), ['default: createEni 9']],
    [
      'the default pool counts its in-flight ENI',
      state({ inFlight: { default: { units: 9, enis: 1 } } }),
      [],
    ],
    [
      'a pool-pinned ADD fills the pool ENI, never a default one',
      state({
        enis: [
          PRIMARY,
          eni('eni-1', { ips: 2, assigned: 2, pool: 'db' }),
          eni('eni-2', { ips: 0, assigned: 0 }),
        ],
        waiting: [{ pool: 'db', subnetId: 'subnet-a' }],
      }),
      ['default: assignIps eni-2 9', 'pool:db: assignIps eni-1 1'],
    ],
    [
      'pinned growth comes after the default pool: skips the ENI it fills, counts the ENI it creates',
      state({
        enis: [PRIMARY, eni('eni-1', { ips: 2, assigned: 2 })],
        waiting: [{ subnetId: 'subnet-a' }],
      }),
      ['default: assignIps eni-1 7', 'default: createEni 9'],
    ],
    [
      'the default pool creates an ENI: a pinned group finds the ENI limit',
      state({
        enis: [PRIMARY, eni('eni-1', { ips: 9, assigned: 9 })],
        waiting: [{ pool: 'db', subnetId: 'subnet-b' }],
      }),
      ['default: createEni 9'],
    ],
    [
      'groups are planned in the order of their oldest ADD, each seeing the ENIs the earlier ones create',
      state({
        enis: [PRIMARY],
        inFlight: { default: { units: 9, enis: 1 } },
        waiting: [{ subnetId: 'subnet-b' }, { pool: 'db', subnetId: 'subnet-a' }, { subnetId: 'subnet-b' }],
      }),
      ['subnet:subnet-b: createEni 2'],
    ],
    [
      'units already requested for a placement are not asked for again',
      state({
        enis: [PRIMARY, eni('eni-1', { ips: 2, assigned: 2, pool: 'db' })],
        inFlight: { default: { units: 9, enis: 1 }, 'pool:db': { units: 2, enis: 0 } },
        waiting: [{ pool: 'db' }, { pool: 'db' }, { pool: 'db' }],
      }),
      ['pool:db: assignIps eni-1 1'],
    ],
  ])('%s', (_name, s, expected) => {
    expect(started(s)).toEqual(expected);
  });
});

describe('planNode: the ENI-limit blocker and the shortage', () => {
  const atLimit = state({
    enis: [PRIMARY, eni('eni-1'), eni('eni-2')],
    waiting: [{ pool: 'db', subnetId: 'subnet-b' }],
  });

  it.each<[string, NodeState, string | undefined, string | undefined]>([
    ['addresses on their way: no shortage', state(), undefined, undefined],
    [
      'a pinned placement needs an ENI the node may not add',
      atLimit,
      '3 of 3 ENIs in use',
      'the instance is at its ENI limit (3 of 3 ENIs in use)',
    ],
    [
      'the last EC2 refusal explains the shortage',
      state({ blocker: { kind: 'throttled', detail: 'x', at: 0 } }),
      undefined,
      'EC2 is throttling this account (x)',
    ],
    [
      'at the ENI limit, every ENI full, no refusal',
      state({ enis: [PRIMARY, eni('eni-1'), eni('eni-2')] }),
      undefined,
      'the node is at its ENI limit: 3 of 3 ENIs attached (instance type or MAX_ENI), each full',
    ],
    [
      'free addresses all cooling down',
      state({ enis: [eni('eni-0', { primary: true, assigned: 5, cooldown: 4 })] }),
      undefined,
      '4 released addresses are cooling down (IP_COOLDOWN_PERIOD) and the pool is not growing',
    ],
  ])('%s', (_name, s, blocker, shortage) => {
    const decided = planNode(s, settings(), NOW);
    expect(decided.blocker?.detail).toBe(blocker);
    expect(decided.shortage?.message).toBe(shortage);
  });

  it('says how many pod addresses the node can hold', () => {
    expect(planNode(state(), settings(), NOW).capacity).toBe(27);
    expect(planNode(state(), settings({ limits: { ...M5_LARGE, maxPods: 20 } }), NOW).capacity).toBe(20);
  });
});

describe('planNode: releases are held back', () => {
  // Two ENIs of free addresses beyond WARM_ENI_TARGET=1: the planner returns one whole ENI.
  const surplus = state({
    enis: [PRIMARY, eni('eni-1', { assigned: 0 }), eni('eni-2', { assigned: 0 })],
  });
  const deleteEni: PlanAction = { type: 'deleteEni', eni: 'eni-1' };

  it.each<[string, number | undefined, readonly PlanAction[], number | undefined, number | undefined]>([
    ['first seen over target: held for the delay', undefined, [], NOW, NOW + SHRINK],
    ['still within the delay', NOW - SHRINK + 1, [], NOW - SHRINK + 1, NOW + 1],
    ['over target for the whole delay: released', NOW - SHRINK, [deleteEni], NOW - SHRINK, undefined],
  ])('%s', (_name, overSince, actions, nextOverSince, dueAt) => {
    const decided = planNode(
      { ...surplus, ...(overSince === undefined ? {} : { overSince }) },
      settings(),
      NOW,
    );
    expect(decided.actions.map((a) => a.action)).toEqual(actions);
    expect(decided.heldBack).toEqual(actions.length === 0 ? [deleteEni] : []);
    expect(decided.overSince).toBe(nextOverSince);
    expect(decided.releaseDueAt).toBe(dueAt);
  });

  it('a released ENI no longer counts against the ENI limit of pinned growth', () => {
    const decided = planNode(
      { ...surplus, overSince: 0, waiting: [{ pool: 'db', subnetId: 'subnet-b' }] },
      settings(),
      NOW,
    );
    expect(decided.actions.map((a) => `${a.key} ${a.action.type}`)).toEqual([
      'default deleteEni',
      'pool:db createEni',
    ]);
    expect(decided.blocker).toBeUndefined();
  });

  it('a held-back release keeps its ENI in use: the pinned placement finds the limit', () => {
    const decided = planNode(
      { ...surplus, waiting: [{ pool: 'db', subnetId: 'subnet-b' }] },
      settings(),
      NOW,
    );
    expect(decided.actions).toEqual([]);
    expect(decided.blocker).toEqual({ kind: 'eni-limit', detail: '3 of 3 ENIs in use' });
  });
});

describe('planNode: the default pool planner', () => {
  it('is replaceable (a benchmark baseline) and sees the default pool only', () => {
    const seen: unknown[] = [];
    planNode(
      state({ enis: [PRIMARY, eni('eni-1', { pool: 'db' })], waiting: [{}, { pool: 'db' }] }),
      settings(),
      NOW,
      (input) => {
        seen.push({
          enis: input.enis.map((e) => e.id),
          pending: input.pending,
          maxEnis: input.limits.maxEnis,
        });
        return { poolTooLow: false, poolTooHigh: false, short: 0, over: 0, actions: [] };
      },
    );
    expect(seen).toEqual([{ enis: ['eni-0'], pending: 1, maxEnis: 2 }]);
  });
});

describe('servesWaitingAdds: which growth the pods waiting now need', () => {
  const eni: PlanAction = { type: 'createEni', count: 9 };
  it.each<[string, PlanAction, number, number, boolean]>([
    ['no ADD waits: a warm-up', eni, 0, 0, false],
    ['ADDs wait and nothing is on its way before it', eni, 3, 0, true],
    ['the 9 addresses of an earlier Assign serve the 9 ADDs waiting: the ENI is a warm-up', eni, 9, 9, false],
    ['a 10th ADD waits: the ENI after the Assign is needed now', eni, 10, 9, true],
    ['two ENIs on their way serve 11 ADDs: a third is a warm-up', eni, 11, 18, false],
    ['a release never serves an ADD', { type: 'unassignIps', eni: 'eni-1', count: 2 }, 5, 0, false],
  ])('%s', (_what, action, waiting, before, demand) => {
    expect(servesWaitingAdds(action, waiting, before)).toBe(demand);
  });

  it.each<[PlanAction, boolean, number]>([
    [{ type: 'assignIps', eni: 'eni-1', count: 9 }, false, 9],
    [{ type: 'createEni', count: 9 }, false, 9],
    [{ type: 'assignPrefixes', eni: 'eni-1', count: 2 }, true, 32],
    [{ type: 'createEni', count: 1 }, true, 16],
    [{ type: 'deleteEni', eni: 'eni-1' }, false, 0],
    [{ type: 'unassignPrefixes', eni: 'eni-1', count: 1 }, true, 0],
  ])('%j (prefixes %s) brings %i addresses', (action, prefixes, addresses) => {
    expect(addressesBrought(action, prefixes)).toBe(addresses);
  });
});
