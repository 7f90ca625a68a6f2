import {
  AssignPrivateIpAddressesCommand,
  AttachNetworkInterfaceCommand,
  CreateNetworkInterfaceCommand,
  CreateTagsCommand,
  DeleteNetworkInterfaceCommand,
  DeleteTagsCommand,
  DescribeInstancesCommand,
  DescribeInstanceTypesCommand,
  DescribeNetworkInterfacesCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  DetachNetworkInterfaceCommand,
  ModifyNetworkInterfaceAttributeCommand,
  TerminateInstancesCommand,
  UnassignPrivateIpAddressesCommand,
  type _InstanceType,
  type CreateNetworkInterfaceCommandInput,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { describe, expect, test } from 'vitest';
import type { SimulatedCloud } from '../../sim/cloud.js';
import { ipToNumber, parseCidr } from '../../ipam/address.js';
import { failure } from './helpers.js';
import { inProcessWorld } from './world.js';

async function createEni(
  w: { ec2: EC2Client; run: <T>(p: Promise<T>) => Promise<T> },
  input: Partial<CreateNetworkInterfaceCommandInput> = {},
): Promise<string> {
  const out = await w.run(w.ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: 'subnet-a', ...input })));
  return out.NetworkInterface?.NetworkInterfaceId ?? '';
}

/** Every address held by an ENI (a /28 counts its 16) must be unique, usable, and match the free count. */
function checkAccounting(cloud: SimulatedCloud, subnetId: string, heldByOthers = 0): void {
  const subnet = cloud.subnet(subnetId);
  const cidr = parseCidr(subnet.cidr);
  const addresses: number[] = [];
  for (const eni of cloud.enis().filter((e) => e.subnetId === subnetId)) {
    for (const ip of [eni.primaryIp, ...eni.secondaryIps]) addresses.push(ipToNumber(ip));
    for (const p of eni.prefixes) {
      const { base } = parseCidr(p);
      for (let a = base; a < base + 16; a++) addresses.push(a);
    }
  }
  expect(new Set(addresses).size).toBe(addresses.length);
  for (const a of addresses) {
    expect(a).toBeGreaterThanOrEqual(cidr.base + 4);
    expect(a).toBeLessThanOrEqual(cidr.base + cidr.size - 2);
  }
  expect(subnet.free).toBe(subnet.usable - addresses.length - heldByOthers);
}

describe('instance types', () => {
  test('DescribeInstanceTypes reports the bundled limits and the hypervisor', async () => {
    const w = inProcessWorld();
    const out = await w.run(
      w.ec2.send(new DescribeInstanceTypesCommand({ InstanceTypes: ['m5.large', 'c4.large', 'c5.metal'] })),
    );
    const byName = new Map(out.InstanceTypes?.map((t) => [t.InstanceType, t]));
    const m5 = byName.get('m5.large');
    expect(m5?.NetworkInfo?.MaximumNetworkInterfaces).toBe(3);
    expect(m5?.NetworkInfo?.Ipv4AddressesPerInterface).toBe(10);
    expect(m5?.NetworkInfo?.NetworkCards?.[0]?.MaximumNetworkInterfaces).toBe(3);
    expect(m5?.Hypervisor).toBe('nitro');
    expect(m5?.VCpuInfo?.DefaultVCpus).toBe(2);
    expect(byName.get('c4.large')?.Hypervisor).toBe('xen');
    expect(byName.get('c5.metal')?.BareMetal).toBe(true);
    expect(byName.get('c5.metal')?.Hypervisor).toBeUndefined();
    const bad = await failure(
      w.run(w.ec2.send(new DescribeInstanceTypesCommand({ InstanceTypes: ['m99.huge' as _InstanceType] }))),
    );
    expect(bad.name).toBe('InvalidInstanceType');
  });

  test('without names, all types are listed 100 per page', async () => {
    const w = inProcessWorld();
    const first = await w.run(w.ec2.send(new DescribeInstanceTypesCommand({})));
    expect(first.InstanceTypes).toHaveLength(100);
    expect(first.NextToken).toBeDefined();
  });
});

