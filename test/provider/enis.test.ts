import {
  AttachNetworkInterfaceCommand,
  CreateNetworkInterfaceCommand,
  DeleteNetworkInterfaceCommand,
  DescribeNetworkInterfacesCommand,
  DescribeSubnetsCommand,
  DetachNetworkInterfaceCommand,
  ModifyNetworkInterfaceAttributeCommand,
  type DescribeNetworkInterfacesCommandInput,
  type NetworkInterface,
} from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { Ec2Error } from '../../provider/errors.js';
import type { Ec2Limiter } from '../../provider/limiter.js';
import type { Ec2Api } from '../../provider/rate-limits.js';
import { awsError, eni, harness, INSTANCE_ID, NODE_SUBNET, NODE_SUBNET_CIDR } from './harness.js';

const NEW_ENI = 'eni-new00';

/** DescribeSubnets by id for the node subnet (ENI listings look up subnet CIDRs). */
function withNodeSubnet(h: ReturnType<typeof harness>): void {
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
}

/**
 * DescribeNetworkInterfaces: the attached listing by filter, and the new ENI by id, whose answers
 * follow `newEniStates` (the last one repeats).
 */
function describeEnis(
  h: ReturnType<typeof harness>,
  attached: NetworkInterface[],
  newEniStates: (NetworkInterface | 'not-found')[],
): void {
  let seen = 0;
  h.ec2.on(DescribeNetworkInterfacesCommand).callsFake((input: DescribeNetworkInterfacesCommandInput) => {
    if (input.Filters) return { NetworkInterfaces: attached };
    const state = newEniStates[Math.min(seen++, newEniStates.length - 1)];
    if (state === 'not-found') throw awsError('InvalidNetworkInterfaceID.NotFound');
    return { NetworkInterfaces: [state] };
  });
}

const attachedNew = (
  deviceIndex: number,
  secondary: string[] = ['10.0.0.21', '10.0.0.22'],
): NetworkInterface =>
  eni(NEW_ENI, {
    deviceIndex,
    PrivateIpAddress: '10.0.0.20',
    PrivateIpAddresses: [
      { PrivateIpAddress: '10.0.0.20', Primary: true },
      ...secondary.map((ip) => ({ PrivateIpAddress: ip, Primary: false })),
    ],
    TagSet: [{ Key: 'eni-ipam.io/managed', Value: 'true' }],
  });

describe('listAttachedEnis', () => {
  it('filters by attachment.instance-id, follows NextToken, and maps to domain ENIs sorted by device index', async () => {
    const h = harness();
    withNodeSubnet(h);
    h.ec2
      .on(DescribeNetworkInterfacesCommand)
      .resolvesOnce({
        NetworkInterfaces: [
          eni('eni-01', {
            deviceIndex: 1,
            PrivateIpAddresses: [
              { PrivateIpAddress: '10.0.0.11', Primary: true },
              { PrivateIpAddress: '10.0.0.12', Primary: false },
            ],
            PrivateIpAddress: '10.0.0.11',
            Ipv4Prefixes: [{ Ipv4Prefix: '10.0.3.16/28' }],
            TagSet: [{ Key: 'k', Value: 'v' }],
          }),
        ],
        NextToken: 'page-2',
      })
      .resolvesOnce({ NetworkInterfaces: [eni('eni-00', { deviceIndex: 0 })] });

    const enis = await h.drive(h.network.listAttachedEnis(INSTANCE_ID));

    const calls = h.ec2.commandCalls(DescribeNetworkInterfacesCommand).map((c) => c.args[0].input);
    expect(calls).toEqual([
      { Filters: [{ Name: 'attachment.instance-id', Values: [INSTANCE_ID] }], MaxResults: 1000 },
      {
        Filters: [{ Name: 'attachment.instance-id', Values: [INSTANCE_ID] }],
        MaxResults: 1000,
        NextToken: 'page-2',
      },
    ]);
    expect(h.ec2.commandCalls(DescribeSubnetsCommand).map((c) => c.args[0].input)).toEqual([
      { SubnetIds: [NODE_SUBNET] },
    ]);
    expect(enis.map((e) => [e.eniId, e.deviceIndex, e.primary])).toEqual([
      ['eni-00', 0, true],
      ['eni-01', 1, false],
    ]);
    expect(enis[1]).toEqual({
      eniId: 'eni-01',
      attachmentId: 'attach-eni-01',
      deviceIndex: 1,
      primary: false,
      subnetId: NODE_SUBNET,
      subnetCidr: NODE_SUBNET_CIDR,
      macAddress: '0a:00:00:00:00:01',
      primaryIp: '10.0.0.11',
      secondaryIps: ['10.0.0.12'],
      prefixes: ['10.0.3.16/28'],
      securityGroupIds: ['sg-1'],
      tags: { k: 'v' },
    });
  });
});

