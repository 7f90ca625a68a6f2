/**
 * EC2 throttles each API on its own token bucket per account and Region; the bucket size and
 * refill rate depend on the API's category (EC2 API reference, "Request throttling"). The numbers
 * below are EC2's defaults: an account may have had them raised, hence the overrides.
 */

/** Every EC2 action the provider calls. deploy/iam-policy.json must list exactly these. */
export const EC2_APIS = [
  'DescribeInstances',
  'DescribeInstanceTypes',
  'DescribeNetworkInterfaces',
  'DescribeSubnets',
  'DescribeVpcs',
  'CreateNetworkInterface',
  'AttachNetworkInterface',
  'ModifyNetworkInterfaceAttribute',
  'DetachNetworkInterface',
  'DeleteNetworkInterface',
  'AssignPrivateIpAddresses',
  'UnassignPrivateIpAddresses',
] as const;
export type Ec2Api = (typeof EC2_APIS)[number];

export interface TokenBucket {
  /** Tokens available at once (the burst). */
  size: number;
  /** Tokens added per second, up to `size`. */
  refillPerSecond: number;
}

/**
 * Non-mutating calls that are filtered or paginated. Every Describe this provider sends carries a
 * filter, ids or MaxResults, so it is always charged to this bucket, never the smaller one below.
 */
export const DESCRIBE_FILTERED: TokenBucket = { size: 100, refillPerSecond: 20 };
/** Unfiltered and unpaginated Describe calls: kept for reference, the provider never sends one. */
export const DESCRIBE_UNFILTERED: TokenBucket = { size: 50, refillPerSecond: 10 };
/** DescribeSubnets and DescribeInstanceTypes have their own buckets of the filtered size. */
export const DESCRIBE_CATALOG: TokenBucket = { size: 100, refillPerSecond: 20 };
/** ENI and address mutations: a large burst but a slow refill, the scarcest budget of a cluster. */
export const ENI_MUTATION: TokenBucket = { size: 100, refillPerSecond: 5 };
/** CreateTags: unused (tags go in CreateNetworkInterface's TagSpecifications), listed for the docs. */
export const CREATE_TAGS: TokenBucket = { size: 100, refillPerSecond: 10 };
/** Attach and detach: the smallest burst. */
export const ATTACH_DETACH: TokenBucket = { size: 50, refillPerSecond: 5 };

export const ACCOUNT_BUCKETS: Readonly<Record<Ec2Api, TokenBucket>> = {
  DescribeInstances: DESCRIBE_FILTERED,
  DescribeNetworkInterfaces: DESCRIBE_FILTERED,
  DescribeVpcs: DESCRIBE_FILTERED,
  DescribeSubnets: DESCRIBE_CATALOG,
  DescribeInstanceTypes: DESCRIBE_CATALOG,
  CreateNetworkInterface: ENI_MUTATION,
  DeleteNetworkInterface: ENI_MUTATION,
  AssignPrivateIpAddresses: ENI_MUTATION,
  UnassignPrivateIpAddresses: ENI_MUTATION,
  ModifyNetworkInterfaceAttribute: ENI_MUTATION,
  AttachNetworkInterface: ATTACH_DETACH,
  DetachNetworkInterface: ATTACH_DETACH,
};

/**
 * Without a shared budget each node spends its own share of the account's buckets. A tenth lets a
 * node burst 10 assignments while leaving the account room for its neighbours and for other tools
 * (Karpenter, the console); a cluster with many nodes should share one budget through Redis instead.
 */
export const NODE_SHARE_DEFAULT = 0.1;
/**
 * A node's burst (the bucket size) by default: half of the account's. A burst is when a node needs
 * its ENIs at once (200 pods scheduled together); a tenth of the Attach bucket (5 calls) would hold
 * its 6th ENI back by seconds. Bursts of many nodes at once are what the account bucket and the
 * RequestLimitExceeded back-off (or the Redis-shared budget) are for; the sustained rate stays at
 * NODE_SHARE_DEFAULT of the refill.
 */
export const NODE_BURST_SHARE_DEFAULT = 0.5;
/**
 * With the Redis-shared budget the whole cluster spends one limiter per API, modelled on EC2's own
 * bucket for that API (the account's size and refill), so it is never slower than nodes spending
 * their own shares. Other tools of the account (Karpenter, CSI drivers) spend the same buckets: their
 * load shows as RequestLimitExceeded, which empties the shared bucket for every node at once, and
 * lower shares (ENI_IPAM_EC2_RATE_*) leave them a fixed part.
 */
export const CLUSTER_SHARE_DEFAULT = 1;

/**
 * The knobs operators turn: one fraction per family of buckets (ENI_IPAM_EC2_RATE_DESCRIBE,
 * _MUTATE, _ATTACH, _TAGS in the agent's config), since nobody tunes twelve APIs one by one.
 */
export type RateFamily = 'describe' | 'mutate' | 'attach' | 'tags';

export const RATE_FAMILY: Readonly<Record<Ec2Api, RateFamily>> = {
  DescribeInstances: 'describe',
  DescribeNetworkInterfaces: 'describe',
  DescribeVpcs: 'describe',
  DescribeSubnets: 'describe',
  DescribeInstanceTypes: 'describe',
  CreateNetworkInterface: 'mutate',
  DeleteNetworkInterface: 'mutate',
  AssignPrivateIpAddresses: 'mutate',
  UnassignPrivateIpAddresses: 'mutate',
  ModifyNetworkInterfaceAttribute: 'mutate',
  AttachNetworkInterface: 'attach',
  DetachNetworkInterface: 'attach',
};

export interface RateLimitOptions {
  /** Fraction of each account bucket (size and refill) this limiter may spend, in (0, 1]. */
  share?: number;
  /** Per-family fractions; a family not listed uses `share`. */
  familyShares?: Partial<Record<RateFamily, number>>;
  /** Absolute buckets for some APIs, e.g. when the account's limits were raised; not scaled by share. */
  overrides?: Partial<Record<Ec2Api, TokenBucket>>;
}

/** The bucket the client-side limiter enforces for each API. */
export function effectiveBuckets(options: RateLimitOptions, shared: boolean): Record<Ec2Api, TokenBucket> {
  const defaultShare = options.share ?? (shared ? CLUSTER_SHARE_DEFAULT : NODE_SHARE_DEFAULT);
  const defaultBurstShare = options.share ?? (shared ? CLUSTER_SHARE_DEFAULT : NODE_BURST_SHARE_DEFAULT);
  const result = {} as Record<Ec2Api, TokenBucket>;
  for (const api of EC2_APIS) {
    const explicit = options.familyShares?.[RATE_FAMILY[api]];
    const share = explicit ?? defaultShare;
    const burstShare = explicit ?? defaultBurstShare;
    if (!(share > 0 && share <= 1))
      throw new RangeError(`rate limit share for ${api} must be in (0, 1], got ${share}`);
    const override = options.overrides?.[api];
    const account = ACCOUNT_BUCKETS[api];
    const bucket = override ?? {
      // A bucket smaller than one token could never admit a call.
      size: Math.max(1, Math.floor(account.size * burstShare)),
      refillPerSecond: account.refillPerSecond * share,
    };
    if (!(bucket.size >= 1 && bucket.refillPerSecond > 0)) {
      throw new RangeError(`rate limit for ${api} must have size >= 1 and refill > 0`);
    }
    result[api] = bucket;
  }
  return result;
}
