import { describe, expect, it } from 'vitest';
import { plan } from '../../ipam/planner.js';
import { growTo, limitsFor, targets } from './planner-harness.js';

/**
 * "Too low" is what readiness and the cold-start benchmark's "all nodes warm" read: a node whose
 * planner reports its pool too low while planning nothing, with nothing under way and nothing
 * blocking it, would never count as warm. The nodes of the cold-start benchmark's prefix-delegation
 * case, with every pod count up to their max pods.
 */
const TYPES = ['m5.large', 'm5.xlarge', 'c5.2xlarge', 'r5.4xlarge'];
const WARM = [
  { name: 'defaults', warm: targets({ prefixDelegation: true }) },
  { name: 'WARM_PREFIX_TARGET=1', warm: targets({ prefixDelegation: true, warmPrefixTarget: 1 }) },
  { name: 'WARM_ENI_TARGET=2', warm: targets({ prefixDelegation: true, warmEniTarget: 2 }) },
];

describe('prefix delegation: never too low while planning nothing', () => {
  for (const type of TYPES) {
    for (const { name, warm } of WARM) {
      it(`${type}, ${name}, 0 to max pods`, () => {
        const limits = limitsFor(type, true);
        const stuck: number[] = [];
        for (let pods = 0; pods <= limits.maxPods; pods++) {
          const decision = plan(growTo(limits, warm, pods));
          if (decision.poolTooLow && decision.actions.length === 0) stuck.push(pods);
        }
        expect(stuck).toEqual([]);
      });
    }
  }
});
