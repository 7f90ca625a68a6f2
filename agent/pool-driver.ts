import { withCallPriority } from '../provider/call-priority.js';
import type { PlanAction, PlanInput, WarmTargets } from '../ipam/plan-types.js';
import {
  addressesBrought,
  defaultPlanInput,
  nodeShortage,
  planNode,
  servesWaitingAdds,
  totalInFlight,
  type NodeSettings,
  type NodeState,
  type NodePlan,
  type PlannedAction,
} from '../ipam/node-plan.js';
import type { Shortage } from '../ipam/pool-rules.js';
import { repeatEvery, type Timer } from '../time/clock.js';
import type { Failure } from '../ipam/pool-blocker.js';
import { classifyFailure } from './pool-blocker.js';
import { placementKey, type Placement } from '../ipam/placement.js';
import { RETRY_AFTER_FAILURE_MAX_MS, RETRY_AFTER_FAILURE_MIN_MS, SHRINK_AFTER_MS } from './intervals.js';
import type { PoolChanges } from './pool-changes.js';
import { EVENT_DRIVEN_POLICY, type PoolPolicy } from './pool-policy.js';
import { PoolWork, type NoSubnet, type PoolWorkDeps } from './pool-work.js';
import { WakeSignal } from './wake-signal.js';

/** PoolWork's needs (EC2, the datastore, the subnet choice) and what planning adds to them. */
export interface PoolDriverDeps extends Omit<PoolWorkDeps, 'changed'> {
  targets: WarmTargets;
  /** Placements of the CNI ADDs waiting now, oldest first. */
  waiting: () => readonly Placement[];
  /** Announces new supply after every change to the datastore; hears of new demand. */
  changes: PoolChanges;
  /** Makes the datastore durable in the background (after each EC2 result). */
  persist: () => void;
  /** How the pool is planned; the default is eni-ipam's: the pure planner, woken by every event. */
  policy?: PoolPolicy;
  /** An EC2 action starts; the function returned hears how it ended. */
  onAction?: (action: PlanAction['type']) => (outcome: 'ok' | 'failed') => void;
}

/**
 * Carries out the node's pool decisions (ipam/node-plan.ts planNode). Woken by demand, releases,
 * expiries and resyncs (no polling tick), it plans once per round and runs the actions against EC2
 * at once and in parallel, one mutation at a time per ENI (agent/pool-work.ts). It owns the timers:
 * the retry after EC2 refused, and the round when held-back releases fall due.
 */
export class PoolDriver {
  private readonly signal = new WakeSignal();
  private readonly work: PoolWork;
  private readonly settings: NodeSettings;
  private failures = 0;
  private retryTimer: Timer | undefined;
  private retryNotBefore = 0;
  private overSince: number | undefined;
  private shrinkTimer: Timer | undefined;
  private readonly tasks = new Set<Promise<void>>();
  /** Addresses each action under way brings, by launch order: earlier actions serve waiting ADDs first. */
  private readonly onTheWay = new Map<number, { key: string; addresses: number }>();
  private launches = 0;

  constructor(private readonly deps: PoolDriverDeps) {
    this.settings = { limits: deps.limits, targets: deps.targets, shrinkAfterMs: SHRINK_AFTER_MS };
    this.work = new PoolWork({
      ...deps,
      changed: () => {
        this.changed();
      },
    });
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
    if (tickMs !== undefined) {
      void repeatEvery(this.deps.clock, tickMs, signal, () => {
        this.signal.wake();
      });
    }
    this.signal.wake();
    while (!signal.aborted) {
      await this.signal.wait(signal);
      if (signal.aborted) break;
      this.round();
    }
    this.retryTimer?.cancel();
    this.shrinkTimer?.cancel();
  }

  /** Resolves when every EC2 action started so far has finished. */
  async idle(): Promise<void> {
    while (this.tasks.size > 0) await Promise.allSettled([...this.tasks]);
  }

  /** ENIs a resync must not touch now. */
  busyEnis(): ReadonlySet<string> {
    return this.work.busy;
  }

  inFlight(): { units: number; enis: number } {
    return totalInFlight({ inFlight: this.work.inFlight() });
  }

  /** Why the pool could not grow the last time it tried, for CNI errors and /readyz. */
  currentBlocker(): string | undefined {
    return this.work.currentBlocker();
  }

  /**
   * The decision planNode takes for the node now, as the next round would take it, and whether
   * the driver acts on it now (false while it backs off after EC2 refused or no subnet fitted).
   */
  decision(): { plan: NodePlan; acting: boolean } {
    const now = this.deps.clock.now();
    const decided = planNode(this.nodeState(), this.settings, now, this.policy.plan.bind(this.policy));
    return { plan: decided, acting: now >= this.retryNotBefore };
  }

