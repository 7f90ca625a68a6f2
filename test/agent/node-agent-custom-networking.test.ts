import { describe, expect, it } from 'vitest';
import { AgentHarness, settings } from './fakes/agent-harness.js';
import {
  expectAgentMatchesEc2,
  failures,
  okAddresses,
  quiesce,
  settleAll,
} from './fakes/agent-invariants.js';

/** Custom networking: pod ENIs use the ENIConfig's subnet and security groups; the primary ENI carries no pods. */
function customNetworking(securityGroupIds: string[]): AgentHarness {
  const h = new AgentHarness(settings({ WARM_ENI_TARGET: '1' }, { customNetworking: true }), 'm5.large', {
    podEniNetwork: () => Promise.resolve({ subnetId: 'subnet-pods', securityGroupIds }),
  });
  h.ec2.subnets.push({
    subnetId: 'subnet-pods',
    availabilityZone: 'us-east-1a',
    cidr: '100.64.0.0/20',
    availableIpCount: 4091,
    tags: {},
  });
  return h;
}

describe('custom networking (ENIConfig)', () => {
  it("puts pod addresses on ENIs in the ENIConfig's subnet with its security groups, never on the primary ENI", async () => {
    const h = customNetworking(['sg-pods']);
    await h.start();
    // m5.large with the primary ENI excluded: (3 - 1) x 9 + 2 = 20 max pods.
    expect(h.agent.view().limits).toMatchObject({ maxPods: 20, primaryEniExcluded: true });
    const outcomes = await settleAll(
      h,
      Array.from({ length: 15 }, (_, i) => h.add(`c${i}`)),
    );
    expect(failures(outcomes)).toEqual([]);
    for (const address of okAddresses(outcomes)) expect(address).toMatch(/^100\.64\./);
    expect(h.ec2.createRequests.length).toBeGreaterThan(0);
    for (const request of h.ec2.createRequests) {
      expect(request).toMatchObject({ subnetId: 'subnet-pods', securityGroupIds: ['sg-pods'] });
    }
    expect(h.ec2.primaryEni().secondaryIps).toEqual([]);
    await quiesce(h);
    expectAgentMatchesEc2(h);
  });

  it("uses the primary ENI's security groups when the ENIConfig names none, as the AWS VPC CNI does", async () => {
    const h = customNetworking([]);
    await h.start();
    await settleAll(h, [h.add('a')]);
    expect(h.ec2.createRequests[0]).toMatchObject({ subnetId: 'subnet-pods', securityGroupIds: ['sg-1'] });
  });

  it('follows ENIConfig changes while running: ENIs created after a resync use the new subnet and groups', async () => {
    let network = { subnetId: 'subnet-pods', securityGroupIds: ['sg-pods'] };
    const h = new AgentHarness(settings({ WARM_ENI_TARGET: '1' }, { customNetworking: true }), 'm5.large', {
      podEniNetwork: () => Promise.resolve(network),
    });
    for (const [subnetId, cidr] of [
      ['subnet-pods', '100.64.0.0/20'],
      ['subnet-pods-2', '100.65.0.0/20'],
    ] as const) {
      h.ec2.subnets.push({
        subnetId,
        availabilityZone: 'us-east-1a',
        cidr,
        availableIpCount: 4091,
        tags: {},
      });
    }
    await h.start();
    await quiesce(h);
    expect(h.ec2.createRequests.at(-1)).toMatchObject({
      subnetId: 'subnet-pods',
      securityGroupIds: ['sg-pods'],
    });

    network = { subnetId: 'subnet-pods-2', securityGroupIds: ['sg-new'] };
    const resynced = h.agent.resync();
    await h.run(5_000);
    await resynced;
    const before = h.ec2.createRequests.length;
    // Fill the first pod ENI so that the pool needs a new one.
    const outcomes = await settleAll(
      h,
      Array.from({ length: 12 }, (_, i) => h.add(`c${i}`)),
    );
    expect(failures(outcomes)).toEqual([]);
    await quiesce(h);
    const after = h.ec2.createRequests.slice(before);
    expect(after.length).toBeGreaterThan(0);
    for (const request of after) {
      expect(request).toMatchObject({ subnetId: 'subnet-pods-2', securityGroupIds: ['sg-new'] });
    }
  });
});
