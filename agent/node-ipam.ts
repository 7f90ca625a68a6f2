import { parseCidr, subnetGateway } from '../ipam/address.js';
import { podAddressCapacity } from '../ipam/pool-rules.js';
import { keyString, type Datastore } from '../ipam/datastore.js';
import type {
  AssignmentKey,
  AssignRequest,
  AssignResult,
  Assignment,
  OwnerRef,
} from '../ipam/datastore-types.js';
import type { PlanLimits } from '../ipam/plan-types.js';
import type { Clock, Timer } from '../time/clock.js';
import type { AddWaitQueue } from './add-wait-queue.js';
import {
  CniCode,
  type AddOutcome,
  type AddRequest,
  type AttachmentKey,
  type CheckOutcome,
  type CheckRequest,
  type CniBackend,
  type CniFailure,
  type DelOutcome,
  type DelRequest,
  type GcOutcome,
  type IpamResult,
  type StatusOutcome,
} from './cni-backend.js';
import { podGateway } from '../datapath/desired-state.js';
import type { Logger } from './logger.js';
import type { PoolChanges } from './pool-changes.js';
import { placementOf, type Placement } from '../ipam/placement.js';

export type Assigned = Extract<AssignResult, { type: 'assigned' }>;

export type PlacementResolution =
  { kind: 'ok'; placement: Placement; owner?: OwnerRef } | { kind: 'error'; message: string };

/** What the CNI endpoint reports for metrics; every method optional in spirit, all cheap. */
export interface IpamEvents {
  add(outcome: 'ok' | 'waited' | 'failed', waitedMs: number): void;
  del(outcome: 'ok' | 'not-found'): void;
  noFreeAddress(): void;
}

export interface NodeIpamDeps {
  datastore: Datastore;
  clock: Clock;
  logger: Logger;
  limits: PlanLimits;
  cooldownMs: number;
  addWaitMs: number;
  /** Makes the datastore's current state durable; resolves when it is. */
  persist: () => Promise<void>;
  /** Announces demand (an ADD waits, addresses were taken or released); hears of new supply. */
  changes: PoolChanges;
  /** ADDs waiting for an address, oldest first; the pool driver reads their placements. */
  waiters: AddWaitQueue<AssignRequest, Assigned>;
  /** Why the pool could not grow, for the message of an ADD that timed out. */
  blocker: () => string | undefined;
  placementFor: (req: AddRequest) => PlacementResolution;
  /**
   * True when a DEL must keep the address: its owner (a KubeVirt VM) still exists and only its pod
   * went away (the VM stopped or migrated). The leak reaper frees it when the VM is deleted.
   */
  keepOnDel?: (assignment: Assignment) => boolean;
  events?: IpamEvents;
  /**
   * The node datapath: brings the kernel in line with these addresses as the datastore holds them
   * (rules installed for an assigned address, removed for a released one). An ADD's address is
   * returned only once this resolves.
   */
  syncDatapath?: (addresses: readonly string[]) => Promise<void>;
}

/** Plugin-specific CNI codes (100 and up are ours). */
export const CNI_CODE_PLACEMENT = 110;
export const CNI_CODE_KEY_CONFLICT = 111;
export const CNI_CODE_NOT_READY = CniCode.tryAgainLater;

/** The most turns of the event loop a demand announcement waits for one that read no request. */
export const MAX_QUIET_WAIT_TURNS = 64;

/**
 * The agent side of every CNI call. An ADD takes a free address at once when there is one; when
 * there is none it waits, in arrival order and bounded, while the pool driver brings addresses,
 * instead of failing and sending kubelet into back-off. Every answer that hands out or takes back
 * an address is given only once the checkpoint holding it is durable.
 */
export class NodeIpam implements CniBackend {
  private readonly waiters: AddWaitQueue<AssignRequest, Assigned>;
  private cooldownTimer: Timer | undefined;
  private cooldownTimerAt: number | undefined;
  private ready = false;
  private readonly podGateways = new Map<string, string>();
  private demandAnnounced = false;
  /** CNI requests come in so far: a planning round waits for a turn of the event loop without one. */
  private requestsSeen = 0;

  constructor(private readonly deps: NodeIpamDeps) {
    this.waiters = deps.waiters;
    deps.changes.on('supply', () => {
      this.afterChange();
    });
  }

  /** Opens the endpoint for ADDs once the first reconcile is done. */
  markReady(): void {
    this.ready = true;
    this.afterChange();
  }

  waitingCount(): number {
    return this.waiters.length;
  }

  oldestWaitMs(): number {
    return this.waiters.oldestWaitMs();
  }

