/**
 * The AWS VPC CNI's own unit-test tables for its pool decisions (pkg/ipamd/ipamd_test.go:
 * TestIPAMContext_nodeIPPoolTooLow, TestIPAMContext_nodePrefixPoolTooLow, TestGetWarmIPTargetState,
 * TestGetWarmIPTargetStateWithPDenabled, the WARM_IP_TARGET decrease test and the primary-subnet
 * exclusion test), replayed against the planner. Each row is restated in the planner's terms: the
 * VPC CNI's maxIPsPerENI is the number of secondary slots (our ipv4PerEni - 1), its datastores are
 * ENIs with addresses, and its isDatastorePoolTooLow / datastoreTargetState are our poolTooLow and
 * short / over. Where eni-ipam deliberately differs, docs/warm-targets.md says why.
 */
import { describe, expect, it } from 'vitest';
import type { EniUsage, PlanLimits } from '../../ipam/plan-types.js';
import { plan } from '../../ipam/planner.js';
import { eni, input, targets } from './planner-harness.js';

const primary = (fields: Partial<EniUsage> = {}): EniUsage =>
  eni('eni-primary', { primary: true, ...fields });

/** The test datastores of ipamd_test.go, as ENIs. */
const DATASTORES = {
  empty: [primary()],
  with3FreeIPs: [primary({ ips: 3 })],
  with1Pod: [primary({ ips: 3, assigned: 1 })],
  with3Pods: [primary({ ips: 3, assigned: 3 })],
  freeIPsFromPrefix: [primary({ prefixes: 1 })],
  with1PodFromPrefix: [primary({ prefixes: 1, assigned: 1 })],
  with3PodsFromPrefix: [primary({ prefixes: 1, assigned: 3 })],
} satisfies Record<string, EniUsage[]>;

type Datastore = keyof typeof DATASTORES;

describe('TestIPAMContext_nodeIPPoolTooLow', () => {
  // name, maxIPsPerENI, maxEni, warmENITarget, warmIPTarget, datastore, maxPods, want
  const rows: [string, number, number, number, number, Datastore, number, boolean][] = [
    ['new ds, all defaults', 14, 4, 1, 0, 'empty', 500, true],
    ['new ds, 0 ENIs', 14, 4, 0, 0, 'empty', 500, true],
    ['new ds, 3 warm IPs', 14, 4, 0, 3, 'empty', 500, true],
    ['3 unused IPs, 1 warm', 3, 4, 1, 1, 'with3FreeIPs', 500, false],
    ['1 used, 1 warm ENI', 3, 4, 1, 0, 'with1Pod', 500, true],
    ['1 used, 0 warm ENI', 3, 4, 0, 0, 'with1Pod', 500, false],
    ['3 used, 1 warm ENI', 3, 4, 1, 0, 'with3Pods', 500, true],
    ['3 used, 0 warm ENI', 3, 4, 0, 0, 'with3Pods', 500, true],
    ['max pods exceeded', 3, 4, 0, 5, 'with3Pods', 3, false],
  ];
  it.each(rows)('%s', (_name, maxIpsPerEni, maxEnis, warmEni, warmIp, ds, maxPods, want) => {
    const limits: PlanLimits = { maxEnis, ipv4PerEni: maxIpsPerEni + 1, maxPods, prefixes: false };
    const decision = plan(
      input({
        limits,
        targets: targets({ warmEniTarget: warmEni, warmIpTarget: warmIp }),
        enis: DATASTORES[ds],
      }),
    );
    expect(decision.poolTooLow).toBe(want);
    // short says the same as poolTooLow (metrics and readiness read short).
    expect(decision.short > 0).toBe(want);
  });
});

describe('TestIPAMContext_nodePrefixPoolTooLow', () => {
  // name, maxEni, maxPrefixesPerENI, warmPrefixTarget, datastore, maxPods, want
  const rows: [string, number, number, number, Datastore, number, boolean][] = [
    ['new ds, all defaults', 4, 16, 1, 'empty', 500, true],
    ['new ds, 0 ENIs', 4, 16, 0, 'empty', 500, true],
    ['3 unused IPs, 1 warm', 4, 16, 1, 'freeIPsFromPrefix', 500, false],
    ['1 used, 1 warm Prefix', 4, 16, 1, 'with1PodFromPrefix', 500, true],
    ['1 used, 0 warm Prefix', 4, 16, 0, 'with1PodFromPrefix', 500, false],
    ['3 used, 1 warm Prefix', 4, 16, 1, 'with3PodsFromPrefix', 500, true],
    ['3 used, 0 warm Prefix', 4, 16, 0, 'with3PodsFromPrefix', 500, false],
    ['max pods exceeded', 4, 16, 1, 'with3PodsFromPrefix', 4, false],
  ];
  it.each(rows)('%s', (_name, maxEnis, prefixesPerEni, warmPrefix, ds, maxPods, want) => {
    const limits: PlanLimits = { maxEnis, ipv4PerEni: prefixesPerEni + 1, maxPods, prefixes: true };
    const decision = plan(
      input({
        limits,
        // WARM_ENI_TARGET keeps its default: with prefix delegation it must not matter.
        targets: targets({ warmEniTarget: 1, warmPrefixTarget: warmPrefix, prefixDelegation: true }),
        enis: DATASTORES[ds],
      }),
    );
    expect(decision.poolTooLow).toBe(want);
    expect(decision.short > 0).toBe(want);
  });
});