describe('ENI limits and error codes', () => {
  test('m5.large takes 3 ENIs: the 4th attach is AttachmentLimitExceeded; a used device index is InvalidParameterValue', async () => {
    const w = inProcessWorld();
    const node = w.cloud.launchInstance({ instanceType: 'm5.large', subnetId: 'subnet-a' });
    const enis = [await createEni(w), await createEni(w), await createEni(w)];
    const attach = (eni: string, index: number) =>
      w.run(
        w.ec2.send(
          new AttachNetworkInterfaceCommand({
            InstanceId: node.instanceId,
            NetworkInterfaceId: eni,
            DeviceIndex: index,
          }),
        ),
      );
    const inUse = await failure(attach(enis[0]!, 0));
    expect(inUse).toMatchObject({ name: 'InvalidParameterValue', status: 400 });
    expect((await attach(enis[0]!, 1)).AttachmentId).toMatch(/^eni-attach-/);
    await attach(enis[1]!, 2);
    const over = await failure(attach(enis[2]!, 3));
    expect(over).toMatchObject({ name: 'AttachmentLimitExceeded', status: 400 });
    const twice = await failure(attach(enis[0]!, 3));
    expect(twice.name).toBe('InvalidNetworkInterface.InUse');
  });

  test('10 addresses per m5.large ENI: 9 secondaries fit, the 10th is PrivateIpAddressLimitExceeded', async () => {
    const w = inProcessWorld();
    const node = w.cloud.launchInstance({ instanceType: 'm5.large', subnetId: 'subnet-a' });
    const primary = node.primaryEniId;
    const assign = (count: number) =>
      w.run(
        w.ec2.send(
          new AssignPrivateIpAddressesCommand({
            NetworkInterfaceId: primary,
            SecondaryPrivateIpAddressCount: count,
          }),
        ),
      );
    const first = await assign(5);
    expect(first.AssignedPrivateIpAddresses).toHaveLength(5);
    const tooMany = await failure(assign(5));
    expect(tooMany).toMatchObject({ name: 'PrivateIpAddressLimitExceeded', status: 400 });
    await assign(4);
    expect(w.cloud.eni(primary)?.secondaryIps).toHaveLength(9);
    expect((await failure(assign(1))).name).toBe('PrivateIpAddressLimitExceeded');
    checkAccounting(w.cloud, 'subnet-a');
  });

  test('an ENI created with more addresses than the type allows cannot be attached', async () => {
    const w = inProcessWorld();
    const node = w.cloud.launchInstance({ instanceType: 't3.micro', subnetId: 'subnet-a' });
    const eni = await createEni(w, { SecondaryPrivateIpAddressCount: 2 });
    const err = await failure(
      w.run(
        w.ec2.send(
          new AttachNetworkInterfaceCommand({
            InstanceId: node.instanceId,
            NetworkInterfaceId: eni,
            DeviceIndex: 1,
          }),
        ),
      ),
    );
    expect(err.name).toBe('PrivateIpAddressLimitExceeded');
  });

  test('/28 prefixes are aligned, disjoint, count as one slot each, and need a Nitro type', async () => {
    const w = inProcessWorld({ subnets: [{ id: 'subnet-a', az: 'us-east-1a', cidr: '10.0.0.0/22' }] });
    const nitro = w.cloud.launchInstance({ instanceType: 'm5.large', subnetId: 'subnet-a' });
    const out = await w.run(
      w.ec2.send(
        new AssignPrivateIpAddressesCommand({ NetworkInterfaceId: nitro.primaryEniId, Ipv4PrefixCount: 9 }),
      ),
    );
    const prefixes = out.AssignedIpv4Prefixes?.map((p) => p.Ipv4Prefix ?? '') ?? [];
    expect(prefixes).toHaveLength(9);
    for (const p of prefixes) {
      expect(p).toMatch(/\/28$/);
      expect(parseCidr(p).base % 16).toBe(0);
    }
    checkAccounting(w.cloud, 'subnet-a');
    const full = await failure(
      w.run(
        w.ec2.send(
          new AssignPrivateIpAddressesCommand({ NetworkInterfaceId: nitro.primaryEniId, Ipv4PrefixCount: 1 }),
        ),
      ),
    );
    expect(full.name).toBe('PrivateIpAddressLimitExceeded');

    const xen = w.cloud.launchInstance({ instanceType: 'c4.large', subnetId: 'subnet-a' });
    const refused = await failure(
      w.run(
        w.ec2.send(
          new AssignPrivateIpAddressesCommand({ NetworkInterfaceId: xen.primaryEniId, Ipv4PrefixCount: 1 }),
        ),
      ),
    );
    expect(refused.name).toBe('InvalidParameterValue');
  });

  test('a full subnet answers InsufficientFreeAddressesInSubnet / InsufficientCidrBlocks and loses nothing', async () => {
    const w = inProcessWorld({
      subnets: [{ id: 'subnet-a', az: 'us-east-1a', cidr: '10.0.0.0/26', usedAddresses: 40 }],
    });
    // 64 - 5 reserved - 40 used by others = 19 free.
    expect(w.cloud.subnet('subnet-a').free).toBe(19);
    const prefixErr = await failure(
      w.run(w.ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: 'subnet-a', Ipv4PrefixCount: 4 }))),
    );
    expect(prefixErr.name).toBe('InsufficientCidrBlocks');
    expect(w.cloud.subnet('subnet-a').free).toBe(19);
    await createEni(w, { SecondaryPrivateIpAddressCount: 9 });
    const err = await failure(
      w.run(
        w.ec2.send(
          new CreateNetworkInterfaceCommand({ SubnetId: 'subnet-a', SecondaryPrivateIpAddressCount: 9 }),
        ),
      ),
    );
    expect(err).toMatchObject({ name: 'InsufficientFreeAddressesInSubnet', status: 400 });
    // All or nothing: the failed call took none of the 9 remaining addresses.
    expect(w.cloud.subnet('subnet-a').free).toBe(9);
    checkAccounting(w.cloud, 'subnet-a', 40);
    const subnets = await w.run(w.ec2.send(new DescribeSubnetsCommand({ SubnetIds: ['subnet-a'] })));
    expect(subnets.Subnets?.[0]?.AvailableIpAddressCount).toBe(9);
    expect(w.cloud.exhaustSubnet('subnet-a')).toBe(9);
    expect(
      (await failure(w.run(w.ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: 'subnet-a' }))))).name,
    ).toBe('InsufficientFreeAddressesInSubnet');
  });

  test('delete: in-use and unknown ENIs are refused; detach, then delete returns the addresses', async () => {
    const w = inProcessWorld({ latencyMs: { default: 0, DetachNetworkInterface: 500 } });
    const node = w.cloud.launchInstance({ instanceType: 'm5.large', subnetId: 'subnet-a' });
    const freeBefore = w.cloud.subnet('subnet-a').free;
    const eni = await createEni(w, { SecondaryPrivateIpAddressCount: 4 });
    const attached = await w.run(
      w.ec2.send(
        new AttachNetworkInterfaceCommand({
          InstanceId: node.instanceId,
          NetworkInterfaceId: eni,
          DeviceIndex: 1,
        }),
      ),
    );
    const del = () => w.run(w.ec2.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: eni })));
    expect((await failure(del())).name).toBe('InvalidNetworkInterface.InUse');
    expect(
      (
        await failure(
          w.run(
            w.ec2.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: 'eni-0ffffffffffffffff' })),
          ),
        )
      ).name,
    ).toBe('InvalidNetworkInterfaceID.NotFound');
    const primaryDetach = await failure(
      w.run(
        w.ec2.send(
          new DetachNetworkInterfaceCommand({
            AttachmentId: w.cloud.eni(node.primaryEniId)?.attachment?.attachmentId ?? '',
          }),
        ),
      ),
    );
    expect(primaryDetach.name).toBe('OperationNotPermitted');
    expect(
      (
        await failure(
          w.run(w.ec2.send(new DetachNetworkInterfaceCommand({ AttachmentId: 'eni-attach-0nope' }))),
        )
      ).name,
    ).toBe('InvalidAttachmentID.NotFound');
    // The call returns after its 500 ms latency; the ENI then stays `detaching` for another 500 ms.
    await w.run(w.ec2.send(new DetachNetworkInterfaceCommand({ AttachmentId: attached.AttachmentId ?? '' })));
    expect(w.cloud.eni(eni)?.status).toBe('detaching');
    expect((await failure(del())).name).toBe('InvalidNetworkInterface.InUse');
    await w.clock.advance(500);
    expect(w.cloud.eni(eni)?.status).toBe('available');
    await del();
    expect(w.cloud.eni(eni)).toBeUndefined();
    expect(w.cloud.subnet('subnet-a').free).toBe(freeBefore);
  });

  test('unassign releases exactly the named addresses; foreign or primary addresses are refused', async () => {
    const w = inProcessWorld();
    const eni = await createEni(w, { SecondaryPrivateIpAddressCount: 3 });
    const [a, b, c] = w.cloud.eni(eni)?.secondaryIps ?? [];
    const unassign = (ips: string[]) =>
      w.run(
        w.ec2.send(
          new UnassignPrivateIpAddressesCommand({ NetworkInterfaceId: eni, PrivateIpAddresses: ips }),
        ),
      );
    expect((await failure(unassign([a!, '10.0.0.250']))).name).toBe('InvalidParameterValue');
    expect((await failure(unassign([w.cloud.eni(eni)?.primaryIp ?? '']))).name).toBe('InvalidParameterValue');
    await unassign([a!, c!]);
    expect(w.cloud.eni(eni)?.secondaryIps).toEqual([b]);
    checkAccounting(w.cloud, 'subnet-a');
  });

  test('missing required parameters are MissingParameter', async () => {
    const w = inProcessWorld();
    const err = await failure(
      w.run(w.ec2.send(new CreateNetworkInterfaceCommand({} as CreateNetworkInterfaceCommandInput))),
    );
    expect(err).toMatchObject({ name: 'MissingParameter', status: 400 });
    const assign = await failure(
      w.run(w.ec2.send(new AssignPrivateIpAddressesCommand({ NetworkInterfaceId: 'eni-1' }))),
    );
    expect(assign.name).toBe('MissingParameter');
  });

  test('unknown actions are InvalidAction (400)', async () => {
    const w = inProcessWorld();
    const outcome = await w.run(w.cloud.endpoint.handle('Action=RunInstances&Version=2016-11-15'));
    expect(outcome).toMatchObject({ kind: 'response', httpStatus: 400 });
    expect(outcome.kind === 'response' && outcome.body).toContain('<Code>InvalidAction</Code>');
  });
});

