import { DescribeSubnetsCommand, type Subnet } from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { isCandidateSubnet } from '../../provider/subnets.js';
import type { SubnetInfo } from '../../provider/ec2-network.js';
import { AZ, harness, NODE_SUBNET, VPC_ID } from './harness.js';

const info = (subnetId: string, tags: Record<string, string>): SubnetInfo => ({
  subnetId,
  availabilityZone: AZ,
  cidr: '10.0.16.0/20',
  availableIpCount: 100,
  tags,
});

describe('subnet tag rules', () => {
  const base = { vpcId: VPC_ID, availabilityZone: AZ, nodeSubnetId: NODE_SUBNET };
  const withCluster = { ...base, clusterName: 'prod' };
  it.each([
    ['node subnet, untagged', info(NODE_SUBNET, {}), base, true],
    ['node subnet, role/cni=0', info(NODE_SUBNET, { 'kubernetes.io/role/cni': '0' }), base, false],
    ['node subnet, role/cni=1', info(NODE_SUBNET, { 'kubernetes.io/role/cni': '1' }), base, true],
    ['other subnet, untagged', info('subnet-b', {}), base, false],
    ['other subnet, role/cni=1', info('subnet-b', { 'kubernetes.io/role/cni': '1' }), base, true],
    ['other subnet, role/cni empty value', info('subnet-b', { 'kubernetes.io/role/cni': '' }), base, true],
    ['other subnet, role/cni=0', info('subnet-b', { 'kubernetes.io/role/cni': '0' }), base, false],
    [
      'cluster set, subnet tagged for no cluster',
      info('subnet-b', { 'kubernetes.io/role/cni': '1' }),
      withCluster,
      true,
    ],
    [
      'cluster set, subnet tagged for this cluster',
      info('subnet-b', { 'kubernetes.io/role/cni': '1', 'cni.networking.k8s.aws/cluster/prod': 'shared' }),
      withCluster,
      true,
    ],
    [
      'cluster set, subnet tagged for another cluster only',
      info('subnet-b', { 'kubernetes.io/role/cni': '1', 'cni.networking.k8s.aws/cluster/dev': 'owned' }),
      withCluster,
      false,
    ],
    [
      'cluster set, node subnet tagged for another cluster only',
      info(NODE_SUBNET, { 'cni.networking.k8s.aws/cluster/dev': 'owned' }),
      withCluster,
      false,
    ],
    [
      'no cluster set, subnet tagged for some cluster',
      info('subnet-b', { 'kubernetes.io/role/cni': '1', 'cni.networking.k8s.aws/cluster/dev': 'owned' }),
      base,
      true,
    ],
  ])('%s -> %s', (_name, subnet, query, expected) => {
    expect(isCandidateSubnet(subnet, query)).toBe(expected);
  });
});

const subnet = (id: string, tags: Record<string, string> = {}, free = 50): Subnet => ({
  SubnetId: id,
  CidrBlock: `10.0.${id.length}.0/24`,
  AvailabilityZone: AZ,
  AvailableIpAddressCount: free,
  Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
});

describe('discoverSubnets', () => {
  const query = { vpcId: VPC_ID, availabilityZone: AZ, nodeSubnetId: NODE_SUBNET };
  const filters = [
    { Name: 'vpc-id', Values: [VPC_ID] },
    { Name: 'availability-zone', Values: [AZ] },
  ];

  it('filters by VPC and AZ, follows NextToken, keeps candidates only', async () => {
    const h = harness();
    h.ec2
      .on(DescribeSubnetsCommand)
      .resolvesOnce({
        Subnets: [subnet('subnet-z', { 'kubernetes.io/role/cni': '1' }), subnet('subnet-untagged')],
        NextToken: 't2',
      })
      .resolvesOnce({ Subnets: [subnet(NODE_SUBNET, {}, 7)] });

    const found = await h.drive(h.network.discoverSubnets(query));

    expect(h.ec2.commandCalls(DescribeSubnetsCommand).map((c) => c.args[0].input)).toEqual([
      { Filters: filters, MaxResults: 1000 },
      { Filters: filters, MaxResults: 1000, NextToken: 't2' },
    ]);
    expect(found.map((s) => [s.subnetId, s.availableIpCount])).toEqual([
      [NODE_SUBNET, 7],
      ['subnet-z', 50],
    ]);
  });

  it('answers from the cache within the TTL, asks again after it or on refresh', async () => {
    const h = harness({ subnetCacheTtlMs: 60_000 });
    h.ec2.on(DescribeSubnetsCommand).resolves({ Subnets: [subnet(NODE_SUBNET)] });

    await h.drive(h.network.discoverSubnets(query));
    await h.clock.advance(59_000);
    await h.drive(h.network.discoverSubnets(query));
    expect(h.ec2.commandCalls(DescribeSubnetsCommand)).toHaveLength(1);
    await h.drive(h.network.discoverSubnets(query, { refresh: true }));
    expect(h.ec2.commandCalls(DescribeSubnetsCommand)).toHaveLength(2);
    await h.clock.advance(60_000);
    await h.drive(h.network.discoverSubnets(query));
    expect(h.ec2.commandCalls(DescribeSubnetsCommand)).toHaveLength(3);
  });

  it('describeSubnets asks EC2 by id for current counts', async () => {
    const h = harness();
    h.ec2
      .on(DescribeSubnetsCommand)
      .resolves({ Subnets: [subnet('subnet-a', {}, 3), subnet('subnet-b', {}, 4)] });

    const found = await h.drive(h.network.describeSubnets(['subnet-b', 'subnet-a']));

    expect(h.ec2.commandCalls(DescribeSubnetsCommand).map((c) => c.args[0].input)).toEqual([
      { SubnetIds: ['subnet-b', 'subnet-a'] },
    ]);
    expect(found.map((s) => [s.subnetId, s.availableIpCount])).toEqual([
      ['subnet-b', 4],
      ['subnet-a', 3],
    ]);
  });
});
