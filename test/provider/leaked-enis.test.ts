import {
  DescribeInstancesCommand,
  DescribeNetworkInterfacesCommand,
  type NetworkInterface,
} from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LEAKED_ENI_GRACE_SECONDS } from '../../agent/intervals.js';
import { eni, harness, INSTANCE_ID } from './harness.js';

const NOW = Date.UTC(2026, 0, 1, 12);
const minutesAgo = (m: number): string => new Date(NOW - m * 60_000).toISOString();

function ours(id: string, instanceId: string, createdAt: string | undefined): NetworkInterface {
  const tags = [
    { Key: 'node.k8s.amazonaws.com/instance_id', Value: instanceId },
    { Key: 'eni-ipam.io/managed', Value: 'true' },
    ...(createdAt === undefined ? [] : [{ Key: 'node.k8s.amazonaws.com/createdAt', Value: createdAt }]),
  ];
  return eni(id, { TagSet: tags, SubnetId: 'subnet-x' });
}

describe('findLeakedEnis', () => {
  it('asks for available, managed, instance-tagged ENIs of this cluster and applies the age and owner rules', async () => {
    const h = harness();
    h.ec2
      .on(DescribeNetworkInterfacesCommand)
      .resolvesOnce({
        NetworkInterfaces: [
          ours('eni-self-old', INSTANCE_ID, minutesAgo(10)),
          ours('eni-self-young', INSTANCE_ID, minutesAgo(2)),
          ours('eni-gone-old', 'i-gone', minutesAgo(30)),
        ],
        NextToken: 'p2',
      })
      .resolvesOnce({
        NetworkInterfaces: [
          ours('eni-alive-old', 'i-alive', minutesAgo(30)),
          ours('eni-terminated-old', 'i-terminated', minutesAgo(30)),
          ours('eni-no-date', 'i-gone', undefined),
          ours('eni-bad-date', 'i-gone', 'yesterday'),
        ],
      });
    h.ec2.on(DescribeInstancesCommand).resolves({
      Reservations: [
        { Instances: [{ InstanceId: 'i-alive', State: { Name: 'running' } }] },
        { Instances: [{ InstanceId: 'i-terminated', State: { Name: 'terminated' } }] },
      ],
    });

    const leaked = await h.drive(
      h.network.findLeakedEnis(INSTANCE_ID, DEFAULT_LEAKED_ENI_GRACE_SECONDS * 1000),
    );

    const filters = [
      { Name: 'status', Values: ['available'] },
      { Name: 'tag:eni-ipam.io/managed', Values: ['true'] },
      { Name: 'tag-key', Values: ['node.k8s.amazonaws.com/instance_id'] },
      { Name: 'tag:cluster.k8s.amazonaws.com/name', Values: ['prod'] },
    ];
    expect(h.ec2.commandCalls(DescribeNetworkInterfacesCommand).map((c) => c.args[0].input)).toEqual([
      { Filters: filters, MaxResults: 1000 },
      { Filters: filters, MaxResults: 1000, NextToken: 'p2' },
    ]);
    expect(h.ec2.commandCalls(DescribeInstancesCommand).map((c) => c.args[0].input)).toEqual([
      { Filters: [{ Name: 'instance-id', Values: ['i-gone', 'i-alive', 'i-terminated'] }], MaxResults: 1000 },
    ]);
    expect(leaked).toEqual([
      { eniId: 'eni-self-old', subnetId: 'subnet-x', instanceId: INSTANCE_ID, createdAt: NOW - 10 * 60_000 },
      { eniId: 'eni-gone-old', subnetId: 'subnet-x', instanceId: 'i-gone', createdAt: NOW - 30 * 60_000 },
      {
        eniId: 'eni-terminated-old',
        subnetId: 'subnet-x',
        instanceId: 'i-terminated',
        createdAt: NOW - 30 * 60_000,
      },
    ]);
  });

  it('without a cluster name has no cluster filter, and asks no DescribeInstances when all are ours', async () => {
    const h = harness({ clusterName: '' });
    h.ec2
      .on(DescribeNetworkInterfacesCommand)
      .resolves({ NetworkInterfaces: [ours('eni-self-old', INSTANCE_ID, minutesAgo(6))] });

    const leaked = await h.drive(
      h.network.findLeakedEnis(INSTANCE_ID, DEFAULT_LEAKED_ENI_GRACE_SECONDS * 1000),
    );

    expect(h.ec2.commandCalls(DescribeNetworkInterfacesCommand)[0]!.args[0].input.Filters).toHaveLength(3);
    expect(h.ec2.commandCalls(DescribeInstancesCommand)).toHaveLength(0);
    expect(leaked.map((e) => e.eniId)).toEqual(['eni-self-old']);
  });

  it('with createdBefore judges only older ENIs: those other nodes create meanwhile cost no DescribeInstances', async () => {
    const h = harness();
    h.ec2.on(DescribeNetworkInterfacesCommand).resolves({
      NetworkInterfaces: [
        ours('eni-self-before', INSTANCE_ID, minutesAgo(10)),
        ours('eni-self-after', INSTANCE_ID, minutesAgo(1)),
        ours('eni-other-after', 'i-starting', minutesAgo(1)),
      ],
    });

    const leaked = await h.drive(h.network.findLeakedEnis(INSTANCE_ID, 0, NOW - 5 * 60_000));

    expect(h.ec2.commandCalls(DescribeInstancesCommand)).toHaveLength(0);
    expect(leaked.map((e) => e.eniId)).toEqual(['eni-self-before']);
  });
});
