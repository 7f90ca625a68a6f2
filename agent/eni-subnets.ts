import {
  addInFlight,
  chooseSubnet,
  markFull,
  subnetChoiceState,
  type SubnetCandidate,
  type SubnetChoiceState,
} from '../ipam/subnet-choice.js';
import type { Placement } from '../ipam/placement.js';

export type SubnetForEni =
  | { kind: 'ok'; subnetId: string; securityGroupIds: string[]; pool?: string }
  /** `retryAt`: when a subnet skipped as recently full becomes a candidate again. */
  | { kind: 'none'; reason: string; retryAt?: number };

/** Where new ENIs go; the pool driver asks, and tells it what is in flight and what said "full". */
export interface EniSubnetSource {
  choose(placement: Placement, now: number): SubnetForEni;
  addInFlight(subnetId: string, addresses: number): void;
  markFull(subnetId: string, now: number): void;
}

export interface PodNetworkPool {
  name: string;
  subnetId: string;
  securityGroupIds?: readonly string[];
}

export interface EniSubnetsOptions {
  /** Security groups for pod ENIs: the ENIConfig's, the override, or the primary ENI's. */
  securityGroupIds: readonly string[];
  pools: readonly PodNetworkPool[];
  fullWindowMs: number;
}

/**
 * Subnet choice for new ENIs over the subnets the provider discovered (by tag, in the node's VPC and
 * AZ) or that custom networking names. The candidate list is replaced on every refresh; the choice
 * state (in-flight addresses, "full" answers) survives refreshes so a burst does not pile onto the
 * subnet whose count EC2 has not lowered yet.
 */
export class EniSubnets implements EniSubnetSource {
  private candidates: SubnetCandidate[] = [];
  private known = new Map<string, SubnetCandidate>();
  private state: SubnetChoiceState;

  private securityGroupIds: readonly string[];

  constructor(private readonly options: EniSubnetsOptions) {
    this.state = subnetChoiceState({ fullWindowMs: options.fullWindowMs });
    this.securityGroupIds = options.securityGroupIds;
  }

  /** The default pool's security groups changed (its ENIConfig did): new ENIs get these. */
  setSecurityGroups(ids: readonly string[]): void {
    this.securityGroupIds = [...ids];
  }

  /** The candidates for the default pool, and every subnet a pod or pool may name. */
  update(defaultCandidates: readonly SubnetCandidate[], namedSubnets: readonly SubnetCandidate[] = []): void {
    this.candidates = [...defaultCandidates];
    this.known = new Map([...namedSubnets, ...defaultCandidates].map((s) => [s.subnetId, s]));
    // EC2's fresh counts now include what was in flight; keeping the prediction would count it twice.
    this.state = { ...this.state, inFlight: new Map() };
  }

  choose(placement: Placement, now: number): SubnetForEni {
    const sgs = [...this.securityGroupIds];
    if (placement.pool !== undefined) {
      const pool = this.options.pools.find((p) => p.name === placement.pool);
      if (!pool) return { kind: 'none', reason: `unknown address pool "${placement.pool}"` };
      return this.pick(
        [this.known.get(pool.subnetId) ?? unknownSubnet(pool.subnetId)],
        now,
        pool.securityGroupIds ?? sgs,
        pool.name,
      );
    }
    if (placement.subnetId !== undefined) {
      return this.pick(
        [this.known.get(placement.subnetId) ?? unknownSubnet(placement.subnetId)],
        now,
        sgs,
        undefined,
      );
    }
    return this.pick(this.candidates, now, sgs, undefined);
  }

  addInFlight(subnetId: string, addresses: number): void {
    this.state = addInFlight(this.state, subnetId, addresses);
  }

  markFull(subnetId: string, now: number): void {
    this.state = markFull(this.state, subnetId, now);
  }

  private pick(
    candidates: SubnetCandidate[],
    now: number,
    sgs: readonly string[],
    pool: string | undefined,
  ): SubnetForEni {
    const choice = chooseSubnet(candidates, this.state, now);
    if (!choice.ok)
      return {
        kind: 'none',
        reason: choice.message,
        ...(choice.retryAt === undefined ? {} : { retryAt: choice.retryAt }),
      };
    return {
      kind: 'ok',
      subnetId: choice.subnetId,
      securityGroupIds: [...sgs],
      ...(pool === undefined ? {} : { pool }),
    };
  }
}

/**
 * A subnet named by a pod or pool that discovery did not return: EC2 decides whether it can take an
 * ENI (its answer is the clear error), so it is offered with an unknown, non-zero count.
 */
function unknownSubnet(subnetId: string): SubnetCandidate {
  return { subnetId, availabilityZone: '', cidr: '', availableIpCount: Number.MAX_SAFE_INTEGER, tags: {} };
}
