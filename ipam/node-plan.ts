/**
 * Every pool decision of a node as one pure function, `planNode`: the warm-pool planner for the
 * default pool (ipam/planner.ts) with its release hold-back, demand-only growth for each subnet or
 * pool that waiting ADDs named, the ENI-limit blocker, why waiting ADDs are not served, and the
 * node's pod-address capacity. The rules themselves live in ipam/pool-rules.ts, each with its
 * table. The pool driver (agent/pool-driver.ts) builds a NodeState, calls planNode once per round
 * and runs the actions; `eni-ipam plan` builds a NodeState from JSON and prints the same NodePlan.
 */
import { ADDRESSES_PER_PREFIX, addressesPerUnit } from './address.js';
import type { Blocker, Failure } from './pool-blocker.js';
import { DEFAULT_PLACEMENT_KEY, pinnedDemand, placementKey, type Placement } from './placement.js';
import type { EniUsage, PlanAction, PlanDecision, PlanInput, PlanLimits, WarmTargets } from './plan-types.js';
import { plan } from './planner.js';
import {
  defaultPoolInput,
  holdBackReleases,
  planPinnedGrowth,
  podAddressCapacity,
  RELEASES,
  shortage,
  type Shortage,
} from './pool-rules.js';

/** One ENI of the node: where it is, what it holds, and what the executor knows of it. */
export interface NodeEni extends EniUsage {
  readonly subnetId: string;
  /** The named pool the ENI serves; undefined: the default pool. */
  readonly pool?: string;
}

/** Units (addresses, or /28 prefixes in prefix mode) and ENIs requested and not yet added. */
export interface InFlight {
  readonly units: number;
  readonly enis: number;
}

export interface NodeState {
  /** Every ENI of the node, in the datastore's order (by device index). */
  readonly enis: readonly NodeEni[];
  /** The placement of every CNI ADD waiting now, oldest first. */
  readonly waiting: readonly Placement[];
  /** Work requested from EC2 and not yet in the datastore, by placement key (ipam/placement.ts). */
  readonly inFlight: Readonly<Record<string, InFlight>>;
  /** EC2 refused an attachment (AttachmentLimitExceeded) since the last resync. */
  readonly eniLimitReached: boolean;
  /** Why the pool could not grow the last time it tried (EC2's refusal), if it could not. */
  readonly blocker?: Blocker;
  /** Since when the default pool has planned releases; undefined: it has not. */
  readonly overSince?: number;
}

export interface NodeSettings {
  readonly limits: PlanLimits;
  readonly targets: WarmTargets;
  /** Releases wait until the pool has been over its target this long. */
  readonly shrinkAfterMs: number;
}

/** An action and the placement it serves (the default pool's is `{}`). */
export interface PlannedAction {
  readonly action: PlanAction;
  readonly key: string;
  readonly placement: Placement;
}

/** The growth for one subnet or pool that waiting ADDs named. */
export interface PinnedPlan {
  readonly key: string;
  readonly placement: Placement;
  readonly waiting: number;
  readonly actions: readonly PlanAction[];
}

export interface NodePlan {
  /** The warm-pool planner's decision for the default pool, releases not yet held back. */
  readonly defaultPool: PlanDecision;
  /** Releases of the default pool that wait for the pool to stay over its target. */
  readonly heldBack: readonly PlanAction[];
  /** When the held-back releases become due; undefined when nothing is held back. */
  readonly releaseDueAt?: number;
  /** Since when the pool has been over its target (the next round's NodeState.overSince). */
  readonly overSince: number | undefined;
  /** Growth for every subnet and pool that waiting ADDs named, oldest ADD first. */
  readonly pinned: readonly PinnedPlan[];
  /** Everything to start now, in order: the default pool's, then each pinned placement's. */
  readonly actions: readonly PlannedAction[];
  /** A pinned placement needs an ENI the node may not add. */
  readonly blocker?: Extract<Failure, { kind: 'eni-limit' }>;
  /** Why waiting ADDs are not served, and its cause; undefined: addresses are on their way. */
  readonly shortage: Shortage | undefined;
  /** Pod addresses the node can hold. */
  readonly capacity: number;
}

/**
 * The node's decision. `planPool` is the default pool's planner: eni-ipam's, or a benchmark's
 * baseline. Pinned placements are planned after the default pool's actions have started, as the
 * executor runs them: ENIs those actions touch count as busy, ENIs they create or delete as in use
 * or gone.
 */