describe('datastoreTargetState (TestGetWarmIPTargetState and the WARM_IP_TARGET decrease test)', () => {
  const limits: PlanLimits = { maxEnis: 4, ipv4PerEni: 15, maxPods: 500, prefixes: false };
  // name, warmIpTarget, ENIs, short, over
  const rows: [string, number, EniUsage[], number, number][] = [
    ['WARM_IP_TARGET=5, empty datastore', 5, [primary()], 5, 0],
    ['WARM_IP_TARGET=5, 2 addresses', 5, [primary(), eni('eni-1', { ips: 2 })], 3, 0],
    ['WARM_IP_TARGET=5, 5 addresses', 5, [primary(), eni('eni-1', { ips: 5 })], 0, 0],
    [
      'WARM_IP_TARGET=1, 4 addresses of which 2 assigned: 1 over',
      1,
      [primary({ ips: 2, assigned: 1 }), eni('eni-1', { ips: 2, assigned: 1 })],
      0,
      1,
    ],
    [
      'WARM_IP_TARGET=1, 3 addresses of which 2 assigned after the decrease: in balance',
      1,
      [primary({ ips: 2, assigned: 1 }), eni('eni-1', { ips: 1, assigned: 1 })],
      0,
      0,
    ],
  ];
  it.each(rows)('%s', (_name, warmIp, enis, short, over) => {
    const decision = plan(input({ limits, targets: targets({ warmIpTarget: warmIp }), enis }));
    expect({ short: decision.short, over: decision.over }).toEqual({ short, over });
    expect(decision.poolTooLow).toBe(short > 0);
    expect(decision.poolTooHigh).toBe(over > 0);
  });

  it('no IP target: the IP-target state is not in force (WARM_ENI_TARGET governs)', () => {
    // The VPC CNI answers enabled=false; the planner then plans whole ENIs: one filled ENI.
    const decision = plan(input({ limits, targets: targets(), enis: [primary()] }));
    expect(decision.actions).toEqual([{ type: 'assignIps', eni: 'eni-primary', count: 14 }]);
  });
});

describe('datastoreTargetState with prefix delegation (TestGetWarmIPTargetStateWithPDenabled)', () => {
  const limits: PlanLimits = { maxEnis: 4, ipv4PerEni: 10, maxPods: 500, prefixes: true };
  const pd = targets({ warmIpTarget: 5, prefixDelegation: true });
  // name, ENIs, short (prefixes), over (prefixes)
  const rows: [string, EniUsage[], number, number][] = [
    ['empty: one /28 short', [primary()], 1, 0],
    ['two free /28s: one over', [primary(), eni('eni-1', { prefixes: 2 })], 0, 1],
    ['one free /28 after the delete: in balance', [primary(), eni('eni-1', { prefixes: 1 })], 0, 0],
  ];
  it.each(rows)('%s', (_name, enis, short, over) => {
    const decision = plan(input({ limits, targets: pd, enis }));
    expect({ short: decision.short, over: decision.over }).toEqual({ short, over });
  });
});

describe('TestNodeInitPrimarySubnetExclusion (WARM_ENI_TARGET=2, primary ENI excluded)', () => {
  const limits: PlanLimits = {
    maxEnis: 4,
    ipv4PerEni: 11,
    maxPods: 100,
    prefixes: false,
    primaryEniExcluded: true,
  };
  const warm2 = targets({ warmEniTarget: 2 });
  it.each([
    ['only the excluded primary ENI', [primary()], true],
    ['one secondary ENI of 10', [primary(), eni('eni-2', { ips: 10 })], true],
    ['two secondary ENIs of 10', [primary(), eni('eni-2', { ips: 10 }), eni('eni-3', { ips: 10 })], false],
  ] as const)('%s: too low %s', (_name, enis, want) => {
    expect(plan(input({ limits, targets: warm2, enis: [...enis] })).poolTooLow).toBe(want);
  });
});
