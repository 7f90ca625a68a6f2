/**
 * What the node's kernel must hold for the agent's ENIs and pods: a pure function of plain data
 * (no I/O), so every rule the agent installs is decided here and tested with tables.
 */
import { ipToNumber, numberToIp, parseCidr, subnetGateway } from '../ipam/address.js';
import {
  CONNMARK,
  POD_GATEWAY_OFFSET,
  PRIORITY_CONNMARK,
  PRIORITY_FROM_POD,
  PRIORITY_TO_POD,
  tableOf,
  type DesiredState,
  type EniFacts,
  type LinkSpec,
  type NatPlan,
  type NodeFacts,
  type PodFacts,
  type RouteSpec,
  type RuleSpec,
} from './model.js';

/** The facts are inconsistent (no primary ENI, a malformed CIDR): nothing may be written. */
export class DatapathFactsError extends Error {
  override readonly name = 'DatapathFactsError';
  readonly code = 'datapath-facts' as const;
}

export function desiredState(facts: NodeFacts): DesiredState {
  const primary = facts.enis.find((e) => e.primary);
  if (!primary) throw new DatapathFactsError('the node has no primary ENI among the ENIs the agent knows');
  if (facts.vpcCidrs.length === 0) throw new DatapathFactsError('the VPC has no IPv4 CIDR');
  for (const cidr of [...facts.vpcCidrs, ...facts.snat.excludeCidrs]) parseCidr(cidr);
  const enis = [...facts.enis].sort((a, b) => a.deviceNumber - b.deviceNumber);
  const byId = new Map(enis.map((e) => [e.eniId, e]));
  const pods = [...facts.pods].sort((a, b) => ipToNumber(a.address) - ipToNumber(b.address));
  return {
    links: enis.map((eni) => linkOf(eni, facts.mtu)),
    routes: enis.flatMap(routesOf),
    rules: [
      connmarkRule(),
      ...pods.flatMap((pod) => {
        const eni = byId.get(pod.eniId);
        return eni ? podRules(pod, eni, facts) : [];
      }),
    ],
    nat: natPlan(primary, facts),
  };
}

export function linkOf(eni: EniFacts, mtu: number): LinkSpec {
  return {
    mac: eni.mac.toLowerCase(),
    mtu,
    primary: eni.primary,
    // The node's own configuration (DHCP) owns the primary ENI's address; a secondary ENI carries
    // its primary address as a /32, so ARP on its link speaks with an address the ENI holds and
    // no route for its subnet lands in the main table.
    addresses: eni.primary ? [] : [`${eni.primaryIp}/32`],
  };
}

/** Table N+1: the subnet on the ENI's link and the default route via the subnet's router. */
export function routesOf(eni: EniFacts): RouteSpec[] {
  const table = tableOf(eni.deviceNumber);
  if (table === undefined) return [];
  const subnet = parseCidr(eni.subnetCidr);
  const mac = eni.mac.toLowerCase();
  return [
    { table, dst: subnet.text, mac },
    { table, dst: 'default', mac, gateway: subnetGateway(subnet) },
  ];
}

export function connmarkRule(): RuleSpec {
  return { priority: PRIORITY_CONNMARK, fwmark: { value: CONNMARK, mask: CONNMARK }, table: 'main' };
}

/**
 * A pod's rules: traffic to it by the main table (which holds the route to its veth); traffic
 * from it, when its address lives on a secondary ENI, by that ENI's table: for every destination
 * with external SNAT, else only for the destinations that are not SNATed (the VPC and the
 * excluded CIDRs), so that SNATed traffic leaves by the primary ENI with the node's address.
 */
export function podRules(
  pod: PodFacts,
  eni: EniFacts,
  facts: Pick<NodeFacts, 'vpcCidrs' | 'snat'>,
): RuleSpec[] {
  const address = `${pod.address}/32`;
  const rules: RuleSpec[] = [{ priority: PRIORITY_TO_POD, dst: address, table: 'main' }];
  const table = tableOf(eni.deviceNumber);
  if (eni.primary || table === undefined) return rules;
  if (facts.snat.external) return [...rules, { priority: PRIORITY_FROM_POD, src: address, table }];
  for (const dst of noSnatCidrs(facts)) rules.push({ priority: PRIORITY_FROM_POD, src: address, dst, table });
  return rules;
}

function noSnatCidrs(facts: Pick<NodeFacts, 'vpcCidrs' | 'snat'>): string[] {
  const seen = new Set<string>();
  for (const cidr of [...facts.vpcCidrs, ...facts.snat.excludeCidrs]) seen.add(parseCidr(cidr).text);
  return [...seen];
}

function natPlan(primary: EniFacts, facts: NodeFacts): NatPlan {
  return {
    primaryMac: primary.mac.toLowerCase(),
    primaryIp: primary.primaryIp,
    snat: !facts.snat.external,
    noSnatCidrs: noSnatCidrs(facts),
    randomize: facts.snat.randomize,
    connmark: CONNMARK,
  };
}

/** The gateway a pod of this subnet is given (see POD_GATEWAY_OFFSET). */
export function podGateway(subnetCidr: string): string {
  return numberToIp(parseCidr(subnetCidr).base + POD_GATEWAY_OFFSET);
}
