/**
 * The agent's side of the node datapath: computes what the kernel must hold from the datastore (its
 * ENIs and assignments) and the ENIs' link facts (MAC, device number, from EC2), and has the
 * datapath make the kernel match. Every kernel change runs through one serial queue, so a full
 * reconcile and a pod's rules never interleave (a reconcile cannot remove the rule of a pod added
 * after it read the datastore); the rules of pods that arrive together are written in one batch.
 */
import { desiredState, linkOf, podRules, routesOf } from '../datapath/desired-state.js';
import type { Datapath, EniFacts, NodeFacts, ReconcileReport, SnatSettings } from '../datapath/model.js';
import type { Datastore } from '../ipam/datastore.js';
import type { AttachedEni, InstanceIdentity } from '../provider/ec2-network.js';
import type { Clock, Timer } from '../time/clock.js';
import type { Logger } from './logger.js';

export interface NodeDatapathSettings {
  readonly mtu: number;
  readonly snat: SnatSettings;
}

export interface NodeDatapathDeps {
  readonly datapath: Datapath;
  readonly settings: NodeDatapathSettings;
  readonly logger: Logger;
  readonly clock: Clock;
}

/** After a change (a release, a deleted ENI), wait this long for more before reconciling once. */
const CHANGE_DEBOUNCE_MS = 200;
/** A reconcile that left problems (a link not there yet) is retried, backing off to the maximum. */
const RETRY_MIN_MS = 1_000;
const RETRY_MAX_MS = 30_000;
/**
 * EC2 reports an ENI attached before the kernel shows its device (udev names it a moment later,
 * seconds on a busy node). A pod given one of its addresses waits this long for the link, looking
 * again every LINK_POLL_MS, before its ADD fails with "try again later"; well inside the plugin's
 * 30 s ADD timeout.
 */
export const LINK_WAIT_MS = 10_000;
const LINK_POLL_MS = 200;

interface Waiter {
  resolve(): void;
  reject(err: Error): void;
}

export class NodeDatapath {
  private datastore: Datastore | undefined;
  private identity: InstanceIdentity | undefined;
  /** Link facts of the attached ENIs, by ENI id. */
  private readonly links = new Map<string, EniFacts>();
  /** ENIs whose link and table were set up by this process. */
  private readonly setUp = new Set<string>();
  private tail: Promise<unknown> = Promise.resolve();
  private readonly pendingPods = new Map<string, Waiter[]>();
  /** When each ENI was first found without its link by a pod's ADD (the start of its wait). */
  private readonly linkWaitSince = new Map<string, number>();
  private linkPollTimer: Timer | undefined;
  private podJobQueued = false;
  private changeTimer: Timer | undefined;
  private retryTimer: Timer | undefined;
  private retryMs = RETRY_MIN_MS;
  private closed = false;

  constructor(private readonly deps: NodeDatapathDeps) {}

  /** The datastore whose ENIs and assignments the kernel must reflect. */
  bind(datastore: Datastore, identity: InstanceIdentity): void {
    this.datastore = datastore;
    this.identity = identity;
  }

  /** The ENIs EC2 shows attached (start-up, resync): their MACs and device numbers. */
  enisSeen(attached: readonly AttachedEni[]): void {
    this.links.clear();
    for (const eni of attached) this.links.set(eni.eniId, factsOf(eni));
    for (const id of this.setUp) if (!this.links.has(id)) this.setUp.delete(id);
    for (const id of this.linkWaitSince.keys()) if (!this.links.has(id)) this.linkWaitSince.delete(id);
  }

  /** A new ENI is attached: set up its link and table now, before pods are given its addresses. */
  async eniAttached(eni: AttachedEni): Promise<void> {
    const facts = factsOf(eni);
    this.links.set(eni.eniId, facts);
    await this.serial(() => this.setupEni(facts)).then(undefined, (err: unknown) => {
      this.deps.logger.warn({ eniId: eni.eniId, err: (err as Error).message }, 'ENI link set-up failed');
      this.scheduleRetry();
    });
  }

  /** Makes the kernel match the datastore: missing pieces added, stale ones removed. */
  reconcile(): Promise<ReconcileReport | undefined> {
    return this.serial(() => this.reconcileNow());
  }

