import { Datastore } from '../ipam/datastore.js';
import type { Assignment, AssignRequest } from '../ipam/datastore-types.js';
import { salvageDatastore, SnapshotText } from '../ipam/datastore-snapshot.js';
import { maxPods } from '../ipam/max-pods.js';
import type { PlanAction, PlanInput, PlanLimits, WarmTargets } from '../ipam/plan-types.js';
import type { NodePlan } from '../ipam/node-plan.js';
import type { Shortage } from '../ipam/pool-rules.js';
import type { InstanceLimits } from '../ipam/instance-types.js';
import { isEc2Error, isPermissionDenied } from '../provider/aws-errors.js';
import { parseCidr, usableAddressCount } from '../ipam/address.js';
import type { AttachedEni, Ec2Network, InstanceIdentity, SubnetInfo } from '../provider/ec2-network.js';
import { repeatEvery, type Clock } from '../time/clock.js';
import { journaledText, type Checkpointer } from './checkpoint.js';
import { syncWithEc2, type SyncReport } from './ec2-sync.js';
import { EniSubnets, type PodNetworkPool } from './eni-subnets.js';
import { LEAKED_ENI_SCAN_INTERVAL_MS, LEAK_SCAN_INTERVAL_MS } from './intervals.js';
import type { NodePods } from './kube/pod-watch.js';
import {
  LeakReaper,
  reapLeakedEnis,
  type LeakCause,
  type LeakEvents,
  type VmDirectory,
} from './leak-reaper.js';
import type { Logger } from './logger.js';
import { NodeIpam, type Assigned, type IpamEvents, type PlacementResolution } from './node-ipam.js';
import { PoolChanges } from './pool-changes.js';
import { AddWaitQueue } from './add-wait-queue.js';
import { placementOf } from '../ipam/placement.js';
import { PoolDriver } from './pool-driver.js';
import type { PoolPolicy } from './pool-policy.js';
import type { AddRequest } from './cni-backend.js';
import { applyReleaseSpool } from './release-spool.js';
import { OwnershipRecovery } from './ownership-recovery.js';
import type { SandboxAddresses } from '../ipam/ownership-recovery.js';
import type { NodeDatapath } from './node-datapath.js';

/** The checkpoint's content around the datastore's snapshot: `{"datastore": ...}`. */
const CHECKPOINT_HEAD = new TextEncoder().encode('{"datastore":');
const CHECKPOINT_TAIL = new TextEncoder().encode('}');

/** What the agent needs of its configuration (agent/config.ts produces it from the environment). */
export interface NodeAgentSettings {
  warmTargets: WarmTargets;
  customNetworking: boolean;
  subnetDiscovery: boolean;
  clusterName: string | undefined;
  ipCooldownMs: number;
  addWaitMs: number;
  ec2ResyncMs: number;
  podGoneGraceMs: number;
  leakedEniGraceMs: number;
  leakedEniCleanup: boolean;
  subnetFullSkipMs: number;
  podEniSecurityGroups: readonly string[] | undefined;
  pools: readonly PodNetworkPool[];
  spoolPath: string | undefined;
}

/** The subnet and security groups pod ENIs use with custom networking (an ENIConfig). */
export interface PodEniNetwork {
  subnetId: string;
  securityGroupIds: string[];
}

export interface NodeAgentDeps {
  settings: NodeAgentSettings;
  ec2: Ec2Network;
  clock: Clock;
  logger: Logger;
  checkpointer: Checkpointer;
  pods?: NodePods;
  /**
   * The container runtime's READY pod sandboxes (CRI), asked only while ownership recovery has
   * quarantined addresses; throws when the runtime cannot say.
   */
  runtimeSandboxes?: () => Promise<SandboxAddresses[]>;
  vms?: VmDirectory;
  /**
   * The kubelet's max pods (the node's status.capacity.pods: a custom --max-pods, Karpenter's
   * figure), or undefined when the node object does not say; the computed figure is the fallback.
   */
  kubeletMaxPods?: () => Promise<number | undefined>;
  /** Custom networking: the ENIConfig for this node. */
  podEniNetwork?: (identity: InstanceIdentity) => Promise<PodEniNetwork>;
  /** Pod and namespace annotations -> placement; default: every pod uses the node's default pool. */
  placementFor?: (req: AddRequest, pods: NodePods | undefined) => PlacementResolution;
  ipamEvents?: IpamEvents;
  leakEvents?: LeakEvents;
  /** An EC2 action of the pool starts; the function returned hears how it ended. */
  onAction?: (action: PlanAction['type']) => (outcome: 'ok' | 'failed') => void;
  /** The planning policy (benchmarks compare others); default: event-driven eni-ipam planning. */
  policy?: PoolPolicy;
  /** Checkpoint entries that could not be read at start-up (each costs only itself). */
  onCheckpointEntriesDropped?: (count: number) => void;
  /** The node's kernel datapath (links, tables, rules, NAT); absent: the agent leaves the kernel alone. */
  datapath?: NodeDatapath;
  /** The agent's upkeep as it happens: resyncs and the failures it survived (metrics listen). */
  upkeep?: UpkeepEvents;
}

