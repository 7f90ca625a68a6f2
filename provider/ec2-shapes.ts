import type { NetworkInterface, Subnet } from '@aws-sdk/client-ec2';
import { Ec2Error } from './errors.js';
import type { AttachedEni, SubnetInfo } from './ec2-network.js';
import { tagRecord } from './eni-tags.js';

/**
 * SDK shapes mark every field optional. Fields we depend on are checked here, once, at the edge, so
 * the rest of eni-ipam works with required fields; a missing one is EC2 (or the simulator) breaking
 * its contract, a permanent error.
 */
export function required<T>(value: T | undefined | null, field: string, action: string): T {
  if (value === undefined || value === null) {
    throw new Ec2Error(`response lacks ${field}`, {
      kind: 'permanent',
      awsCode: 'MalformedResponse',
      action,
      params: undefined,
    });
  }
  return value;
}

export function toSubnetInfo(subnet: Subnet): SubnetInfo {
  const action = 'DescribeSubnets';
  return {
    subnetId: required(subnet.SubnetId, 'SubnetId', action),
    availabilityZone: required(subnet.AvailabilityZone, 'AvailabilityZone', action),
    cidr: required(subnet.CidrBlock, 'CidrBlock', action),
    availableIpCount: subnet.AvailableIpAddressCount ?? 0,
    tags: tagRecord(subnet.Tags),
  };
}

/** The primary address, the secondary ones and the delegated /28 prefixes of an ENI. */
export function eniAddresses(eni: NetworkInterface): {
  primaryIp: string;
  secondaryIps: string[];
  prefixes: string[];
} {
  let primaryIp = eni.PrivateIpAddress;
  const secondaryIps: string[] = [];
  for (const address of eni.PrivateIpAddresses ?? []) {
    if (address.PrivateIpAddress === undefined) continue;
    if (address.Primary === true) primaryIp = address.PrivateIpAddress;
    else secondaryIps.push(address.PrivateIpAddress);
  }
  const prefixes = (eni.Ipv4Prefixes ?? []).flatMap((p) =>
    p.Ipv4Prefix === undefined ? [] : [p.Ipv4Prefix],
  );
  return {
    primaryIp: required(primaryIp, 'PrivateIpAddress', 'DescribeNetworkInterfaces'),
    secondaryIps,
    prefixes,
  };
}

export function toAttachedEni(eni: NetworkInterface, subnetCidr: string): AttachedEni {
  const action = 'DescribeNetworkInterfaces';
  const deviceIndex = eni.Attachment?.DeviceIndex ?? -1;
  return {
    eniId: required(eni.NetworkInterfaceId, 'NetworkInterfaceId', action),
    attachmentId: eni.Attachment?.AttachmentId,
    deviceIndex,
    primary: deviceIndex === 0,
    subnetId: required(eni.SubnetId, 'SubnetId', action),
    subnetCidr,
    macAddress: required(eni.MacAddress, 'MacAddress', action),
    ...eniAddresses(eni),
    securityGroupIds: (eni.Groups ?? []).flatMap((g) => (g.GroupId === undefined ? [] : [g.GroupId])),
    tags: tagRecord(eni.TagSet),
  };
}
