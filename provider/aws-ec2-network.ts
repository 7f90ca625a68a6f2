import { EC2Client, type EC2ClientConfig } from '@aws-sdk/client-ec2';
import type { AwsCredentialIdentity } from '@smithy/types';
import { systemClock, type Clock } from '../time/clock.js';
import type { InstanceLimits } from '../ipam/instance-types.js';
import { EniAddresses } from './addresses.js';
import type { RandomSource } from './backoff.js';
import type { ContenderCount } from './contenders.js';
import { DEFAULT_RETRY, Ec2Client, type RetryPolicy } from './ec2-client.js';
import type {
  AttachedEni,
  CreateEniRequest,
  Ec2Network,
  InstanceIdentity,
  LeakedEni,
  SubnetInfo,
  SubnetQuery,
} from './ec2-network.js';
import { EniLifecycle } from './enis.js';
import { readIdentity } from './identity.js';
import { ImdsV2Source } from './imds.js';
import { InstanceLimitsCatalog } from './instance-limits.js';
import { findLeakedEnis } from './leaked-enis.js';
import { ClockTokenBucketLimiter, type Ec2Limiter } from './limiter.js';
import type { MetadataSource } from './metadata.js';
import { noopObserver, type Ec2Observer } from './observer.js';
import { effectiveBuckets, type RateLimitOptions } from './rate-limits.js';
import { SharedBudgetLimiter } from './shared-budget.js';
import { SubnetCatalog, SUBNET_CACHE_TTL_DEFAULT_MS } from './subnets.js';
import { KnownEnis, VISIBILITY_TIMEOUT_DEFAULT_MS } from './visibility.js';

/** Built by the agent from its validated env config; nothing here reads process.env. */
export interface AwsEc2NetworkOptions {
  /** Unset: the instance's Region, read from IMDS on the first EC2 call (not in the constructor). */
  region?: string;
  /** EC2 endpoint override (the simulator's HTTP endpoint, a VPC endpoint). */
  endpoint?: string;
  imdsEndpoint?: string;
  clusterName?: string;
  /** ADDITIONAL_ENI_TAGS, already parsed. */
  extraTags?: Readonly<Record<string, string>>;
  rateLimits?: RateLimitOptions;
  /** EC2_RATE_LIMIT_REDIS_URL: share one budget per API with every node using the same Redis. */
  redisUrl?: string;
  /** Separates budgets of clusters sharing one Redis; defaults to the cluster name. */
  rateLimitScope?: string;
  retry?: Partial<RetryPolicy>;
  visibilityTimeoutMs?: number;
  subnetCacheTtlMs?: number;
  clock?: Clock;
  random?: RandomSource;
  observer?: Ec2Observer;
  /** A ready client (tests with aws-sdk-client-mock); built from region/endpoint otherwise. */
  ec2Client?: EC2Client;
  /** The simulator's in-process transport. */
  requestHandler?: EC2ClientConfig['requestHandler'];
  credentials?: AwsCredentialIdentity;
  metadata?: MetadataSource;
  /** Replaces the limiter chosen from redisUrl and clock. */
  limiter?: Ec2Limiter;
  /**
   * Nodes that joined the cluster lately, this one included, and how many of them are done setting
   * up: the node's own limiter takes its share of the account's buckets among those still working
   * (provider/contenders.ts). Unset: the node counts as alone.
   */
  contenders?: () => ContenderCount;
}

/**
 * The limiter for these options: the node's own adaptive token buckets on the injected clock (real
 * or simulated time alike), inside the Redis-shared budget when a URL is given (which falls back to
 * them while Redis is away).
 */
export function chooseLimiter(
  options: AwsEc2NetworkOptions,
  clock: Clock,
  observer: Ec2Observer,
  random: RandomSource = Math.random,
): Ec2Limiter {
  if (options.limiter) return options.limiter;
  const local = new ClockTokenBucketLimiter(effectiveBuckets(options.rateLimits ?? {}, false), clock, {
    observer,
    adaptive: true,
    random,
    ...(options.contenders === undefined ? {} : { contenders: options.contenders }),
  });
  if (options.redisUrl === undefined) return local;
  const clusterId = options.rateLimitScope ?? options.clusterName;
  return new SharedBudgetLimiter({
    buckets: effectiveBuckets(options.rateLimits ?? {}, true),
    redisUrl: options.redisUrl,
    local,
    clock,
    observer,
    ...(clusterId === undefined ? {} : { clusterId }),
  });
}

function buildSdkClient(options: AwsEc2NetworkOptions, metadata: MetadataSource): EC2Client {
  const regionFromImds = async (): Promise<string> => {
    const region = await metadata.get('placement/region');
    if (region === undefined)
      throw new Error('no Region configured and none in instance metadata (placement/region)');
    return region;
  };
  const sdk = new EC2Client({
    region: options.region ?? regionFromImds,
    // Retries are ours (classified, limiter-aware, on the injected clock): one SDK attempt each.
    maxAttempts: 1,
    ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
    ...(options.requestHandler === undefined ? {} : { requestHandler: options.requestHandler }),
    ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
  });
  withoutSdkLogging(sdk);
  return sdk;
}

/**
 * The SDK's logger middleware copies every response through the model's sensitive-data filter
 * before it hands the copy to the client's logger, even to the default logger that discards it.
 * Nothing logs there (the provider logs and counts its calls itself), and a node listing many ENIs
 * pays that copy on every Describe; in the simulator, with a thousand nodes, a tenth of a run.
 */
