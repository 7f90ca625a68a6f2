import {
  DescribeInstancesCommand,
  DescribeInstanceTypesCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
} from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { lookupInstanceType } from '../../ipam/instance-types.js';
import {
  awsError,
  AZ,
  fakeMetadata,
  harness,
  identityMetadata,
  INSTANCE_ID,
  NODE_SUBNET,
  NODE_SUBNET_CIDR,
  VPC_ID,
} from './harness.js';

const MAC = '0a:1b:2c:3d:4e:5f';
const fullMetadata = identityMetadata(MAC, '10.0.0.0/16\n100.64.0.0/16\n', 'sg-1\nsg-2');
const expected = {
  instanceId: INSTANCE_ID,
  instanceType: 'm5.large',
  region: 'us-east-1',
  availabilityZone: AZ,
  vpcId: VPC_ID,
  vpcCidrs: ['10.0.0.0/16', '100.64.0.0/16'],
  subnetId: NODE_SUBNET,
  subnetCidr: NODE_SUBNET_CIDR,
  primaryEniId: 'eni-00',
  primaryIp: '10.0.0.10',
  mac: MAC,
  securityGroupIds: ['sg-1', 'sg-2'],
};

describe('identity', () => {
  it('comes from IMDS alone on a healthy instance, once', async () => {
    const h = harness({ metadata: fakeMetadata(fullMetadata) });
    expect(await h.drive(h.network.identity())).toEqual(expected);
    await h.drive(h.network.identity());
    expect(h.ec2.calls()).toHaveLength(0);
  });

  it('falls back to DescribeInstances, DescribeSubnets and DescribeVpcs for what IMDS lacks', async () => {
    const h = harness({ metadata: fakeMetadata({ 'instance-id': INSTANCE_ID }) });
    h.ec2.on(DescribeInstancesCommand).resolves({
      Reservations: [
        {
          Instances: [
            {
              InstanceId: INSTANCE_ID,
              InstanceType: 'm5.large',
              Placement: { AvailabilityZone: AZ },
              VpcId: VPC_ID,
              SubnetId: NODE_SUBNET,
              PrivateIpAddress: '10.0.0.10',
              NetworkInterfaces: [
                {
                  NetworkInterfaceId: 'eni-01',
                  MacAddress: 'ff:ff:ff:ff:ff:ff',
                  Attachment: { DeviceIndex: 1 },
                },
                {
                  NetworkInterfaceId: 'eni-00',
                  MacAddress: MAC,
                  Attachment: { DeviceIndex: 0 },
                  Groups: [{ GroupId: 'sg-1' }, { GroupId: 'sg-2' }],
                },
              ],
            },
          ],
        },
      ],
    });
    h.ec2
      .on(DescribeSubnetsCommand)
      .resolves({ Subnets: [{ SubnetId: NODE_SUBNET, CidrBlock: NODE_SUBNET_CIDR, AvailabilityZone: AZ }] });
    h.ec2.on(DescribeVpcsCommand).resolves({
      Vpcs: [
        {
          VpcId: VPC_ID,
          CidrBlock: '10.0.0.0/16',
          CidrBlockAssociationSet: [
            { CidrBlock: '10.0.0.0/16', CidrBlockState: { State: 'associated' } },
            { CidrBlock: '100.64.0.0/16', CidrBlockState: { State: 'associated' } },
            { CidrBlock: '172.16.0.0/16', CidrBlockState: { State: 'disassociating' } },
          ],
        },
      ],
    });

    expect(await h.drive(h.network.identity())).toEqual(expected);
    expect(h.ec2.commandCalls(DescribeInstancesCommand)[0]!.args[0].input).toEqual({
      InstanceIds: [INSTANCE_ID],
    });
    expect(h.ec2.commandCalls(DescribeSubnetsCommand)[0]!.args[0].input).toEqual({
      SubnetIds: [NODE_SUBNET],
    });
    expect(h.ec2.commandCalls(DescribeVpcsCommand)[0]!.args[0].input).toEqual({ VpcIds: [VPC_ID] });
  });

  it('fails clearly without an instance id, and asks again next time', async () => {
    const values: Record<string, string> = {};
    const h = harness({ metadata: fakeMetadata(values) });
    await expect(h.drive(h.network.identity())).rejects.toThrow(/instance-id/);
    Object.assign(values, fullMetadata);
    expect(await h.drive(h.network.identity())).toEqual(expected);
  });
});

describe('instanceLimits', () => {
  it('asks DescribeInstanceTypes for a type the bundled table lacks, once per type, reading the default network card', async () => {
    const h = harness();
    h.ec2.on(DescribeInstanceTypesCommand).resolves({
      InstanceTypes: [
        {
          InstanceType: 'c9in.64xlarge' as never,
          VCpuInfo: { DefaultVCpus: 128 },
          Hypervisor: 'nitro',
          BareMetal: false,
          NetworkInfo: {
            MaximumNetworkInterfaces: 16,
            DefaultNetworkCardIndex: 0,
            NetworkCards: [
              { NetworkCardIndex: 0, MaximumNetworkInterfaces: 8 },
              { NetworkCardIndex: 1, MaximumNetworkInterfaces: 8 },
            ],
            Ipv4AddressesPerInterface: 50,
          },
        },
      ],
    });

    const limits = await h.drive(h.network.instanceLimits('c9in.64xlarge'));
    await h.drive(h.network.instanceLimits('c9in.64xlarge'));

    expect(limits).toEqual({
      instanceType: 'c9in.64xlarge',
      vcpus: 128,
      maxEnis: 8,
      ipv4PerEni: 50,
      hypervisor: 'nitro',
      bareMetal: false,
      prefixDelegation: true,
    });
    expect(h.ec2.commandCalls(DescribeInstanceTypesCommand).map((c) => c.args[0].input)).toEqual([
      { InstanceTypes: ['c9in.64xlarge'] },
    ]);
  });

  it('maps bare metal without a hypervisor to none, with prefix delegation', async () => {
    const h = harness();
    h.ec2.on(DescribeInstanceTypesCommand).resolves({
      InstanceTypes: [
        {
          InstanceType: 'm9.metal' as never,
          VCpuInfo: { DefaultVCpus: 96 },
          BareMetal: true,
          NetworkInfo: { MaximumNetworkInterfaces: 15, Ipv4AddressesPerInterface: 50 },
        },
      ],
    });
    expect(await h.drive(h.network.instanceLimits('m9.metal'))).toMatchObject({
      hypervisor: 'none',
      bareMetal: true,
      prefixDelegation: true,
      maxEnis: 15,
    });
  });

  it('answers a type the bundled table lists without asking EC2', async () => {
    const h = harness();
    h.ec2.on(DescribeInstanceTypesCommand).rejects(awsError('UnauthorizedOperation', 403));
    expect(await h.drive(h.network.instanceLimits('m5.large'))).toEqual(lookupInstanceType('m5.large'));
    expect(h.ec2.commandCalls(DescribeInstanceTypesCommand)).toHaveLength(0);
  });

  it('surfaces the denial for a type the table does not know either', async () => {
    const h = harness();
    h.ec2.on(DescribeInstanceTypesCommand).rejects(awsError('UnauthorizedOperation', 403));
    await expect(h.drive(h.network.instanceLimits('z9.huge'))).rejects.toMatchObject({
      kind: 'permanent',
      awsCode: 'UnauthorizedOperation',
    });
  });
});
