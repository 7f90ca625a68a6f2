import { eniStatus, type SimEni } from '../model.js';
import { isoTime, itemSet, leaf, node, tagSet } from '../xml.js';

/**
 * `render` remembering its XML per ENI record. Records are immutable snapshots (a change stores a
 * new one), and a Describe over the whole account renders the same settled ENIs call after call.
 */
function memoPerRecord(
  render: (eni: SimEni, ownerId: string) => string,
): (eni: SimEni, ownerId: string) => string {
  const rendered = new WeakMap<SimEni, { ownerId: string; xml: string }>();
  return (eni: SimEni, ownerId: string): string => {
    const hit = rendered.get(eni);
    if (hit?.ownerId === ownerId) return hit.xml;
    const xml = render(eni, ownerId);
    rendered.set(eni, { ownerId, xml });
    return xml;
  };
}

/** The `item` body of an ENI, as DescribeNetworkInterfaces and CreateNetworkInterface return it. */
export const renderEni = memoPerRecord(renderEniXml);

/** The ENI as DescribeInstances lists it under an instance (a narrower shape than the ENI's own). */
export const renderInstanceEni = memoPerRecord(renderInstanceEniXml);

function renderEniXml(eni: SimEni, ownerId: string): string {
  const a = eni.attachment;
  return [
    leaf('networkInterfaceId', eni.eniId),
    leaf('subnetId', eni.subnetId),
    leaf('vpcId', eni.vpcId),
    leaf('availabilityZone', eni.availabilityZone),
    leaf('description', eni.description),
    leaf('ownerId', ownerId),
    leaf('requesterManaged', false),
    leaf('status', eniStatus(eni)),
    leaf('macAddress', eni.macAddress),
    leaf('privateIpAddress', eni.primaryIp),
    leaf('sourceDestCheck', true),
    leaf('interfaceType', 'interface'),
    itemSet('groupSet', eni.securityGroupIds, (id) => leaf('groupId', id) + leaf('groupName', id)),
    a
      ? node(
          'attachment',
          leaf('attachmentId', a.attachmentId),
          leaf('instanceId', a.instanceId),
          leaf('instanceOwnerId', ownerId),
          leaf('deviceIndex', a.deviceIndex),
          leaf('networkCardIndex', a.networkCardIndex),
          leaf('status', a.status),
          leaf('attachTime', isoTime(a.attachTime)),
          leaf('deleteOnTermination', a.deleteOnTermination),
        )
      : '',
    tagSet(eni.tags),
    itemSet(
      'privateIpAddressesSet',
      [eni.primaryIp, ...eni.secondaryIps],
      (ip) => leaf('privateIpAddress', ip) + leaf('primary', ip === eni.primaryIp),
    ),
    itemSet('ipv4PrefixSet', eni.prefixes, (prefix) => leaf('ipv4Prefix', prefix)),
    itemSet('ipv6AddressesSet', [], () => ''),
  ].join('');
}

function renderInstanceEniXml(eni: SimEni, ownerId: string): string {
  const a = eni.attachment;
  return [
    leaf('networkInterfaceId', eni.eniId),
    leaf('subnetId', eni.subnetId),
    leaf('vpcId', eni.vpcId),
    leaf('description', eni.description),
    leaf('ownerId', ownerId),
    leaf('status', eniStatus(eni)),
    leaf('macAddress', eni.macAddress),
    leaf('privateIpAddress', eni.primaryIp),
    leaf('sourceDestCheck', true),
    leaf('interfaceType', 'interface'),
    itemSet('groupSet', eni.securityGroupIds, (id) => leaf('groupId', id) + leaf('groupName', id)),
    a
      ? node(
          'attachment',
          leaf('attachmentId', a.attachmentId),
          leaf('deviceIndex', a.deviceIndex),
          leaf('networkCardIndex', a.networkCardIndex),
          leaf('status', a.status),
          leaf('attachTime', isoTime(a.attachTime)),
          leaf('deleteOnTermination', a.deleteOnTermination),
        )
      : '',
    itemSet(
      'privateIpAddressesSet',
      [eni.primaryIp, ...eni.secondaryIps],
      (ip) => leaf('privateIpAddress', ip) + leaf('primary', ip === eni.primaryIp),
    ),
    itemSet('ipv4PrefixSet', eni.prefixes, (prefix) => leaf('ipv4Prefix', prefix)),
  ].join('');
}