  /** The datastore changed: serve waiters, schedule the next cooldown expiry, persist. */
  afterChange(): void {
    const now = this.deps.clock.now();
    const served = this.waiters.serve((request) => {
      const result = this.deps.datastore.assign(request, now);
      return result.type === 'assigned' ? result : undefined;
    });
    if (served > 0) this.deps.logger.debug({ served }, 'served waiting ADDs');
    this.scheduleCooldownExpiry();
  }

  async add(req: AddRequest, signal: AbortSignal): Promise<AddOutcome> {
    this.requestsSeen++;
    const { datastore, clock, limits } = this.deps;
    if (!this.ready)
      return failure(CNI_CODE_NOT_READY, 'eni-ipam is starting: its first reconcile with EC2 is not done');
    const key = assignmentKeyOf(req);
    const existing = datastore.assignmentOf(key);
    if (existing) return this.answer(this.resultOfAssignment(existing), 0, 'ok');

    const resolution = this.deps.placementFor(req);
    if (resolution.kind === 'error') return failure(CNI_CODE_PLACEMENT, resolution.message);
    // ADDs already waiting will take addresses too: counting only assigned ones would let a burst
    // queue far beyond max pods and then be served past it.
    const assigned = datastore.totals().assigned;
    const capacity = podAddressCapacity(limits);
    if (assigned + this.waiters.length >= capacity) {
      return failure(
        CniCode.tryAgainLater,
        `node is at its max pods: ${assigned} addresses assigned and ${this.waiters.length} ADDs waiting of ${capacity} it can hold (max pods ${limits.maxPods})`,
        'the scheduler placed more pods than the instance type can address; check kubelet --max-pods',
      );
    }
    const owned = resolution.owner === undefined ? undefined : this.heldByOwner(resolution.owner);
    if (owned) {
      // The VM's next pod takes over the address the VM kept: same VM, same address.
      const network = req.network === '' ? undefined : req.network;
      const moved = datastore.transfer(owned.key, key, podOf(req), clock.now(), network);
      if (moved.type === 'assigned') return this.answer(moved, 0, 'ok');
    }
    const request: AssignRequest = {
      key,
      pod: podOf(req),
      ...(req.network === '' ? {} : { network: req.network }),
      ...(resolution.owner === undefined ? {} : { owner: resolution.owner }),
      constraints: {
        ...placementOf(resolution.placement),
        ...(limits.primaryEniExcluded === true ? { excludePrimaryEni: true } : {}),
      },
    };
    // Waiters that came first are served first: a new ADD never overtakes them.
    const first = this.waiters.length === 0 ? datastore.assign(request, clock.now()) : undefined;
    if (first?.type === 'assigned') return this.answer(first, 0, 'ok');
    if (first?.type === 'key-conflict') {
      return failure(
        CNI_CODE_KEY_CONFLICT,
        `container ${req.containerId} interface ${req.ifname} already holds ${first.address} for pod ${first.heldBy.namespace}/${first.heldBy.name}`,
      );
    }
    this.deps.events?.noFreeAddress();
    const waiting = this.waiters.wait(request, this.deps.addWaitMs, signal);
    this.deps.changes.emit('demand');
    const outcome = await waiting;
    switch (outcome.kind) {
      case 'served':
        return this.answer(outcome.result, outcome.waitedMs, 'waited');
      case 'timeout': {
        this.deps.events?.add('failed', outcome.waitedMs);
        const why = this.deps.blocker() ?? 'addresses are still on their way from EC2';
        return failure(
          CniCode.tryAgainLater,
          `no free address within ${Math.round(outcome.waitedMs / 1000)} s: ${why}`,
        );
      }
      case 'aborted':
        this.deps.events?.add('failed', outcome.waitedMs);
        return failure(CniCode.tryAgainLater, 'the ADD was cancelled before an address was free');
    }
  }

