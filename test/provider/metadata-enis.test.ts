import {
  AttachNetworkInterfaceCommand,
  AssignPrivateIpAddressesCommand,
  CreateNetworkInterfaceCommand,
  DescribeNetworkInterfacesCommand,
  DescribeSubnetsCommand,
  ModifyNetworkInterfaceAttributeCommand,
} from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import type { MetadataSource } from '../../provider/metadata.js';
import { eni, harness, INSTANCE_ID, NODE_SUBNET, NODE_SUBNET_CIDR } from './harness.js';

const PRIMARY_MAC = '0a:00:00:00:00:00';
const NEW_MAC = '0a:00:00:00:00:99';

/** A mutable IMDS: ENIs by MAC, as network/interfaces/macs/ serves them. */
function metadataOf(
  enis: Map<string, { id: string; device: number; ips: string[]; prefixes?: string[] }>,
): MetadataSource {
  return {
    get: (path) => {
      if (path === 'network/interfaces/macs/')
        return Promise.resolve([...enis.keys()].map((m) => `${m}/`).join('\n'));
      const match = /^network\/interfaces\/macs\/([^/]+)\/(.*)$/.exec(path);
      const e = match ? enis.get(match[1]!) : undefined;
      if (!e) return Promise.resolve(undefined);
      const values: Record<string, string | undefined> = {
        'interface-id': e.id,
        'device-number': String(e.device),
        'subnet-id': NODE_SUBNET,
        'subnet-ipv4-cidr-block': NODE_SUBNET_CIDR,
        'local-ipv4s': e.ips.join('\n'),
        'ipv4-prefix': e.prefixes?.join('\n'),
        'security-group-ids': 'sg-1',
      };
      return Promise.resolve(values[match![2]!]);
    },
  };
}