  /** Why waiting ADDs are not served (ipam/node-plan.ts nodeShortage), for CNI errors. */
  shortageReason(): string | undefined {
    return this.shortage()?.message;
  }

  /** The same with its cause, for the node's Kubernetes events. */
  shortage(): Shortage | undefined {
    return nodeShortage(this.nodeState(), this.settings);
  }

  /** An ENI was detached or the instance changed: AttachmentLimitExceeded may no longer hold. */
  resetLimits(): void {
    this.work.resetLimits();
  }

  /** What the planner sees for the node's default pool (also served at /v1/state). */
  defaultPlanInput(): PlanInput {
    return defaultPlanInput(this.nodeState(), this.settings);
  }

  private nodeState(): NodeState {
    return this.work.nodeState(this.deps.waiting(), this.overSince);
  }

  private round(): void {
    const { clock } = this.deps;
    // Backing off after a failure: demand that arrives meanwhile waits for the retry timer.
    if (clock.now() < this.retryNotBefore) return;
    const now = clock.now();
    const decided = planNode(this.nodeState(), this.settings, now, this.policy.plan.bind(this.policy));
    this.overSince = decided.overSince;
    if (decided.releaseDueAt !== undefined) {
      this.shrinkTimer?.cancel();
      this.shrinkTimer = clock.setTimer(decided.releaseDueAt - now, () => {
        this.wake();
      });
    }
    // Each action starts at once (up to its first EC2 call), as planNode assumed for the next.
    for (const planned of decided.actions) this.launch(planned);
    if (decided.blocker) this.work.setBlocker(decided.blocker);
  }

  private launch(planned: PlannedAction): void {
    const { action } = planned;
    const ended = this.deps.onAction?.(action.type);
    let failed = false;
    // EC2 calls that serve ADDs waiting now go before warm-pool refills and releases (limiter.ts).
    // Asked again while a call waits in the limiter: a warm-up becomes demand once pods wait for it.
    const seq = this.launches++;
    this.onTheWay.set(seq, {
      key: planned.key,
      addresses: addressesBrought(action, this.settings.limits.prefixes),
    });
    const priority = (): 'demand' | 'warm' =>
      servesWaitingAdds(action, this.waitingFor(planned.key), this.broughtBefore(seq, planned.key))
        ? 'demand'
        : 'warm';
    const task = withCallPriority(priority, () => this.work.run(planned))
      .then(
        (outcome) => {
          if (outcome === undefined) {
            this.failures = 0;
            this.work.clearBlocker();
            ended?.('ok');
            return;
          }
          failed = true;
          ended?.('failed');
          this.onNoSubnet(action, outcome);
        },
        (err: unknown) => {
          failed = true;
          ended?.('failed');
          this.onFailure(action, classifyFailure(err), err instanceof Error ? err.message : String(err));
        },
      )
      .finally(() => {
        this.onTheWay.delete(seq);
        this.tasks.delete(task);
        this.changed();
        // After a failure the retry timer wakes the driver: waking now would retry at once.
        if (!failed) this.wake();
      });
    this.tasks.add(task);
  }

  /** ADDs waiting now for addresses of this placement. */
  private waitingFor(key: string): number {
    let n = 0;
    for (const placement of this.deps.waiting()) if (placementKey(placement) === key) n++;
    return n;
  }

  /** Addresses that actions launched before `seq` for this placement still bring. */
  private broughtBefore(seq: number, key: string): number {
    let n = 0;
    for (const [at, work] of this.onTheWay) {
      if (at >= seq) break;
      if (work.key === key) n += work.addresses;
    }
    return n;
  }

  /** The datastore changed here: waiting ADDs may be served, and the change is made durable. */
  private changed(): void {
    this.deps.changes.emit('supply');
    this.deps.persist();
  }

  /** Every candidate subnet is opted out, recently full or too small: retry when one may be back. */
  private onNoSubnet(action: PlanAction, none: NoSubnet): void {
    this.onFailure(action, { kind: 'no-subnet', detail: none.reason }, none.reason, none.retryAt);
  }

  private onFailure(action: PlanAction, failure: Failure, message: string, retryAt?: number): void {
    this.work.refused(action, failure);
    this.deps.logger.warn({ action, err: message, blocker: failure.kind }, 'EC2 action failed');
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

  /** Failures are retried with capped exponential delay: immediate replanning would hammer EC2. */
  private scheduleRetry(): void {
    this.failures++;
    const delay = Math.min(RETRY_AFTER_FAILURE_MAX_MS, RETRY_AFTER_FAILURE_MIN_MS * 2 ** (this.failures - 1));
    this.retryAt(this.deps.clock.now() + delay);
  }
}
