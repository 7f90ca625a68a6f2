import { addressesPerUnit } from '../ipam/address.js';
import { withCallPriority } from '../provider/call-priority.js';
import type { Datastore } from '../ipam/datastore.js';
import type { PlanAction, PlanDecision, PlanInput, PlanLimits, WarmTargets } from '../ipam/plan-types.js';
import { plan } from '../ipam/planner.js';
import {
  defaultPoolInput,
  holdBackReleases,
  planPinnedGrowth,
  RELEASES,
  shortage,
  type Shortage,
} from '../ipam/pool-rules.js';
import type { AttachedEni, Ec2Network } from '../provider/ec2-network.js';
import type { Clock, Timer } from '../time/clock.js';
import { describeBlocker, type Blocker, type Failure } from '../ipam/pool-blocker.js';
import { classifyFailure } from './pool-blocker.js';
import type { SubnetForEni, EniSubnetSource } from './eni-subnets.js';
import { DEFAULT_PLACEMENT_KEY, pinnedDemand, placementKey, type Placement } from '../ipam/placement.js';
import { RETRY_AFTER_FAILURE_MAX_MS, RETRY_AFTER_FAILURE_MIN_MS, SHRINK_AFTER_MS } from './intervals.js';
import type { Logger } from './logger.js';
import type { PoolChanges } from './pool-changes.js';
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
  /** Announces new supply after every change to the datastore; hears of new demand. */
  changes: PoolChanges;
  /** Makes the datastore durable in the background (after each EC2 result). */
  persist: () => void;
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

  constructor(private readonly deps: PoolDriverDeps) {
    deps.changes.on('demand', () => {
      this.wake();
    });
  }

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

  /** Why waiting ADDs are not served (ipam/pool-rules.ts shortageReason), for CNI errors. */
  shortageReason(): string | undefined {
    return this.shortage()?.message;
  }

  /** The same with its cause, for the node's Kubernetes events. */
  shortage(): Shortage | undefined {
    const { datastore, limits } = this.deps;
    const { total, cooling } = datastore.totals();
    return shortage({
      blocker: this.blocker,
      limits,
      attachedEnis: datastore.enis().length,
      enis: datastore
        .usage()
        .map((u) => ({ units: limits.prefixes ? u.prefixes : u.ips, full: this.full.has(u.id) })),
      totalAddresses: total,
      cooling,
      unitsInFlight: this.inFlight().units,
    });
  }

  /** An ENI was detached or the instance changed: AttachmentLimitExceeded may no longer hold. */
  resetLimits(): void {
    this.eniLimitReached = false;
    this.full.clear();
  }

  /** What the planner sees for the node's default pool (also served at /v1/state). */
  defaultPlanInput(): PlanInput {
    const { datastore, limits, targets } = this.deps;
    const defaultEnis = this.enisInFlightByKey.get(DEFAULT_PLACEMENT_KEY) ?? 0;
    return defaultPoolInput({
      limits,
      targets,
      enis: datastore.enis(),
      usage: datastore.usage(),
      busy: this.busy,
      full: this.full,
      pending: this.deps.waiting().filter((p) => placementKey(p) === DEFAULT_PLACEMENT_KEY).length,
      unitsInFlight: this.unitsInFlight.get(DEFAULT_PLACEMENT_KEY) ?? 0,
      enisInFlight: defaultEnis,
      pinnedEnisInFlight: sum(this.enisInFlightByKey) - defaultEnis,
      eniLimitReached: this.eniLimitReached,
    });
  }

  private round(): void {
    const { clock } = this.deps;
    // Backing off after a failure: demand that arrives meanwhile waits for the retry timer.
    if (clock.now() < this.retryNotBefore) return;
    const decision = this.policy.plan(this.defaultPlanInput());
    const now = clock.now();
    const held = holdBackReleases(decision, this.overSince, now, SHRINK_AFTER_MS);
    this.overSince = held.overSince;
    if (held.dueAt !== undefined) {
      this.shrinkTimer?.cancel();
      this.shrinkTimer = clock.setTimer(held.dueAt - now, () => {
        this.wake();
      });
    }
    for (const action of held.actions) this.launch(action, { key: DEFAULT_PLACEMENT_KEY, placement: {} });
    for (const [key, group] of pinnedDemand(this.deps.waiting()))
      this.growPinned(key, group.placement, group.count);
  }

  /** Runs the pinned-growth rule (ipam/pool-rules.ts) for one subnet or pool's waiting ADDs. */
  private growPinned(key: string, placement: Placement, waiting: number): void {
    const { datastore, limits } = this.deps;
    const usage = new Map(datastore.usage().map((u) => [u.id, u]));
    const growth = planPinnedGrowth({
      limits,
      placement,
      waiting,
      unitsInFlight: this.unitsInFlight.get(key) ?? 0,
      enis: datastore.enis().map((eni) => {
        const u = usage.get(eni.id);
        return {
          ...eni,
          units: limits.prefixes ? (u?.prefixes ?? 0) : (u?.ips ?? 0),
          busy: this.busy.has(eni.id),
          full: this.full.has(eni.id),
        };
      }),
      enisInUse: datastore.enis().length + sum(this.enisInFlightByKey),
      eniLimitReached: this.eniLimitReached,
    });
    for (const action of growth.actions) this.launch(action, { key, placement });
    if (growth.eniLimit) {
      const { enis, maxEnis } = growth.eniLimit;
      this.setBlocker({ kind: 'eni-limit', detail: `${enis} of ${maxEnis} ENIs in use` });
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
        (outcome) => {
          if (outcome === undefined) {
            this.failures = 0;
            // EC2 took a request: an earlier refusal no longer says why the pool is short.
            this.blocker = undefined;
            this.deps.onAction?.(action.type, 'ok');
            return;
          }
          failed = true;
          this.deps.onAction?.(action.type, 'failed');
          this.onNoSubnet(action, outcome);
        },
        (err: unknown) => {
          failed = true;
          this.deps.onAction?.(action.type, 'failed');
          this.onFailure(action, classifyFailure(err), err instanceof Error ? err.message : String(err));
        },
      )
      .finally(() => {
        this.tasks.delete(task);
        this.changed();
        // After a failure the retry timer wakes the driver: waking now would retry at once.
        if (!failed) this.wake();
      });
    this.tasks.add(task);
  }

  /** Resolves to undefined when done, or to why no subnet could take a new ENI. */
  private async execute(
    action: PlanAction,
    group: { key: string; placement: Placement },
  ): Promise<NoSubnet | undefined> {
    switch (action.type) {
      case 'assignIps':
      case 'assignPrefixes':
        await this.assign(action.eni, action.count, action.type === 'assignPrefixes', group.key);
        return undefined;
      case 'createEni':
        return this.createEni(action.count, group);
      case 'unassignIps':
      case 'unassignPrefixes':
        await this.unassign(action.eni, action.count, action.type === 'unassignPrefixes');
        return undefined;
      case 'deleteEni':
        await this.deleteEni(action.eni);
        return undefined;
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

  private async createEni(
    count: number,
    group: { key: string; placement: Placement },
  ): Promise<NoSubnet | undefined> {
    const { ec2, datastore, logger, limits, clock } = this.deps;
    const choice = this.deps.subnets.choose(group.placement, clock.now());
    if (choice.kind === 'none') return choice;
    const addresses = count * addressesPerUnit(limits.prefixes);
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
    return undefined;
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
        this.changed();
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

  /** The datastore changed here: waiting ADDs may be served, and the change is made durable. */
  private changed(): void {
    this.deps.changes.emit('supply');
    this.deps.persist();
  }

  private addUnits(key: string, delta: number): void {
    const next = (this.unitsInFlight.get(key) ?? 0) + delta;
    if (next <= 0) this.unitsInFlight.delete(key);
    else this.unitsInFlight.set(key, next);
  }

  /** Every candidate subnet is opted out, recently full or too small: retry when one may be back. */
  private onNoSubnet(action: PlanAction, none: NoSubnet): void {
    this.onFailure(action, { kind: 'no-subnet', detail: none.reason }, none.reason, none.retryAt);
  }

  private onFailure(action: PlanAction, failure: Failure, message: string, retryAt?: number): void {
    const { logger, clock } = this.deps;
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
    logger.warn({ action, err: message, blocker: failure.kind }, 'EC2 action failed');
    // Every subnet is in its "full" window: nothing to try before the first window ends.
    if (retryAt !== undefined) this.retryAt(retryAt);
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

/** No candidate subnet can take a new ENI now (all opted out, recently full, or too small). */
type NoSubnet = Extract<SubnetForEni, { kind: 'none' }>;

function eniTagsFor(choice: Extract<SubnetForEni, { kind: 'ok' }>): { tags?: Record<string, string> } {
  return choice.pool === undefined ? {} : { tags: { [POOL_TAG]: choice.pool } };
}

/** ENIs created for a named pool carry its name, so a restarted agent knows which pool they serve. */
export const POOL_TAG = 'eni-ipam.io/pool';

function sum(map: ReadonlyMap<string, number>): number {
  let total = 0;
  for (const value of map.values()) total += value;
  return total;
}
