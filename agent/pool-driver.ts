import { withCallPriority } from '../provider/call-priority.js';
import type { Datastore } from '../ipam/datastore.js';
import type { EniInfo } from '../ipam/datastore-types.js';
import type {
  EniUsage,
  PlanAction,
  PlanDecision,
  PlanInput,
  PlanLimits,
  WarmTargets,
} from '../ipam/plan-types.js';
import { plan } from '../ipam/planner.js';
import type { AttachedEni, Ec2Network } from '../provider/ec2-network.js';
import type { Clock, Timer } from '../time/clock.js';
import { describeBlocker, classifyFailure, type Blocker } from './pool-blocker.js';
import type { EniPlacement, EniSubnetSource } from './eni-subnets.js';
import { placementKey, type Placement } from './placement.js';
import { RETRY_AFTER_FAILURE_MAX_MS, RETRY_AFTER_FAILURE_MIN_MS, SHRINK_AFTER_MS } from './intervals.js';
import type { Logger } from './logger.js';
import { WakeSignal } from './wake-signal.js';

export interface PoolDriverDeps {
  datastore: Datastore;
  ec2: Ec2Network;
  clock: Clock;
  logger: Logger;
  instanceId: string;
  limits: PlanLimits;
  targets: WarmTargets;
  subnets: EniSubnetSource;
  /** Placements of the CNI ADDs waiting now, oldest first. */
  waiting: () => readonly Placement[];
  /** Called after every change to the datastore: serve waiters, persist, update gauges. */
  afterChange: (reason: string) => void;
  /** EC2 refused an attachment although the datastore knows fewer ENIs than the limit. */
  onEniCountMismatch?: () => void;
  /** A new ENI is attached and in the datastore. */
  onEniAttached?: (eni: AttachedEni) => void;
  /** How the pool is planned; the default is eni-ipam's: the pure planner, woken by every event. */
  policy?: PoolPolicy;
  /** Counts EC2 work for metrics; optional. */
  onAction?: (action: PlanAction['type'], outcome: 'ok' | 'failed') => void;
}

/**
 * Grows and shrinks the node's address pool. Woken by demand, releases, expiries and resyncs (no
 * polling tick), it asks the pure planner what to do and runs the actions against EC2 at once and
 * in parallel, one mutation at a time per ENI. Addresses and ENIs already requested count as
 * in flight, so a second round never asks for them again. Pods that name a subnet or a pool are
 * served by ENIs of that subnet or pool only, grown on demand.
 */
/**
 * The planning policy. eni-ipam plans whenever something changes; benchmarks swap in a policy that
 * plans on a fixed tick instead (the AWS VPC CNI's behaviour), to compare both on one simulator.
 */
export interface PoolPolicy {
  plan(input: PlanInput): PlanDecision;
  /** Plan every tickMs as well (undefined: no tick). */
  tickMs?: number;
  /** Plan when demand, releases or EC2 results wake the driver; false: only on the tick. */
  eventDriven: boolean;
}

export const EVENT_DRIVEN_POLICY: PoolPolicy = { plan, eventDriven: true };

export class PoolDriver {
  private readonly signal = new WakeSignal();
  /** ENIs with a mutation under way: neither planned on nor resynced until it completes. */
  private readonly busy = new Set<string>();
  /** ENIs that answered PrivateIpAddressLimitExceeded. */
  private readonly full = new Set<string>();
  /** Units (addresses, or prefixes in prefix mode) requested and not yet added, by placement key. */
  private readonly unitsInFlight = new Map<string, number>();
  private readonly enisInFlightByKey = new Map<string, number>();
  private eniLimitReached = false;
  private blocker: Blocker | undefined;
  private failures = 0;
  private retryTimer: Timer | undefined;
  private retryNotBefore = 0;
  private overSince: number | undefined;
  private shrinkTimer: Timer | undefined;
  private readonly tasks = new Set<Promise<void>>();

  constructor(private readonly deps: PoolDriverDeps) {}

  wake(): void {
    if (this.policy.eventDriven) this.signal.wake();
  }

  private get policy(): PoolPolicy {
    return this.deps.policy ?? EVENT_DRIVEN_POLICY;
  }

