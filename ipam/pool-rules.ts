/**
 * The pool decisions around the warm-pool planner (ipam/planner.ts), each a pure function of the
 * node's state so that it can be tested with a table: growth for pods pinned to a subnet or a pool,
 * when a surplus may be released, how many pod addresses the node can hold, and why waiting ADDs
 * are not served. The pool driver (agent/pool-driver.ts) only gathers the state and carries out
 * what these return.
 */
import { addressesPerUnit } from './address.js';
import { describeBlocker, type Blocker } from './pool-blocker.js';
import type { EniInfo } from './datastore-types.js';
import type { Placement } from './placement.js';
import type { EniUsage, PlanAction, PlanDecision, PlanInput, PlanLimits, WarmTargets } from './plan-types.js';

/**
 * Pod addresses the node can hold: max pods, or fewer when the ENIs cannot carry that many (max
 * pods counts two host-network pods that need no address: 29 on an m5.large, 27 addresses).
 */
export function podAddressCapacity(limits: PlanLimits): number {
  const podEnis = limits.maxEnis - (limits.primaryEniExcluded === true ? 1 : 0);
  const perEni = (limits.ipv4PerEni - 1) * addressesPerUnit(limits.prefixes);
  return Math.min(limits.maxPods, Math.max(0, podEnis) * perEni);
}

export interface DefaultPoolState {
  readonly limits: PlanLimits;
  readonly targets: WarmTargets;
  /** Every ENI of the node, in the datastore's order, and each one's usage. */
  readonly enis: readonly Pick<EniInfo, 'id' | 'primary' | 'pool'>[];
  readonly usage: readonly EniUsage[];
  /** ENIs with a mutation under way, and ENIs EC2 said are full. */
  readonly busy: ReadonlySet<string>;
  readonly full: ReadonlySet<string>;
  /** ADDs waiting for the default pool (no subnet or pool named). */
  readonly pending: number;
  /** The default pool's units and ENIs requested and not yet added. */
  readonly unitsInFlight: number;
  readonly enisInFlight: number;
  /** ENIs being created for pinned subnets and pools. */
  readonly pinnedEnisInFlight: number;
  readonly eniLimitReached: boolean;
}

/**
 * What the warm-pool planner sees for the node's default pool (also served at /v1/state and read
 * by `eni-ipam plan`): the ENIs of no pool, and the ENI budget the pinned pools leave it.
 */
export function defaultPoolInput(state: DefaultPoolState): PlanInput {
  const defaultEnis = state.enis.filter((eni) => eni.pool === undefined);
  const pinnedEnis = state.enis.length - defaultEnis.length;
  const usage = new Map(state.usage.map((u) => [u.id, u]));
  const { limits } = state;
  return {
    limits: { ...limits, maxEnis: Math.max(0, limits.maxEnis - pinnedEnis - state.pinnedEnisInFlight) },
    targets: state.targets,
    enis: defaultEnis.map((eni) => ({
      ...(usage.get(eni.id) ?? {
        id: eni.id,
        primary: eni.primary,
        ips: 0,
        prefixes: 0,
        assigned: 0,
        cooldown: 0,
      }),
      busy: state.busy.has(eni.id),
      full: state.full.has(eni.id),
    })),
    pending: state.pending,
    inFlight: state.unitsInFlight,
    enisInFlight: state.enisInFlight,
    eniLimitReached: state.eniLimitReached,
  };
}

/** An ENI as the pinned-growth rule sees it. */
export interface PinnedEni extends Pick<EniInfo, 'id' | 'primary' | 'subnetId' | 'pool'> {
  /** Addresses (or /28 prefixes in prefix mode) on the ENI now. */
  readonly units: number;
  /** A mutation is under way on it. */
  readonly busy: boolean;
  /** EC2 said it holds as many addresses as its type allows. */
  readonly full: boolean;
}

export interface PinnedGrowthInput {
  readonly limits: PlanLimits;
  readonly placement: Placement;
  /** ADDs waiting for this placement. */
  readonly waiting: number;
  /** Units already requested for this placement and not yet added. */
  readonly unitsInFlight: number;
  /** Every ENI of the node, in the datastore's order. */
  readonly enis: readonly PinnedEni[];
  /** ENIs attached plus ENIs being created, for every placement. */
  readonly enisInUse: number;
  /** EC2 refused an attachment (AttachmentLimitExceeded) since the last resync. */
  readonly eniLimitReached: boolean;
}

export interface PinnedGrowth {
  readonly actions: readonly PlanAction[];
  /** Demand remains and no ENI may be added: the node is at its ENI limit. */
  readonly eniLimit?: { readonly enis: number; readonly maxEnis: number };
}

/**
 * Demand-only growth for pods pinned to a subnet or a pool: fill the ENIs of that subnet or pool
 * (never the default pool's), then create one ENI for it. Pinned pools keep no warm surplus.
 */
