import { describe, expect, it } from 'vitest';
import { pinnedDemand } from '../../ipam/placement.js';
import type { Blocker } from '../../ipam/pool-blocker.js';
import { targets as defaultTargets } from './planner-harness.js';
import type { PlanAction, PlanDecision, PlanLimits } from '../../ipam/plan-types.js';
import {
  defaultPoolInput,
  holdBackReleases,
  planPinnedGrowth,
  podAddressCapacity,
  servesPlacement,
  shortage,
  shortageReason,
  type DefaultPoolState,
  type PinnedEni,
  type PinnedGrowthInput,
} from '../../ipam/pool-rules.js';

/** An m5.large: 3 ENIs of 10 addresses, max pods 29. */
const M5_LARGE: PlanLimits = { maxEnis: 3, ipv4PerEni: 10, maxPods: 29, prefixes: false };

describe('podAddressCapacity', () => {
  it.each([
    ['m5.large: max pods counts two host-network pods', M5_LARGE, 27],
    ['max pods below what the ENIs carry', { ...M5_LARGE, maxPods: 20 }, 20],
    ['custom networking: the primary ENI carries no pod', { ...M5_LARGE, primaryEniExcluded: true }, 18],
    ['prefix mode: 16 addresses a slot', { ...M5_LARGE, prefixes: true, maxPods: 110 }, 110],
    ['prefix mode, ENIs the limit', { maxEnis: 1, ipv4PerEni: 4, maxPods: 110, prefixes: true }, 48],
    ['no ENI for pods at all', { ...M5_LARGE, maxEnis: 1, primaryEniExcluded: true }, 0],
  ] as const)('%s', (_name, limits: PlanLimits, expected) => {
    expect(podAddressCapacity(limits)).toBe(expected);
  });
});

const eni = (id: string, over: Partial<PinnedEni> = {}): PinnedEni => ({
  id,
  primary: false,
  subnetId: 'subnet-a',
  units: 0,
  busy: false,
  full: false,
  ...over,
});

function grow(over: Partial<PinnedGrowthInput>): ReturnType<typeof planPinnedGrowth> {
  return planPinnedGrowth({
    limits: M5_LARGE,
    placement: { subnetId: 'subnet-b' },
    waiting: 1,
    unitsInFlight: 0,
    enis: [eni('eni-0', { primary: true, units: 9 })],
    enisInUse: 1,
    eniLimitReached: false,
    ...over,
  });
}

describe('planPinnedGrowth', () => {
  it.each<[string, Partial<PinnedGrowthInput>, readonly PlanAction[], boolean]>([
    ['nothing waits: nothing to do', { waiting: 0 }, [], false],
    ['what waits is already requested', { waiting: 3, unitsInFlight: 3 }, [], false],
    [
      'no ENI of the subnet: create one for what waits',
      { waiting: 3 },
      [{ type: 'createEni', count: 3 }],
      false,
    ],
    [
      'an ENI of the subnet with room: assign to it first',
      {
        waiting: 3,
        enis: [eni('eni-0', { primary: true }), eni('eni-b', { subnetId: 'subnet-b', units: 8 })],
      },
      [
        { type: 'assignIps', eni: 'eni-b', count: 1 },
        { type: 'createEni', count: 2 },
      ],
      false,
    ],
    [
      'busy and full ENIs are skipped',
      {
        waiting: 2,
        enis: [
          eni('eni-b1', { subnetId: 'subnet-b', busy: true }),
          eni('eni-b2', { subnetId: 'subnet-b', full: true }),
        ],
        enisInUse: 2,
      },
      [{ type: 'createEni', count: 2 }],
      false,
    ],
    [
      'a pool ENI in the subnet does not serve a subnet-pinned pod',
      { waiting: 1, enis: [eni('eni-p', { subnetId: 'subnet-b', pool: 'db' })], enisInUse: 2 },
      [{ type: 'createEni', count: 1 }],
      false,
    ],
    [
      'at the ENI limit: only the ENIs there are, and the limit reported',
      { waiting: 5, enis: [eni('eni-b', { subnetId: 'subnet-b', units: 7 })], enisInUse: 3 },
      [{ type: 'assignIps', eni: 'eni-b', count: 2 }],
      true,
    ],
    ['EC2 refused an attachment: no new ENI', { waiting: 1, eniLimitReached: true }, [], true],
    [
      'a new ENI takes at most one ENI of addresses',
      { waiting: 40 },
      [{ type: 'createEni', count: 9 }],
      false,
    ],
    [
      'prefix mode counts /28s',
      { limits: { ...M5_LARGE, prefixes: true }, waiting: 17 },
      [{ type: 'createEni', count: 2 }],
      false,
    ],
  ])('%s', (_name, over, actions, atLimit) => {
    const growth = grow(over);
    expect(growth.actions).toEqual(actions);
    expect(growth.eniLimit !== undefined).toBe(atLimit);
  });

  it('serves a pool from its own ENIs only', () => {
    const growth = grow({
      placement: { pool: 'db' },
      waiting: 2,
      enis: [
        eni('eni-b', { subnetId: 'subnet-b' }),
        eni('eni-db', { subnetId: 'subnet-b', pool: 'db', units: 1 }),
      ],
      enisInUse: 2,
    });
    expect(growth.actions).toEqual([{ type: 'assignIps', eni: 'eni-db', count: 2 }]);
  });
});