  async del(req: DelRequest): Promise<DelOutcome> {
    this.requestsSeen++;
    const { datastore, clock } = this.deps;
    const key = assignmentKeyOf(req);
    // The runtime gave up on this attachment while its ADD waits for an address: that ADD must not
    // be served afterwards (the address would stay with a deleted container). A spooled release
    // predates any ADD still waiting.
    if (req.spooledAt === undefined) {
      const cancelled = this.waiters.cancel(
        (r) => r.key.containerId === key.containerId && r.key.ifName === key.ifName,
      );
      if (cancelled > 0)
        this.deps.logger.info({ containerId: key.containerId, cancelled }, 'DEL cancelled a waiting ADD');
    }
    const held = datastore.assignmentOf(key);
    // A spooled release predates any ADD made after it: that later assignment is not its to free.
    if (!held || (req.spooledAt !== undefined && held.assignedAt > req.spooledAt)) {
      this.deps.events?.del('not-found');
      return { kind: 'ok' };
    }
    if (this.deps.keepOnDel?.(held) === true) {
      this.deps.logger.info(
        { address: held.address, owner: held.owner },
        'DEL keeps the address for its owner',
      );
      this.deps.events?.del('ok');
      return { kind: 'ok' };
    }
    datastore.release(key, clock.now(), this.deps.cooldownMs);
    this.deps.events?.del('ok');
    await this.deps.persist();
    this.afterChange();
    this.demandAfterAnswers();
    if (this.deps.syncDatapath) await this.syncDatapathQuietly([held.address]);
    return { kind: 'ok' };
  }

  check(req: CheckRequest): Promise<CheckOutcome> {
    const held = this.deps.datastore.assignmentOf(assignmentKeyOf(req));
    if (!held) {
      return Promise.resolve(
        failure(
          CniCode.unknownContainer,
          `container ${req.containerId} interface ${req.ifname} holds no address`,
        ),
      );
    }
    const expected = req.addresses.map((cidr) => cidr.split('/')[0]);
    if (expected.length > 0 && !expected.includes(held.address)) {
      return Promise.resolve(
        failure(
          CniCode.invalidNetworkConfig,
          `container holds ${held.address}, not ${req.addresses.join(', ')}`,
        ),
      );
    }
    return Promise.resolve({ kind: 'ok' });
  }

  async gc(validAttachments: readonly AttachmentKey[], network: string): Promise<GcOutcome> {
    const { datastore, clock, logger } = this.deps;
    const valid = new Set(validAttachments.map((a) => keyString(assignmentKeyOf(a))));
    let released = 0;
    const addresses: string[] = [];
    for (const assignment of datastore.assignments()) {
      // Another network's GC lists only its own attachments: ours are not its to judge. An
      // assignment of unknown network (recovered, or from an older checkpoint) is left to the
      // leak reaper, which frees it once its pod is gone.
      if (assignment.network !== network) continue;
      if (valid.has(keyString(assignment.key))) continue;
      datastore.release(assignment.key, clock.now(), this.deps.cooldownMs);
      logger.info(
        { address: assignment.address, containerId: assignment.key.containerId },
        'CNI GC released an address',
      );
      released++;
      addresses.push(assignment.address);
    }
    if (released > 0) {
      await this.deps.persist();
      this.afterChange();
      this.deps.changes.emit('demand');
      if (this.deps.syncDatapath) await this.syncDatapathQuietly(addresses);
    }
    return { kind: 'ok', released };
  }

  status(): Promise<StatusOutcome> {
    if (!this.ready) return Promise.resolve(failure(CniCode.notAvailable, 'eni-ipam is starting'));
    const { assigned } = this.deps.datastore.totals();
    const capacity = podAddressCapacity(this.deps.limits);
    if (assigned + this.waiters.length >= capacity) {
      return Promise.resolve(
        failure(
          CniCode.notAvailable,
          `node is at its max pods: ${assigned} of ${capacity} pod addresses assigned (max pods ${this.deps.limits.maxPods})`,
        ),
      );
    }
    return Promise.resolve({ kind: 'ok' });
  }

  /** Answers every waiting ADD (shutdown): they fail with "try again later" and keep nothing. */
  close(): void {
    this.waiters.drain();
    this.cooldownTimer?.cancel();
  }

  private async answer(result: Assigned, waitedMs: number, kind: 'ok' | 'waited'): Promise<AddOutcome> {
    // The checkpoint write and the pod's rules are independent: both run at once, and the answer
    // waits for both. Installing the rules of an address whose write then fails does no harm: the
    // address stays the container's in memory and the runtime's retry gets it again.
    const durable = this.deps.persist();
    const rules = this.deps.syncDatapath?.([result.address]).then(
      () => undefined,
      (err: unknown) => err as Error,
    );
    await durable;
    // Only with a datapath: without one, the answer keeps exactly its old timing.
    if (rules) {
      const failed = await rules;
      if (failed) {
        // The address stays the container's: the runtime's retry gets it again and retries the rules.
        this.deps.events?.add('failed', waitedMs);
        return failure(
          CniCode.tryAgainLater,
          `${result.address} is assigned but its routing rules could not be installed: ${failed.message}`,
        );
      }
    }
    this.deps.events?.add(kind, waitedMs);
    // Taking an address may drop the pool below its warm target.
    this.demandAfterAnswers();
    return { kind: 'ok', result: toIpamResult(result, this.podGatewayOf(result.subnetCidr)) };
  }

