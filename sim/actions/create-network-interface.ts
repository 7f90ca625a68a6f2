import { Ec2WireError, invalidParameterValue } from '../errors.js';
import { ipToNumber } from '../../ipam/address.js';
import type { SimEni } from '../model.js';
import { node } from '../xml.js';
import type { ActionContext } from './action.js';
import { allocateAll } from './allocate.js';
import { renderEni } from './render.js';
import { tagsFromSpecifications } from './tag-specifications.js';

/** EC2's default regional quota of network interfaces. */
export const DEFAULT_ENI_QUOTA = 5000;
const DEFAULT_SECURITY_GROUP = 'sg-0default';

/**
 * Creates an `available` ENI with its primary address plus secondaries or /28 prefixes, all or
 * nothing. Per-instance-type limits do not apply yet (the ENI is attached to nothing); they are
 * checked at attach time.
 */
export function createNetworkInterface({ state, params }: ActionContext): string {
  const subnetId = params.require('SubnetId');
  const subnet = state.currentSubnet(subnetId);
  if (!subnet)
    throw new Ec2WireError('InvalidSubnetID.NotFound', `The subnet ID '${subnetId}' does not exist`);
  const ipCount = params.int('SecondaryPrivateIpAddressCount') ?? 0;
  const prefixCount = params.int('Ipv4PrefixCount') ?? 0;
  if (ipCount < 0 || prefixCount < 0)
    throw invalidParameterValue('Address and prefix counts must not be negative');
  if (ipCount > 0 && prefixCount > 0) {
    throw new Ec2WireError(
      'InvalidParameterCombination',
      'You cannot specify both secondary private IP addresses and IPv4 prefixes',
    );
  }
  if (state.liveEniCount() >= (state.config.networkInterfaceQuota ?? DEFAULT_ENI_QUOTA)) {
    throw new Ec2WireError(
      'NetworkInterfaceLimitExceeded',
      'You have reached the maximum number of network interfaces for this Region',
    );
  }
  const tags = tagsFromSpecifications(params, 'network-interface');
  const groups = params.list('SecurityGroupId');
  const requestedPrimary = params.get('PrivateIpAddress');
  const addresses = state.addressesOf(subnetId);
  const allocated = allocateAll(addresses, subnetId, {
    primary: requestedPrimary === undefined ? 'any' : ipToNumber(requestedPrimary),
    ipCount,
    prefixCount,
  });
  const eni: SimEni = {
    eniId: state.newId('eni'),
    subnetId,
    vpcId: subnet.vpcId,
    availabilityZone: subnet.availabilityZone,
    description: params.get('Description') ?? '',
    macAddress: state.newMac(),
    primaryIp: allocated.primary ?? '',
    secondaryIps: allocated.ips,
    prefixes: allocated.prefixes,
    securityGroupIds: groups.length > 0 ? groups : [DEFAULT_SECURITY_GROUP],
    tags,
    attachment: undefined,
    createdAt: state.now(),
  };
  state.putEni(eni);
  state.updateSubnet(subnetId);
  return node('networkInterface', renderEni(eni, state.config.accountId));
}