describe('servesPlacement', () => {
  it.each([
    ['default pool, default ENI', {}, { primary: true, subnetId: 's1' }, false, true],
    ['default pool, pool ENI', {}, { primary: false, subnetId: 's1', pool: 'db' }, false, false],
    ['subnet-pinned, other subnet', { subnetId: 's2' }, { primary: false, subnetId: 's1' }, false, false],
    ['pool-pinned, its ENI', { pool: 'db' }, { primary: false, subnetId: 's1', pool: 'db' }, false, true],
    ['primary excluded', {}, { primary: true, subnetId: 's1' }, true, false],
  ] as const)('%s', (_name, placement, eniInfo, excluded, expected) => {
    expect(servesPlacement(eniInfo, placement, excluded)).toBe(expected);
  });
});

const decision = (actions: PlanAction[], poolTooHigh: boolean): PlanDecision =>
  ({ actions, poolTooHigh, poolTooLow: false }) as unknown as PlanDecision;
const release: PlanAction = { type: 'unassignIps', eni: 'eni-1', count: 2 };
const assign: PlanAction = { type: 'assignIps', eni: 'eni-1', count: 1 };
const deleteEmpty: PlanAction = { type: 'deleteEni', eni: 'eni-2' };
const SHRINK = 60_000;

describe('holdBackReleases', () => {
  it.each<
    [
      string,
      PlanDecision,
      number | undefined,
      number,
      readonly PlanAction[],
      number | undefined,
      number | undefined,
    ]
  >([
    [
      'not over target: forgets when it was',
      decision([assign], false),
      5_000,
      10_000,
      [assign],
      undefined,
      undefined,
    ],
    [
      'over target, nothing to release: forgets when it was',
      decision([], true),
      5_000,
      10_000,
      [],
      undefined,
      undefined,
    ],
    [
      'an empty ENI to delete while not too high: the delay still runs',
      decision([deleteEmpty], false),
      10_000,
      40_000,
      [],
      10_000,
      70_000,
    ],
    [
      'an empty ENI to delete while not too high: deleted once the delay passed',
      decision([deleteEmpty], false),
      10_000,
      70_000,
      [deleteEmpty],
      10_000,
      undefined,
    ],
    [
      'first release: held until the delay passed',
      decision([release, assign], true),
      undefined,
      10_000,
      [assign],
      10_000,
      70_000,
    ],
    ['still within the delay', decision([release], true), 10_000, 69_999, [], 10_000, 70_000],
    ['delay passed: released', decision([release], true), 10_000, 70_000, [release], 10_000, undefined],
    [
      'over target again after a dip: the delay starts anew',
      decision([release], true),
      undefined,
      90_000,
      [],
      90_000,
      150_000,
    ],
  ])('%s', (_name, d, overSince, now, actions, nextOverSince, dueAt) => {
    const held = holdBackReleases(d, overSince, now, SHRINK);
    expect(held.actions).toEqual(actions);
    expect(held.overSince).toBe(nextOverSince);
    expect(held.dueAt).toBe(dueAt);
  });
});

