import { describe, expect, it } from 'vitest';
import type { PlanDecision, PlanInput, PlanLimits } from '../../ipam/plan-types.js';
import { plan } from '../../ipam/planner.js';
import { eni, input, targets } from './planner-harness.js';

/** m5.large: 3 ENIs x 10 IPv4 (9 secondary slots), max pods 29. */
const m5: PlanLimits = { maxEnis: 3, ipv4PerEni: 10, maxPods: 29, prefixes: false };
/** m5.large with prefix delegation: 9 /28 slots per ENI, max pods 110. */
const m5p: PlanLimits = { maxEnis: 3, ipv4PerEni: 10, maxPods: 110, prefixes: true };
const primary = (fields: Parameters<typeof eni>[1] = {}) => eni('eni-a', { primary: true, ...fields });

interface Case {
  name: string;
  in: PlanInput;
  out: Partial<PlanDecision>;
}

const cases: Case[] = [
  // WARM_ENI_TARGET
  {
    name: 'WARM_ENI_TARGET=1 fills the empty primary ENI',
    in: input({ limits: m5, enis: [primary()] }),
    out: { poolTooLow: true, short: 9, actions: [{ type: 'assignIps', eni: 'eni-a', count: 9 }] },
  },
  {
    name: 'WARM_ENI_TARGET=1 with one ENI worth free: nothing to do',
    in: input({ limits: m5, enis: [primary({ ips: 9 })] }),
    out: { poolTooLow: false, poolTooHigh: false, short: 0, over: 0, actions: [] },
  },
  {
    name: 'WARM_ENI_TARGET=1 tops a partly filled ENI up to full before anything else',
    in: input({ limits: m5, enis: [primary({ ips: 4, assigned: 4 }), eni('eni-b', { ips: 3 })] }),
    out: {
      short: 6,
      actions: [
        { type: 'assignIps', eni: 'eni-a', count: 5 },
        { type: 'assignIps', eni: 'eni-b', count: 6 },
      ],
    },
  },
  {
    name: 'WARM_ENI_TARGET=1 creates a full ENI when the existing ones are full',
    in: input({ limits: m5, enis: [primary({ ips: 9, assigned: 1 })] }),
    out: { short: 1, actions: [{ type: 'createEni', count: 9 }] },
  },
  {
    name: 'WARM_ENI_TARGET=3 plans several ENIs in one round, within the ENI limit',
    in: input({ limits: m5, targets: targets({ warmEniTarget: 3 }), enis: [primary()] }),
    out: {
      short: 27,
      actions: [
        { type: 'assignIps', eni: 'eni-a', count: 9 },
        { type: 'createEni', count: 9 },
        { type: 'createEni', count: 9 },
      ],
    },
  },
  {
    name: 'MAX_ENI=2 lowers the ENI limit',
    in: input({ limits: m5, targets: targets({ warmEniTarget: 3, maxEni: 2 }), enis: [primary()] }),
    out: {
      actions: [
        { type: 'assignIps', eni: 'eni-a', count: 9 },
        { type: 'createEni', count: 9 },
      ],
    },
  },
  {
    name: 'WARM_ENI_TARGET=0 with no IP target grows when no address is free (as the VPC CNI)',
    in: input({ limits: m5, targets: targets({ warmEniTarget: 0 }), enis: [primary()] }),
    out: { poolTooLow: true, short: 1, actions: [{ type: 'assignIps', eni: 'eni-a', count: 9 }] },
  },
  {
    name: 'WARM_ENI_TARGET=0 with an address free: nothing to do, and the filled ENI is kept',
    in: input({
      limits: m5,
      targets: targets({ warmEniTarget: 0 }),
      enis: [primary({ ips: 9, assigned: 9 }), eni('eni-b', { ips: 9 })],
    }),
    out: { poolTooLow: false, poolTooHigh: false, short: 0, over: 8, actions: [] },
  },
  {
    name: 'WARM_ENI_TARGET never frees single IPs',
    in: input({ limits: m5, enis: [primary({ ips: 9 }), eni('eni-b', { ips: 9, assigned: 3 })] }),
    out: { poolTooHigh: false, over: 6, actions: [] },
  },
  {
    name: 'WARM_ENI_TARGET deletes wholly free ENIs beyond the target',
    in: input({
      limits: m5,
      enis: [primary({ ips: 9 }), eni('eni-c', { ips: 9 }), eni('eni-b', { ips: 9 })],
    }),
    out: {
      poolTooHigh: true,
      over: 18,
      actions: [
        { type: 'deleteEni', eni: 'eni-b' },
        { type: 'deleteEni', eni: 'eni-c' },
      ],
    },
  },
  {
    name: 'WARM_ENI_TARGET keeps a free ENI when deleting it would drop below the target',
    in: input({
      limits: m5,
      enis: [
        primary({ ips: 9, assigned: 9 }),
        eni('eni-b', { ips: 9 }),
        eni('eni-c', { ips: 9, assigned: 2 }),
      ],
    }),
    out: { poolTooHigh: false, over: 7, actions: [] },
  },
  {
    name: 'WARM_ENI_TARGET never deletes the primary ENI',
    in: input({
      limits: m5,
      targets: targets({ warmEniTarget: 0 }),
      enis: [primary({ ips: 9 }), eni('eni-b', { ips: 9, assigned: 1 })],
    }),
    out: { poolTooHigh: true, over: 16, actions: [] },
  },
  {
    name: 'an ENI with addresses cooling down is not deleted',
    in: input({
      limits: m5,
      targets: targets({ warmEniTarget: 0 }),
      enis: [primary(), eni('eni-b', { ips: 9, cooldown: 1 })],
    }),
    out: { over: 7, actions: [] },
  },
  {
    name: 'addresses cooling down are not free: the pool grows',
    in: input({ limits: m5, enis: [primary({ ips: 9, cooldown: 5 })] }),
    out: { poolTooLow: true, short: 5, actions: [{ type: 'createEni', count: 9 }] },
  },
  // WARM_IP_TARGET / MINIMUM_IP_TARGET
  {
    name: 'WARM_IP_TARGET=5 takes over from WARM_ENI_TARGET',
    in: input({ limits: m5, targets: targets({ warmIpTarget: 5 }), enis: [primary()] }),
    out: { short: 5, actions: [{ type: 'assignIps', eni: 'eni-a', count: 5 }] },
  },
  {
    name: 'MINIMUM_IP_TARGET alone holds the minimum, spread over a new ENI when needed',
    in: input({
      limits: m5,
      targets: targets({ minimumIpTarget: 12 }),
      enis: [primary({ ips: 2, assigned: 2 })],
    }),
    out: {
      short: 10,
      actions: [
        { type: 'assignIps', eni: 'eni-a', count: 7 },
        { type: 'createEni', count: 3 },
      ],
    },
  },
  {
    name: 'short = max(WARM_IP - free, MINIMUM_IP - total): the warm part wins',
    in: input({
      limits: m5,
      targets: targets({ warmIpTarget: 4, minimumIpTarget: 6 }),
      enis: [primary({ ips: 6, assigned: 5 })],
    }),
    out: { short: 3, actions: [{ type: 'assignIps', eni: 'eni-a', count: 3 }] },
  },
  {
    name: 'short = max(WARM_IP - free, MINIMUM_IP - total): the minimum part wins',
    in: input({
      limits: m5,
      targets: targets({ warmIpTarget: 1, minimumIpTarget: 8 }),
      enis: [primary({ ips: 3 })],
    }),
    out: { short: 5, actions: [{ type: 'assignIps', eni: 'eni-a', count: 5 }] },
  },
  {
    name: 'over = min(free - WARM_IP, total - MINIMUM_IP): release stops at the minimum',
    in: input({
      limits: m5,
      targets: targets({ warmIpTarget: 1, minimumIpTarget: 8 }),
      enis: [primary({ ips: 9, assigned: 0 })],
    }),
    out: { poolTooHigh: true, over: 1, actions: [{ type: 'unassignIps', eni: 'eni-a', count: 1 }] },
  },
  {
    name: 'release frees the ENI with the fewest assigned first and deletes it when wholly free',
    in: input({
      limits: m5,
      targets: targets({ warmIpTarget: 2 }),
      enis: [
        primary({ ips: 9, assigned: 5 }),
        eni('eni-c', { ips: 6, assigned: 1 }),
        eni('eni-b', { ips: 4 }),
      ],
    }),
    out: {
      over: 11,
      actions: [
        { type: 'deleteEni', eni: 'eni-b' },
        { type: 'unassignIps', eni: 'eni-c', count: 5 },
        { type: 'unassignIps', eni: 'eni-a', count: 2 },
      ],
    },
  },
  {
    name: 'release never touches addresses cooling down',
    in: input({
      limits: m5,
      targets: targets({ warmIpTarget: 1 }),
      enis: [primary({ ips: 9, assigned: 2, cooldown: 4 })],
    }),
    out: { over: 2, actions: [{ type: 'unassignIps', eni: 'eni-a', count: 2 }] },
  },
  {
    name: 'an ENI emptied only in part is not deleted',
    in: input({
      limits: m5,
      targets: targets({ warmIpTarget: 2 }),
      enis: [primary({ ips: 1 }), eni('eni-b', { ips: 5 })],
    }),
    out: { over: 4, actions: [{ type: 'unassignIps', eni: 'eni-b', count: 4 }] },
  },
  // Pending demand, in flight, busy, full, limits
  {
    name: 'pending demand is added to the target: a burst is served in one round',
    in: input({
      limits: m5,
      targets: targets({ warmIpTarget: 1 }),
      enis: [primary({ ips: 2, assigned: 2 })],
      pending: 12,
    }),
    out: {
      short: 13,
      actions: [
        { type: 'assignIps', eni: 'eni-a', count: 7 },
        { type: 'createEni', count: 6 },
      ],
    },
  },
  {
    name: 'pending demand with WARM_ENI_TARGET creates as many whole ENIs as it needs',
    in: input({ limits: m5, enis: [primary({ ips: 9, assigned: 9 })], pending: 12 }),
    out: {
      // 9 + 12 wanted, bounded by the 29 - 9 addresses max pods leaves.
      short: 20,
      actions: [
        { type: 'createEni', count: 9 },
        { type: 'createEni', count: 9 },
      ],
    },
  },
  {
    name: 'addresses in flight count: a second round asks for nothing more',
    in: input({
      limits: m5,
      targets: targets({ warmIpTarget: 5 }),
      enis: [primary({ ips: 0 })],
      inFlight: 5,
    }),
    out: { poolTooLow: false, short: 0, actions: [] },
  },
  {
    name: 'ENIs being created count against the ENI limit',
    in: input({
      limits: m5,
      enis: [primary({ ips: 9, assigned: 9 }), eni('eni-b', { ips: 9, assigned: 9 })],
      enisInFlight: 1,
    }),
    out: { poolTooLow: true, actions: [] },
  },
  {
    name: 'AttachmentLimitExceeded: no new ENI',
    in: input({ limits: m5, enis: [primary({ ips: 9, assigned: 9 })], eniLimitReached: true }),
    out: { poolTooLow: true, short: 9, actions: [] },
  },
  {
    name: 'a busy ENI gets no action; the next one is filled',
    in: input({
      limits: m5,
      targets: targets({ warmIpTarget: 3 }),
      enis: [primary({ busy: true }), eni('eni-b')],
    }),
    out: { actions: [{ type: 'assignIps', eni: 'eni-b', count: 3 }] },
  },
  {
    name: 'work under way on an ENI with room: no new ENI, the room takes the rest once it lands',
    in: input({
      limits: m5,
      targets: targets({ warmIpTarget: 1 }),
      enis: [primary({ ips: 0, busy: true })],
      inFlight: 2,
      pending: 2,
    }),
    out: { short: 1, actions: [] },
  },
  {
    name: 'an ENI being created has room: no second ENI for what it can hold',
    in: input({
      limits: m5,
      targets: targets({ warmIpTarget: 1 }),
      enis: [primary({ ips: 9, assigned: 9 })],
      inFlight: 2,
      enisInFlight: 1,
      pending: 3,
    }),
    out: { short: 2, actions: [] },
  },
  {
    name: 'work under way leaves too little room: an ENI for the rest only',
    in: input({
      limits: m5,
      targets: targets({ warmIpTarget: 1 }),
      enis: [primary({ ips: 0, busy: true })],
      inFlight: 8,
      pending: 10,
    }),
    out: { short: 3, actions: [{ type: 'createEni', count: 2 }] },
  },
  {
    name: 'a full ENI gets no action: a new ENI is created instead',
    in: input({ limits: m5, targets: targets({ warmIpTarget: 3 }), enis: [primary({ ips: 2, full: true })] }),
    out: { short: 1, actions: [{ type: 'createEni', count: 1 }] },
  },
  {
    name: 'a busy ENI is not released from',
    in: input({
      limits: m5,
      targets: targets({ warmIpTarget: 1 }),
      enis: [primary({ ips: 1 }), eni('eni-b', { ips: 5, busy: true })],
    }),
    out: { over: 5, actions: [{ type: 'unassignIps', eni: 'eni-a', count: 1 }] },
  },
  {
    name: 'nothing is released while a request is in flight',
    in: input({
      limits: m5,
      targets: targets({ warmIpTarget: 1 }),
      enis: [primary({ ips: 9 })],
      inFlight: 1,
    }),
    out: { poolTooHigh: true, over: 9, actions: [] },
  },
  {
    name: 'never beyond max pods',
    in: input({ limits: { ...m5, maxPods: 12 }, targets: targets({ warmEniTarget: 2 }), enis: [primary()] }),
    out: {
      short: 12,
      actions: [
        { type: 'assignIps', eni: 'eni-a', count: 9 },
        { type: 'createEni', count: 3 },
      ],
    },
  },
  {
    name: 'an empty ENI other than the primary is deleted',
    in: input({ limits: m5, enis: [primary({ ips: 9 }), eni('eni-b')] }),
    out: { actions: [{ type: 'deleteEni', eni: 'eni-b' }] },
  },
  {
    name: 'custom networking: the primary ENI carries no pod addresses',
    in: input({
      limits: { ...m5, primaryEniExcluded: true },
      targets: targets({ warmIpTarget: 2 }),
      enis: [primary({ ips: 5 })],
    }),
    out: { short: 2, actions: [{ type: 'createEni', count: 2 }] },
  },
  {
    name: 'WARM_PREFIX_TARGET is ignored without prefix delegation',
    in: input({ limits: m5, targets: targets({ warmPrefixTarget: 4 }), enis: [primary()] }),
    out: { actions: [{ type: 'assignIps', eni: 'eni-a', count: 9 }] },
  },
  // Prefix delegation
  {
    name: 'WARM_PREFIX_TARGET=2 assigns two /28s',
    in: input({
      limits: m5p,
      targets: targets({ warmPrefixTarget: 2, prefixDelegation: true }),
      enis: [primary()],
    }),
    out: { short: 2, actions: [{ type: 'assignPrefixes', eni: 'eni-a', count: 2 }] },
  },
  {
    name: 'WARM_PREFIX_TARGET counts only wholly free prefixes',
    in: input({
      limits: m5p,
      targets: targets({ warmPrefixTarget: 1, prefixDelegation: true }),
      enis: [primary({ prefixes: 1, assigned: 1 })],
    }),
    out: { short: 1, actions: [{ type: 'assignPrefixes', eni: 'eni-a', count: 1 }] },
  },
  {
    name: 'WARM_PREFIX_TARGET releases wholly free prefixes beyond the target',
    in: input({
      limits: m5p,
      targets: targets({ warmPrefixTarget: 1, prefixDelegation: true }),
      enis: [primary({ prefixes: 4, assigned: 17 })],
    }),
    out: { poolTooHigh: true, over: 1, actions: [{ type: 'unassignPrefixes', eni: 'eni-a', count: 1 }] },
  },
  {
    name: 'pending demand beyond the partly used prefixes adds whole prefixes',
    in: input({
      limits: m5p,
      targets: targets({ warmPrefixTarget: 1, prefixDelegation: true }),
      enis: [primary({ prefixes: 1, assigned: 10 })],
      pending: 20,
    }),
    out: { short: 2, actions: [{ type: 'assignPrefixes', eni: 'eni-a', count: 2 }] },
  },
  {
    name: 'WARM_IP_TARGET / MINIMUM_IP_TARGET round up to whole /28s',
    in: input({
      limits: m5p,
      targets: targets({ warmIpTarget: 5, minimumIpTarget: 20, prefixDelegation: true }),
      enis: [primary()],
    }),
    out: { short: 2, actions: [{ type: 'assignPrefixes', eni: 'eni-a', count: 2 }] },
  },
  {
    name: 'WARM_IP_TARGET with prefixes frees whole /28s only',
    in: input({
      limits: m5p,
      targets: targets({ warmIpTarget: 5, prefixDelegation: true }),
      enis: [primary({ prefixes: 3, assigned: 2 })],
    }),
    out: { over: 2, actions: [{ type: 'unassignPrefixes', eni: 'eni-a', count: 2 }] },
  },
  {
    name: 'WARM_IP_TARGET overrides WARM_PREFIX_TARGET',
    in: input({
      limits: m5p,
      targets: targets({ warmIpTarget: 1, warmPrefixTarget: 3, prefixDelegation: true }),
      enis: [primary()],
    }),
    out: { short: 1, actions: [{ type: 'assignPrefixes', eni: 'eni-a', count: 1 }] },
  },
  {
    name: 'with prefixes WARM_ENI_TARGET is ignored: one /28 when no address is free (WARM_PREFIX_TARGET unset)',
    in: input({
      limits: m5p,
      targets: targets({ warmEniTarget: 1, prefixDelegation: true }),
      enis: [primary()],
    }),
    out: { poolTooLow: true, short: 1, actions: [{ type: 'assignPrefixes', eni: 'eni-a', count: 1 }] },
  },
  {
    name: 'with prefixes and WARM_PREFIX_TARGET unset, a partly used /28 is enough',
    in: input({
      limits: m5p,
      targets: targets({ prefixDelegation: true }),
      enis: [primary({ prefixes: 1, assigned: 3 })],
    }),
    out: { poolTooLow: false, poolTooHigh: false, short: 0, over: 0, actions: [] },
  },
  {
    name: 'with prefixes and WARM_PREFIX_TARGET unset, the last free /28 is kept and a second is released',
    in: input({
      limits: m5p,
      targets: targets({ prefixDelegation: true }),
      enis: [primary({ prefixes: 2 })],
    }),
    out: { poolTooHigh: true, over: 1, actions: [{ type: 'unassignPrefixes', eni: 'eni-a', count: 1 }] },
  },
  {
    name: 'max pods bounds "too low": a node holding max pods worth of addresses is not short',
    in: input({ limits: { ...m5, maxPods: 9 }, enis: [primary({ ips: 9, assigned: 9 })] }),
    out: { poolTooLow: false, short: 0, actions: [] },
  },
  {
    name: 'a prefix ENI that releases all its prefixes is deleted',
    in: input({
      limits: m5p,
      targets: targets({ warmPrefixTarget: 1, prefixDelegation: true }),
      enis: [primary({ prefixes: 2 }), eni('eni-b', { prefixes: 2 })],
    }),
    out: {
      over: 3,
      actions: [
        { type: 'deleteEni', eni: 'eni-b' },
        { type: 'unassignPrefixes', eni: 'eni-a', count: 1 },
      ],
    },
  },
  {
    name: 'prefixes in flight count',
    in: input({
      limits: m5p,
      targets: targets({ warmPrefixTarget: 2, prefixDelegation: true }),
      enis: [primary()],
      inFlight: 2,
    }),
    out: { short: 0, actions: [] },
  },
];

describe('plan', () => {
  it.each(cases)('$name', ({ in: given, out }) => {
    expect(plan(given)).toMatchObject(out);
  });

  it('returns the same decision for the same input, whatever the ENI order', () => {
    const enis = [
      primary({ ips: 9, assigned: 5 }),
      eni('eni-c', { ips: 6, assigned: 1 }),
      eni('eni-b', { ips: 4 }),
    ];
    const a = plan(input({ limits: m5, targets: targets({ warmIpTarget: 2 }), enis }));
    const b = plan(input({ limits: m5, targets: targets({ warmIpTarget: 2 }), enis: [...enis].reverse() }));
    expect(b).toEqual(a);
  });
});
