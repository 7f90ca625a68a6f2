/**
 * Configuration of the simulated EC2. A superset of the `ec2` block of the scenario format (issue 4)
 * plus the seed and the knobs only tests and benchmarks need. Every field has a default so that a
 * test states only what it is about.
 */
export interface SimSubnetSpec {
  id: string;
  az: string;
  cidr: string;
  tags?: Record<string, string>;
  /** Addresses held by others (not on any ENI this simulator shows), scattered by the seed. */
  usedAddresses?: number;
}

export interface SimFaults {
  /** Probability that a request fails with InternalError (500) or Unavailable (503), half each. */
  serverErrorRate: number;
  /** Probability that a request gets no response at all. */
  timeoutRate: number;
  /** How long a timed-out request hangs before the transport gives up on it. */
  timeoutMs: number;
  /**
   * Probability that a timed-out mutation was applied anyway (the response was lost, not the
   * request): the case that leaks ENIs in real clusters, so callers must be able to find them.
   */
  timeoutAppliedRate: number;
}

export interface SimNotFoundAfterCreate {
  /** Probability that a new ENI is unknown to mutations for a while after CreateNetworkInterface. */
  probability: number;
  /** How long such an ENI answers InvalidNetworkInterfaceID.NotFound to mutations. */
  windowMs: number;
}

export interface SimConfig {
  seed: number;
  region: string;
  accountId: string;
  vpcId: string;
  vpcCidr: string;
  subnets: SimSubnetSpec[];
  /** Time an action takes before its response is sent; `default` for unlisted actions. */
  latencyMs: Record<string, number>;
  /**
   * How long an attachment stays `attaching` (and a detachment `detaching`) after the API call
   * returned. Defaults to the action's latency, so the ENI is in-use one latency after the reply.
   */
  attachCompletionMs?: number;
  detachCompletionMs?: number;
  /** Describe* and IMDS see a mutation only this long after it happened. */
  visibilityDelayMs: number;
  throttling: 'aws' | 'none';
  faults: SimFaults;
  /** Regional quota of ENIs (EC2's default is 5,000); NetworkInterfaceLimitExceeded beyond it. */
  networkInterfaceQuota?: number;
  notFoundAfterCreate: SimNotFoundAfterCreate;
}

export type SimConfigInput = Partial<Omit<SimConfig, 'faults' | 'notFoundAfterCreate'>> & {
  faults?: Partial<SimFaults>;
  notFoundAfterCreate?: Partial<SimNotFoundAfterCreate>;
};

export const DEFAULT_LATENCY_MS = 100;

export function resolveSimConfig(input: SimConfigInput = {}): SimConfig {
  const { faults, notFoundAfterCreate, ...rest } = input;
  return {
    seed: 1,
    region: 'us-east-1',
    accountId: '123456789012',
    vpcId: 'vpc-0sim',
    vpcCidr: '10.0.0.0/16',
    subnets: [],
    latencyMs: { default: DEFAULT_LATENCY_MS },
    visibilityDelayMs: 0,
    throttling: 'aws',
    ...rest,
    faults: { serverErrorRate: 0, timeoutRate: 0, timeoutMs: 5_000, timeoutAppliedRate: 0.5, ...faults },
    notFoundAfterCreate: { probability: 0, windowMs: 1_000, ...notFoundAfterCreate },
  };
}

export function latencyOf(config: SimConfig, action: string): number {
  return config.latencyMs[action] ?? config.latencyMs.default ?? DEFAULT_LATENCY_MS;
}