describe('shortage and shortageReason', () => {
  const base = {
    blocker: undefined as Blocker | undefined,
    limits: M5_LARGE,
    attachedEnis: 1,
    enis: [{ units: 3, full: false }],
    totalAddresses: 3,
    cooling: 0,
    unitsInFlight: 0,
  };
  it.each([
    ['addresses on their way: no reason', {}, undefined],
    [
      "EC2's refusal comes first",
      {
        blocker: {
          kind: 'subnet-full',
          subnetId: 'subnet-a',
          detail: 'CreateNetworkInterface: InsufficientFreeAddressesInSubnet',
          at: 0,
        },
        totalAddresses: 29,
      },
      ['subnet-full', 'subnet subnet-a is full (CreateNetworkInterface: InsufficientFreeAddressesInSubnet)'],
    ],
    [
      'every ENI attached and full',
      {
        attachedEnis: 3,
        enis: [
          { units: 9, full: false },
          { units: 9, full: false },
          { units: 2, full: true },
        ],
      },
      [
        'eni-limit',
        'the node is at its ENI limit: 3 of 3 ENIs attached (instance type or MAX_ENI), each full',
      ],
    ],
    [
      'all ENIs attached, one with room: not the ENI limit',
      {
        attachedEnis: 3,
        enis: [
          { units: 9, full: false },
          { units: 5, full: false },
        ],
      },
      undefined,
    ],
    [
      "max pods' worth held",
      { totalAddresses: 29 },
      ['max-pods', "the node holds max pods' worth of addresses (29)"],
    ],
    [
      'only cooling addresses and nothing requested',
      { cooling: 2 },
      ['cooling', '2 released addresses are cooling down (IP_COOLDOWN_PERIOD) and the pool is not growing'],
    ],
    ['cooling, but the pool is growing', { cooling: 2, unitsInFlight: 1 }, undefined],
  ] as const)('%s', (_name, over, expected) => {
    const found = shortage({ ...base, ...over });
    expect(found === undefined ? undefined : [found.cause, found.message]).toEqual(expected);
    // A CNI ADD that timed out says the same.
    expect(shortageReason({ ...base, ...over })).toBe(expected?.[1]);
  });
});

describe('defaultPoolInput', () => {
  const targets = defaultTargets();
  const usage = (id: string, ips: number) => ({
    id,
    primary: id === 'eni-0',
    ips,
    prefixes: 0,
    assigned: 0,
    cooldown: 0,
  });
  const state: DefaultPoolState = {
    limits: M5_LARGE,
    targets,
    enis: [
      { id: 'eni-0', primary: true },
      { id: 'eni-db', primary: false, pool: 'db' },
      { id: 'eni-1', primary: false },
    ],
    usage: [usage('eni-0', 9), usage('eni-db', 4)],
    busy: new Set(['eni-1']),
    full: new Set<string>(),
    pending: 2,
    unitsInFlight: 3,
    enisInFlight: 0,
    pinnedEnisInFlight: 1,
    eniLimitReached: false,
  };

  it('shows the default pool its own ENIs and the ENI budget pinned pools leave', () => {
    expect(defaultPoolInput(state)).toEqual({
      limits: { ...M5_LARGE, maxEnis: 1 },
      targets,
      enis: [
        { ...usage('eni-0', 9), busy: false, full: false },
        { ...usage('eni-1', 0), busy: true, full: false },
      ],
      pending: 2,
      inFlight: 3,
      enisInFlight: 0,
      eniLimitReached: false,
    });
  });

  it('never leaves a negative budget', () => {
    expect(defaultPoolInput({ ...state, pinnedEnisInFlight: 5 }).limits.maxEnis).toBe(0);
  });
});

describe('pinnedDemand', () => {
  it('groups waiting ADDs by the subnet or pool they named, oldest group first, default pool left out', () => {
    const groups = pinnedDemand([
      {},
      { subnetId: 'subnet-b' },
      { pool: 'db', subnetId: 'subnet-b' },
      { subnetId: 'subnet-b' },
      {},
      { pool: 'db', subnetId: 'subnet-b' },
      { pool: 'cache', subnetId: 'subnet-c' },
    ]);
    expect([...groups]).toEqual([
      ['subnet:subnet-b', { placement: { subnetId: 'subnet-b' }, count: 2 }],
      ['pool:db', { placement: { pool: 'db', subnetId: 'subnet-b' }, count: 2 }],
      ['pool:cache', { placement: { pool: 'cache', subnetId: 'subnet-c' }, count: 1 }],
    ]);
    expect(pinnedDemand([{}, {}]).size).toBe(0);
  });
});