  /** Plans whenever woken, until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const tickMs = this.policy.tickMs;
    if (tickMs !== undefined) void this.tick(tickMs, signal);
    this.signal.wake();
    while (!signal.aborted) {
      await this.signal.wait(signal);
      if (signal.aborted) break;
      this.round();
    }
    this.retryTimer?.cancel();
    this.shrinkTimer?.cancel();
  }

  private async tick(tickMs: number, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.deps.clock.sleep(tickMs, signal);
      } catch {
        return;
      }
      this.signal.wake();
    }
  }

  /** Resolves when every EC2 action started so far has finished. */
  async idle(): Promise<void> {
    while (this.tasks.size > 0) await Promise.allSettled([...this.tasks]);
  }

  /** ENIs a resync must not touch now. */
  busyEnis(): ReadonlySet<string> {
    return this.busy;
  }

  inFlight(): { units: number; enis: number } {
    return { units: sum(this.unitsInFlight), enis: sum(this.enisInFlightByKey) };
  }

  /** Why the pool could not grow the last time it tried, for CNI errors and /readyz. */
  currentBlocker(): string | undefined {
    return this.blocker ? describeBlocker(this.blocker) : undefined;
  }

  /**
   * Why waiting ADDs are not served, even when EC2 refused nothing: the node holds as many
   * addresses as its ENI limit (or MAX_ENI) allows, or as max pods allows.
   */
  shortageReason(): string | undefined {
    const blocker = this.currentBlocker();
    if (blocker !== undefined) return blocker;
    const { datastore, limits } = this.deps;
    const enis = datastore.enis().length;
    const slots = limits.ipv4PerEni - 1;
    const atCapacity = datastore
      .usage()
      .every((u) => (limits.prefixes ? u.prefixes : u.ips) >= slots || this.full.has(u.id));
    if (enis >= limits.maxEnis && atCapacity) {
      return `the node is at its ENI limit: ${enis} of ${limits.maxEnis} ENIs attached (instance type or MAX_ENI), each full`;
    }
    if (datastore.totals().total >= limits.maxPods)
      return `the node holds max pods' worth of addresses (${limits.maxPods})`;
    const { cooling } = datastore.totals();
    if (cooling > 0 && this.inFlight().units === 0) {
      return `${cooling} released addresses are cooling down (IP_COOLDOWN_PERIOD) and the pool is not growing`;
    }
    return undefined;
  }

  /** An ENI was detached or the instance changed: AttachmentLimitExceeded may no longer hold. */
  resetLimits(): void {
    this.eniLimitReached = false;
    this.full.clear();
  }

  /** What the planner sees for the node's default pool (also served at /v1/state). */
  defaultPlanInput(): PlanInput {
    const { datastore, limits, targets } = this.deps;
    const defaultEnis = datastore.enis().filter((eni) => eni.pool === undefined);
    const otherEnis = datastore.enis().length - defaultEnis.length;
    const otherInFlight = sum(this.enisInFlightByKey) - (this.enisInFlightByKey.get(DEFAULT_KEY) ?? 0);
    const usage = new Map(datastore.usage().map((u) => [u.id, u]));
    const pending = this.deps.waiting().filter((p) => placementKey(p) === DEFAULT_KEY).length;
    return {
      limits: { ...limits, maxEnis: Math.max(0, limits.maxEnis - otherEnis - otherInFlight) },
      targets,
      enis: defaultEnis.map((eni) => this.usageOf(eni, usage.get(eni.id))),
      pending,
      inFlight: this.unitsInFlight.get(DEFAULT_KEY) ?? 0,
      enisInFlight: this.enisInFlightByKey.get(DEFAULT_KEY) ?? 0,
      eniLimitReached: this.eniLimitReached,
    };
  }

  private usageOf(eni: EniInfo, usage: EniUsage | undefined): EniUsage {
    const base: EniUsage = usage ?? {
      id: eni.id,
      primary: eni.primary,
      ips: 0,
      prefixes: 0,
      assigned: 0,
      cooldown: 0,
    };
    return { ...base, busy: this.busy.has(eni.id), full: this.full.has(eni.id) };
  }

  private round(): void {
    // Backing off after a failure: demand that arrives meanwhile waits for the retry timer.
    if (this.deps.clock.now() < this.retryNotBefore) return;
    const decision = this.policy.plan(this.defaultPlanInput());
    for (const action of this.holdBackReleases(decision))
      this.launch(action, { key: DEFAULT_KEY, placement: {} });
    for (const [key, group] of this.constrainedDemand())
      this.growForPlacement(key, group.placement, group.count);
  }