export function planNode(
  state: NodeState,
  settings: NodeSettings,
  now: number,
  planPool: (input: PlanInput) => PlanDecision = plan,
): NodePlan {
  const decision = planPool(defaultPlanInput(state, settings));
  const held = holdBackReleases(decision, state.overSince, now, settings.shrinkAfterMs);
  const actions: PlannedAction[] = held.actions.map((action) => ({
    action,
    key: DEFAULT_PLACEMENT_KEY,
    placement: {},
  }));
  const started = startedWork(state);
  for (const { action } of actions) started.add(action);
  const pinned: PinnedPlan[] = [];
  let blocker: NodePlan['blocker'];
  for (const [key, group] of pinnedDemand(state.waiting)) {
    const growth = planPinnedGrowth({
      limits: settings.limits,
      placement: group.placement,
      waiting: group.count,
      unitsInFlight: state.inFlight[key]?.units ?? 0,
      enis: started.enis().map((eni) => ({
        id: eni.id,
        primary: eni.primary,
        subnetId: eni.subnetId,
        ...(eni.pool === undefined ? {} : { pool: eni.pool }),
        units: settings.limits.prefixes ? eni.prefixes : eni.ips,
        busy: started.busy(eni.id),
        full: eni.full === true,
      })),
      enisInUse: started.enisInUse(),
      eniLimitReached: state.eniLimitReached,
    });
    pinned.push({ key, placement: group.placement, waiting: group.count, actions: growth.actions });
    for (const action of growth.actions) {
      actions.push({ action, key, placement: group.placement });
      started.add(action);
    }
    if (growth.eniLimit) {
      const { enis, maxEnis } = growth.eniLimit;
      blocker = { kind: 'eni-limit', detail: `${enis} of ${maxEnis} ENIs in use` };
    }
  }
  const current = blocker === undefined ? state.blocker : { ...blocker, at: now };
  return {
    defaultPool: decision,
    heldBack: decision.actions.filter((a) => !held.actions.includes(a)),
    ...(held.dueAt === undefined ? {} : { releaseDueAt: held.dueAt }),
    overSince: held.overSince,
    pinned,
    actions,
    ...(blocker === undefined ? {} : { blocker }),
    shortage: nodeShortage(current === undefined ? state : { ...state, blocker: current }, settings),
    capacity: podAddressCapacity(settings.limits),
  };
}

/** What the warm-pool planner sees for the node's default pool (also served at /v1/state). */
export function defaultPlanInput(state: NodeState, settings: NodeSettings): PlanInput {
  const own = state.inFlight[DEFAULT_PLACEMENT_KEY] ?? { units: 0, enis: 0 };
  return defaultPoolInput({
    limits: settings.limits,
    targets: settings.targets,
    enis: state.enis,
    usage: state.enis.map(usageOf),
    busy: new Set(state.enis.filter((e) => e.busy === true).map((e) => e.id)),
    full: new Set(state.enis.filter((e) => e.full === true).map((e) => e.id)),
    pending: state.waiting.filter((p) => placementKey(p) === DEFAULT_PLACEMENT_KEY).length,
    unitsInFlight: own.units,
    enisInFlight: own.enis,
    pinnedEnisInFlight: totalInFlight(state).enis - own.enis,
    eniLimitReached: state.eniLimitReached,
  });
}

/** Why waiting ADDs are not served, and its cause (pool-rules.ts shortage), from the node's state. */
export function nodeShortage(state: NodeState, settings: NodeSettings): Shortage | undefined {
  const { limits } = settings;
  let totalAddresses = 0;
  let cooling = 0;
  for (const eni of state.enis) {
    totalAddresses += eni.ips + eni.prefixes * ADDRESSES_PER_PREFIX;
    cooling += eni.cooldown;
  }
  return shortage({
    blocker: state.blocker,
    limits,
    attachedEnis: state.enis.length,
    enis: state.enis.map((e) => ({ units: limits.prefixes ? e.prefixes : e.ips, full: e.full === true })),
    totalAddresses,
    cooling,
    unitsInFlight: totalInFlight(state).units,
  });
}

/**
 * Whether an EC2 call serves ADDs waiting now. Releases never do. Growth does while more ADDs of its
 * placement wait than the addresses that growth launched before it still brings: those come first,
 * so a node's warm-up ENI behind the ENI its pods need is a warm-up, on the node and in a budget
 * shared by the cluster (where every other node's pods go before it).
 */
export function servesWaitingAdds(action: PlanAction, waiting: number, broughtBefore = 0): boolean {
  return !RELEASES.has(action.type) && waiting > broughtBefore;
}

/** Addresses an action adds to the node once done (releases: none). */
export function addressesBrought(action: PlanAction, prefixes: boolean): number {
  switch (action.type) {
    case 'assignIps':
    case 'assignPrefixes':
    case 'createEni':
      return action.count * addressesPerUnit(prefixes);
    case 'unassignIps':
    case 'unassignPrefixes':
    case 'deleteEni':
      return 0;
  }
}

export function totalInFlight(state: Pick<NodeState, 'inFlight'>): InFlight {
  let units = 0;
  let enis = 0;
  for (const work of Object.values(state.inFlight)) {
    units += work.units;
    enis += work.enis;
  }
  return { units, enis };
}

function usageOf(eni: NodeEni): EniUsage {
  return {
    id: eni.id,
    primary: eni.primary,
    ips: eni.ips,
    prefixes: eni.prefixes,
    assigned: eni.assigned,
    cooldown: eni.cooldown,
  };
}

/**
 * The node as the executor leaves it once the actions planned so far have started: the ENIs they
 * touch are busy, ENIs being created are in use, ENIs being deleted are gone.
 */
function startedWork(state: NodeState) {
  const busy = new Set(state.enis.filter((e) => e.busy === true).map((e) => e.id));
  const gone = new Set<string>();
  let creating = 0;
  return {
    add(action: PlanAction): void {
      if (action.type === 'createEni') creating++;
      else {
        busy.add(action.eni);
        if (action.type === 'deleteEni') gone.add(action.eni);
      }
    },
    busy: (id: string) => busy.has(id),
    enis: () => state.enis.filter((e) => !gone.has(e.id)),
    enisInUse: () => state.enis.length - gone.size + totalInFlight(state).enis + creating,
  };
}
