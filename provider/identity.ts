import type { Ec2Client } from './ec2-client.js';
import type { InstanceIdentity } from './ec2-network.js';
import { required } from './ec2-shapes.js';
import type { MetadataSource } from './metadata.js';
import type { SubnetCatalog } from './subnets.js';

/** IMDS lists (security groups, VPC CIDRs) are one value per line. */
function lines(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const items = value
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
  return items.length > 0 ? items : undefined;
}

/** "us-east-1a" -> "us-east-1" (Local Zones such as "us-west-2-lax-1a" work the same way). */
function regionOfZone(zone: string): string {
  return zone.replace(/[a-z]$/, '');
}

type IdentityParts = { [K in keyof InstanceIdentity]?: InstanceIdentity[K] | undefined };

/** Everything IMDS can tell; a path that fails is left undefined for the EC2 fallback to fill. */
async function fromMetadata(metadata: MetadataSource, signal?: AbortSignal): Promise<IdentityParts> {
  const get = (path: string): Promise<string | undefined> =>
    metadata.get(path, signal).catch(() => undefined);
  const instanceId = await metadata.get('instance-id', signal);
  const mac = await get('mac');
  const [instanceType, availabilityZone, region, primaryIp] = await Promise.all([
    get('instance-type'),
    get('placement/availability-zone'),
    get('placement/region'),
    get('local-ipv4'),
  ]);
  const iface = (path: string): Promise<string | undefined> =>
    mac === undefined ? Promise.resolve(undefined) : get(`network/interfaces/macs/${mac}/${path}`);
  const [primaryEniId, subnetId, vpcId, subnetCidr, vpcCidrs, securityGroupIds] = await Promise.all([
    iface('interface-id'),
    iface('subnet-id'),
    iface('vpc-id'),
    iface('subnet-ipv4-cidr-block'),
    iface('vpc-ipv4-cidr-blocks'),
    iface('security-group-ids'),
  ]);
  return {
    instanceId,
    instanceType,
    availabilityZone,
    region: region ?? (availabilityZone === undefined ? undefined : regionOfZone(availabilityZone)),
    mac,
    primaryIp,
    primaryEniId,
    subnetId,
    vpcId,
    subnetCidr,
    vpcCidrs: lines(vpcCidrs),
    securityGroupIds: lines(securityGroupIds),
  };
}

function complete(identity: IdentityParts): InstanceIdentity | undefined {
  const {
    instanceId,
    instanceType,
    region,
    availabilityZone,
    vpcId,
    vpcCidrs,
    subnetId,
    subnetCidr,
    primaryEniId,
    primaryIp,
    mac,
    securityGroupIds,
  } = identity;
  if (
    instanceId === undefined ||
    instanceType === undefined ||
    region === undefined ||
    availabilityZone === undefined ||
    vpcId === undefined ||
    vpcCidrs === undefined ||
    subnetId === undefined ||
    subnetCidr === undefined ||
    primaryEniId === undefined ||
    primaryIp === undefined ||
    mac === undefined ||
    securityGroupIds === undefined
  ) {
    return undefined;
  }
  return {
    instanceId,
    instanceType,
    region,
    availabilityZone,
    vpcId,
    vpcCidrs,
    subnetId,
    subnetCidr,
    primaryEniId,
    primaryIp,
    mac,
    securityGroupIds,
  };
}

/**
 * Who this node is. IMDSv2 answers everything on a healthy instance; when some paths fail (a hop
 * limit of 1 seen from a container, a throttled IMDS), DescribeInstances fills in what is missing.
 * The instance id itself can only come from IMDS: without it there is nothing to describe.
 */
export async function readIdentity(
  metadata: MetadataSource,
  client: Ec2Client,
  subnets: SubnetCatalog,
  signal?: AbortSignal,
): Promise<InstanceIdentity> {
  const seen = await fromMetadata(metadata, signal);
  const direct = complete(seen);
  if (direct) return direct;
  const instanceId = seen.instanceId;
  if (instanceId === undefined)
    throw new Error('instance metadata has no instance-id: is IMDS reachable from this pod?');

  const action = 'DescribeInstances';
  const out = await client.describeInstances({ InstanceIds: [instanceId] });
  const instance = required(out.Reservations?.[0]?.Instances?.[0], 'Reservations[0].Instances[0]', action);
  const primary = instance.NetworkInterfaces?.find((eni) => eni.Attachment?.DeviceIndex === 0);
  const availabilityZone =
    seen.availabilityZone ??
    required(instance.Placement?.AvailabilityZone, 'Placement.AvailabilityZone', action);
  const vpcId = seen.vpcId ?? required(instance.VpcId, 'VpcId', action);
  const subnetId = seen.subnetId ?? required(instance.SubnetId, 'SubnetId', action);
  const filled: IdentityParts = {
    instanceId,
    instanceType: seen.instanceType ?? required(instance.InstanceType, 'InstanceType', action),
    availabilityZone,
    region: seen.region ?? regionOfZone(availabilityZone),
    vpcId,
    subnetId,
    primaryIp: seen.primaryIp ?? required(instance.PrivateIpAddress, 'PrivateIpAddress', action),
    primaryEniId:
      seen.primaryEniId ?? required(primary?.NetworkInterfaceId, 'primary NetworkInterfaceId', action),
    mac: seen.mac ?? required(primary?.MacAddress, 'primary MacAddress', action),
    securityGroupIds:
      seen.securityGroupIds ??
      (primary?.Groups ?? instance.SecurityGroups ?? []).flatMap((g) =>
        g.GroupId === undefined ? [] : [g.GroupId],
      ),
    subnetCidr: seen.subnetCidr ?? (await subnets.cidrOf(subnetId)),
    vpcCidrs: seen.vpcCidrs ?? (await vpcCidrs(client, vpcId)),
  };
  return required(complete(filled), 'identity', action);
}

async function vpcCidrs(client: Ec2Client, vpcId: string): Promise<string[]> {
  const out = await client.describeVpcs({ VpcIds: [vpcId] });
  const vpc = required(out.Vpcs?.[0], 'Vpcs[0]', 'DescribeVpcs');
  // Only associated blocks route: a block being disassociated must not be treated as the VPC's.
  const cidrs = (vpc.CidrBlockAssociationSet ?? [])
    .filter((assoc) => assoc.CidrBlockState?.State === 'associated')
    .flatMap((assoc) => (assoc.CidrBlock === undefined ? [] : [assoc.CidrBlock]));
  return cidrs.length > 0 ? cidrs : [required(vpc.CidrBlock, 'CidrBlock', 'DescribeVpcs')];
}