export interface UpkeepEvents {
  /** An EC2 resync ran; the report says what EC2 changed under the agent. */
  resynced(report: SyncReport): void;
  /** A step failed and the agent carried on; `step` names it ("ec2_resync", "checkpoint", ...). */
  failed(step: string): void;
}

export interface NodeAgentView {
  identity: InstanceIdentity;
  instanceLimits: InstanceLimits;
  limits: PlanLimits;
  datastore: Datastore;
  subnets: SubnetInfo[];
  planInput: PlanInput;
  /** What the pool driver decides now (planNode), and whether it acts on it now or backs off. */
  decision: { plan: NodePlan; acting: boolean };
  waiting: number;
  oldestWaitMs: number;
  inFlight: { units: number; enis: number };
  blocker: string | undefined;
  /** Why the pool cannot grow now (EC2's refusal first, else the node's bounds), with its cause. */
  shortage: Shortage | undefined;
  ready: boolean;
  /** Each ENI's own primary address, as EC2 last reported it. */
  primaryIps: ReadonlyMap<string, string>;
  /** ENABLE_PREFIX_DELEGATION is on but the instance type has no prefixes: secondary IPs are used. */
  prefixDelegationFallback: boolean;
}

/**
 * One node's eni-ipam: start-up (who am I -> limits -> checkpoint -> EC2 -> spool -> pods ->
 * subnets -> serve), then event-driven: the pool driver plans when demand, releases or expiries
 * wake it; EC2 is resynced periodically; leaks are reaped after their grace period.
 */
export class NodeAgent {
  private state: Started | undefined;
  private readonly stop = new AbortController();
  private readonly loops: Promise<void>[] = [];

  constructor(private readonly deps: NodeAgentDeps) {}

  /** The CNI endpoint's backend. Valid after start(). */
  get backend(): NodeIpam {
    return this.started().ipam;
  }

