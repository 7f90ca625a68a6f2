import { addressesPerUnit } from '../ipam/address.js';
import type { Datastore } from '../ipam/datastore.js';
import type { InFlight, NodeState, PlannedAction } from '../ipam/node-plan.js';
import type { Placement } from '../ipam/placement.js';
import type { PlanAction, PlanLimits } from '../ipam/plan-types.js';
import { describeBlocker, type Blocker, type Failure } from '../ipam/pool-blocker.js';
import type { AttachedEni, Ec2Network } from '../provider/ec2-network.js';
import type { Clock } from '../time/clock.js';
import type { EniSubnetSource, SubnetForEni } from './eni-subnets.js';
import type { Logger } from './logger.js';

export interface PoolWorkDeps {
  datastore: Datastore;
  ec2: Ec2Network;
  clock: Clock;
  logger: Logger;
  instanceId: string;
  limits: PlanLimits;
  subnets: EniSubnetSource;
  /** A new ENI is attached and in the datastore. */
  onEniAttached?: (eni: AttachedEni) => void;
  /** EC2 refused an attachment although the datastore knows fewer ENIs than the limit. */
  onEniCountMismatch?: () => void;
  /** The datastore changed outside an action's normal end (a failed delete). */
  changed: () => void;
}

/** No candidate subnet can take a new ENI now (all opted out, recently full, or too small). */
export type NoSubnet = Extract<SubnetForEni, { kind: 'none' }>;

/** ENIs created for a named pool carry its name, so a restarted agent knows which pool they serve. */
export const POOL_TAG = 'eni-ipam.io/pool';

/**
 * Runs one planned action against EC2 and the datastore, and keeps the books that planNode reads
 * beside the datastore: ENIs with a mutation in flight (neither planned on nor resynced until it
 * completes), units and ENIs requested per placement (so that the next round does not ask for them
 * again), and what EC2 refused (the ENI limit, full ENIs, the last blocker).
 */
export class PoolWork {
  readonly busy = new Set<string>();
  private readonly pending = new Map<string, { units: number; enis: number }>();
  /** ENIs that answered PrivateIpAddressLimitExceeded. */
  private readonly full = new Set<string>();
  private eniLimitReached = false;
  private blocker: Blocker | undefined;

  constructor(private readonly deps: PoolWorkDeps) {}

  /** The node as planNode sees it: the datastore, the waiting ADDs and the work under way. */
  nodeState(waiting: readonly Placement[], overSince: number | undefined): NodeState {
    const { datastore } = this.deps;
    const usage = new Map(datastore.usage().map((u) => [u.id, u]));
    const blocker = this.blocker;
    const zero = { ips: 0, prefixes: 0, assigned: 0, cooldown: 0 };
    return {
      enis: datastore.enis().map((eni) => ({
        ...(usage.get(eni.id) ?? { id: eni.id, primary: eni.primary, ...zero }),
        subnetId: eni.subnetId,
        ...(eni.pool === undefined ? {} : { pool: eni.pool }),
        busy: this.busy.has(eni.id),
        full: this.full.has(eni.id),
      })),
      waiting,
      inFlight: this.inFlight(),
      eniLimitReached: this.eniLimitReached,
      ...(blocker === undefined ? {} : { blocker }),
      ...(overSince === undefined ? {} : { overSince }),
    };
  }

  /** Why the pool could not grow the last time it tried, for CNI errors and /readyz. */
  currentBlocker(): string | undefined {
    return this.blocker ? describeBlocker(this.blocker) : undefined;
  }

  setBlocker(blocker: Failure): void {
    this.blocker = { ...blocker, at: this.deps.clock.now() };
  }

  /** EC2 took a request: an earlier refusal no longer says why the pool is short. */
  clearBlocker(): void {
    this.blocker = undefined;
  }

  /** An ENI was detached or the instance changed: AttachmentLimitExceeded may no longer hold. */
  resetLimits(): void {
    this.eniLimitReached = false;
    this.full.clear();
  }

  /** Records what EC2's refusal of `action` tells of the node. */
  refused(action: PlanAction, failure: Failure): void {
    const { datastore, limits } = this.deps;
    this.setBlocker(failure);
    if (failure.kind === 'subnet-full' && failure.subnetId !== undefined) {
      this.deps.subnets.markFull(failure.subnetId, this.deps.clock.now());
    } else if (failure.kind === 'eni-limit') {
      this.eniLimitReached = true;
      // EC2 counts more ENIs than we know of (an attach by a previous run of the agent landed
      // after our start-up listing): look at EC2 now rather than at the next periodic resync.
      if (datastore.enis().length < limits.maxEnis) this.deps.onEniCountMismatch?.();
    } else if (failure.kind === 'address-limit' && 'eni' in action) {
      this.full.add(action.eni);
    }
  }

  /** Work requested and not yet in the datastore, by placement key. */
  inFlight(): Record<string, InFlight> {
    return Object.fromEntries([...this.pending].map(([key, work]) => [key, { ...work }]));
  }

  /** Resolves to undefined when done, or to why no subnet could take a new ENI. */
  async run({ action, key, placement }: PlannedAction): Promise<NoSubnet | undefined> {
    switch (action.type) {
      case 'assignIps':
      case 'assignPrefixes':
        await this.assign(action.eni, action.count, action.type === 'assignPrefixes', key);
        return undefined;
      case 'createEni':
        return this.createEni(action.count, key, placement);
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

  private async createEni(count: number, key: string, placement: PlannedAction['placement']) {
    const { ec2, datastore, logger, limits, clock } = this.deps;
    const choice = this.deps.subnets.choose(placement, clock.now());
    if (choice.kind === 'none') return choice;
    const addresses = count * addressesPerUnit(limits.prefixes);
    this.add(key, count, 1);
    this.deps.subnets.addInFlight(choice.subnetId, addresses);
    try {
      const eni = await ec2.createAndAttachEni({
        instanceId: this.deps.instanceId,
        subnetId: choice.subnetId,
        securityGroupIds: choice.securityGroupIds,
        secondaryIpCount: limits.prefixes ? 0 : count,
        prefixCount: limits.prefixes ? count : 0,
        ...(choice.pool === undefined ? {} : { tags: { [POOL_TAG]: choice.pool } }),
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
      this.add(key, -count, -1);
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
        this.deps.changed();
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
    if (key !== undefined) this.add(key, units, 0);
    try {
      await work();
    } finally {
      this.busy.delete(eniId);
      if (key !== undefined) this.add(key, -units, 0);
    }
  }

  private add(key: string, units: number, enis: number): void {
    const work = this.pending.get(key) ?? { units: 0, enis: 0 };
    work.units += units;
    work.enis += enis;
    if (work.units <= 0 && work.enis <= 0) this.pending.delete(key);
    else this.pending.set(key, work);
  }
}
