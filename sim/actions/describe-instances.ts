import { Ec2WireError } from '../errors.js';
import { compileFilters, type FilterFields } from '../filters.js';
import type { SimEni, SimInstance } from '../model.js';
import { paginate } from '../pagination.js';
import { maxResults } from '../query-protocol.js';
import { isoTime, itemSet, leaf, node, tagSet } from '../xml.js';
import type { ActionContext } from './action.js';
import { renderInstanceEni } from './render.js';

const FIELDS: FilterFields<SimInstance> = {
  'instance-id': (i) => [i.instanceId],
  'instance-type': (i) => [i.instanceType],
  'instance-state-name': (i) => [i.state],
  'subnet-id': (i) => [i.subnetId],
  'vpc-id': (i) => [i.vpcId],
  'availability-zone': (i) => [i.availabilityZone],
};

/** EC2's instance state codes. */
export const STATE_CODE = { pending: 0, running: 16, 'shutting-down': 32, terminated: 48 } as const;

/** Terminated instances stay listed (state `terminated`), as EC2 keeps them for about an hour. */
export function describeInstances({ state, params }: ActionContext): string {
  const ids = params.list('InstanceId');
  const max = maxResults(params, 5, 1000);
  let instances = state.visibleInstances();
  if (ids.length > 0) {
    const missing = ids.find((id) => !instances.some((i) => i.instanceId === id));
    if (missing !== undefined)
      throw new Ec2WireError('InvalidInstanceID.NotFound', `The instance ID '${missing}' does not exist`);
    instances = instances.filter((i) => ids.includes(i.instanceId));
  }
  const match = compileFilters(params.filters(), FIELDS, (i) => i.tags);
  const sorted = instances.filter(match).sort((a, b) => (a.instanceId < b.instanceId ? -1 : 1));
  const page = paginate(sorted, (i) => i.instanceId, max, params.get('NextToken'));
  const owner = state.config.accountId;
  return (
    itemSet('reservationSet', page.items, (instance) =>
      [
        leaf('reservationId', `r-${instance.instanceId.slice(2)}`),
        leaf('ownerId', owner),
        itemSet('groupSet', [], () => ''),
        itemSet('instancesSet', [instance], (i) =>
          renderInstance(
            i,
            state.visibleEnis(
              (e) => e.attachment?.instanceId === i.instanceId,
              state.eniIdsOfInstance(i.instanceId),
            ),
            owner,
          ),
        ),
      ].join(''),
    ) + leaf('nextToken', page.nextToken)
  );
}

function renderInstance(i: SimInstance, enis: SimEni[], owner: string): string {
  const running = i.state === 'running';
  const primary = enis.find((e) => e.eniId === i.primaryEniId);
  const sorted = [...enis].sort(
    (a, b) => (a.attachment?.deviceIndex ?? 0) - (b.attachment?.deviceIndex ?? 0),
  );
  return [
    leaf('instanceId', i.instanceId),
    leaf('imageId', 'ami-0sim'),
    node('instanceState', leaf('code', STATE_CODE[i.state]), leaf('name', i.state)),
    leaf('instanceType', i.instanceType),
    leaf('launchTime', isoTime(i.launchedAt)),
    node('placement', leaf('availabilityZone', i.availabilityZone), leaf('tenancy', 'default')),
    running ? leaf('subnetId', i.subnetId) : '',
    running ? leaf('vpcId', i.vpcId) : '',
    running && primary ? leaf('privateIpAddress', primary.primaryIp) : '',
    itemSet(
      'groupSet',
      running ? i.securityGroupIds : [],
      (id) => leaf('groupId', id) + leaf('groupName', id),
    ),
    tagSet(i.tags),
    itemSet('networkInterfaceSet', running ? sorted : [], (e) => renderInstanceEni(e, owner)),
  ].join('');
}
