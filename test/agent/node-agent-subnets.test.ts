import { describe, expect, it } from 'vitest';
import { podGateway } from '../../datapath/desired-state.js';
import { ipToNumber } from '../../ipam/address.js';
import type { SubnetInfo } from '../../provider/ec2-network.js';
import { AgentHarness, settings } from './fakes/agent-harness.js';
import { expectAgentMatchesEc2, failures, quiesce, settleAll } from './fakes/agent-invariants.js';

/** The node's subnet (subnet-a) and a second tagged one in the same AZ. */
function twoSubnets(freeA: number, freeB: number, skipMs = 180_000, instanceType = 'm5.large'): AgentHarness {
  const h = new AgentHarness(settings({ WARM_ENI_TARGET: '1' }, { subnetFullSkipMs: skipMs }), instanceType);
  h.ec2.subnets[0]!.availableIpCount = freeA;
  const b: SubnetInfo = {
    subnetId: 'subnet-b',
    availabilityZone: 'us-east-1a',
    cidr: '10.0.16.0/20',
    availableIpCount: freeB,
    tags: {},
  };
  h.ec2.subnets.push(b);
  return h;
}

function enisIn(h: AgentHarness, subnetId: string): number {
  return [...h.ec2.enis.values()].filter((e) => !e.primary && e.subnetId === subnetId).length;
}

async function burst(h: AgentHarness, prefix: string, count: number): ReturnType<typeof settleAll> {
  return settleAll(
    h,
    Array.from({ length: count }, (_, i) => h.add(`${prefix}${i}`)),
  );
}

describe('subnet choice for new ENIs', () => {
  it('puts a new ENI in the subnet with the most free addresses', async () => {
    const h = twoSubnets(500, 3000);
    await h.start();
    await h.run(5_000);
    // 9 on the primary, 3 waiting: two new ENIs (9 warm + 3), both in the subnet with more free.
    const outcomes = await burst(h, 'c', 12);
    expect(failures(outcomes)).toEqual([]);
    expect(enisIn(h, 'subnet-b')).toBe(2);
    expect(enisIn(h, 'subnet-a')).toBe(0);
    await quiesce(h);
    expectAgentMatchesEc2(h);
  });

  it("gives each pod its own subnet's gateway, whichever subnet an ADD before it used", async () => {
    const h = twoSubnets(500, 3000);
    await h.start();
    await h.run(5_000);
    const outcomes = await burst(h, 'g', 12);
    const bySubnet = new Map<string, Set<string>>();
    for (const outcome of outcomes) {
      if (outcome.kind !== 'ok') throw new Error(`ADD failed: ${outcome.message}`);
      const [ip] = outcome.result.ips;
      const address = ip?.address.split('/')[0] ?? '';
      const subnet = ipToNumber(address) >= ipToNumber('10.0.16.0') ? '10.0.16.0/20' : '10.0.0.0/20';
      bySubnet.set(subnet, (bySubnet.get(subnet) ?? new Set()).add(ip?.gateway ?? ''));
    }
    expect(bySubnet).toEqual(
      new Map([
        ['10.0.0.0/20', new Set([podGateway('10.0.0.0/20')])],
        ['10.0.16.0/20', new Set([podGateway('10.0.16.0/20')])],
      ]),
    );
  });

  it('deducts addresses in flight: two ENIs of one round split between two near-equal subnets', async () => {
    const h = twoSubnets(100, 105);
    await h.start();
    await h.run(5_000);
    // 9 on the primary, then 11 waiting: WARM_ENI_TARGET=1 asks for two new ENIs at once.
    const outcomes = await burst(h, 'c', 20);
    expect(failures(outcomes)).toEqual([]);
    expect(enisIn(h, 'subnet-b')).toBe(1);
    expect(enisIn(h, 'subnet-a')).toBe(1);
    await quiesce(h);
    expectAgentMatchesEc2(h);
  });

  /** subnet-b looks emptiest in the agent's last DescribeSubnets, but other nodes just took it all. */
  async function bFilledBehindOurBack(skipMs: number, instanceType = 'm5.large'): Promise<AgentHarness> {
    const h = twoSubnets(500, 3000, skipMs, instanceType);
    await h.start();
    await h.run(5_000);
    h.ec2.subnets[1]!.availableIpCount = 0;
    return h;
  }

  it('skips a subnet that answered full for its window, even though its last known count is the highest', async () => {
    const h = await bFilledBehindOurBack(180_000);
    const outcomes = await burst(h, 'c', 12);
    expect(failures(outcomes)).toEqual([]);
    expect(enisIn(h, 'subnet-a')).toBe(2);
    expect(enisIn(h, 'subnet-b')).toBe(0);
    await quiesce(h);
    // Addresses come back in subnet-b (and a resync would show them), but within the window the
    // node does not spend CreateNetworkInterface calls on it.
    h.ec2.subnets[1]!.availableIpCount = 3000;
    const creates = h.ec2.calls.filter((c) => c === 'create').length;
    await h.run(90_000);
    expect(h.ec2.calls.filter((c) => c === 'create').length).toBe(creates);
    await quiesce(h);
    expectAgentMatchesEc2(h);
  });

  it('after the window, a subnet that answered full is a candidate again', async () => {
    // m5.xlarge: 4 ENIs x 14 slots, so a third ENI remains for after the window.
    const h = await bFilledBehindOurBack(60_000, 'm5.xlarge');
    // 14 on the primary, 2 waiting: two new ENIs (14 warm + 2), both in subnet-a as subnet-b is full.
    expect(failures(await burst(h, 'c', 16))).toEqual([]);
    expect(enisIn(h, 'subnet-a')).toBe(2);
    h.ec2.subnets[1]!.availableIpCount = 3000;
    // The window passes and a resync brings subnet-b's fresh count.
    await h.run(120_000);
    await quiesce(h);
    // 16 pods hold 30 addresses (14 warm): 16 more need the last ENI, in subnet-b now.
    expect(failures(await burst(h, 'd', 16))).toEqual([]);
    await quiesce(h);
    expect(enisIn(h, 'subnet-b')).toBe(1);
    expect(enisIn(h, 'subnet-a')).toBe(2);
    expectAgentMatchesEc2(h);
  });

  it('never uses a subnet tagged kubernetes.io/role/cni=0', async () => {
    const h = twoSubnets(500, 3000);
    h.ec2.subnets[1]!.tags = { 'kubernetes.io/role/cni': '0' };
    await h.start();
    await h.run(5_000);
    expect(failures(await burst(h, 'c', 12))).toEqual([]);
    expect(enisIn(h, 'subnet-b')).toBe(0);
  });
});