  /**
   * Announces the demand of ADDs and DELs that took or returned an address once the answers of
   * this turn are out: the planning round it wakes would otherwise run between a group's durable
   * write and its answers, and every ADD of the group would wait for it. One announcement covers
   * the whole group. An ADD that must wait for an address announces at once (add above).
   */
  private demandAfterAnswers(): void {
    if (this.demandAnnounced) return;
    this.demandAnnounced = true;
    this.announceDemandWhenQuiet(this.requestsSeen, 0);
  }

  /**
   * While a burst is coming in, the announcement waits for a turn of the event loop that read no
   * new request (at most MAX_QUIET_WAIT_TURNS turns): a planning round that starts an EC2 call
   * (building the request, signing it) runs in a turn of its own, not in front of the requests
   * read in that turn, which would wait for it. The pool's refill starts a few turns later, a
   * fraction of a millisecond each; ADDs that find no address announce at once.
   */
  private announceDemandWhenQuiet(seen: number, turns: number): void {
    setImmediate(() => {
      if (this.requestsSeen !== seen && turns < MAX_QUIET_WAIT_TURNS) {
        this.announceDemandWhenQuiet(this.requestsSeen, turns + 1);
        return;
      }
      this.demandAnnounced = false;
      this.deps.changes.emit('demand');
    });
  }

  /** The pod gateway of a subnet, parsed once: a node has a handful of subnets and many ADDs. */
  private podGatewayOf(subnetCidr: string): string {
    let gateway = this.podGateways.get(subnetCidr);
    if (gateway === undefined) {
      gateway = podGateway(subnetCidr);
      this.podGateways.set(subnetCidr, gateway);
    }
    return gateway;
  }

  /** A release's rules are removed as soon as possible; a failure is retried by the next reconcile. */
  private async syncDatapathQuietly(addresses: readonly string[]): Promise<void> {
    try {
      await this.deps.syncDatapath?.(addresses);
    } catch (err) {
      this.deps.logger.warn(
        { addresses, err: (err as Error).message },
        "removing released addresses' rules failed",
      );
    }
  }

  private resultOfAssignment(assignment: Assignment): Assigned {
    const eni = this.deps.datastore.eni(assignment.eniId);
    const cidr = eni?.subnetCidr ?? `${assignment.address}/32`;
    const prefixLength = Number(cidr.split('/')[1] ?? 32);
    return {
      type: 'assigned',
      address: assignment.address,
      eniId: assignment.eniId,
      subnetId: assignment.subnetId,
      subnetCidr: cidr,
      prefixLength,
      gateway: subnetGateway(parseCidr(cidr)),
      existing: true,
    };
  }

  private heldByOwner(owner: OwnerRef): Assignment | undefined {
    return this.deps.datastore
      .assignments()
      .find(
        (a) =>
          a.owner !== undefined &&
          a.owner.kind === owner.kind &&
          (owner.uid !== '' && a.owner.uid !== ''
            ? a.owner.uid === owner.uid
            : a.owner.namespace === owner.namespace && a.owner.name === owner.name),
      );
  }

  private scheduleCooldownExpiry(): void {
    const next = this.deps.datastore.nextCooldownExpiry();
    if (next === undefined || next === this.cooldownTimerAt) return;
    this.cooldownTimer?.cancel();
    this.cooldownTimerAt = next;
    this.cooldownTimer = this.deps.clock.setTimer(Math.max(0, next - this.deps.clock.now()), () => {
      this.cooldownTimerAt = undefined;
      const expired = this.deps.datastore.expireCooldowns(this.deps.clock.now());
      if (expired.length > 0) this.deps.changes.emit('demand');
      this.afterChange();
    });
  }
}

function podOf(req: AddRequest): { uid: string; namespace: string; name: string } {
  return { uid: req.pod.uid ?? '', namespace: req.pod.namespace ?? '', name: req.pod.name ?? '' };
}

/** The datastore's key for a CNI attachment (the CNI spells the interface name `ifname`). */
function assignmentKeyOf(attachment: AttachmentKey): AssignmentKey {
  return { containerId: attachment.containerId, ifName: attachment.ifname };
}

function toIpamResult(result: Assigned, gateway: string): IpamResult {
  return {
    ips: [{ address: `${result.address}/${result.prefixLength}`, gateway }],
    routes: [{ dst: '0.0.0.0/0' }],
  };
}

function failure(cniCode: number, message: string, details?: string): CniFailure {
  return { kind: 'failure', cniCode, message, ...(details === undefined ? {} : { details }) };
}