export function withoutSdkLogging(sdk: EC2Client): void {
  sdk.middlewareStack.remove('loggerMiddleware');
}

/** Ec2Network over the AWS SDK and IMDSv2. The constructor does no I/O and starts no timer. */
export class AwsEc2Network implements Ec2Network {
  private readonly client: Ec2Client;
  private readonly limiter: Ec2Limiter;
  private readonly metadata: MetadataSource;
  private readonly subnets: SubnetCatalog;
  private readonly limits: InstanceLimitsCatalog;
  private readonly enis: EniLifecycle;
  private readonly addresses: EniAddresses;
  private readonly clock: Clock;
  private readonly clusterName: string | undefined;
  private identityPromise: Promise<InstanceIdentity> | undefined;

  constructor(options: AwsEc2NetworkOptions) {
    const clock = options.clock ?? systemClock;
    const random = options.random ?? Math.random;
    const observer = options.observer ?? noopObserver;
    this.clock = clock;
    this.clusterName = options.clusterName;
    this.limiter = chooseLimiter(options, clock, observer, random);
    this.metadata =
      options.metadata ??
      new ImdsV2Source({
        clock,
        random,
        ...(options.imdsEndpoint === undefined ? {} : { endpoint: options.imdsEndpoint }),
      });
    this.client = new Ec2Client({
      sdk: options.ec2Client ?? buildSdkClient(options, this.metadata),
      limiter: this.limiter,
      clock,
      random,
      observer,
      retry: { ...DEFAULT_RETRY, ...options.retry },
    });
    this.subnets = new SubnetCatalog(
      this.client,
      clock,
      options.subnetCacheTtlMs ?? SUBNET_CACHE_TTL_DEFAULT_MS,
    );
    this.limits = new InstanceLimitsCatalog(this.client);
    const visibility = {
      client: this.client,
      clock,
      random,
      timeoutMs: options.visibilityTimeoutMs ?? VISIBILITY_TIMEOUT_DEFAULT_MS,
      metadata: this.metadata,
      known: new KnownEnis(),
    };
    this.enis = new EniLifecycle({
      ...visibility,
      subnets: this.subnets,
      clusterName: options.clusterName,
      extraTags: options.extraTags ?? {},
    });
    this.addresses = new EniAddresses(visibility);
  }

  identity(): Promise<InstanceIdentity> {
    // Who we are never changes for the life of the process; a failure is asked again next time.
    if (!this.identityPromise) {
      const pending = readIdentity(this.metadata, this.client, this.subnets).then((identity) => {
        this.subnets.learnCidr(identity.subnetId, identity.subnetCidr);
        return identity;
      });
      this.identityPromise = pending;
      pending.catch(() => {
        if (this.identityPromise === pending) this.identityPromise = undefined;
      });
    }
    return this.identityPromise;
  }

  instanceLimits(instanceType: string): Promise<InstanceLimits> {
    return this.limits.get(instanceType);
  }

  listAttachedEnis(instanceId: string): Promise<AttachedEni[]> {
    return this.enis.listAttached(instanceId);
  }

  discoverSubnets(query: SubnetQuery, options?: { refresh?: boolean }): Promise<SubnetInfo[]> {
    return this.subnets.discover(query, options);
  }

  describeSubnets(subnetIds: readonly string[]): Promise<SubnetInfo[]> {
    // Callers of this method want current free-address counts, not the CIDR cache.
    return this.subnets.describe(subnetIds, { refresh: true });
  }

  createAndAttachEni(request: CreateEniRequest): Promise<AttachedEni> {
    return this.enis.createAndAttach(request);
  }

  assignIps(eniId: string, count: number): Promise<string[]> {
    return this.addresses.assignIps(eniId, count);
  }

  assignPrefixes(eniId: string, count: number): Promise<string[]> {
    return this.addresses.assignPrefixes(eniId, count);
  }

  unassignIps(eniId: string, ips: readonly string[]): Promise<void> {
    return this.addresses.unassignIps(eniId, ips);
  }

  unassignPrefixes(eniId: string, prefixes: readonly string[]): Promise<void> {
    return this.addresses.unassignPrefixes(eniId, prefixes);
  }

  async detachAndDeleteEni(eniId: string): Promise<void> {
    await this.enis.detachAndDelete(eniId);
    this.enis.forgetOrphan(eniId);
  }

  async findLeakedEnis(instanceId: string, graceMs: number, createdBefore?: number): Promise<LeakedEni[]> {
    // An ENI this process created and is still attaching is never a leak, however long it waited.
    const found = await this.enis.withoutAttaching(() =>
      findLeakedEnis(
        { client: this.client, clock: this.clock, clusterName: this.clusterName },
        instanceId,
        graceMs,
        createdBefore,
      ),
    );
    // ENIs whose compensation gave up are ours for certain: no grace period, attached or not.
    const orphans = this.enis
      .orphaned()
      .filter((o) => !found.some((f) => f.eniId === o.eniId))
      .map((o): LeakedEni => ({ eniId: o.eniId, subnetId: o.subnetId, instanceId, createdAt: undefined }));
    return [...found, ...orphans];
  }

  /** Closes the limiter (and its Redis connection); in-flight calls finish or fail on their own. */
  close(): Promise<void> {
    return this.limiter.close();
  }
}