describe('ENIs that are not ours to use', () => {
  it('marks trunk, EFA, other interface types, no_manage=true and other network cards as unmanaged', async () => {
    const h = harness();
    withNodeSubnet(h);
    const onCard = (id: string, deviceIndex: number, card: number): NetworkInterface => {
      const base = eni(id, { deviceIndex });
      return { ...base, Attachment: { ...base.Attachment, NetworkCardIndex: card } };
    };
    const noManage = (value: string) => [{ Key: 'node.k8s.amazonaws.com/no_manage', Value: value }];
    h.ec2.on(DescribeNetworkInterfacesCommand).resolves({
      NetworkInterfaces: [
        eni('eni-00', { deviceIndex: 0, InterfaceType: 'interface' }),
        eni('eni-01', { deviceIndex: 1, InterfaceType: 'trunk' }),
        eni('eni-02', { deviceIndex: 2, InterfaceType: 'efa' }),
        eni('eni-03', { deviceIndex: 3, InterfaceType: 'branch' }),
        eni('eni-04', { deviceIndex: 4, TagSet: noManage('true') }),
        eni('eni-05', { deviceIndex: 5, TagSet: noManage('false') }),
        onCard('eni-06', 0, 1),
        eni('eni-07', { deviceIndex: 7 }),
      ],
    });
    const enis = await h.drive(h.network.listAttachedEnis(INSTANCE_ID));
    expect(Object.fromEntries(enis.map((e) => [e.eniId, e.unmanaged ?? 'managed']))).toEqual({
      'eni-00': 'managed',
      'eni-01': 'interface type trunk',
      'eni-02': 'interface type efa',
      'eni-03': 'interface type branch',
      'eni-04': 'tagged node.k8s.amazonaws.com/no_manage=true',
      'eni-05': 'managed',
      'eni-06': 'on network card 1 (only the default card is managed)',
      'eni-07': 'managed',
    });
    // Device index 0 of another card is not the instance's primary ENI.
    expect(enis.filter((e) => e.primary).map((e) => e.eniId)).toEqual(['eni-00']);
  });
});