  /** Something changed (an address released, an ENI deleted): reconcile soon, once for many changes. */
  changed(): void {
    if (this.closed || this.changeTimer) return;
    this.changeTimer = this.deps.clock.setTimer(CHANGE_DEBOUNCE_MS, () => {
      this.changeTimer = undefined;
      this.reconcile().catch(() => undefined);
    });
  }

  /**
   * Installs (or, once released, removes) the rules of these addresses as the datastore has them
   * now; resolves when they are in the kernel. Called at ADD before the address is returned.
   */
  syncPods(addresses: readonly string[]): Promise<void> {
    const waiting = addresses.map(
      (address) =>
        new Promise<void>((resolve, reject) => {
          const list = this.pendingPods.get(address) ?? [];
          list.push({ resolve, reject });
          this.pendingPods.set(address, list);
        }),
    );
    if (!this.podJobQueued) {
      this.podJobQueued = true;
      void this.serial(() => this.flushPods());
    }
    return Promise.all(waiting).then(() => undefined);
  }

  close(): void {
    this.closed = true;
    this.changeTimer?.cancel();
    this.retryTimer?.cancel();
    if (this.linkPollTimer) {
      // Pods still waiting for a link are answered now: "try again later", from the next process.
      this.linkPollTimer.cancel();
      this.linkPollTimer = undefined;
      for (const w of [...this.pendingPods.values()].flat()) w.reject(new Error('the agent is stopping'));
      this.pendingPods.clear();
    }
  }

  /** The facts of the node now (for the desired state and for introspection). */
  facts(): NodeFacts | undefined {
    const datastore = this.datastore;
    const identity = this.identity;
    if (!datastore || !identity) return undefined;
    const enis: EniFacts[] = [];
    for (const eni of datastore.enis()) {
      const link = this.links.get(eni.id);
      if (link) enis.push(link);
    }
    if (!enis.some((e) => e.primary)) {
      // The primary ENI is not managed (tagged no_manage): the node's identity still names it.
      const primary = this.links.get(identity.primaryEniId);
      enis.push(
        primary ?? {
          eniId: identity.primaryEniId,
          mac: identity.mac,
          deviceNumber: 0,
          primary: true,
          primaryIp: identity.primaryIp,
          subnetCidr: identity.subnetCidr,
        },
      );
    }
    return {
      enis,
      pods: datastore.assignments().map((a) => ({ address: a.address, eniId: a.eniId })),
      vpcCidrs: identity.vpcCidrs,
      snat: this.deps.settings.snat,
      mtu: this.deps.settings.mtu,
    };
  }

  private async reconcileNow(): Promise<ReconcileReport | undefined> {
    const facts = this.facts();
    if (!facts || this.closed) return undefined;
    try {
      const report = await this.deps.datapath.reconcile(desiredState(facts));
      // A report with problems may hide a missing link: no ENI counts as set up from it (a pod on
      // an ENI not set up sets it up itself, which is idempotent).
      if (report.problems.length === 0) for (const eni of facts.enis) this.setUp.add(eni.eniId);
      this.afterReport(report, 'node datapath reconciled');
      return report;
    } catch (err) {
      this.deps.logger.error({ err: (err as Error).message }, 'node datapath reconcile failed');
      this.scheduleRetry();
      return undefined;
    }
  }

  /** Sets up one ENI's link and table; resolves to the problems left (none: it is ready). */
  private async setupEni(eni: EniFacts): Promise<readonly string[]> {
    const link = linkOf(eni, this.deps.settings.mtu);
    const report = await this.deps.datapath.setupEni(link, routesOf(eni));
    if (report.problems.length === 0) this.setUp.add(eni.eniId);
    this.afterReport(report, 'ENI link and table set up');
    return report.problems;
  }