  /**
   * Releases wait until the pool has been over its target for SHRINK_AFTER_MS. Under churn a
   * released address cools down while its replacement pod takes a free one, so the pool dips below
   * target, grows by one, and is one over when the cooldown ends: releasing at once would cost an
   * assign and an unassign per pod replaced.
   */
  private holdBackReleases(decision: PlanDecision): PlanAction[] {
    const now = this.deps.clock.now();
    if (!decision.poolTooHigh) this.overSince = undefined;
    const releases = decision.actions.filter((a) => RELEASES.has(a.type));
    if (releases.length === 0) return decision.actions;
    this.overSince ??= now;
    const due = this.overSince + SHRINK_AFTER_MS;
    if (now >= due) return decision.actions;
    this.shrinkTimer?.cancel();
    this.shrinkTimer = this.deps.clock.setTimer(due - now, () => {
      this.wake();
    });
    return decision.actions.filter((a) => !RELEASES.has(a.type));
  }

  /** Waiting ADDs that named a subnet or a pool, grouped by what they named. */
  private constrainedDemand(): Map<string, { placement: Placement; count: number }> {
    const groups = new Map<string, { placement: Placement; count: number }>();
    for (const placement of this.deps.waiting()) {
      const key = placementKey(placement);
      if (key === DEFAULT_KEY) continue;
      const group = groups.get(key) ?? { placement, count: 0 };
      group.count++;
      groups.set(key, group);
    }
    return groups;
  }

  /** Demand-only growth for a subnet or pool: fill its ENIs, then create one in its subnet. */
  private growForPlacement(key: string, placement: Placement, waiting: number): void {
    const { datastore, limits } = this.deps;
    const perUnit = limits.prefixes ? 16 : 1;
    let need = Math.ceil(waiting / perUnit) - (this.unitsInFlight.get(key) ?? 0);
    if (need <= 0) return;
    const slots = limits.ipv4PerEni - 1;
    const usage = new Map(datastore.usage().map((u) => [u.id, u]));
    for (const eni of datastore.enis()) {
      if (need <= 0) break;
      if (!matchesPlacement(eni, placement, limits.primaryEniExcluded === true)) continue;
      if (this.busy.has(eni.id) || this.full.has(eni.id)) continue;
      const u = usage.get(eni.id);
      const room = slots - (limits.prefixes ? (u?.prefixes ?? 0) : (u?.ips ?? 0));
      if (room <= 0) continue;
      const count = Math.min(room, need);
      need -= count;
      this.launch(
        limits.prefixes
          ? { type: 'assignPrefixes', eni: eni.id, count }
          : { type: 'assignIps', eni: eni.id, count },
        { key, placement },
      );
    }
    const enis = datastore.enis().length + sum(this.enisInFlightByKey);
    if (need > 0 && enis < limits.maxEnis && !this.eniLimitReached) {
      this.launch({ type: 'createEni', count: Math.min(need, slots) }, { key, placement });
    } else if (need > 0) {
      this.setBlocker({ kind: 'eni-limit', detail: `${enis} of ${limits.maxEnis} ENIs in use` });
    }
  }

  private launch(action: PlanAction, group: { key: string; placement: Placement }): void {
    let failed = false;
    // EC2 calls that serve ADDs waiting now go before warm-pool refills and releases (limiter.ts).
    // Asked again while a call waits in the limiter: a warm-up becomes demand once pods wait for it.
    const priority = (): 'demand' | 'warm' =>
      RELEASES.has(action.type) || this.deps.waiting().length === 0 ? 'warm' : 'demand';
    const task = withCallPriority(priority, () => this.execute(action, group))
      .then(
        () => {
          this.failures = 0;
          this.deps.onAction?.(action.type, 'ok');
        },
        (err: unknown) => {
          failed = true;
          this.deps.onAction?.(action.type, 'failed');
          this.onFailure(action, err);
        },
      )
      .finally(() => {
        this.tasks.delete(task);
        this.deps.afterChange(action.type);
        // After a failure the retry timer wakes the driver: waking now would retry at once.
        if (!failed) this.wake();
      });
    this.tasks.add(task);
  }

  private async execute(action: PlanAction, group: { key: string; placement: Placement }): Promise<void> {
    switch (action.type) {
      case 'assignIps':
      case 'assignPrefixes':
        return this.assign(action.eni, action.count, action.type === 'assignPrefixes', group.key);
      case 'createEni':
        return this.createEni(action.count, group);
      case 'unassignIps':
      case 'unassignPrefixes':
        return this.unassign(action.eni, action.count, action.type === 'unassignPrefixes');
      case 'deleteEni':
        return this.deleteEni(action.eni);
    }
  }