  async start(): Promise<void> {
    const { deps } = this;
    const { settings, ec2, logger, clock } = deps;
    const startedAt = clock.now();
    const identity = await ec2.identity();
    // Independent of one another: asked at once, so that start-up waits for the slowest round
    // trip (EC2, the API server, the checkpoint file) rather than for their sum.
    const [instanceLimits, listed, kubeletMaxPods, restored] = await Promise.all([
      ec2.instanceLimits(identity.instanceType),
      ec2.listAttachedEnis(identity.instanceId),
      this.kubeletMaxPods(),
      this.restore(),
    ]);
    // Prefix delegation needs a Nitro type: elsewhere the node runs on secondary IPs, as the VPC CNI.
    const prefixes = settings.warmTargets.prefixDelegation && instanceLimits.prefixDelegation;
    if (settings.warmTargets.prefixDelegation && !prefixes) {
      logger.warn(
        { instanceType: identity.instanceType },
        `ENABLE_PREFIX_DELEGATION=true but ${identity.instanceType} does not support /28 prefixes (it needs the Nitro system): using secondary IPs`,
      );
    }
    const mp = maxPods(instanceLimits, {
      prefixDelegation: prefixes,
      customNetworking: settings.customNetworking,
      ...(settings.warmTargets.maxEni === undefined ? {} : { maxEni: settings.warmTargets.maxEni }),
    });
    const attached = managedEnis(listed, logger);
    const limits: PlanLimits = {
      maxEnis: eniLimitLeft(mp.enis, listed, attached),
      ipv4PerEni: instanceLimits.ipv4PerEni,
      maxPods: kubeletMaxPods ?? mp.maxPods,
      prefixes,
      ...(settings.customNetworking ? { primaryEniExcluded: true } : {}),
    };
    logger.info({ identity, limits }, 'node identified');

    const { datastore, ownershipLost } = restored;
    const first = syncWithEc2(datastore, attached, { busy: new Set(), logger });
    const primaryIps = new Map(attached.map((eni) => [eni.eniId, eni.primaryIp]));
    logger.info({ ...first, lost: first.lost.length }, 'reconciled with EC2');
    let afterRecovery = (): void => undefined;
    const recovery = new OwnershipRecovery({
      datastore,
      clock,
      logger,
      cooldownMs: settings.ipCooldownMs,
      pods: deps.pods,
      ...(deps.runtimeSandboxes ? { sandboxes: deps.runtimeSandboxes } : {}),
      changed: () => {
        afterRecovery();
      },
    });
    // Until the pods say who holds them, no address whose holder the checkpoint lost is handed out.
    if (ownershipLost !== undefined) recovery.quarantineUnassigned(ownershipLost);
    deps.datapath?.bind(datastore, identity);
    deps.datapath?.enisSeen(attached);

    const podEniNetwork =
      settings.customNetworking && deps.podEniNetwork ? await deps.podEniNetwork(identity) : undefined;
    const subnets = new EniSubnets({
      securityGroupIds: this.podSecurityGroups(podEniNetwork, identity),
      pools: settings.pools,
      fullWindowMs: settings.subnetFullSkipMs,
    });

    // Taken when the write begins: the saves made meanwhile share it. Most writes are the address
    // states changed since the last one, appended to the checkpoint (see restore()).
    const snapshotText = new SnapshotText();
    const checkpointState = journaledText(
      () => {
        // Appended, not spread: a spread steps an iterator, one object per chunk (--no-opt).
        const chunks = snapshotText.chunks(datastore, [CHECKPOINT_HEAD]);
        chunks.push(CHECKPOINT_TAIL);
        return chunks;
      },
      () => snapshotText.changeChunks(datastore),
    );
    const persist = (): Promise<void> => deps.checkpointer.save(checkpointState);
    const changes = new PoolChanges();
    // Addresses or ENIs arrived or left: the kernel follows (debounced; ADD and DEL sync their own pod).
    const datapath = deps.datapath;
    if (datapath) {
      changes.on('supply', () => {
        datapath.changed();
      });
    }
    const waiters = new AddWaitQueue<AssignRequest, Assigned>(clock);
    const driver = new PoolDriver({
      datastore,
      ec2,
      clock,
      logger,
      instanceId: identity.instanceId,
      limits,
      targets: settings.warmTargets,
      subnets,
      waiting: () => waiters.waiting().map((req) => placementOf(req.constraints)),
      onEniAttached: (eni) => {
        this.state?.primaryIps.set(eni.eniId, eni.primaryIp);
        void deps.datapath?.eniAttached(eni);
      },
      onEniCountMismatch: () => {
        this.resync().catch((err: unknown) => {
          logger.warn({ err: (err as Error).message }, 'resync after an unexpected ENI limit failed');
        });
      },
      changes,
      persist: () => {
        persist().catch((err: unknown) => {
          deps.upkeep?.failed('checkpoint');
          logger.error({ err: (err as Error).message }, 'checkpoint write failed');
        });
      },
      ...(deps.onAction ? { onAction: deps.onAction } : {}),
      ...(deps.policy ? { policy: deps.policy } : {}),
    });
    const ipam = new NodeIpam({
      datastore,
      clock,
      logger,
      limits,
      cooldownMs: settings.ipCooldownMs,
      addWaitMs: settings.addWaitMs,
      persist,
      changes,
      waiters,
      blocker: () => driver.shortageReason(),
      placementFor: (req) =>
        deps.placementFor ? deps.placementFor(req, deps.pods) : { kind: 'ok', placement: {} },
      keepOnDel: (a) => {
        const vms = deps.vms;
        if (a.owner?.kind !== 'VirtualMachine' || !vms?.enabled()) return false;
        // Unsure whether the VM still exists: keep; the reaper frees it once the VM is known gone.
        return !vms.synced() || vms.exists(a.owner);
      },
      ...(deps.ipamEvents ? { events: deps.ipamEvents } : {}),
      ...(deps.datapath ? { syncDatapath: deps.datapath.syncPods.bind(deps.datapath) } : {}),
    });
    const reaper = new LeakReaper({
      datastore,
      clock,
      logger,
      graceMs: settings.podGoneGraceMs,
      pods: deps.pods,
      vms: deps.vms,
      release: (assignments, cause) => this.releaseLeaked(assignments, cause),
      ...(deps.leakEvents ? { events: deps.leakEvents } : {}),
    });
    afterRecovery = () => {
      ipam.afterChange();
      persist().catch((err: unknown) => {
        deps.upkeep?.failed('checkpoint');
        logger.error({ err: (err as Error).message }, 'checkpoint write failed');
      });
      driver.wake();
    };
    this.state = {
      identity,
      instanceLimits,
      limits,
      datastore,
      subnets,
      subnetInfos: [],
      ipam,
      driver,
      changes,
      reaper,
      persist,
      ready: false,
      podEniNetwork,
      primaryIps,
      instanceMaxEnis: mp.enis,
    };

    await this.applySpool();
    if (deps.pods) deps.pods.start(this.stop.signal);
    recovery.start(this.stop.signal);
    await this.refreshSubnets(true);
    await persist();
    // Pods that kept running while the agent was down keep their rules; missing ones come back and
    // stale ones go before the first ADD is served.
    if (deps.datapath) await deps.datapath.reconcile();

    ipam.markReady();
    this.state.ready = true;
    this.loops.push(
      driver.run(this.stop.signal),
      this.every('ec2_resync', settings.ec2ResyncMs, () => this.resync()),
      this.every('leak_scan', LEAK_SCAN_INTERVAL_MS, async () => {
        await reaper.scan();
      }),
    );
    if (settings.leakedEniCleanup) {
      // An unattached ENI of ours created before this process started can only be left over by the
      // previous one (killed between create and attach): the grace period that protects in-flight
      // creates is not needed for it, and this process's own creates are younger.
      this.loops.push(
        reapLeakedEnis(ec2, identity.instanceId, 0, logger, deps.leakEvents, startedAt).then(
          (deleted) => {
            if (deleted > 0) driver.resetLimits();
          },
          (err: unknown) => {
            logger.warn({ err: (err as Error).message }, 'start-up scan for leaked ENIs failed');
          },
        ),
      );
      this.loops.push(
        this.every('leaked_eni_scan', LEAKED_ENI_SCAN_INTERVAL_MS, async () => {
          const deleted = await reapLeakedEnis(
            ec2,
            identity.instanceId,
            settings.leakedEniGraceMs,
            logger,
            deps.leakEvents,
          );
          if (deleted > 0) driver.resetLimits();
        }),
      );
    }
    driver.wake();
    logger.info({ maxPods: limits.maxPods, enis: datastore.enis().length }, 'eni-ipam is serving');
  }