  private async flushPods(): Promise<void> {
    this.podJobQueued = false;
    const batch = new Map(this.pendingPods);
    this.pendingPods.clear();
    const settle = (address: string, err?: Error): void => {
      for (const w of batch.get(address) ?? []) {
        if (err) w.reject(err);
        else w.resolve();
      }
    };
    try {
      const facts = this.facts();
      if (!facts) throw new Error('the node datapath is not bound to a datastore yet');
      const enis = new Map(facts.enis.map((e) => [e.eniId, e]));
      const assigned = new Map(facts.pods.map((p) => [p.address, p.eniId]));
      // A pod whose ENI has no link or table yet would send its packets out of the wrong ENI: its
      // ADD waits for the link a while, then fails ("try again later") rather than answer with an
      // address that cannot work.
      const notReady = new Map<string, Error>();
      const waitLonger = new Set<string>();
      for (const address of batch.keys()) {
        const eniId = assigned.get(address);
        const eni = eniId === undefined ? undefined : enis.get(eniId);
        if (eniId !== undefined && !eni) {
          notReady.set(address, new Error(`no link facts for ENI ${eniId} of ${address} yet`));
          continue;
        }
        if (!eni || eni.primary || this.setUp.has(eni.eniId)) continue;
        const problems = await this.setupEni(eni);
        if (problems.length === 0) {
          this.linkWaitSince.delete(eni.eniId);
          continue;
        }
        const since = this.linkWaitSince.get(eni.eniId) ?? this.deps.clock.now();
        this.linkWaitSince.set(eni.eniId, since);
        if (this.deps.clock.now() - since < LINK_WAIT_MS) waitLonger.add(address);
        else notReady.set(address, new Error(`ENI ${eni.eniId} is not ready: ${problems.join('; ')}`));
      }
      for (const address of waitLonger) this.deferPod(address, batch.get(address) ?? []);
      const pods = [...batch.keys()]
        .filter((address) => !notReady.has(address) && !waitLonger.has(address))
        .map((address) => {
          const eni = enis.get(assigned.get(address) ?? '');
          return { address, rules: eni ? podRules({ address, eniId: eni.eniId }, eni, facts) : [] };
        });
      const report = pods.length > 0 ? await this.deps.datapath.addPodRules(pods) : undefined;
      if (report && report.problems.length > 0) throw new Error(report.problems.join('; '));
      if (report) {
        this.deps.logger.debug(
          { pods: pods.length, changes: report.changes, processes: report.processes },
          'pod rules written',
        );
      }
      for (const address of batch.keys())
        if (!waitLonger.has(address)) settle(address, notReady.get(address));
    } catch (err) {
      for (const address of batch.keys()) settle(address, err as Error);
    }
  }

  /** Puts a pod waiting for its ENI's link back in line, to be looked at again shortly. */
  private deferPod(address: string, waiters: readonly Waiter[]): void {
    const list = this.pendingPods.get(address) ?? [];
    list.push(...waiters);
    this.pendingPods.set(address, list);
    if (this.linkPollTimer) return;
    this.linkPollTimer = this.deps.clock.setTimer(LINK_POLL_MS, () => {
      this.linkPollTimer = undefined;
      if (this.podJobQueued) return;
      this.podJobQueued = true;
      void this.serial(() => this.flushPods());
    });
  }

  private afterReport(report: ReconcileReport, message: string): void {
    const log = { changes: report.changes, processes: report.processes, problems: report.problems };
    if (report.problems.length > 0) {
      this.deps.logger.warn(log, `${message}, with problems; retrying`);
      this.scheduleRetry();
      return;
    }
    this.retryMs = RETRY_MIN_MS;
    if (report.changes > 0) this.deps.logger.info(log, message);
    else this.deps.logger.debug(log, message);
  }

  private scheduleRetry(): void {
    if (this.closed || this.retryTimer) return;
    const delay = this.retryMs;
    this.retryMs = Math.min(RETRY_MAX_MS, this.retryMs * 2);
    this.retryTimer = this.deps.clock.setTimer(delay, () => {
      this.retryTimer = undefined;
      this.reconcile().catch(() => undefined);
    });
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.tail.then(work, work);
    this.tail = run.catch(() => undefined);
    return run;
  }
}

function factsOf(eni: AttachedEni): EniFacts {
  return {
    eniId: eni.eniId,
    mac: eni.macAddress.toLowerCase(),
    deviceNumber: eni.deviceIndex,
    primary: eni.primary,
    primaryIp: eni.primaryIp,
    subnetCidr: eni.subnetCidr,
  };
}
