import {
  AssignPrivateIpAddressesCommand,
  AttachNetworkInterfaceCommand,
  CreateNetworkInterfaceCommand,
  CreateTagsCommand,
  DescribeNetworkInterfacesCommand,
  DescribeSubnetsCommand,
} from '@aws-sdk/client-ec2';
import { describe, expect, test } from 'vitest';
import { failure } from './helpers.js';
import { inProcessWorld } from './world.js';

describe('eventual consistency (ManualClock)', () => {
  test('Describe* sees a create, an assign and the free count only visibilityDelayMs later', async () => {
    const w = inProcessWorld({ visibilityDelayMs: 1_000 });
    const freeAtStart = (await w.run(w.ec2.send(new DescribeSubnetsCommand({ SubnetIds: ['subnet-a'] }))))
      .Subnets?.[0]?.AvailableIpAddressCount;
    expect(freeAtStart).toBe(251);
    const created = await w.run(
      w.ec2.send(
        new CreateNetworkInterfaceCommand({ SubnetId: 'subnet-a', SecondaryPrivateIpAddressCount: 2 }),
      ),
    );
    const eniId = created.NetworkInterface?.NetworkInterfaceId ?? '';
    const describe = () =>
      w.run(w.ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [eniId] })));
    const free = async () =>
      (await w.run(w.ec2.send(new DescribeSubnetsCommand({ SubnetIds: ['subnet-a'] })))).Subnets?.[0]
        ?.AvailableIpAddressCount;

    expect((await failure(describe())).name).toBe('InvalidNetworkInterfaceID.NotFound');
    expect(await free()).toBe(251);
    // Mutations see the ENI at once (unless the not-found quirk is configured).
    await w.run(
      w.ec2.send(
        new AssignPrivateIpAddressesCommand({ NetworkInterfaceId: eniId, SecondaryPrivateIpAddressCount: 1 }),
      ),
    );
    await w.clock.advance(999);
    expect((await failure(describe())).name).toBe('InvalidNetworkInterfaceID.NotFound');
    await w.clock.advance(1);
    const visible = await describe();
    // The create is visible, the assign made at the same instant too.
    expect(visible.NetworkInterfaces?.[0]?.PrivateIpAddresses).toHaveLength(4);
    expect(await free()).toBe(247);
  });

  test('attaching, then in-use after the attach completes, each seen after the delay', async () => {
    // EC2's API answers before the attachment completes: model that phase explicitly.
    const w = inProcessWorld({
      visibilityDelayMs: 1_000,
      latencyMs: { default: 0, AttachNetworkInterface: 2_000 },
      attachCompletionMs: 2_000,
    });
    const node = w.cloud.launchInstance({ instanceType: 'm5.large', subnetId: 'subnet-a' });
    const created = await w.run(w.ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: 'subnet-a' })));
    const eniId = created.NetworkInterface?.NetworkInterfaceId ?? '';
    const start = w.clock.now();
    await w.run(
      w.ec2.send(
        new AttachNetworkInterfaceCommand({
          InstanceId: node.instanceId,
          NetworkInterfaceId: eniId,
          DeviceIndex: 1,
        }),
      ),
    );
    // The call took its 2 s latency; the attachment completes 2 s after that.
    expect(w.clock.now() - start).toBe(2_000);
    expect(w.cloud.eni(eniId)?.status).toBe('attaching');
    const status = async () =>
      (await w.run(w.ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [eniId] }))))
        .NetworkInterfaces?.[0]?.Status;
    expect(await status()).toBe('available'); // the attach happened 0 ms ago, Describe lags 1 s
    await w.clock.advance(1_000);
    expect(await status()).toBe('attaching');
    await w.clock.advance(1_000);
    expect(w.cloud.eni(eniId)?.status).toBe('in-use');
    expect(await status()).toBe('attaching');
    await w.clock.advance(1_000);
    expect(await status()).toBe('in-use');
  });

  test('IMDS shows a new ENI only once its attachment completed and the delay passed', async () => {
    const w = inProcessWorld({
      visibilityDelayMs: 500,
      latencyMs: { default: 0, AttachNetworkInterface: 1_000 },
      attachCompletionMs: 1_000,
    });
    const node = w.cloud.launchInstance({ instanceType: 'm5.large', subnetId: 'subnet-a' });
    const imds = w.cloud.metadata(node.instanceId);
    expect(await imds.get('instance-id')).toBe(node.instanceId);
    expect(await imds.get('instance-type')).toBe('m5.large');
    expect(await imds.get('placement/availability-zone')).toBe('us-east-1a');
    expect(await imds.get('placement/region')).toBe('us-east-1');
    const primaryMac = await imds.get('mac');
    expect((await imds.get('network/interfaces/macs/'))?.split('\n')).toEqual([`${primaryMac}/`]);
    expect(await imds.get(`network/interfaces/macs/${primaryMac}/device-number`)).toBe('0');
    expect(await imds.get(`network/interfaces/macs/${primaryMac}/interface-id`)).toBe(node.primaryEniId);
    expect(await imds.get(`network/interfaces/macs/${primaryMac}/subnet-ipv4-cidr-block`)).toBe(
      '10.0.0.0/24',
    );
    expect(await imds.get(`network/interfaces/macs/${primaryMac}/vpc-ipv4-cidr-blocks`)).toBe('10.0.0.0/16');
    expect(await imds.get(`network/interfaces/macs/${primaryMac}/ipv4-prefix`)).toBeUndefined();
    expect(await imds.get('no/such/path')).toBeUndefined();

    const created = await w.run(
      w.ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: 'subnet-a', Ipv4PrefixCount: 2 })),
    );
    const eni = created.NetworkInterface;
    await w.run(
      w.ec2.send(
        new AttachNetworkInterfaceCommand({
          InstanceId: node.instanceId,
          NetworkInterfaceId: eni?.NetworkInterfaceId,
          DeviceIndex: 1,
        }),
      ),
    );
    await w.clock.advance(1_000 + 499);
    expect(await imds.get('network/interfaces/macs/')).toBe(`${primaryMac}/`);
    await w.clock.advance(1);
    const macs = (await imds.get('network/interfaces/macs/'))?.split('\n');
    expect(macs).toEqual([`${primaryMac}/`, `${eni?.MacAddress}/`]);
    expect(await imds.get(`network/interfaces/macs/${eni?.MacAddress}/device-number`)).toBe('1');
    expect(
      (await imds.get(`network/interfaces/macs/${eni?.MacAddress}/ipv4-prefix`))?.split('\n').sort(),
    ).toEqual(eni?.Ipv4Prefixes?.map((p) => p.Ipv4Prefix).sort());
    expect(await imds.get(`network/interfaces/macs/${eni?.MacAddress}/local-ipv4s`)).toBe(
      eni?.PrivateIpAddress,
    );

    w.cloud.terminateInstance(node.instanceId);
    await w.clock.advance(500);
    expect(await imds.get('instance-id')).toBeUndefined();
  });

  test('notFoundAfterCreate: a new ENI is NotFound to mutations for the configured window', async () => {
    const w = inProcessWorld({ notFoundAfterCreate: { probability: 1, windowMs: 300 } });
    const created = await w.run(w.ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: 'subnet-a' })));
    const eniId = created.NetworkInterface?.NetworkInterfaceId ?? '';
    const tag = () =>
      w.run(w.ec2.send(new CreateTagsCommand({ Resources: [eniId], Tags: [{ Key: 'a', Value: 'b' }] })));
    expect((await failure(tag())).name).toBe('InvalidNetworkInterfaceID.NotFound');
    await w.clock.advance(299);
    expect((await failure(tag())).name).toBe('InvalidNetworkInterfaceID.NotFound');
    await w.clock.advance(1);
    await tag();
    expect(w.cloud.eni(eniId)?.tags).toEqual({ a: 'b' });
  });
});