describe('createAndAttachEni', () => {
  const request = {
    instanceId: INSTANCE_ID,
    subnetId: NODE_SUBNET,
    securityGroupIds: ['sg-1', 'sg-2'],
    secondaryIpCount: 2,
    prefixCount: 0,
    description: 'eni-ipam pod ENI',
  };

  it('creates with addresses and tags in one call, attaches at the first free index, sets DeleteOnTermination, waits until visible', async () => {
    const h = harness();
    withNodeSubnet(h);
    describeEnis(
      h,
      [eni('eni-00', { deviceIndex: 0 }), eni('eni-01', { deviceIndex: 1 })],
      [
        'not-found',
        {
          ...attachedNew(2, []),
          Attachment: { AttachmentId: 'attach-new', DeviceIndex: 2, Status: 'attaching' },
        },
        attachedNew(2),
      ],
    );
    h.ec2.on(CreateNetworkInterfaceCommand).resolves({ NetworkInterface: { NetworkInterfaceId: NEW_ENI } });
    h.ec2.on(AttachNetworkInterfaceCommand).resolves({ AttachmentId: 'attach-new' });
    h.ec2.on(ModifyNetworkInterfaceAttributeCommand).resolves({});

    const created = await h.drive(h.network.createAndAttachEni({ ...request, tags: { owner: 'vm' } }));

    expect(h.ec2.commandCalls(CreateNetworkInterfaceCommand).map((c) => c.args[0].input)).toEqual([
      {
        SubnetId: NODE_SUBNET,
        Groups: ['sg-1', 'sg-2'],
        Description: 'eni-ipam pod ENI',
        SecondaryPrivateIpAddressCount: 2,
        TagSpecifications: [
          {
            ResourceType: 'network-interface',
            Tags: [
              { Key: 'team', Value: 'net' },
              { Key: 'owner', Value: 'vm' },
              { Key: 'node.k8s.amazonaws.com/instance_id', Value: INSTANCE_ID },
              { Key: 'node.k8s.amazonaws.com/createdAt', Value: '2026-01-01T12:00:00.000Z' },
              { Key: 'cluster.k8s.amazonaws.com/name', Value: 'prod' },
              { Key: 'eni-ipam.io/managed', Value: 'true' },
            ],
          },
        ],
        ClientToken: expect.stringMatching(/^eni-ipam-[0-9a-z]+-[0-9a-z]+$/) as unknown,
      },
    ]);
    expect(h.ec2.commandCalls(AttachNetworkInterfaceCommand).map((c) => c.args[0].input)).toEqual([
      { NetworkInterfaceId: NEW_ENI, InstanceId: INSTANCE_ID, DeviceIndex: 2 },
    ]);
    expect(h.ec2.commandCalls(ModifyNetworkInterfaceAttributeCommand).map((c) => c.args[0].input)).toEqual([
      { NetworkInterfaceId: NEW_ENI, Attachment: { AttachmentId: 'attach-new', DeleteOnTermination: true } },
    ]);
    expect(h.ec2.commandCalls(DeleteNetworkInterfaceCommand)).toHaveLength(0);
    expect(created).toMatchObject({
      eniId: NEW_ENI,
      deviceIndex: 2,
      secondaryIps: ['10.0.0.21', '10.0.0.22'],
      subnetCidr: NODE_SUBNET_CIDR,
    });
  });

  it('asks for prefixes with Ipv4PrefixCount and no IP count', async () => {
    const h = harness({ clusterName: '', extraTags: {} });
    withNodeSubnet(h);
    describeEnis(
      h,
      [eni('eni-00', { deviceIndex: 0 })],
      [{ ...attachedNew(1, []), Ipv4Prefixes: [{ Ipv4Prefix: '10.0.4.0/28' }] }],
    );
    h.ec2.on(CreateNetworkInterfaceCommand).resolves({ NetworkInterface: { NetworkInterfaceId: NEW_ENI } });
    h.ec2.on(AttachNetworkInterfaceCommand).resolves({ AttachmentId: 'attach-new' });
    h.ec2.on(ModifyNetworkInterfaceAttributeCommand).resolves({});

    const created = await h.drive(
      h.network.createAndAttachEni({ ...request, secondaryIpCount: 0, prefixCount: 1 }),
    );

    const input = h.ec2.commandCalls(CreateNetworkInterfaceCommand)[0]!.args[0].input;
    expect(input.Ipv4PrefixCount).toBe(1);
    expect(input).not.toHaveProperty('SecondaryPrivateIpAddressCount');
    expect(input.TagSpecifications?.[0]?.Tags?.map((t) => t.Key)).toEqual([
      'node.k8s.amazonaws.com/instance_id',
      'node.k8s.amazonaws.com/createdAt',
      'eni-ipam.io/managed',
    ]);
    expect(created.prefixes).toEqual(['10.0.4.0/28']);
  });

  it('moves to the next device index when EC2 answers InvalidParameterValue for a used one', async () => {
    const h = harness();
    withNodeSubnet(h);
    describeEnis(h, [eni('eni-00', { deviceIndex: 0 })], [attachedNew(2)]);
    h.ec2.on(CreateNetworkInterfaceCommand).resolves({ NetworkInterface: { NetworkInterfaceId: NEW_ENI } });
    h.ec2
      .on(AttachNetworkInterfaceCommand)
      .rejectsOnce(
        awsError(
          'InvalidParameterValue',
          400,
          "Instance already has an interface attached at device index '1'.",
        ),
      )
      .resolves({ AttachmentId: 'attach-new' });
    h.ec2.on(ModifyNetworkInterfaceAttributeCommand).resolves({});

    await h.drive(h.network.createAndAttachEni(request));

    expect(h.ec2.commandCalls(AttachNetworkInterfaceCommand).map((c) => c.args[0].input.DeviceIndex)).toEqual(
      [1, 2],
    );
  });

  it('deletes the created ENI when the attach fails, and reports the limit', async () => {
    const h = harness();
    withNodeSubnet(h);
    describeEnis(h, [eni('eni-00', { deviceIndex: 0 })], [eni(NEW_ENI)]);
    h.ec2.on(CreateNetworkInterfaceCommand).resolves({ NetworkInterface: { NetworkInterfaceId: NEW_ENI } });
    h.ec2.on(AttachNetworkInterfaceCommand).rejects(awsError('AttachmentLimitExceeded'));
    h.ec2.on(DeleteNetworkInterfaceCommand).resolves({});

    const err = await h.drive(h.network.createAndAttachEni(request)).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(Ec2Error);
    expect(err).toMatchObject({
      kind: 'limit',
      awsCode: 'AttachmentLimitExceeded',
      action: 'AttachNetworkInterface',
    });
    expect(h.ec2.commandCalls(AttachNetworkInterfaceCommand)).toHaveLength(1);
    expect(h.ec2.commandCalls(DetachNetworkInterfaceCommand)).toHaveLength(0);
    expect(h.ec2.commandCalls(DeleteNetworkInterfaceCommand).map((c) => c.args[0].input)).toEqual([
      { NetworkInterfaceId: NEW_ENI },
    ]);
  });

  it("keeps deleting a created ENI through a throttling storm longer than one call's retries", async () => {
    const h = harness();
    withNodeSubnet(h);
    describeEnis(h, [eni('eni-00', { deviceIndex: 0 })], [eni(NEW_ENI)]);
    h.ec2.on(CreateNetworkInterfaceCommand).resolves({ NetworkInterface: { NetworkInterfaceId: NEW_ENI } });
    h.ec2.on(AttachNetworkInterfaceCommand).rejects(awsError('AttachmentLimitExceeded'));
    // 9 throttled answers: more than one call's six tries.
    let deletes = 0;
    h.ec2.on(DeleteNetworkInterfaceCommand).callsFake(() => {
      if (++deletes <= 9) throw awsError('RequestLimitExceeded', 503);
      return {};
    });

    const err = await h.drive(h.network.createAndAttachEni(request)).catch((e: unknown) => e);

    expect(err).toMatchObject({ awsCode: 'AttachmentLimitExceeded' });
    expect(deletes).toBe(10);
    expect(await h.drive(h.network.findLeakedEnis(INSTANCE_ID, 300_000).catch(() => []))).not.toContainEqual(
      expect.objectContaining({ eniId: NEW_ENI }),
    );
  });

  it('hands a created ENI it cannot delete to the leak reaper, which then finds it without a grace period', async () => {
    const h = harness();
    withNodeSubnet(h);
    let leakScan = false;
    h.ec2.on(DescribeNetworkInterfacesCommand).callsFake((input: DescribeNetworkInterfacesCommandInput) => {
      if (input.Filters?.some((f) => f.Name === 'status')) {
        leakScan = true;
        return { NetworkInterfaces: [] };
      }
      if (input.Filters) return { NetworkInterfaces: [eni('eni-00', { deviceIndex: 0 })] };
      return { NetworkInterfaces: [eni(NEW_ENI)] };
    });
    h.ec2.on(CreateNetworkInterfaceCommand).resolves({ NetworkInterface: { NetworkInterfaceId: NEW_ENI } });
    h.ec2.on(AttachNetworkInterfaceCommand).rejects(awsError('AttachmentLimitExceeded'));
    h.ec2.on(DeleteNetworkInterfaceCommand).rejects(awsError('RequestLimitExceeded', 503));

    await h.drive(h.network.createAndAttachEni(request)).catch(() => undefined);
    const leaked = await h.drive(h.network.findLeakedEnis(INSTANCE_ID, 300_000));

    expect(leakScan).toBe(true);
    expect(leaked).toEqual([
      { eniId: NEW_ENI, subnetId: NODE_SUBNET, instanceId: INSTANCE_ID, createdAt: undefined },
    ]);
    h.ec2.on(DeleteNetworkInterfaceCommand).resolves({});
    await h.drive(h.network.detachAndDeleteEni(NEW_ENI));
    expect(await h.drive(h.network.findLeakedEnis(INSTANCE_ID, 300_000))).toEqual([]);
  });

  it('detaches, waits for available and deletes the created ENI when ModifyNetworkInterfaceAttribute fails', async () => {
    const h = harness();
    withNodeSubnet(h);
    describeEnis(
      h,
      [eni('eni-00', { deviceIndex: 0 })],
      [
        {
          ...eni(NEW_ENI, { deviceIndex: 1 }),
          Status: 'in-use',
          Attachment: { AttachmentId: 'attach-new', DeviceIndex: 1, Status: 'detaching' },
        },
        eni(NEW_ENI),
      ],
    );
    h.ec2.on(CreateNetworkInterfaceCommand).resolves({ NetworkInterface: { NetworkInterfaceId: NEW_ENI } });
    h.ec2.on(AttachNetworkInterfaceCommand).resolves({ AttachmentId: 'attach-new' });
    h.ec2.on(ModifyNetworkInterfaceAttributeCommand).rejects(awsError('UnauthorizedOperation', 403));
    h.ec2.on(DetachNetworkInterfaceCommand).resolves({});
    h.ec2.on(DeleteNetworkInterfaceCommand).resolves({});

    const err = await h.drive(h.network.createAndAttachEni(request)).catch((e: unknown) => e);

    expect(err).toMatchObject({
      kind: 'permanent',
      awsCode: 'UnauthorizedOperation',
      action: 'ModifyNetworkInterfaceAttribute',
    });
    expect((err as Ec2Error).params).toEqual({
      NetworkInterfaceId: NEW_ENI,
      Attachment: { AttachmentId: 'attach-new', DeleteOnTermination: true },
    });
    expect(h.ec2.commandCalls(ModifyNetworkInterfaceAttributeCommand)).toHaveLength(1);
    expect(h.ec2.commandCalls(DetachNetworkInterfaceCommand).map((c) => c.args[0].input)).toEqual([
      { AttachmentId: 'attach-new' },
    ]);
    expect(h.ec2.commandCalls(DeleteNetworkInterfaceCommand).map((c) => c.args[0].input)).toEqual([
      { NetworkInterfaceId: NEW_ENI },
    ]);
    // The delete came only after EC2 showed the ENI available again.
    const describeCalls = h.ec2
      .commandCalls(DescribeNetworkInterfacesCommand)
      .filter((c) => c.args[0].input.NetworkInterfaceIds);
    expect(describeCalls).toHaveLength(2);
  });

  it('retries a compensating detach that EC2 answers with NotFound because the attachment is not visible yet', async () => {
    const h = harness();
    withNodeSubnet(h);
    describeEnis(
      h,
      [eni('eni-00', { deviceIndex: 0 })],
      [
        {
          ...eni(NEW_ENI, { deviceIndex: 1 }),
          Status: 'in-use',
          Attachment: { AttachmentId: 'attach-new', DeviceIndex: 1, Status: 'attached' },
        },
        eni(NEW_ENI),
      ],
    );
    h.ec2.on(CreateNetworkInterfaceCommand).resolves({ NetworkInterface: { NetworkInterfaceId: NEW_ENI } });
    h.ec2.on(AttachNetworkInterfaceCommand).resolves({ AttachmentId: 'attach-new' });
    h.ec2.on(ModifyNetworkInterfaceAttributeCommand).rejects(awsError('UnauthorizedOperation', 403));
    h.ec2
      .on(DetachNetworkInterfaceCommand)
      .rejectsOnce(awsError('InvalidAttachmentID.NotFound'))
      .rejectsOnce(awsError('InvalidAttachmentID.NotFound'))
      .resolves({});
    h.ec2.on(DeleteNetworkInterfaceCommand).resolves({});

    await h.drive(h.network.createAndAttachEni(request)).catch(() => undefined);

    expect(h.ec2.commandCalls(DetachNetworkInterfaceCommand)).toHaveLength(3);
    expect(h.ec2.commandCalls(DeleteNetworkInterfaceCommand)).toHaveLength(1);
  });

  it('reports a full subnet with its id and creates nothing to clean up', async () => {
    const h = harness();
    h.ec2.on(CreateNetworkInterfaceCommand).rejects(awsError('InsufficientFreeAddressesInSubnet'));

    const err = await h.drive(h.network.createAndAttachEni(request)).catch((e: unknown) => e);

    expect(err).toMatchObject({
      kind: 'subnet-full',
      awsCode: 'InsufficientFreeAddressesInSubnet',
      subnetId: NODE_SUBNET,
    });
    expect(h.ec2.commandCalls(CreateNetworkInterfaceCommand)).toHaveLength(1);
    expect(h.ec2.commandCalls(DeleteNetworkInterfaceCommand)).toHaveLength(0);
  });

  it('retries an attach that finds the just-created ENI not yet visible', async () => {
    const h = harness();
    withNodeSubnet(h);
    describeEnis(h, [eni('eni-00', { deviceIndex: 0 })], [attachedNew(1)]);
    h.ec2.on(CreateNetworkInterfaceCommand).resolves({ NetworkInterface: { NetworkInterfaceId: NEW_ENI } });
    h.ec2
      .on(AttachNetworkInterfaceCommand)
      .rejectsOnce(awsError('InvalidNetworkInterfaceID.NotFound'))
      .resolves({ AttachmentId: 'attach-new' });
    h.ec2.on(ModifyNetworkInterfaceAttributeCommand).resolves({});

    await h.drive(h.network.createAndAttachEni(request));

    expect(h.ec2.commandCalls(AttachNetworkInterfaceCommand).map((c) => c.args[0].input.DeviceIndex)).toEqual(
      [1, 1],
    );
    expect(
      h.observer.calls.filter((c) => c.api === 'AttachNetworkInterface').map((c) => c.errorClass),
    ).toEqual(['not-yet-visible', undefined]);
  });

  it('refuses a request for both IPs and prefixes', async () => {
    const h = harness();
    await expect(h.network.createAndAttachEni({ ...request, prefixCount: 1 })).rejects.toThrow(RangeError);
  });
});