describe("the node's ENIs from instance metadata", () => {
  it('waits with DescribeNetworkInterfaces when metadata lists no ENIs, even with the MAC known from the create', async () => {
    // As against moto: IMDS answers the instance id but has no network/interfaces/macs/.
    const h = harness();
    h.ec2.on(DescribeSubnetsCommand).resolves({
      Subnets: [
        {
          SubnetId: NODE_SUBNET,
          CidrBlock: NODE_SUBNET_CIDR,
          AvailabilityZone: 'us-east-1a',
          AvailableIpAddressCount: 100,
        },
      ],
    });
    let byId = 0;
    h.ec2.on(DescribeNetworkInterfacesCommand).callsFake((input: { Filters?: unknown }) => {
      if (input.Filters) return { NetworkInterfaces: [eni('eni-00', { deviceIndex: 0 })] };
      byId++;
      return {
        NetworkInterfaces: [
          eni('eni-new', {
            deviceIndex: 1,
            MacAddress: NEW_MAC,
            PrivateIpAddresses: [
              { PrivateIpAddress: '10.0.0.30', Primary: true },
              { PrivateIpAddress: '10.0.0.31', Primary: false },
            ],
          }),
        ],
      };
    });
    h.ec2
      .on(CreateNetworkInterfaceCommand)
      .resolves({
        NetworkInterface: { NetworkInterfaceId: 'eni-new', MacAddress: NEW_MAC, SubnetId: NODE_SUBNET },
      });
    h.ec2.on(AttachNetworkInterfaceCommand).resolves({ AttachmentId: 'attach-new' });
    h.ec2.on(ModifyNetworkInterfaceAttributeCommand).resolves({});

    const attached = await h.drive(
      h.network.createAndAttachEni({
        instanceId: INSTANCE_ID,
        subnetId: NODE_SUBNET,
        securityGroupIds: ['sg-1'],
        secondaryIpCount: 1,
        prefixCount: 0,
      }),
    );

    expect(attached).toMatchObject({ eniId: 'eni-new', secondaryIps: ['10.0.0.31'] });
    expect(byId).toBeGreaterThan(0);
  });

  it('lists a cold node (primary ENI only) without any EC2 call', async () => {
    const enis = new Map([[PRIMARY_MAC, { id: 'eni-00', device: 0, ips: ['10.0.0.10', '10.0.0.11'] }]]);
    const h = harness({ metadata: metadataOf(enis) });

    const listed = await h.drive(h.network.listAttachedEnis(INSTANCE_ID));

    expect(listed).toEqual([
      expect.objectContaining({
        eniId: 'eni-00',
        primary: true,
        deviceIndex: 0,
        subnetCidr: NODE_SUBNET_CIDR,
        primaryIp: '10.0.0.10',
        secondaryIps: ['10.0.0.11'],
        macAddress: PRIMARY_MAC,
      }),
    ]);
    expect(h.ec2.calls()).toHaveLength(0);

    // Filling the primary ENI waits for its addresses in metadata too: the MAC came from the listing.
    h.ec2.on(AssignPrivateIpAddressesCommand).callsFake(() => {
      h.clock.setTimer(1_500, () =>
        enis.set(PRIMARY_MAC, { id: 'eni-00', device: 0, ips: ['10.0.0.10', '10.0.0.11', '10.0.0.12'] }),
      );
      return { AssignedPrivateIpAddresses: [{ PrivateIpAddress: '10.0.0.12' }] };
    });
    expect(await h.drive(h.network.assignIps('eni-00', 1))).toEqual(['10.0.0.12']);
    expect(h.ec2.commandCalls(DescribeNetworkInterfacesCommand)).toHaveLength(0);
  });

  it('asks EC2 once for the tags of a secondary ENI it has not met, then never again', async () => {
    const enis = new Map([
      [PRIMARY_MAC, { id: 'eni-00', device: 0, ips: ['10.0.0.10'] }],
      ['0a:00:00:00:00:01', { id: 'eni-01', device: 1, ips: ['10.0.0.20', '10.0.0.21'] }],
    ]);
    const h = harness({ metadata: metadataOf(enis) });
    h.ec2.on(DescribeNetworkInterfacesCommand).resolves({
      NetworkInterfaces: [
        eni('eni-01', {
          deviceIndex: 1,
          MacAddress: '0a:00:00:00:00:01',
          TagSet: [{ Key: 'node.k8s.amazonaws.com/no_manage', Value: 'true' }],
        }),
      ],
    });

    await h.drive(h.network.listAttachedEnis(INSTANCE_ID));
    const listed = await h.drive(h.network.listAttachedEnis(INSTANCE_ID));

    expect(listed[1]).toMatchObject({
      eniId: 'eni-01',
      attachmentId: 'attach-eni-01',
      tags: { 'node.k8s.amazonaws.com/no_manage': 'true' },
    });
    expect(h.ec2.commandCalls(DescribeNetworkInterfacesCommand).map((c) => c.args[0].input)).toEqual([
      { Filters: [{ Name: 'network-interface-id', Values: ['eni-01'] }], MaxResults: 1000 },
    ]);
  });

  it('waits for a new ENI and a new assignment in metadata, not with DescribeNetworkInterfaces', async () => {
    const enis = new Map([[PRIMARY_MAC, { id: 'eni-00', device: 0, ips: ['10.0.0.10'] }]]);
    const h = harness({ metadata: metadataOf(enis) });
    h.ec2.on(DescribeSubnetsCommand).resolves({});
    h.ec2.on(CreateNetworkInterfaceCommand).resolves({
      NetworkInterface: {
        NetworkInterfaceId: 'eni-new',
        MacAddress: NEW_MAC,
        SubnetId: NODE_SUBNET,
        TagSet: [{ Key: 'eni-ipam.io/managed', Value: 'true' }],
      },
    });
    h.ec2.on(AttachNetworkInterfaceCommand).callsFake(() => {
      // Metadata shows the attachment (and its addresses) a few seconds later.
      setTimeoutOn(h, 3_000, () =>
        enis.set(NEW_MAC, { id: 'eni-new', device: 1, ips: ['10.0.0.30', '10.0.0.31', '10.0.0.32'] }),
      );
      return { AttachmentId: 'attach-new' };
    });
    h.ec2.on(ModifyNetworkInterfaceAttributeCommand).resolves({});
    h.ec2.on(AssignPrivateIpAddressesCommand).callsFake(() => {
      setTimeoutOn(h, 2_000, () =>
        enis.set(NEW_MAC, {
          id: 'eni-new',
          device: 1,
          ips: ['10.0.0.30', '10.0.0.31', '10.0.0.32', '10.0.0.33'],
        }),
      );
      return { AssignedPrivateIpAddresses: [{ PrivateIpAddress: '10.0.0.33' }] };
    });

    const attached = await h.drive(
      h.network.createAndAttachEni({
        instanceId: INSTANCE_ID,
        subnetId: NODE_SUBNET,
        securityGroupIds: ['sg-1'],
        secondaryIpCount: 2,
        prefixCount: 0,
      }),
    );
    const assigned = await h.drive(h.network.assignIps('eni-new', 1));

    expect(attached).toMatchObject({
      eniId: 'eni-new',
      attachmentId: 'attach-new',
      deviceIndex: 1,
      secondaryIps: ['10.0.0.31', '10.0.0.32'],
      tags: { 'eni-ipam.io/managed': 'true' },
    });
    expect(assigned).toEqual(['10.0.0.33']);
    expect(h.ec2.commandCalls(DescribeNetworkInterfacesCommand)).toHaveLength(0);
  });
});

function setTimeoutOn(h: ReturnType<typeof harness>, ms: number, fn: () => void): void {
  h.clock.setTimer(ms, fn);
}