describe('instances', () => {
  test('TerminateInstances deletes DeleteOnTermination ENIs and leaves the others available', async () => {
    const w = inProcessWorld();
    const node = w.cloud.launchInstance({ instanceType: 'm5.large', subnetId: 'subnet-a' });
    const kept = await createEni(w);
    const dropped = await createEni(w);
    for (const [eni, index] of [
      [kept, 1],
      [dropped, 2],
    ] as const) {
      await w.run(
        w.ec2.send(
          new AttachNetworkInterfaceCommand({
            InstanceId: node.instanceId,
            NetworkInterfaceId: eni,
            DeviceIndex: index,
          }),
        ),
      );
    }
    await w.clock.advance(0);
    const attachmentId = w.cloud.eni(dropped)?.attachment?.attachmentId ?? '';
    await w.run(
      w.ec2.send(
        new ModifyNetworkInterfaceAttributeCommand({
          NetworkInterfaceId: dropped,
          Attachment: { AttachmentId: attachmentId, DeleteOnTermination: true },
        }),
      ),
    );
    const out = await w.run(w.ec2.send(new TerminateInstancesCommand({ InstanceIds: [node.instanceId] })));
    expect(out.TerminatingInstances?.[0]?.CurrentState?.Name).toBe('terminated');
    expect(out.TerminatingInstances?.[0]?.PreviousState?.Name).toBe('running');
    await w.clock.advance(1_000);
    expect(w.cloud.eni(node.primaryEniId)).toBeUndefined();
    expect(w.cloud.eni(dropped)).toBeUndefined();
    expect(w.cloud.eni(kept)?.status).toBe('available');
    checkAccounting(w.cloud, 'subnet-a');
    const described = await w.run(
      w.ec2.send(
        new DescribeInstancesCommand({ Filters: [{ Name: 'instance-id', Values: [node.instanceId] }] }),
      ),
    );
    expect(described.Reservations?.[0]?.Instances?.[0]?.State?.Name).toBe('terminated');
  });
});