  private async assign(eniId: string, count: number, prefixes: boolean, key: string): Promise<void> {
    const { ec2, datastore, logger } = this.deps;
    await this.holding(eniId, key, count, async () => {
      const added = prefixes ? await ec2.assignPrefixes(eniId, count) : await ec2.assignIps(eniId, count);
      const result = prefixes ? datastore.addPrefixes(eniId, added) : datastore.addIps(eniId, added);
      if (result.refused.length > 0)
        logger.warn({ eniId, refused: result.refused }, 'EC2 assigned addresses the datastore refused');
      logger.info({ eniId, count: added.length, prefixes }, 'assigned addresses to ENI');
    });
  }

  private async createEni(count: number, group: { key: string; placement: Placement }): Promise<void> {
    const { ec2, datastore, logger, limits, clock } = this.deps;
    const choice = this.deps.subnets.choose(group.placement, clock.now());
    if (choice.kind === 'none') throw new NoSubnetError(choice.reason, choice.retryAt);
    const addresses = limits.prefixes ? count * 16 : count;
    this.enisInFlightByKey.set(group.key, (this.enisInFlightByKey.get(group.key) ?? 0) + 1);
    this.addUnits(group.key, count);
    this.deps.subnets.addInFlight(choice.subnetId, addresses);
    try {
      const eni = await ec2.createAndAttachEni({
        instanceId: this.deps.instanceId,
        subnetId: choice.subnetId,
        securityGroupIds: choice.securityGroupIds,
        secondaryIpCount: limits.prefixes ? 0 : count,
        prefixCount: limits.prefixes ? count : 0,
        ...eniTagsFor(choice),
      });
      datastore.addEni({
        id: eni.eniId,
        subnetId: eni.subnetId,
        subnetCidr: eni.subnetCidr,
        deviceIndex: eni.deviceIndex,
        primary: false,
        ...(choice.pool === undefined ? {} : { pool: choice.pool }),
      });
      if (eni.prefixes.length > 0) datastore.addPrefixes(eni.eniId, eni.prefixes);
      if (eni.secondaryIps.length > 0) datastore.addIps(eni.eniId, eni.secondaryIps);
      this.deps.onEniAttached?.(eni);
      logger.info(
        { eniId: eni.eniId, subnetId: eni.subnetId, deviceIndex: eni.deviceIndex, count },
        'created and attached ENI',
      );
    } finally {
      this.enisInFlightByKey.set(group.key, (this.enisInFlightByKey.get(group.key) ?? 1) - 1);
      this.addUnits(group.key, -count);
      this.deps.subnets.addInFlight(choice.subnetId, -addresses);
    }
  }

  private async unassign(eniId: string, count: number, prefixes: boolean): Promise<void> {
    const { ec2, datastore, logger } = this.deps;
    const candidates = (
      prefixes ? datastore.releasablePrefixes(eniId) : datastore.releasableIps(eniId)
    ).slice(0, count);
    // Out of the datastore first, so no ADD can take an address while EC2 is taking it away.
    const removed = prefixes
      ? datastore.removePrefixes(eniId, candidates)
      : datastore.removeIps(eniId, candidates);
    if (removed.removed.length === 0) return;
    await this.holding(eniId, undefined, 0, async () => {
      try {
        if (prefixes) await ec2.unassignPrefixes(eniId, removed.removed);
        else await ec2.unassignIps(eniId, removed.removed);
        logger.info({ eniId, count: removed.removed.length, prefixes }, 'released surplus addresses to EC2');
      } catch (err) {
        // EC2 still has them: they are free again here rather than lost until the next resync.
        if (prefixes) datastore.addPrefixes(eniId, removed.removed);
        else datastore.addIps(eniId, removed.removed);
        throw err;
      }
    });
  }

  private async deleteEni(eniId: string): Promise<void> {
    const { ec2, datastore, logger } = this.deps;
    const info = datastore.eni(eniId);
    if (!info || info.primary) return;
    const removed = datastore.removeEni(eniId);
    if (removed.type !== 'removed') return;
    await this.holding(eniId, undefined, 0, async () => {
      try {
        await ec2.detachAndDeleteEni(eniId);
        this.resetLimits();
        logger.info({ eniId }, 'deleted surplus ENI');
      } catch (err) {
        // Still attached: the next resync brings it and its addresses back.
        this.deps.afterChange('resync-needed');
        throw err;
      }
    });
  }