export function planPinnedGrowth(input: PinnedGrowthInput): PinnedGrowth {
  const { limits } = input;
  let need = Math.ceil(input.waiting / addressesPerUnit(limits.prefixes)) - input.unitsInFlight;
  if (need <= 0) return { actions: [] };
  const slots = limits.ipv4PerEni - 1;
  const actions: PlanAction[] = [];
  for (const eni of input.enis) {
    if (need <= 0) break;
    if (!servesPlacement(eni, input.placement, limits.primaryEniExcluded === true)) continue;
    if (eni.busy || eni.full) continue;
    const room = slots - eni.units;
    if (room <= 0) continue;
    const count = Math.min(room, need);
    need -= count;
    actions.push(
      limits.prefixes
        ? { type: 'assignPrefixes', eni: eni.id, count }
        : { type: 'assignIps', eni: eni.id, count },
    );
  }
  if (need <= 0) return { actions };
  if (input.enisInUse < limits.maxEnis && !input.eniLimitReached) {
    return { actions: [...actions, { type: 'createEni', count: Math.min(need, slots) }] };
  }
  return { actions, eniLimit: { enis: input.enisInUse, maxEnis: limits.maxEnis } };
}

/** Whether an ENI's addresses may serve a placement (a pool's ENIs serve only that pool). */
export function servesPlacement(
  eni: Pick<EniInfo, 'primary' | 'subnetId' | 'pool'>,
  placement: Placement,
  primaryExcluded: boolean,
): boolean {
  if (primaryExcluded && eni.primary) return false;
  if (placement.pool !== undefined) return eni.pool === placement.pool;
  if (eni.pool !== undefined) return false;
  return placement.subnetId === undefined || eni.subnetId === placement.subnetId;
}

/** Actions that give addresses or ENIs back to EC2: held back, and never urgent. */
export const RELEASES: ReadonlySet<PlanAction['type']> = new Set([
  'unassignIps',
  'unassignPrefixes',
  'deleteEni',
]);

export interface HeldBack {
  /** What to do now. */
  readonly actions: readonly PlanAction[];
  /** Since when the pool has been over its target (undefined: it is not). */
  readonly overSince: number | undefined;
  /** When the held-back releases become due; undefined when nothing is held back. */
  readonly dueAt?: number;
}

/**
 * Releases wait until the pool has been over its target for `shrinkAfterMs`. Under churn a
 * released address cools down while its replacement pod takes a free one, so the pool dips below
 * target, grows by one, and is one over when the cooldown ends: releasing at once would cost an
 * assign and an unassign per pod replaced.
 */
export function holdBackReleases(
  decision: PlanDecision,
  overSince: number | undefined,
  now: number,
  shrinkAfterMs: number,
): HeldBack {
  const releases = decision.actions.filter((a) => RELEASES.has(a.type));
  // The hold-back runs while releases stay planned, whether or not the pool counts as too high: an
  // empty ENI is deleted with poolTooHigh false, and resetting on that would hold it forever.
  if (releases.length === 0) return { actions: decision.actions, overSince: undefined };
  const start = overSince ?? now;
  const dueAt = start + shrinkAfterMs;
  if (now >= dueAt) return { actions: decision.actions, overSince: start };
  return { actions: decision.actions.filter((a) => !RELEASES.has(a.type)), overSince: start, dueAt };
}

export interface ShortageState {
  /** Why the pool could not grow the last time it tried (EC2's refusal), if it could not. */
  readonly blocker: Blocker | undefined;
  readonly limits: PlanLimits;
  /** ENIs attached to the node. */
  readonly attachedEnis: number;
  /** Each ENI's units (addresses, or /28s in prefix mode), and whether EC2 said it is full. */
  readonly enis: readonly { readonly units: number; readonly full: boolean }[];
  /** Addresses on the node, and those cooling down. */
  readonly totalAddresses: number;
  readonly cooling: number;
  /** Units requested from EC2 and not yet added. */
  readonly unitsInFlight: number;
}

/**
 * What keeps the pool short, as a stable cause (Kubernetes events name it in their reason): EC2's
 * refusal (the blocker's kind), or the node's own bounds.
 */
export type ShortageCause = Blocker['kind'] | 'max-pods' | 'cooling';

export interface Shortage {
  readonly cause: ShortageCause;
  /** The cause with its figures, for people: CNI errors, logs, events. */
  readonly message: string;
}

/**
 * Why waiting ADDs are not served, even when EC2 refused nothing: the node holds as many
 * addresses as its ENI limit (or MAX_ENI) allows, or as max pods allows, or its free addresses
 * are all cooling down. Undefined: addresses are on their way.
 */
export function shortage(state: ShortageState): Shortage | undefined {
  if (state.blocker !== undefined)
    return { cause: state.blocker.kind, message: describeBlocker(state.blocker) };
  const { limits, attachedEnis } = state;
  const slots = limits.ipv4PerEni - 1;
  const atCapacity = state.enis.every((e) => e.units >= slots || e.full);
  if (attachedEnis >= limits.maxEnis && atCapacity) {
    return {
      cause: 'eni-limit',
      message: `the node is at its ENI limit: ${attachedEnis} of ${limits.maxEnis} ENIs attached (instance type or MAX_ENI), each full`,
    };
  }
  if (state.totalAddresses >= limits.maxPods)
    return { cause: 'max-pods', message: `the node holds max pods' worth of addresses (${limits.maxPods})` };
  if (state.cooling > 0 && state.unitsInFlight === 0) {
    return {
      cause: 'cooling',
      message: `${state.cooling} released addresses are cooling down (IP_COOLDOWN_PERIOD) and the pool is not growing`,
    };
  }
  return undefined;
}

/** The message of `shortage`: what a CNI ADD that timed out says. */
export function shortageReason(state: ShortageState): string | undefined {
  return shortage(state)?.message;
}