describe('detachAndDeleteEni', () => {
  it('detaches, waits for available, then deletes', async () => {
    const h = harness();
    let describes = 0;
    h.ec2.on(DescribeNetworkInterfacesCommand).callsFake(() => {
      describes++;
      if (describes === 1) return { NetworkInterfaces: [eni('eni-05', { deviceIndex: 3 })] };
      if (describes === 2)
        return {
          NetworkInterfaces: [
            {
              ...eni('eni-05', { deviceIndex: 3 }),
              Attachment: { AttachmentId: 'attach-eni-05', DeviceIndex: 3, Status: 'detaching' },
            },
          ],
        };
      return { NetworkInterfaces: [eni('eni-05')] };
    });
    h.ec2.on(DetachNetworkInterfaceCommand).resolves({});
    h.ec2.on(DeleteNetworkInterfaceCommand).resolves({});

    await h.drive(h.network.detachAndDeleteEni('eni-05'));

    expect(h.ec2.commandCalls(DescribeNetworkInterfacesCommand)[0]!.args[0].input).toEqual({
      NetworkInterfaceIds: ['eni-05'],
    });
    expect(h.ec2.commandCalls(DetachNetworkInterfaceCommand).map((c) => c.args[0].input)).toEqual([
      { AttachmentId: 'attach-eni-05' },
    ]);
    expect(describes).toBe(3);
    expect(h.ec2.commandCalls(DeleteNetworkInterfaceCommand).map((c) => c.args[0].input)).toEqual([
      { NetworkInterfaceId: 'eni-05' },
    ]);
  });

  it('treats NotFound on delete as success, without retrying it', async () => {
    const h = harness();
    h.ec2.on(DescribeNetworkInterfacesCommand).resolves({ NetworkInterfaces: [eni('eni-06')] });
    h.ec2.on(DeleteNetworkInterfaceCommand).rejects(awsError('InvalidNetworkInterfaceID.NotFound'));

    await h.drive(h.network.detachAndDeleteEni('eni-06'));

    expect(h.ec2.commandCalls(DetachNetworkInterfaceCommand)).toHaveLength(0);
    expect(h.ec2.commandCalls(DeleteNetworkInterfaceCommand)).toHaveLength(1);
  });

  it('does nothing for an ENI that is already gone', async () => {
    const h = harness();
    h.ec2.on(DescribeNetworkInterfacesCommand).rejects(awsError('InvalidNetworkInterfaceID.NotFound'));

    await h.drive(h.network.detachAndDeleteEni('eni-07'));

    expect(h.ec2.commandCalls(DescribeNetworkInterfacesCommand)).toHaveLength(1);
    expect(h.ec2.commandCalls(DeleteNetworkInterfaceCommand)).toHaveLength(0);
  });

  it('retries a delete that finds the ENI still in use right after the detach', async () => {
    const h = harness();
    h.ec2.on(DescribeNetworkInterfacesCommand).resolves({ NetworkInterfaces: [eni('eni-08')] });
    h.ec2
      .on(DeleteNetworkInterfaceCommand)
      .rejectsOnce(awsError('InvalidNetworkInterface.InUse'))
      .resolves({});

    await h.drive(h.network.detachAndDeleteEni('eni-08'));

    expect(h.ec2.commandCalls(DeleteNetworkInterfaceCommand)).toHaveLength(2);
  });

  it('never detaches the primary ENI', async () => {
    const h = harness();
    h.ec2
      .on(DescribeNetworkInterfacesCommand)
      .resolves({ NetworkInterfaces: [eni('eni-00', { deviceIndex: 0 })] });

    await expect(h.drive(h.network.detachAndDeleteEni('eni-00'))).rejects.toMatchObject({
      kind: 'permanent',
      awsCode: 'PrimaryEniProtected',
    });
    expect(h.ec2.commandCalls(DetachNetworkInterfaceCommand)).toHaveLength(0);
  });
});

