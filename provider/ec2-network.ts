import type { InstanceLimits } from '../ipam/instance-types.js';

/**
 * The one seam between eni-ipam and AWS. Everything the agent needs from EC2 and the instance
 * metadata service, in the agent's own types: no SDK shape crosses it. Mutations return only once
 * EC2's Describe calls show their effect (EC2 is eventually consistent), so the caller may plan on
 * the result at once.
 */
export interface Ec2Network {
  /** Who this node is: IMDSv2 first, DescribeInstances as the fallback. */
  identity(): Promise<InstanceIdentity>;
  /** DescribeInstanceTypes (cached per type); the bundled table when the call is denied. */
  instanceLimits(instanceType: string): Promise<InstanceLimits>;
  /** ENIs attached to the instance, with their secondary addresses and /28 prefixes. */
  listAttachedEnis(instanceId: string): Promise<AttachedEni[]>;
  /** Candidate subnets for pod ENIs (tag rules in the README); cached, `refresh` bypasses the cache. */
  discoverSubnets(query: SubnetQuery, options?: { refresh?: boolean }): Promise<SubnetInfo[]>;
  /** Describes subnets by id (custom networking names them explicitly). */
  describeSubnets(subnetIds: readonly string[]): Promise<SubnetInfo[]>;
  /**
   * CreateNetworkInterface with its addresses and tags in one call, attach at a free device index,
   * DeleteOnTermination. Any failure after the create deletes the created ENI before rethrowing.
   */
  createAndAttachEni(request: CreateEniRequest): Promise<AttachedEni>;
  /** Returns the addresses EC2 assigned. */
  assignIps(eniId: string, count: number): Promise<string[]>;
  /** Returns the /28 prefixes EC2 assigned, as CIDR strings. */
  assignPrefixes(eniId: string, count: number): Promise<string[]>;
  unassignIps(eniId: string, ips: readonly string[]): Promise<void>;
  unassignPrefixes(eniId: string, prefixes: readonly string[]): Promise<void>;
  /** Detach (when attached), wait for `available`, delete. An ENI that is already gone is success. */
  detachAndDeleteEni(eniId: string): Promise<void>;
  /**
   * ENIs this project created that are `available` (attached to nothing), tagged with an instance id
   * that is `instanceId` or no longer exists, and older than `graceMs` (and, when given, created
   * before `createdBefore`, ms since the epoch).
   */
  findLeakedEnis(instanceId: string, graceMs: number, createdBefore?: number): Promise<LeakedEni[]>;
}

export interface InstanceIdentity {
  instanceId: string;
  instanceType: string;
  region: string;
  availabilityZone: string;
  vpcId: string;
  vpcCidrs: string[];
  /** The subnet of the primary ENI. */
  subnetId: string;
  subnetCidr: string;
  primaryEniId: string;
  primaryIp: string;
  mac: string;
  securityGroupIds: string[];
}

export interface AttachedEni {
  eniId: string;
  attachmentId: string | undefined;
  deviceIndex: number;
  /** The instance's primary ENI (device index 0). */
  primary: boolean;
  subnetId: string;
  subnetCidr: string;
  macAddress: string;
  primaryIp: string;
  /** Secondary private IPv4 addresses, the primary excluded. */
  secondaryIps: string[];
  /** Delegated /28 prefixes as CIDR strings, e.g. "10.0.3.16/28". */
  prefixes: string[];
  securityGroupIds: string[];
  tags: Record<string, string>;
  /**
   * Why eni-ipam must not use this ENI (a trunk or EFA ENI, another interface type, the
   * no_manage tag, another network card); it still takes one of the instance's ENI slots.
   */
  unmanaged?: string;
}

export interface SubnetQuery {
  vpcId: string;
  availabilityZone: string;
  /** The node's own subnet: a candidate unless tagged kubernetes.io/role/cni=0. */
  nodeSubnetId: string;
  /** With a cluster name, subnets carrying any cni.networking.k8s.aws/cluster/* tag must carry this one. */
  clusterName?: string;
}

export interface SubnetInfo {
  subnetId: string;
  availabilityZone: string;
  cidr: string;
  availableIpCount: number;
  tags: Record<string, string>;
}

export interface CreateEniRequest {
  instanceId: string;
  subnetId: string;
  securityGroupIds: string[];
  /** Exactly one of these is non-zero. */
  secondaryIpCount: number;
  prefixCount: number;
  description?: string;
  /** Tags beyond the standard ones (instance id, creation time, cluster, ADDITIONAL_ENI_TAGS). */
  tags?: Record<string, string>;
}

export interface LeakedEni {
  eniId: string;
  subnetId: string;
  /** The instance id tag; the instance may no longer exist. */
  instanceId: string | undefined;
  createdAt: number | undefined;
}

/**
 * How the agent reacts to a failed call depends only on its class:
 * - throttled, transient, not-yet-visible: retried inside the provider; surfaced only when retries run out
 * - subnet-full: InsufficientFreeAddressesInSubnet / InsufficientCidrBlocks; `subnetId` says which
 * - limit: AttachmentLimitExceeded / PrivateIpAddressLimitExceeded / NetworkInterfaceLimitExceeded
 * - permanent: anything else (UnauthorizedOperation, InvalidParameterValue, ...)
 */
export type Ec2ErrorClass =
  'throttled' | 'transient' | 'not-yet-visible' | 'subnet-full' | 'limit' | 'permanent';
