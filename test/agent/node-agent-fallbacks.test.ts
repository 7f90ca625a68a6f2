import { describe, expect, it } from 'vitest';
import { AgentHarness, settings } from './fakes/agent-harness.js';
import { ec2Error } from './fakes/fake-ec2-network.js';
import { failures, okAddresses, settleAll } from './fakes/agent-invariants.js';

describe('fallbacks the VPC CNI makes too', () => {
  it("subnet discovery refused: starts on the node's own subnet instead of failing", async () => {
    const h = new AgentHarness(settings({ WARM_ENI_TARGET: '1' }), 'm5.large');
    h.ec2.subnets.push({
      subnetId: 'subnet-tagged',
      availabilityZone: 'us-east-1a',
      cidr: '10.0.64.0/20',
      availableIpCount: 4091,
      tags: { 'kubernetes.io/role/cni': '1' },
    });
    h.ec2.failAlways('discoverSubnets', () => ec2Error('permanent', 'UnauthorizedOperation'));
    await h.start();
    expect(h.agent.view().subnets.map((s) => s.subnetId)).toEqual(['subnet-a']);
    const outcomes = await settleAll(
      h,
      Array.from({ length: 12 }, (_, i) => h.add(`c${i}`)),
    );
    expect(failures(outcomes)).toEqual([]);
    for (const address of okAddresses(outcomes)) expect(address).toMatch(/^10\.0\.[0-9]\./);
  });

  it('ENABLE_PREFIX_DELEGATION on a type without prefix support runs on secondary IPs', async () => {
    // t2.medium is a Xen type: no /28 prefixes.
    const h = new AgentHarness(settings({ ENABLE_PREFIX_DELEGATION: 'true' }), 't2.medium');
    await h.start();
    expect(h.agent.view().limits.prefixes).toBe(false);
    expect(h.agent.view().prefixDelegationFallback).toBe(true);
    const outcomes = await settleAll(h, [h.add('a')]);
    expect(failures(outcomes)).toEqual([]);
    expect(h.ec2.allPrefixes()).toEqual([]);
  });
});
