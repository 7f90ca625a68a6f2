import { Ec2WireError } from '../errors.js';
import { compileFilters, type FilterFields } from '../filters.js';
import type { SimSubnet } from '../model.js';
import { paginate } from '../pagination.js';
import { maxResults } from '../query-protocol.js';
import { itemSet, leaf, tagSet } from '../xml.js';
import type { ActionContext } from './action.js';

const FIELDS: FilterFields<SimSubnet> = {
  'subnet-id': (s) => [s.subnetId],
  'vpc-id': (s) => [s.vpcId],
  'availability-zone': (s) => [s.availabilityZone],
  'cidr-block': (s) => [s.cidr],
  state: () => ['available'],
  'available-ip-address-count': (s) => [String(s.availableIpAddressCount)],
};

/** AvailableIpAddressCount is exact (the size of the subnet's free set) as of the visibility delay. */
export function describeSubnets({ state, params }: ActionContext): string {
  const ids = params.list('SubnetId');
  const match = compileFilters(params.filters(), FIELDS, (s) => s.tags);
  let subnets = state.visibleSubnets();
  if (ids.length > 0) {
    const missing = ids.find((id) => !subnets.some((s) => s.subnetId === id));
    if (missing !== undefined)
      throw new Ec2WireError('InvalidSubnetID.NotFound', `The subnet ID '${missing}' does not exist`);
    subnets = subnets.filter((s) => ids.includes(s.subnetId));
  }
  const sorted = subnets.filter(match).sort((a, b) => (a.subnetId < b.subnetId ? -1 : 1));
  const page = paginate(sorted, (s) => s.subnetId, maxResults(params, 5, 1000), params.get('NextToken'));
  const owner = state.config.accountId;
  return (
    itemSet('subnetSet', page.items, (s) =>
      [
        leaf('subnetId', s.subnetId),
        leaf('subnetArn', `arn:aws:ec2:${state.config.region}:${owner}:subnet/${s.subnetId}`),
        leaf('state', 'available'),
        leaf('vpcId', s.vpcId),
        leaf('ownerId', owner),
        leaf('cidrBlock', s.cidr),
        leaf('availableIpAddressCount', s.availableIpAddressCount),
        leaf('availabilityZone', s.availabilityZone),
        leaf('defaultForAz', false),
        leaf('mapPublicIpOnLaunch', false),
        tagSet(s.tags),
      ].join(''),
    ) + leaf('nextToken', page.nextToken)
  );
}
