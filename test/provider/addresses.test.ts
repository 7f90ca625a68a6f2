import {
  AssignPrivateIpAddressesCommand,
  DescribeNetworkInterfacesCommand,
  UnassignPrivateIpAddressesCommand,
} from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { awsError, eni, harness } from './harness.js';

const withSecondary = (ips: string[], prefixes: string[] = []) =>
  eni('eni-01', {
    deviceIndex: 1,
    PrivateIpAddresses: [
      { PrivateIpAddress: '10.0.0.10', Primary: true },
      ...ips.map((ip) => ({ PrivateIpAddress: ip, Primary: false })),
    ],
    Ipv4Prefixes: prefixes.map((Ipv4Prefix) => ({ Ipv4Prefix })),
    SubnetId: 'subnet-pods',
  });

describe('assign and unassign', () => {
  it('assigns N secondary IPs and returns once Describe shows them', async () => {
    const h = harness();
    h.ec2.on(AssignPrivateIpAddressesCommand).resolves({
      NetworkInterfaceId: 'eni-01',
      AssignedPrivateIpAddresses: [{ PrivateIpAddress: '10.0.0.31' }, { PrivateIpAddress: '10.0.0.32' }],
    });
    h.ec2
      .on(DescribeNetworkInterfacesCommand)
      .resolvesOnce({ NetworkInterfaces: [withSecondary(['10.0.0.31'])] })
      .resolves({ NetworkInterfaces: [withSecondary(['10.0.0.31', '10.0.0.32'])] });

    const ips = await h.drive(h.network.assignIps('eni-01', 2));

    expect(ips).toEqual(['10.0.0.31', '10.0.0.32']);
    expect(h.ec2.commandCalls(AssignPrivateIpAddressesCommand).map((c) => c.args[0].input)).toEqual([
      { NetworkInterfaceId: 'eni-01', SecondaryPrivateIpAddressCount: 2 },
    ]);
    expect(h.ec2.commandCalls(DescribeNetworkInterfacesCommand)).toHaveLength(2);
  });

  it("never returns the ENI's primary address when the response lists every address of the ENI", async () => {
    // EC2 lists only the new addresses; moto lists all of them, the primary included.
    const h = harness();
    h.ec2.on(AssignPrivateIpAddressesCommand).resolves({
      NetworkInterfaceId: 'eni-01',
      AssignedPrivateIpAddresses: [{ PrivateIpAddress: '10.0.0.10' }, { PrivateIpAddress: '10.0.0.31' }],
    });
    h.ec2
      .on(DescribeNetworkInterfacesCommand)
      .resolves({ NetworkInterfaces: [withSecondary(['10.0.0.31'])] });

    expect(await h.drive(h.network.assignIps('eni-01', 1))).toEqual(['10.0.0.31']);
  });

  it('assigns K prefixes with Ipv4PrefixCount', async () => {
    const h = harness();
    h.ec2
      .on(AssignPrivateIpAddressesCommand)
      .resolves({ AssignedIpv4Prefixes: [{ Ipv4Prefix: '10.0.5.0/28' }] });
    h.ec2
      .on(DescribeNetworkInterfacesCommand)
      .resolves({ NetworkInterfaces: [withSecondary([], ['10.0.5.0/28'])] });

    expect(await h.drive(h.network.assignPrefixes('eni-01', 1))).toEqual(['10.0.5.0/28']);
    expect(h.ec2.commandCalls(AssignPrivateIpAddressesCommand)[0]!.args[0].input).toEqual({
      NetworkInterfaceId: 'eni-01',
      Ipv4PrefixCount: 1,
    });
  });

  it('unassigns exactly the given IPs and prefixes and waits until they are gone', async () => {
    const h = harness();
    h.ec2.on(UnassignPrivateIpAddressesCommand).resolves({});
    h.ec2
      .on(DescribeNetworkInterfacesCommand)
      .resolvesOnce({ NetworkInterfaces: [withSecondary(['10.0.0.31'])] })
      .resolvesOnce({ NetworkInterfaces: [withSecondary([])] })
      .resolves({ NetworkInterfaces: [withSecondary([])] });

    await h.drive(h.network.unassignIps('eni-01', ['10.0.0.31']));
    await h.drive(h.network.unassignPrefixes('eni-01', ['10.0.5.0/28']));

    expect(h.ec2.commandCalls(UnassignPrivateIpAddressesCommand).map((c) => c.args[0].input)).toEqual([
      { NetworkInterfaceId: 'eni-01', PrivateIpAddresses: ['10.0.0.31'] },
      { NetworkInterfaceId: 'eni-01', Ipv4Prefixes: ['10.0.5.0/28'] },
    ]);
    expect(h.ec2.commandCalls(DescribeNetworkInterfacesCommand)).toHaveLength(3);
  });

  it('sends nothing for zero addresses', async () => {
    const h = harness();
    expect(await h.network.assignIps('eni-01', 0)).toEqual([]);
    await h.network.unassignIps('eni-01', []);
    expect(h.ec2.calls()).toHaveLength(0);
  });

  it('names the subnet of a subnet-full answer', async () => {
    const h = harness();
    h.ec2.on(AssignPrivateIpAddressesCommand).rejects(awsError('InsufficientFreeAddressesInSubnet'));
    h.ec2.on(DescribeNetworkInterfacesCommand).resolves({ NetworkInterfaces: [withSecondary([])] });

    await expect(h.drive(h.network.assignIps('eni-01', 5))).rejects.toMatchObject({
      kind: 'subnet-full',
      subnetId: 'subnet-pods',
      action: 'AssignPrivateIpAddresses',
    });
    expect(h.ec2.commandCalls(AssignPrivateIpAddressesCommand)).toHaveLength(1);
  });

  it.each([
    ['PrivateIpAddressLimitExceeded', 'limit'],
    ['InsufficientCidrBlocks', 'subnet-full'],
    ['InvalidParameterValue', 'permanent'],
  ])('surfaces %s as %s without retrying', async (code, kind) => {
    const h = harness();
    h.ec2.on(AssignPrivateIpAddressesCommand).rejects(awsError(code));
    h.ec2.on(DescribeNetworkInterfacesCommand).resolves({ NetworkInterfaces: [withSecondary([])] });

    await expect(h.drive(h.network.assignPrefixes('eni-01', 1))).rejects.toMatchObject({
      kind,
      awsCode: code,
    });
    expect(h.ec2.commandCalls(AssignPrivateIpAddressesCommand)).toHaveLength(1);
  });

  it('gives up waiting for visibility after the bound with a not-yet-visible error', async () => {
    const h = harness({ visibilityTimeoutMs: 10_000 });
    h.ec2
      .on(AssignPrivateIpAddressesCommand)
      .resolves({ AssignedPrivateIpAddresses: [{ PrivateIpAddress: '10.0.0.40' }] });
    h.ec2.on(DescribeNetworkInterfacesCommand).resolves({ NetworkInterfaces: [withSecondary([])] });
    const started = h.clock.now();

    await expect(h.drive(h.network.assignIps('eni-01', 1))).rejects.toMatchObject({
      kind: 'not-yet-visible',
      awsCode: 'VisibilityTimeout',
    });
    expect(h.clock.now() - started).toBeGreaterThanOrEqual(10_000);
    expect(h.clock.now() - started).toBeLessThan(11_000);
  });
});
