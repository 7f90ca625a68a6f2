import type { Clock } from '../time/clock.js';
import type { QueryParams } from './query-protocol.js';

export interface BucketSpec {
  /** Tokens the bucket holds when full: the burst allowed. */
  capacity: number;
  /** Tokens added per second. */
  refillPerSecond: number;
}

/**
 * EC2's request-rate buckets per account and Region (EC2 developer guide, "Request throttling"):
 * every API has its own bucket, sized by its category. Describe calls that name no ids, no filter and
 * no MaxResults fall in the smaller "unfiltered and unpaginated" category.
 */
const NON_MUTATING: BucketSpec = { capacity: 100, refillPerSecond: 20 };
const UNFILTERED_NON_MUTATING: BucketSpec = { capacity: 50, refillPerSecond: 10 };
const ENI_MUTATIONS: BucketSpec = { capacity: 100, refillPerSecond: 5 };
const ATTACHMENTS: BucketSpec = { capacity: 50, refillPerSecond: 5 };
const TAGGING: BucketSpec = { capacity: 100, refillPerSecond: 10 };
const OTHER_MUTATING: BucketSpec = { capacity: 50, refillPerSecond: 5 };

const BY_ACTION: Readonly<Record<string, BucketSpec>> = {
  CreateNetworkInterface: ENI_MUTATIONS,
  DeleteNetworkInterface: ENI_MUTATIONS,
  AssignPrivateIpAddresses: ENI_MUTATIONS,
  UnassignPrivateIpAddresses: ENI_MUTATIONS,
  ModifyNetworkInterfaceAttribute: ENI_MUTATIONS,
  AttachNetworkInterface: ATTACHMENTS,
  DetachNetworkInterface: ATTACHMENTS,
  CreateTags: TAGGING,
  DeleteTags: TAGGING,
  // DescribeSubnets and DescribeInstanceTypes are not in the unfiltered category.
  DescribeSubnets: NON_MUTATING,
  DescribeInstanceTypes: NON_MUTATING,
};

/** The bucket a request draws from: its key (one per API, and per category for Describe*) and size. */
export function bucketFor(action: string, params: QueryParams): { key: string; spec: BucketSpec } {
  const listed = BY_ACTION[action];
  if (listed) return { key: action, spec: listed };
  if (!action.startsWith('Describe')) return { key: action, spec: OTHER_MUTATING };
  const filtered =
    params.indices('Filter').length > 0 ||
    params.has('MaxResults') ||
    params.has('NextToken') ||
    params.keysWithPrefix(`${idParameterOf(action)}.`) > 0;
  return filtered
    ? { key: action, spec: NON_MUTATING }
    : { key: `${action}:unfiltered`, spec: UNFILTERED_NON_MUTATING };
}

function idParameterOf(action: string): string {
  switch (action) {
    case 'DescribeInstances':
      return 'InstanceId';
    case 'DescribeNetworkInterfaces':
      return 'NetworkInterfaceId';
    case 'DescribeVpcs':
      return 'VpcId';
    default:
      return 'Id';
  }
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

/**
 * Token buckets refilled continuously from the injected clock (no timers): a bucket drained at t
 * holds `refillPerSecond` tokens again at t + 1 s. Account-level: every client of one simulated
 * cloud draws from the same buckets, as all nodes of a cluster do in one AWS account.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly clock: Clock) {}

  tryTake(key: string, spec: BucketSpec): boolean {
    const now = this.clock.now();
    const bucket = this.buckets.get(key) ?? { tokens: spec.capacity, updatedAt: now };
    bucket.tokens = Math.min(
      spec.capacity,
      bucket.tokens + ((now - bucket.updatedAt) / 1000) * spec.refillPerSecond,
    );
    bucket.updatedAt = now;
    this.buckets.set(key, bucket);
    // A small epsilon keeps floating-point refill from losing a token at exact second boundaries.
    if (bucket.tokens < 1 - 1e-9) return false;
    bucket.tokens -= 1;
    return true;
  }

  tokens(key: string): number | undefined {
    return this.buckets.get(key)?.tokens;
  }
}