  /** Applies the DELs the CNI plugin recorded while it could not reach the agent. */
  async applySpool(): Promise<void> {
    const { settings, logger, leakEvents } = this.deps;
    if (settings.spoolPath === undefined) return;
    const { datastore, ipam } = this.started();
    const before = datastore.totals().assigned;
    const report = await applyReleaseSpool({ path: settings.spoolPath, backend: ipam, logger });
    // A spooled DEL whose address was already freed (GC, the reaper) releases nothing: count real releases.
    const released = before - datastore.totals().assigned;
    if (released > 0) leakEvents?.released('del_while_down', released);
    if (report.applied + report.kept + report.unreadable > 0)
      logger.info(report, 'applied releases recorded while the agent was unreachable');
  }

  /** Stops planning and timers, fails waiting ADDs, lets EC2 work finish, flushes the checkpoint. */
  async close(): Promise<void> {
    this.stop.abort();
    this.deps.datapath?.close();
    const state = this.state;
    state?.ipam.close();
    await Promise.allSettled(this.loops);
    if (state) await state.driver.idle();
    await this.deps.pods?.close();
    await this.deps.checkpointer.close();
  }

  /**
   * Everything introspection, metrics and the simulator's checks read. `planInput`, `decision` and
   * `shortage` each plan the node, and most readers want one of them or none (a simulator samples
   * every node every simulated second): each is computed when first read, so read a view at once.
   */
  view(): NodeAgentView {
    const s = this.started();
    const { driver } = s;
    let planInput: PlanInput | undefined;
    let decision: NodeAgentView['decision'] | undefined;
    let shortage: { value: Shortage | undefined } | undefined;
    return {
      identity: s.identity,
      instanceLimits: s.instanceLimits,
      limits: s.limits,
      datastore: s.datastore,
      subnets: s.subnetInfos,
      get planInput() {
        return (planInput ??= driver.defaultPlanInput());
      },
      get decision() {
        return (decision ??= driver.decision());
      },
      waiting: s.ipam.waitingCount(),
      oldestWaitMs: s.ipam.oldestWaitMs(),
      inFlight: driver.inFlight(),
      blocker: driver.currentBlocker(),
      get shortage() {
        return (shortage ??= { value: driver.shortage() }).value;
      },
      ready: s.ready,
      primaryIps: s.primaryIps,
      prefixDelegationFallback: this.deps.settings.warmTargets.prefixDelegation && !s.limits.prefixes,
    };
  }

