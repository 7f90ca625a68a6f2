import { describe, expect, it } from 'vitest';
import { lookupInstanceType, type InstanceLimits } from '../../ipam/instance-types.js';
import { PrefixDelegationUnsupportedError } from '../../ipam/errors.js';
import { maxPods } from '../../ipam/max-pods.js';

function limits(type: string): InstanceLimits {
  const found = lookupInstanceType(type);
  if (found === undefined) throw new Error(`${type} missing from the bundled table`);
  return found;
}

describe('maxPods', () => {
  // The EKS AMI's published eni-max-pods.txt (amazon-eks-ami files/eni-max-pods.txt).
  it.each([
    ['m5.large', 29],
    ['m5.xlarge', 58],
    ['m5.24xlarge', 737],
    ['c5.4xlarge', 234],
    ['c5.18xlarge', 737],
    ['r5.large', 29],
    ['t3.nano', 4],
    ['t3.small', 11],
    ['t3.medium', 17],
    ['t3a.small', 8],
    ['t2.micro', 4],
    ['a1.medium', 8],
    ['p3dn.24xlarge', 737],
  ])('%s: %i, as eni-max-pods.txt says', (type, expected) => {
    expect(maxPods(limits(type)).maxPods).toBe(expected);
  });

  it('gives the breakdown', () => {
    expect(maxPods(limits('m5.large'))).toEqual({
      maxPods: 29,
      enis: 3,
      podEnis: 3,
      slotsPerEni: 9,
      addressesPerEni: 9,
      uncapped: 29,
      cap: undefined,
      prefixDelegation: false,
      customNetworking: false,
    });
  });

  it('custom networking: the primary ENI carries no pods', () => {
    // (3 - 1) x (10 - 1) + 2
    expect(maxPods(limits('m5.large'), { customNetworking: true }).maxPods).toBe(20);
    expect(maxPods(limits('t3.nano'), { customNetworking: true }).maxPods).toBe(3);
  });

  it('MAX_ENI lowers the ENI count, never raises it', () => {
    expect(maxPods(limits('m5.large'), { maxEni: 2 })).toMatchObject({ enis: 2, maxPods: 20 });
    expect(maxPods(limits('m5.large'), { maxEni: 10 })).toMatchObject({ enis: 3, maxPods: 29 });
    expect(() => maxPods(limits('m5.large'), { maxEni: 0 })).toThrow(RangeError);
  });

  it.each([
    // 3 x 9 x 16 + 2 = 434, 2 vCPUs: capped at 110
    ['m5.large', {}, 110, 434],
    // 15 x 49 x 16 + 2, 96 vCPUs: capped at 250
    ['m5.24xlarge', {}, 250, 11762],
    // 2 x 1 x 16 + 2 = 34: below the cap
    ['t3.nano', {}, 34, 34],
    // (2 - 1) x 1 x 16 + 2 = 18
    ['t3.nano', { customNetworking: true }, 18, 18],
    ['m5.large', { maxEni: 1 }, 110, 146],
    ['c5.9xlarge', {}, 250, 3714],
  ])('prefix delegation on %s %j: %i', (type, opts, expected, uncapped) => {
    const result = maxPods(limits(type), { prefixDelegation: true, ...opts });
    expect(result.maxPods).toBe(expected);
    expect(result.uncapped).toBe(uncapped);
    expect(result.cap).toBe(expected < uncapped ? expected : undefined);
  });

  it('prefix delegation on a non-Nitro type is an error naming the type', () => {
    expect(() => maxPods(limits('t2.micro'), { prefixDelegation: true })).toThrow(
      PrefixDelegationUnsupportedError,
    );
    expect(() => maxPods(limits('t2.micro'), { prefixDelegation: true })).toThrow(/t2\.micro/);
  });

  it('bare metal types support prefix delegation', () => {
    expect(maxPods(limits('m5.metal'), { prefixDelegation: true }).maxPods).toBe(250);
  });
});
