import { Ec2WireError, eniNotFound } from '../errors.js';
import { compileFilters, type FilterFields } from '../filters.js';
import { eniStatus, type SimEni } from '../model.js';
import { paginate } from '../pagination.js';
import { maxResults, type Filter } from '../query-protocol.js';
import type { SimState } from '../state.js';
import { itemSet, leaf } from '../xml.js';
import type { ActionContext } from './action.js';
import { renderEni } from './render.js';

const FIELDS: FilterFields<SimEni> = {
  'network-interface-id': (e) => [e.eniId],
  'attachment.instance-id': (e) => [e.attachment?.instanceId],
  'attachment.attachment-id': (e) => [e.attachment?.attachmentId],
  'attachment.status': (e) => [e.attachment?.status],
  'attachment.device-index': (e) => [e.attachment && String(e.attachment.deviceIndex)],
  status: (e) => [eniStatus(e)],
  'subnet-id': (e) => [e.subnetId],
  'vpc-id': (e) => [e.vpcId],
  'availability-zone': (e) => [e.availabilityZone],
  description: (e) => [e.description],
  'mac-address': (e) => [e.macAddress],
  'private-ip-address': (e) => [e.primaryIp, ...e.secondaryIps],
  'ipv4-prefix': (e) => e.prefixes,
  'group-id': (e) => e.securityGroupIds,
  'requester-managed': () => ['false'],
};

/** The ENIs of the named instances, when the request filters by exact attachment.instance-id. */
function candidatesByInstance(state: SimState, filters: readonly Filter[]): Set<string> | undefined {
  const byInstance = filters.find((f) => f.name === 'attachment.instance-id');
  if (!byInstance || byInstance.values.some((v) => /[*?]/.test(v))) return undefined;
  const ids = new Set<string>();
  for (const instanceId of byInstance.values)
    for (const id of state.eniIdsOfInstance(instanceId)) ids.add(id);
  return ids;
}

/**
 * Sees ENIs as they were `visibilityDelayMs` ago. Naming an ENI that is not (yet) visible fails the
 * whole call with InvalidNetworkInterfaceID.NotFound, which is how a just-created ENI looks in EC2.
 */
export function describeNetworkInterfaces({ state, params }: ActionContext): string {
  const ids = params.list('NetworkInterfaceId');
  const max = maxResults(params, 5, 1000);
  if (ids.length > 0 && max !== undefined) {
    throw new Ec2WireError(
      'InvalidParameterCombination',
      'The parameter NetworkInterfaceIds cannot be used with the parameter MaxResults',
    );
  }
  const filters = params.filters();
  const match = compileFilters(filters, FIELDS, (e) => e.tags);
  let enis: SimEni[];
  if (ids.length > 0) {
    const named = state.visibleEnis(undefined, new Set(ids));
    const found = new Set(named.map((e) => e.eniId));
    const missing = ids.find((id) => !found.has(id));
    if (missing !== undefined) throw eniNotFound(missing);
    enis = named.filter(match);
  } else {
    // Filtered while scanning the account: only the matches are sorted into pages.
    enis = state.visibleEnis(match, candidatesByInstance(state, filters));
  }
  const page = paginate(enis, (e) => e.eniId, max, params.get('NextToken'));
  const owner = state.config.accountId;
  return (
    itemSet('networkInterfaceSet', page.items, (e) => renderEni(e, owner)) + leaf('nextToken', page.nextToken)
  );
}