  /** Waits until the pool driver has no EC2 work under way (tests and the simulator). */
  async settled(): Promise<void> {
    await this.started().driver.idle();
  }

  /** Runs one EC2 resync now. */
  async resync(): Promise<void> {
    const s = this.started();
    await this.followEniConfig();
    const listed = await this.deps.ec2.listAttachedEnis(s.identity.instanceId);
    const attached = managedEnis(listed);
    this.followEniLimit(eniLimitLeft(s.instanceMaxEnis, listed, attached));
    const report = syncWithEc2(s.datastore, attached, {
      busy: s.driver.busyEnis(),
      logger: this.deps.logger,
    });
    this.deps.upkeep?.resynced(report);
    s.primaryIps = new Map(attached.map((eni) => [eni.eniId, eni.primaryIp]));
    this.deps.datapath?.enisSeen(attached);
    // A limit EC2 reported may have passed (an ENI detached by someone else, a quota raised): the
    // fresh view is the truth, and the next failure sets the flags again if it still holds.
    s.driver.resetLimits();
    await this.refreshSubnets(false);
    s.changes.emit('supply');
    await s.persist();
    if (this.deps.datapath) await this.deps.datapath.reconcile();
    s.changes.emit('demand');
  }

  /**
   * A trunk ENI (security groups for pods), an EFA ENI or an ENI tagged no_manage attached after
   * start-up takes a slot of the limit; one detached gives it back. The limits object is shared by
   * the pool driver and the CNI endpoint, so both plan with the new figure from now on.
   */
  private followEniLimit(maxEnis: number): void {
    const { limits } = this.started();
    if (limits.maxEnis === maxEnis) return;
    this.deps.logger.info(
      { from: limits.maxEnis, to: maxEnis },
      'ENIs not managed by eni-ipam changed: ENI limit recomputed',
    );
    limits.maxEnis = maxEnis;
  }

  private async releaseLeaked(assignments: readonly Assignment[], cause: LeakCause): Promise<void> {
    const s = this.started();
    const now = this.deps.clock.now();
    for (const a of assignments) s.datastore.release(a.key, now, this.deps.settings.ipCooldownMs);
    this.deps.logger.info({ count: assignments.length, cause }, 'released leaked addresses');
    await s.persist();
    s.changes.emit('supply');
    s.changes.emit('demand');
  }

