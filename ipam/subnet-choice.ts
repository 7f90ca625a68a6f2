/**
 * Which subnet a new ENI goes into. Pure: the provider supplies candidates, the agent keeps the
 * state (addresses in flight, subnets that answered "full") and passes the time in.
 */

/** A subnet as the provider describes it (the shape of provider/ec2-network.ts SubnetInfo). */
export interface SubnetCandidate {
  subnetId: string;
  availabilityZone: string;
  cidr: string;
  /** EC2's AvailableIpAddressCount when the subnet was last described. */
  availableIpCount: number;
  tags: Readonly<Record<string, string>>;
}

/** The VPC CNI's opt-out tag: `kubernetes.io/role/cni=0` marks a subnet pods must not use. */
export const CNI_ROLE_TAG = 'kubernetes.io/role/cni';

export interface SubnetChoiceState {
  readonly fullWindowMs: number;
  /** Addresses requested in each subnet that EC2's count may not show yet. */
  readonly inFlight: ReadonlyMap<string, number>;
  /** When each subnet last answered "full". */
  readonly fullAt: ReadonlyMap<string, number>;
}

export type SubnetChoice =
  | {
      ok: true;
      subnetId: string;
      subnet: SubnetCandidate;
      /** Free after in-flight deductions. */ free: number;
    }
  | {
      ok: false;
      reason: 'no-candidates' | 'opted-out' | 'recently-full' | 'too-few-free';
      message: string;
      /** With recently-full: when the first skipped subnet becomes a candidate again. */
      retryAt?: number;
    };

export function subnetChoiceState(options: { fullWindowMs: number }): SubnetChoiceState {
  return {
    fullWindowMs: options.fullWindowMs,
    inFlight: new Map(),
    fullAt: new Map(),
  };
}

/** EC2 answered "full" for `subnetId` at `now`. Expired marks are dropped on the way. */
export function markFull(state: SubnetChoiceState, subnetId: string, now: number): SubnetChoiceState {
  const fullAt = new Map([...state.fullAt].filter(([, at]) => now - at < state.fullWindowMs));
  fullAt.set(subnetId, now);
  return { ...state, fullAt };
}

/** `count` more addresses requested in `subnetId` (an ENI's own primary address included; negative to take some back). */
export function addInFlight(state: SubnetChoiceState, subnetId: string, count: number): SubnetChoiceState {
  const inFlight = new Map(state.inFlight);
  const total = (inFlight.get(subnetId) ?? 0) + count;
  // A negative count takes a prediction back; the prediction never goes below nothing.
  if (total > 0) inFlight.set(subnetId, total);
  else inFlight.delete(subnetId);
  return { ...state, inFlight };
}

/**
 * The request finished (or failed): its addresses are no longer a prediction. Without `count`, all
 * of the subnet's predictions go (a fresh DescribeSubnets shows what really happened).
 */
export function clearInFlight(state: SubnetChoiceState, subnetId: string, count?: number): SubnetChoiceState {
  const inFlight = new Map(state.inFlight);
  const left = count === undefined ? 0 : (inFlight.get(subnetId) ?? 0) - count;
  if (left > 0) inFlight.set(subnetId, left);
  else inFlight.delete(subnetId);
  return { ...state, inFlight };
}

function isRecentlyFull(state: SubnetChoiceState, subnetId: string, now: number): boolean {
  const at = state.fullAt.get(subnetId);
  return at !== undefined && now - at < state.fullWindowMs;
}

/**
 * The candidate with the most free addresses after in-flight deductions; ties go to the lowest
 * subnet id so every node and every run decides alike. `need` is the addresses the request takes.
 */
export function chooseSubnet(
  candidates: readonly SubnetCandidate[],
  state: SubnetChoiceState,
  now: number,
  need = 1,
): SubnetChoice {
  if (candidates.length === 0) {
    return {
      ok: false,
      reason: 'no-candidates',
      message: 'no candidate subnet (check the subnet tags and ENIConfig)',
    };
  }
  const allowed = candidates.filter((s) => s.tags[CNI_ROLE_TAG] !== '0');
  if (allowed.length === 0) {
    return {
      ok: false,
      reason: 'opted-out',
      message: `every candidate subnet is tagged ${CNI_ROLE_TAG}=0: ${candidates.map((s) => s.subnetId).join(', ')}`,
    };
  }
  const open = allowed.filter((s) => !isRecentlyFull(state, s.subnetId, now));
  if (open.length === 0) {
    const retryAt = Math.min(
      ...allowed.map((s) => (state.fullAt.get(s.subnetId) ?? now) + state.fullWindowMs),
    );
    return {
      ok: false,
      reason: 'recently-full',
      message: `every candidate subnet answered "full" in the last ${state.fullWindowMs / 1000} s: ${allowed.map((s) => s.subnetId).join(', ')}`,
      retryAt,
    };
  }
  const ranked = open
    .map((subnet) => ({ subnet, free: subnet.availableIpCount - (state.inFlight.get(subnet.subnetId) ?? 0) }))
    .sort((a, b) => b.free - a.free || (a.subnet.subnetId < b.subnet.subnetId ? -1 : 1));
  const best = ranked[0];
  if (best === undefined || best.free < need) {
    return {
      ok: false,
      reason: 'too-few-free',
      message: `no candidate subnet has ${need} free addresses after in-flight requests (most: ${best?.free ?? 0} in ${best?.subnet.subnetId ?? '-'})`,
    };
  }
  return { ok: true, subnetId: best.subnet.subnetId, subnet: best.subnet, free: best.free };
}
