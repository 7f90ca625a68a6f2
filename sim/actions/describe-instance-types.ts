import { knownInstanceTypes, lookupInstanceType, type InstanceLimits } from '../../ipam/instance-types.js';
import { Ec2WireError } from '../errors.js';
import { compileFilters, type FilterFields } from '../filters.js';
import { paginate } from '../pagination.js';
import { maxResults } from '../query-protocol.js';
import { itemSet, leaf, node } from '../xml.js';
import type { ActionContext } from './action.js';

const FIELDS: FilterFields<InstanceLimits> = {
  'instance-type': (t) => [t.instanceType],
  hypervisor: (t) => [t.hypervisor === 'none' ? undefined : t.hypervisor],
  'bare-metal': (t) => [String(t.bareMetal)],
  'network-info.maximum-network-interfaces': (t) => [String(t.maxEnis)],
  'network-info.ipv4-addresses-per-interface': (t) => [String(t.ipv4PerEni)],
};

/** DescribeInstanceTypes answered from the same table ipam/ bundles, so both sides agree on limits. */
export function describeInstanceTypes({ params }: ActionContext): string {
  const names = params.list('InstanceType');
  const max = maxResults(params, 5, 100);
  let types: InstanceLimits[];
  if (names.length > 0) {
    types = names.map((name) => {
      const limits = lookupInstanceType(name);
      if (!limits)
        throw new Ec2WireError(
          'InvalidInstanceType',
          `The following supplied instance types do not exist: [${name}]`,
        );
      return limits;
    });
  } else {
    types = knownInstanceTypes()
      .sort()
      .map((name) => lookupInstanceType(name))
      .filter((t): t is InstanceLimits => t !== undefined);
  }
  const match = compileFilters(params.filters(), FIELDS);
  // Without names EC2 pages by 100 even when MaxResults is absent.
  const page = paginate(
    types.filter(match),
    (t) => t.instanceType,
    names.length > 0 ? max : (max ?? 100),
    params.get('NextToken'),
  );
  return itemSet('instanceTypeSet', page.items, renderType) + leaf('nextToken', page.nextToken);
}

function renderType(t: InstanceLimits): string {
  return [
    leaf('instanceType', t.instanceType),
    leaf('currentGeneration', true),
    leaf('bareMetal', t.bareMetal),
    // Bare metal types have no hypervisor; EC2 leaves the member out.
    t.hypervisor === 'none' ? '' : leaf('hypervisor', t.hypervisor),
    node('vCpuInfo', leaf('defaultVCpus', t.vcpus)),
    node(
      'networkInfo',
      leaf('maximumNetworkInterfaces', t.maxEnis),
      leaf('maximumNetworkCards', 1),
      leaf('defaultNetworkCardIndex', 0),
      itemSet(
        'networkCards',
        [0],
        (index) => leaf('networkCardIndex', index) + leaf('maximumNetworkInterfaces', t.maxEnis),
      ),
      leaf('ipv4AddressesPerInterface', t.ipv4PerEni),
      leaf('ipv6AddressesPerInterface', t.ipv4PerEni),
      leaf('ipv6Supported', true),
      leaf('enaSupport', t.hypervisor === 'nitro' || t.bareMetal ? 'required' : 'unsupported'),
    ),
  ].join('');
}