  private async refreshSubnets(refresh: boolean): Promise<void> {
    const s = this.started();
    const { ec2, settings } = this.deps;
    let defaults: SubnetInfo[];
    if (s.podEniNetwork) defaults = await ec2.describeSubnets([s.podEniNetwork.subnetId]);
    else if (settings.subnetDiscovery) {
      try {
        defaults = await ec2.discoverSubnets(
          {
            vpcId: s.identity.vpcId,
            availabilityZone: s.identity.availabilityZone,
            nodeSubnetId: s.identity.subnetId,
            ...(settings.clusterName === undefined ? {} : { clusterName: settings.clusterName }),
          },
          { refresh },
        );
      } catch (err) {
        if (!isRefusal(err)) throw err;
        // As the VPC CNI: without the permission, pods use the node's own subnet.
        if (!s.discoveryRefused) {
          this.deps.logger.warn(
            { err: err instanceof Error ? err.message : String(err), subnetId: s.identity.subnetId },
            "subnet discovery refused (ec2:DescribeSubnets by VPC and zone): using the node's own subnet only",
          );
        }
        s.discoveryRefused = true;
        defaults = await this.nodeSubnetOnly();
      }
    } else defaults = await this.nodeSubnetOnly();
    const named =
      settings.pools.length > 0
        ? await ec2.describeSubnets([...new Set(settings.pools.map((p) => p.subnetId))])
        : [];
    s.subnets.update(defaults, named);
    s.subnetInfos = [...defaults, ...named.filter((n) => !defaults.some((d) => d.subnetId === n.subnetId))];
  }

  /** The node's subnet, described by id, else (DescribeSubnets refused) as the instance metadata gives it. */
  private async nodeSubnetOnly(): Promise<SubnetInfo[]> {
    const s = this.started();
    const { identity } = s;
    try {
      const described = await this.deps.ec2.describeSubnets([identity.subnetId]);
      if (described.length > 0) return described;
    } catch (err) {
      if (!isRefusal(err)) throw err;
      if (!s.describeRefused) {
        this.deps.logger.warn(
          { err: err instanceof Error ? err.message : String(err), subnetId: identity.subnetId },
          "ec2:DescribeSubnets refused: the node's subnet is used without its free-address count",
        );
      }
      s.describeRefused = true;
    }
    // Its free count is unknown: the subnet's size stands in, and EC2's "subnet full" still applies.
    return [
      {
        subnetId: identity.subnetId,
        availabilityZone: identity.availabilityZone,
        cidr: identity.subnetCidr,
        availableIpCount: usableAddressCount(parseCidr(identity.subnetCidr)),
        tags: {},
      },
    ];
  }

  /** An ENIConfig without security groups means the primary ENI's, as in the AWS VPC CNI. */
  private podSecurityGroups(
    network: PodEniNetwork | undefined,
    identity: InstanceIdentity,
  ): readonly string[] {
    return network && network.securityGroupIds.length > 0
      ? network.securityGroupIds
      : (this.deps.settings.podEniSecurityGroups ?? identity.securityGroupIds);
  }

  /**
   * Custom networking: reads the node's ENIConfig again, so that an edited ENIConfig (or a node
   * that now names another one) applies to the ENIs created from now on. Existing ENIs keep their
   * subnet and groups. A failed read keeps the current one.
   */
  private async followEniConfig(): Promise<void> {
    const s = this.started();
    const read = this.deps.podEniNetwork;
    if (!this.deps.settings.customNetworking || !read) return;
    let next: PodEniNetwork;
    try {
      next = await read(s.identity);
    } catch (err) {
      this.deps.logger.warn(
        { err: err instanceof Error ? err.message : String(err) },
        'cannot read the ENIConfig again; keeping the current one',
      );
      return;
    }
    const current = s.podEniNetwork;
    if (
      current?.subnetId === next.subnetId &&
      current.securityGroupIds.join(',') === next.securityGroupIds.join(',')
    )
      return;
    this.deps.logger.info({ from: current, to: next }, 'ENIConfig changed: new ENIs use it');
    s.podEniNetwork = next;
    s.subnets.setSecurityGroups(this.podSecurityGroups(next, s.identity));
  }

  /** The kubelet's max pods, or undefined (logged) when the node object cannot say. */
  private async kubeletMaxPods(): Promise<number | undefined> {
    const read = this.deps.kubeletMaxPods;
    if (!read) return undefined;
    try {
      return await read();
    } catch (err) {
      this.deps.logger.warn(
        { err: err instanceof Error ? err.message : String(err) },
        "cannot read the node's capacity.pods; using the max pods computed for the instance type",
      );
      return undefined;
    }
  }