describe('leak scan while an attach waits', () => {
  const request = {
    instanceId: INSTANCE_ID,
    subnetId: NODE_SUBNET,
    securityGroupIds: ['sg-1'],
    secondaryIpCount: 2,
    prefixCount: 0,
  };
  /** Our tags on an `available` ENI created `minutes` before the harness's start. */
  const available = (id: string, createdAt: string): NetworkInterface =>
    eni(id, {
      TagSet: [
        { Key: 'node.k8s.amazonaws.com/instance_id', Value: INSTANCE_ID },
        { Key: 'node.k8s.amazonaws.com/createdAt', Value: createdAt },
        { Key: 'eni-ipam.io/managed', Value: 'true' },
      ],
    });

  it('never reports an ENI this process created and is still attaching, however old, nor one whose attach ended during the scan', async () => {
    // The attach waits in the limiter (as behind a long shared-budget wait) until the test lets it go.
    let releaseAttach: (() => void) | undefined;
    const limiter: Ec2Limiter = {
      schedule: <T>(api: Ec2Api, fn: () => Promise<T>): Promise<T> =>
        api !== 'AttachNetworkInterface'
          ? fn()
          : new Promise<void>((resolve) => (releaseAttach = resolve)).then(fn),
      throttled: () => undefined,
      close: () => Promise.resolve(),
    };
    const h = harness({ limiter });
    withNodeSubnet(h);
    const createdAt = new Date(h.clock.now()).toISOString();
    let onLeakScan: (() => void) | undefined;
    h.ec2.on(DescribeNetworkInterfacesCommand).callsFake((input: DescribeNetworkInterfacesCommandInput) => {
      if (input.Filters?.some((f) => f.Name === 'status')) {
        onLeakScan?.();
        // Both ENIs are `available` and older than the grace: only the other one is a leak.
        return {
          NetworkInterfaces: [available(NEW_ENI, createdAt), available('eni-old00', createdAt)],
        };
      }
      if (input.Filters) return { NetworkInterfaces: [eni('eni-00', { deviceIndex: 0 })] };
      return { NetworkInterfaces: [attachedNew(1)] };
    });
    h.ec2.on(CreateNetworkInterfaceCommand).resolves({ NetworkInterface: { NetworkInterfaceId: NEW_ENI } });
    h.ec2.on(AttachNetworkInterfaceCommand).resolves({ AttachmentId: 'attach-new' });
    h.ec2.on(ModifyNetworkInterfaceAttributeCommand).resolves({});

    let attached = false;
    const creating = h.network.createAndAttachEni(request).then(() => (attached = true));
    await h.clock.runUntil(() => releaseAttach !== undefined, 60_000);
    // Ten minutes on, twice the default grace, the attach still waits.
    await h.clock.advance(10 * 60_000);
    expect(attached).toBe(false);
    const whileWaiting = await h.drive(h.network.findLeakedEnis(INSTANCE_ID, 300_000));
    expect(whileWaiting.map((e) => e.eniId)).toEqual(['eni-old00']);

    // The attach completes while the next scan's Describe is answered (it still saw `available`).
    onLeakScan = () => releaseAttach?.();
    const racing = await h.drive(h.network.findLeakedEnis(INSTANCE_ID, 300_000));
    expect(racing.map((e) => e.eniId)).toEqual(['eni-old00']);
    await h.drive(creating);
    expect(attached).toBe(true);
    expect(h.ec2.commandCalls(DeleteNetworkInterfaceCommand)).toHaveLength(0);

    // Attached and done: a later scan that (wrongly) lists it available judges it by the usual rules.
    onLeakScan = undefined;
    const later = await h.drive(h.network.findLeakedEnis(INSTANCE_ID, 300_000));
    expect(later.map((e) => e.eniId)).toEqual([NEW_ENI, 'eni-old00']);
  });
});