  private async holding(
    eniId: string,
    key: string | undefined,
    units: number,
    work: () => Promise<void>,
  ): Promise<void> {
    this.busy.add(eniId);
    if (key !== undefined) this.addUnits(key, units);
    try {
      await work();
    } finally {
      this.busy.delete(eniId);
      if (key !== undefined) this.addUnits(key, -units);
    }
  }

  private addUnits(key: string, delta: number): void {
    const next = (this.unitsInFlight.get(key) ?? 0) + delta;
    if (next <= 0) this.unitsInFlight.delete(key);
    else this.unitsInFlight.set(key, next);
  }

  private onFailure(action: PlanAction, err: unknown): void {
    const { logger, clock } = this.deps;
    const failure = classifyFailure(err);
    this.setBlocker(failure);
    switch (failure.kind) {
      case 'subnet-full':
        if (failure.subnetId !== undefined) this.deps.subnets.markFull(failure.subnetId, clock.now());
        break;
      case 'eni-limit':
        this.eniLimitReached = true;
        // EC2 counts more ENIs than we know of (an attach by a previous run of the agent landed
        // after our start-up listing): look at EC2 now rather than at the next periodic resync.
        if (this.deps.datastore.enis().length < this.deps.limits.maxEnis) this.deps.onEniCountMismatch?.();
        break;
      case 'address-limit':
        if ('eni' in action) this.full.add(action.eni);
        break;
      case 'throttled':
      case 'ec2-unavailable':
      case 'ec2-error':
      case 'no-subnet':
        break;
    }
    logger.warn(
      { action, err: err instanceof Error ? err.message : String(err), blocker: failure.kind },
      'EC2 action failed',
    );
    // Every subnet is in its "full" window: nothing to try before the first window ends.
    if (err instanceof NoSubnetError && err.retryAt !== undefined) this.retryAt(err.retryAt);
    else this.scheduleRetry();
  }

  private retryAt(at: number): void {
    this.retryNotBefore = at;
    this.retryTimer?.cancel();
    this.retryTimer = this.deps.clock.setTimer(Math.max(0, at - this.deps.clock.now()), () => {
      this.wake();
    });
  }

  private setBlocker(blocker: Omit<Blocker, 'at'>): void {
    this.blocker = { ...blocker, at: this.deps.clock.now() } as Blocker;
  }

  /** Failures are retried with capped exponential delay: immediate replanning would hammer EC2. */
  private scheduleRetry(): void {
    this.failures++;
    const delay = Math.min(RETRY_AFTER_FAILURE_MAX_MS, RETRY_AFTER_FAILURE_MIN_MS * 2 ** (this.failures - 1));
    this.retryAt(this.deps.clock.now() + delay);
  }
}

const DEFAULT_KEY = placementKey({});

const RELEASES: ReadonlySet<PlanAction['type']> = new Set(['unassignIps', 'unassignPrefixes', 'deleteEni']);

/** No candidate subnet can take a new ENI now (all opted out, recently full, or too small). */
export class NoSubnetError extends Error {
  override readonly name = 'NoSubnetError';

  constructor(
    message: string,
    /** When a subnet skipped as recently full becomes a candidate again. */
    readonly retryAt: number | undefined,
  ) {
    super(message);
  }
}

function matchesPlacement(eni: EniInfo, placement: Placement, primaryExcluded: boolean): boolean {
  if (primaryExcluded && eni.primary) return false;
  if (placement.pool !== undefined) return eni.pool === placement.pool;
  if (eni.pool !== undefined) return false;
  return placement.subnetId === undefined || eni.subnetId === placement.subnetId;
}

function eniTagsFor(choice: Extract<EniPlacement, { kind: 'ok' }>): { tags?: Record<string, string> } {
  return choice.pool === undefined ? {} : { tags: { [POOL_TAG]: choice.pool } };
}

/** ENIs created for a named pool carry its name, so a restarted agent knows which pool they serve. */
export const POOL_TAG = 'eni-ipam.io/pool';

function sum(map: ReadonlyMap<string, number>): number {
  let total = 0;
  for (const value of map.values()) total += value;
  return total;
}