  /**
   * The datastore as the checkpoint left it, and why the holders of the other addresses EC2 will
   * report are unknown (undefined when the checkpoint knew them all).
   */
  private async restore(): Promise<{ datastore: Datastore; ownershipLost: string | undefined }> {
    const { checkpointer, logger } = this.deps;
    const read = await checkpointer.load();
    switch (read.kind) {
      case 'missing':
        return { datastore: new Datastore(), ownershipLost: 'no checkpoint' };
      case 'corrupt':
        logger.warn(
          { movedTo: read.movedTo, reason: read.reason },
          'checkpoint unreadable; rebuilding from EC2 and the pods',
        );
        return { datastore: new Datastore(), ownershipLost: `checkpoint unreadable: ${read.reason}` };
      case 'loaded': {
        const data = read.data as { datastore?: unknown } | null;
        // The checkpoint's change records are the datastore's (SnapshotText.changeChunks).
        if (read.tornChange) logger.info({}, 'checkpoint: a change record cut short by a crash was left out');
        try {
          const { datastore, dropped } = salvageDatastore(data?.datastore, read.changes);
          if (dropped.length === 0) return { datastore, ownershipLost: undefined };
          for (const d of dropped) {
            logger.warn(
              { entry: d.entry, address: d.address, reason: d.reason },
              'checkpoint entry unreadable; dropped',
            );
          }
          this.deps.onCheckpointEntriesDropped?.(dropped.length);
          return { datastore, ownershipLost: `${dropped.length} checkpoint entries unreadable` };
        } catch (err) {
          logger.warn(
            { err: (err as Error).message },
            'checkpoint content rejected; rebuilding from EC2 and the pods',
          );
          return {
            datastore: new Datastore(),
            ownershipLost: `checkpoint rejected: ${(err as Error).message}`,
          };
        }
      }
    }
  }

  /** Runs `work` every `intervalMs` until stopped; a failing run is logged and the next one still comes. */
  private async every(step: string, intervalMs: number, work: () => Promise<void>): Promise<void> {
    await repeatEvery(this.deps.clock, intervalMs, this.stop.signal, async () => {
      try {
        await work();
      } catch (err) {
        this.deps.upkeep?.failed(step);
        this.deps.logger.warn({ step, err: (err as Error).message }, 'periodic task failed');
      }
    });
  }

  private started(): Started {
    if (!this.state) throw new Error('the node agent has not started');
    return this.state;
  }
}

interface Started {
  identity: InstanceIdentity;
  instanceLimits: InstanceLimits;
  limits: PlanLimits;
  datastore: Datastore;
  subnets: EniSubnets;
  subnetInfos: SubnetInfo[];
  ipam: NodeIpam;
  driver: PoolDriver;
  changes: PoolChanges;
  reaper: LeakReaper;
  persist: () => Promise<void>;
  ready: boolean;
  podEniNetwork: PodEniNetwork | undefined;
  primaryIps: Map<string, string>;
  /** The instance type's ENI limit after MAX_ENI, before ENIs that are not ours are subtracted. */
  instanceMaxEnis: number;
  /** Subnet discovery was refused (warned once); the node's subnet is used. */
  discoveryRefused?: boolean;
  /** DescribeSubnets by id was refused (warned once); the node's subnet comes from metadata. */
  describeRefused?: boolean;
}

/** EC2 refused the call for want of permission. */
function isRefusal(err: unknown): boolean {
  return isEc2Error(err) && isPermissionDenied(err);
}

/** Trunk, EFA and no_manage ENIs take slots of the instance's ENI limit, as in the AWS VPC CNI. */
function eniLimitLeft(
  instanceMaxEnis: number,
  listed: readonly AttachedEni[],
  managed: readonly AttachedEni[],
): number {
  return Math.max(1, instanceMaxEnis - (listed.length - managed.length));
}

/** The ENIs eni-ipam may use: never a trunk, EFA, no_manage or other-card ENI (logged at start). */
function managedEnis(listed: readonly AttachedEni[], logger?: Logger): AttachedEni[] {
  for (const eni of listed) {
    if (eni.unmanaged !== undefined) logger?.info({ eniId: eni.eniId, why: eni.unmanaged }, 'ENI left alone');
  }
  return listed.filter((eni) => eni.unmanaged === undefined);
}
