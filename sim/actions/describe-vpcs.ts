import { Ec2WireError } from '../errors.js';
import { compileFilters, type FilterFields } from '../filters.js';
import type { SimVpc } from '../model.js';
import { paginate } from '../pagination.js';
import { maxResults } from '../query-protocol.js';
import { itemSet, leaf, node } from '../xml.js';
import type { ActionContext } from './action.js';

const FIELDS: FilterFields<SimVpc> = {
  'vpc-id': (v) => [v.vpcId],
  'cidr-block-association.cidr-block': (v) => [v.cidr],
  cidr: (v) => [v.cidr],
  state: () => ['available'],
  'is-default': () => ['false'],
};

/** VPCs with one associated IPv4 CIDR block (the provider reads CidrBlockAssociationSet). */
export function describeVpcs({ state, params }: ActionContext): string {
  const ids = params.list('VpcId');
  let vpcs = state.vpcList();
  if (ids.length > 0) {
    const missing = ids.find((id) => !vpcs.some((v) => v.vpcId === id));
    if (missing !== undefined)
      throw new Ec2WireError('InvalidVpcID.NotFound', `The vpc ID '${missing}' does not exist`);
    vpcs = vpcs.filter((v) => ids.includes(v.vpcId));
  }
  const match = compileFilters(params.filters(), FIELDS);
  const sorted = vpcs.filter(match).sort((a, b) => (a.vpcId < b.vpcId ? -1 : 1));
  const page = paginate(sorted, (v) => v.vpcId, maxResults(params, 5, 1000), params.get('NextToken'));
  return (
    itemSet('vpcSet', page.items, (v) =>
      [
        leaf('vpcId', v.vpcId),
        leaf('ownerId', state.config.accountId),
        leaf('state', 'available'),
        leaf('cidrBlock', v.cidr),
        itemSet('cidrBlockAssociationSet', [v.cidr], (cidr) =>
          [
            leaf('associationId', `vpc-cidr-assoc-${v.vpcId.replace(/^vpc-/, '')}`),
            leaf('cidrBlock', cidr),
            node('cidrBlockState', leaf('state', 'associated')),
          ].join(''),
        ),
        leaf('instanceTenancy', 'default'),
        leaf('isDefault', false),
      ].join(''),
    ) + leaf('nextToken', page.nextToken)
  );
}
