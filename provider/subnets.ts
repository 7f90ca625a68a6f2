import type { Filter, Subnet } from '@aws-sdk/client-ec2';
import type { Clock } from '../time/clock.js';
import type { Ec2Client } from './ec2-client.js';
import type { SubnetInfo, SubnetQuery } from './ec2-network.js';
import { toSubnetInfo } from './ec2-shapes.js';
import { SUBNET_CLUSTER_TAG_PREFIX, SUBNET_ROLE_TAG } from './eni-tags.js';

/**
 * Ten minutes. Subnet discovery is refreshed on this period, never per ENI: free-address counts
 * move with every pod of the subnet, but in-flight deductions and the "subnet full" answer (which
 * skips the subnet for a while) keep the choice right in between, and hundreds of nodes
 * asking every minute would spend the account's DescribeSubnets bucket on nothing while idle.
 */
export const SUBNET_CACHE_TTL_DEFAULT_MS = 10 * 60_000;
/** DescribeSubnets pages; paginated calls are charged to EC2's larger bucket. */
const PAGE_SIZE = 1000;

/**
 * Whether a subnet of the node's VPC and AZ may hold pod ENIs:
 * - tagged kubernetes.io/role/cni with any value but "0": yes;
 * - the node's own subnet: yes unless tagged kubernetes.io/role/cni=0;
 * - with a cluster name, a subnet tagged for any cluster (cni.networking.k8s.aws/cluster/*) must be
 *   tagged for this one, so that clusters sharing a VPC keep to their own subnets.
 */
export function isCandidateSubnet(subnet: SubnetInfo, query: SubnetQuery): boolean {
  const role = subnet.tags[SUBNET_ROLE_TAG];
  const roleAllows =
    subnet.subnetId === query.nodeSubnetId ? role !== '0' : role !== undefined && role !== '0';
  if (!roleAllows) return false;
  if (query.clusterName === undefined || query.clusterName === '') return true;
  const clusterKeys = Object.keys(subnet.tags).filter((key) => key.startsWith(SUBNET_CLUSTER_TAG_PREFIX));
  return clusterKeys.length === 0 || clusterKeys.includes(SUBNET_CLUSTER_TAG_PREFIX + query.clusterName);
}

interface Cached<T> {
  value: T;
  expiresAt: number;
}

/** Subnet discovery and lookup by id, each cached for a TTL on the injected clock. */
export class SubnetCatalog {
  private readonly discovered = new Map<string, Cached<SubnetInfo[]>>();
  private readonly byId = new Map<string, Cached<SubnetInfo>>();
  /**
   * CIDRs never change for a subnet: once known (from DescribeSubnets or from instance metadata)
   * they are never asked again. Metadata knows the node's own subnet, so a role without
   * ec2:DescribeSubnets (the VPC CNI runs without it too) can still list the node's ENIs.
   */
  private readonly cidrs = new Map<string, string>();

  constructor(
    private readonly client: Ec2Client,
    private readonly clock: Clock,
    private readonly ttlMs: number = SUBNET_CACHE_TTL_DEFAULT_MS,
  ) {}

  async discover(query: SubnetQuery, options: { refresh?: boolean } = {}): Promise<SubnetInfo[]> {
    const key = [query.vpcId, query.availabilityZone, query.nodeSubnetId, query.clusterName ?? ''].join('|');
    const cached = this.discovered.get(key);
    if (cached && options.refresh !== true && this.clock.now() < cached.expiresAt) return cached.value;
    const all = await this.describeAll({
      Filters: [
        { Name: 'vpc-id', Values: [query.vpcId] },
        { Name: 'availability-zone', Values: [query.availabilityZone] },
      ],
    });
    const candidates = all.filter((subnet) => isCandidateSubnet(subnet, query));
    candidates.sort((a, b) => a.subnetId.localeCompare(b.subnetId));
    this.discovered.set(key, { value: candidates, expiresAt: this.clock.now() + this.ttlMs });
    return candidates;
  }

  async describe(subnetIds: readonly string[], options: { refresh?: boolean } = {}): Promise<SubnetInfo[]> {
    const now = this.clock.now();
    const missing = [...new Set(subnetIds)].filter((id) => {
      const cached = this.byId.get(id);
      return options.refresh === true || !cached || now >= cached.expiresAt;
    });
    if (missing.length > 0) await this.describeAll({ SubnetIds: missing });
    return subnetIds.flatMap((id) => {
      const cached = this.byId.get(id);
      return cached ? [cached.value] : [];
    });
  }

  /** A subnet's CIDR seen elsewhere (instance metadata): no DescribeSubnets is needed for it. */
  learnCidr(subnetId: string, cidr: string): void {
    this.cidrs.set(subnetId, cidr);
  }

  /** The CIDR of a subnet, from what is known when possible (CIDRs never change). */
  async cidrOf(subnetId: string): Promise<string> {
    const known = this.cidrs.get(subnetId);
    if (known !== undefined) return known;
    await this.learnCidrs([subnetId]);
    const learnt = this.cidrs.get(subnetId);
    if (learnt === undefined) throw new Error(`subnet ${subnetId} not found`);
    return learnt;
  }

  /** Asks EC2, in one call, for the CIDRs of those subnets that are not known yet. */
  async learnCidrs(subnetIds: readonly string[]): Promise<void> {
    const unknown = [...new Set(subnetIds)].filter((id) => !this.cidrs.has(id));
    if (unknown.length > 0) await this.describeAll({ SubnetIds: unknown });
  }

  private async describeAll(input: { Filters?: Filter[]; SubnetIds?: string[] }): Promise<SubnetInfo[]> {
    const subnets: Subnet[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.client.describeSubnets({
        ...input,
        // EC2 refuses MaxResults together with explicit ids; ids alone already count as filtered.
        ...(input.SubnetIds === undefined ? { MaxResults: PAGE_SIZE } : {}),
        ...(nextToken === undefined ? {} : { NextToken: nextToken }),
      });
      subnets.push(...(page.Subnets ?? []));
      nextToken = page.NextToken;
    } while (nextToken !== undefined && nextToken !== '');
    const infos = subnets.map(toSubnetInfo);
    const expiresAt = this.clock.now() + this.ttlMs;
    for (const info of infos) {
      this.byId.set(info.subnetId, { value: info, expiresAt });
      this.cidrs.set(info.subnetId, info.cidr);
    }
    return infos;
  }
}
