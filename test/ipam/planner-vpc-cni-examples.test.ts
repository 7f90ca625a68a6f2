/**
 * The worked examples of the AWS VPC CNI's docs/eni-and-ip-target.md and docs/prefix-and-ip-target.md,
 * replayed: a node starts empty, pods arrive one by one, the planner settles after each, and the
 * node must end with the ENIs and addresses the VPC CNI documents.
 */
import { describe, expect, it } from 'vitest';
import { growTo, limitsFor, summary, targets } from './planner-harness.js';

interface Row {
  type: string;
  warmEni?: number;
  warmIp?: number;
  minIp?: number;
  warmPrefix?: number;
  pods: number;
  enis: number;
  /** IPs (or prefixes) per ENI, in any order. */
  units: number[];
  unused: number;
}

function settingsOf(row: Row, prefixDelegation: boolean) {
  return targets({
    warmEniTarget: row.warmEni ?? 1,
    warmIpTarget: row.warmIp,
    minimumIpTarget: row.minIp,
    warmPrefixTarget: row.warmPrefix,
    prefixDelegation,
  });
}

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);

describe('eni-and-ip-target.md (secondary IPs)', () => {
  const rows: Row[] = [
    { type: 't3.small', warmEni: 1, pods: 0, enis: 1, units: [3], unused: 3 },
    { type: 't3.small', warmEni: 1, pods: 5, enis: 3, units: [3, 3, 3], unused: 4 },
    { type: 't3.small', warmEni: 1, pods: 9, enis: 3, units: [3, 3, 3], unused: 0 },
    { type: 't3.small', warmIp: 1, minIp: 1, pods: 0, enis: 1, units: [1], unused: 1 },
    { type: 't3.small', warmIp: 1, minIp: 1, pods: 5, enis: 2, units: [3, 3], unused: 1 },
    { type: 't3.small', warmIp: 1, minIp: 1, pods: 9, enis: 3, units: [3, 3, 3], unused: 0 },
    { type: 't3.small', warmIp: 2, minIp: 5, pods: 0, enis: 2, units: [2, 3], unused: 5 },
    { type: 't3.small', warmIp: 2, minIp: 5, pods: 5, enis: 3, units: [3, 3, 1], unused: 2 },
    { type: 't3.small', warmIp: 2, minIp: 5, pods: 9, enis: 3, units: [3, 3, 3], unused: 0 },
    { type: 'p3dn.24xlarge', warmEni: 1, pods: 0, enis: 1, units: [49], unused: 49 },
    { type: 'p3dn.24xlarge', warmEni: 1, pods: 3, enis: 2, units: [49, 49], unused: 95 },
    { type: 'p3dn.24xlarge', warmEni: 1, pods: 95, enis: 3, units: [49, 49, 49], unused: 52 },
    { type: 'p3dn.24xlarge', warmIp: 5, minIp: 10, pods: 0, enis: 1, units: [10], unused: 10 },
    { type: 'p3dn.24xlarge', warmIp: 5, minIp: 10, pods: 7, enis: 1, units: [12], unused: 5 },
    { type: 'p3dn.24xlarge', warmIp: 5, minIp: 10, pods: 15, enis: 1, units: [20], unused: 5 },
    { type: 'p3dn.24xlarge', warmIp: 5, minIp: 10, pods: 45, enis: 2, units: [49, 1], unused: 5 },
  ];
  it.each(rows)('$type WARM_ENI=$warmEni WARM_IP=$warmIp MIN_IP=$minIp, $pods pods', (row) => {
    const state = growTo(limitsFor(row.type), settingsOf(row, false), row.pods);
    const got = summary(state);
    expect(got.enis).toBe(row.enis);
    expect(sorted(got.units)).toEqual(sorted(row.units));
    expect(got.unused).toBe(row.unused);
  });
});

describe('prefix-and-ip-target.md (/28 prefixes)', () => {
  const rows: Row[] = [
    { type: 't3.small', warmPrefix: 1, pods: 0, enis: 1, units: [1], unused: 16 },
    { type: 't3.small', warmPrefix: 1, pods: 5, enis: 1, units: [2], unused: 27 },
    { type: 't3.small', warmPrefix: 1, pods: 16, enis: 1, units: [2], unused: 16 },
    { type: 't3.small', warmPrefix: 1, pods: 17, enis: 1, units: [3], unused: 31 },
    { type: 't3.small', warmPrefix: 1, pods: 58, enis: 2, units: [3, 2], unused: 22 },
    { type: 't3.small', warmIp: 1, minIp: 1, pods: 0, enis: 1, units: [1], unused: 16 },
    { type: 't3.small', warmIp: 1, minIp: 1, pods: 5, enis: 1, units: [1], unused: 11 },
    { type: 't3.small', warmIp: 1, minIp: 1, pods: 17, enis: 1, units: [2], unused: 15 },
    { type: 't3.small', warmIp: 1, minIp: 1, pods: 58, enis: 2, units: [3, 1], unused: 6 },
    // The document's 0-pod row says "1 attached prefix" but "2 prefixes per ENI" and "0,0 pods per
    // prefix"; its own rule (MINIMUM_IP_TARGET=20 is the same as 32) gives 2 prefixes, 32 unused.
    { type: 't3.small', warmIp: 7, minIp: 20, pods: 0, enis: 1, units: [2], unused: 32 },
    { type: 't3.small', warmIp: 7, minIp: 20, pods: 5, enis: 1, units: [2], unused: 27 },
    { type: 't3.small', warmIp: 7, minIp: 20, pods: 17, enis: 1, units: [2], unused: 15 },
    { type: 't3.small', warmIp: 7, minIp: 20, pods: 58, enis: 2, units: [3, 2], unused: 22 },
    // For p3dn.24xlarge the document also shows ENIs with no prefix at all ("2,0", "7,0,0"), which
    // serve no pod; eni-ipam does not attach them. Prefixes and unused addresses match.
    { type: 'p3dn.24xlarge', warmPrefix: 1, pods: 0, enis: 1, units: [1], unused: 16 },
    { type: 'p3dn.24xlarge', warmPrefix: 1, pods: 3, enis: 1, units: [2], unused: 29 },
    { type: 'p3dn.24xlarge', warmPrefix: 1, pods: 95, enis: 1, units: [7], unused: 17 },
    { type: 'p3dn.24xlarge', warmIp: 5, minIp: 10, pods: 0, enis: 1, units: [1], unused: 16 },
    { type: 'p3dn.24xlarge', warmIp: 5, minIp: 10, pods: 7, enis: 1, units: [1], unused: 9 },
    { type: 'p3dn.24xlarge', warmIp: 5, minIp: 10, pods: 15, enis: 1, units: [2], unused: 17 },
    { type: 'p3dn.24xlarge', warmIp: 5, minIp: 10, pods: 45, enis: 1, units: [4], unused: 19 },
  ];
  it.each(rows)('$type WARM_PREFIX=$warmPrefix WARM_IP=$warmIp MIN_IP=$minIp, $pods pods', (row) => {
    const state = growTo(limitsFor(row.type, true), settingsOf(row, true), row.pods);
    const got = summary(state);
    expect(got.enis).toBe(row.enis);
    expect(sorted(got.units)).toEqual(sorted(row.units));
    expect(got.unused).toBe(row.unused);
  });
});