describe('tags, filters and pagination', () => {
  test('tags from TagSpecification, CreateTags and DeleteTags; tag:KEY and tag-key filters', async () => {
    const w = inProcessWorld();
    const a = await createEni(w, {
      TagSpecifications: [{ ResourceType: 'network-interface', Tags: [{ Key: 'owner', Value: 'eni-ipam' }] }],
    });
    const b = await createEni(w);
    await w.run(
      w.ec2.send(
        new CreateTagsCommand({
          Resources: [b],
          Tags: [
            { Key: 'owner', Value: 'other' },
            { Key: 'node', Value: 'n1' },
          ],
        }),
      ),
    );
    const byTag = async (name: string, values: string[]) =>
      (
        await w.run(
          w.ec2.send(new DescribeNetworkInterfacesCommand({ Filters: [{ Name: name, Values: values }] })),
        )
      ).NetworkInterfaces?.map((e) => e.NetworkInterfaceId);
    expect(await byTag('tag:owner', ['eni-ipam'])).toEqual([a]);
    expect(await byTag('tag:owner', ['*'])).toEqual([a, b]);
    expect(await byTag('tag-key', ['node'])).toEqual([b]);
    await w.run(
      w.ec2.send(
        new DeleteTagsCommand({
          Resources: [b],
          Tags: [{ Key: 'node' }, { Key: 'owner', Value: 'not-this' }],
        }),
      ),
    );
    expect(w.cloud.eni(b)?.tags).toEqual({ owner: 'other' });
    expect((await failure(byTag('no-such-filter', ['x']))).name).toBe('InvalidParameterValue');
  });

  test('DescribeNetworkInterfaces pages with MaxResults/NextToken without repeats, stable across deletes', async () => {
    const w = inProcessWorld();
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) ids.push(await createEni(w, { Description: 'paged' }));
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await w.run(
        w.ec2.send(
          new DescribeNetworkInterfacesCommand({
            Filters: [{ Name: 'description', Values: ['paged'] }],
            MaxResults: 5,
            NextToken: token,
          }),
        ),
      );
      seen.push(...(page.NetworkInterfaces?.map((e) => e.NetworkInterfaceId ?? '') ?? []));
      token = page.NextToken;
      pages++;
      // An ENI of a page already read goes away: the next pages must not shift.
      if (pages === 1)
        await w.run(w.ec2.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: ids[0] })));
    } while (token !== undefined);
    expect(pages).toBe(3);
    expect(seen).toEqual(ids);
    const bad = await failure(w.run(w.ec2.send(new DescribeNetworkInterfacesCommand({ MaxResults: 2 }))));
    expect(bad.name).toBe('InvalidParameterValue');
  });

  test('DescribeSubnets filters by vpc-id, availability-zone and tags', async () => {
    const w = inProcessWorld();
    w.cloud.createSubnet({ id: 'subnet-b', az: 'us-east-1b', cidr: '10.0.1.0/24' });
    const query = async (name: string, value: string) =>
      (
        await w.run(w.ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: name, Values: [value] }] })))
      ).Subnets?.map((s) => s.SubnetId);
    expect(await query('vpc-id', 'vpc-0sim')).toEqual(['subnet-a', 'subnet-b']);
    expect(await query('availability-zone', 'us-east-1b')).toEqual(['subnet-b']);
    expect(await query('tag:kubernetes.io/role/cni', '1')).toEqual(['subnet-a']);
    expect(await query('tag-key', 'kubernetes.io/role/cni')).toEqual(['subnet-a']);
    const b = await w.run(w.ec2.send(new DescribeSubnetsCommand({ SubnetIds: ['subnet-b'] })));
    expect(b.Subnets?.[0]).toMatchObject({
      CidrBlock: '10.0.1.0/24',
      AvailableIpAddressCount: 251,
      VpcId: 'vpc-0sim',
    });
    expect(
      (await failure(w.run(w.ec2.send(new DescribeSubnetsCommand({ SubnetIds: ['subnet-zz'] }))))).name,
    ).toBe('InvalidSubnetID.NotFound');
  });

  test('DescribeVpcs reports the CIDR as an associated block', async () => {
    const w = inProcessWorld({ vpcCidr: '10.0.0.0/16' });
    const out = await w.run(w.ec2.send(new DescribeVpcsCommand({ VpcIds: ['vpc-0sim'] })));
    expect(out.Vpcs?.[0]?.CidrBlock).toBe('10.0.0.0/16');
    expect(
      out.Vpcs?.[0]?.CidrBlockAssociationSet?.map((a) => [a.CidrBlock, a.CidrBlockState?.State]),
    ).toEqual([['10.0.0.0/16', 'associated']]);
    expect((await failure(w.run(w.ec2.send(new DescribeVpcsCommand({ VpcIds: ['vpc-nope'] }))))).name).toBe(
      'InvalidVpcID.NotFound',
    );
  });
});

describe('address uniqueness under churn', () => {
  test('a seeded random mix of creates, assigns, unassigns and deletes never shares or leaks an address', async () => {
    const w = inProcessWorld({
      subnets: [{ id: 'subnet-a', az: 'us-east-1a', cidr: '10.0.0.0/25', usedAddresses: 20 }],
      seed: 9,
    });
    let rng = 12345;
    const next = (n: number): number => {
      rng = (rng * 1103515245 + 12345) % 2147483648;
      return rng % n;
    };
    const enis: string[] = [];
    for (let step = 0; step < 120; step++) {
      const op = next(5);
      const target = enis[next(Math.max(1, enis.length))];
      try {
        if (op === 0 || target === undefined)
          enis.push(
            await createEni(
              w,
              next(2) === 0 ? { SecondaryPrivateIpAddressCount: next(6) } : { Ipv4PrefixCount: 1 },
            ),
          );
        else if (op === 1)
          await w.run(
            w.ec2.send(
              new AssignPrivateIpAddressesCommand({
                NetworkInterfaceId: target,
                SecondaryPrivateIpAddressCount: 1 + next(4),
              }),
            ),
          );
        else if (op === 2)
          await w.run(
            w.ec2.send(
              new AssignPrivateIpAddressesCommand({ NetworkInterfaceId: target, Ipv4PrefixCount: 1 }),
            ),
          );
        else if (op === 3) {
          const ips = w.cloud.eni(target)?.secondaryIps.slice(0, 2) ?? [];
          const prefixes = w.cloud.eni(target)?.prefixes.slice(0, 1) ?? [];
          if (ips.length + prefixes.length > 0) {
            await w.run(
              w.ec2.send(
                new UnassignPrivateIpAddressesCommand({
                  NetworkInterfaceId: target,
                  PrivateIpAddresses: ips,
                  Ipv4Prefixes: prefixes,
                }),
              ),
            );
          }
        } else {
          await w.run(w.ec2.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: target })));
          enis.splice(enis.indexOf(target), 1);
        }
      } catch (err) {
        // Running out of space is expected in a /25; anything else is a bug.
        expect([
          'InsufficientFreeAddressesInSubnet',
          'InsufficientCidrBlocks',
          'InvalidParameterCombination',
        ]).toContain((err as Error).name);
      }
      checkAccounting(w.cloud, 'subnet-a', 20);
    }
  });
});
