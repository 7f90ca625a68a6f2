/**
 * Rebuilds who holds which address after the checkpoint lost some or all of it. The addresses EC2
 * reports whose holder is unknown are quarantined at start-up: recorded as assigned to no pod, so
 * that no ADD receives one (it might be a running pod's) and the pool driver brings new addresses
 * for new pods. The quarantine is stored in the checkpoint like any assignment, so a restart before
 * it is resolved keeps it. Once the node's pods are known (the pod watch has listed them), each
 * quarantined address is adopted by the pod whose `status.podIPs` shows it, or released; the
 * decision itself is ipam/ownership-recovery.ts.
 */
import type { Datastore } from '../ipam/datastore.js';
import {
  decideOwnership,
  isQuarantineKey,
  isRecoveredKey,
  staleRecovered,
  quarantineKey,
  QUARANTINE_POD,
  recoveredKey,
  type PodAddresses,
} from '../ipam/ownership-recovery.js';
import type { Clock } from '../time/clock.js';
import type { NodePods } from './kube/pod-watch.js';
import type { Logger } from './logger.js';

export interface OwnershipRecoveryDeps {
  datastore: Datastore;
  clock: Clock;
  logger: Logger;
  cooldownMs: number;
  /** Undefined when the agent has no view of the pods: quarantined addresses then stay so. */
  pods: NodePods | undefined;
  /** The datastore changed: persist, serve waiting ADDs, wake the pool driver. */
  changed: () => void;
}

export class OwnershipRecovery {
  private lastWhy: string | undefined;

  constructor(private readonly deps: OwnershipRecoveryDeps) {}

  /**
   * Quarantines every address that is neither assigned nor cooling: called after the first EC2
   * sync when the checkpoint could not say who holds them. Returns how many.
   */
  quarantineUnassigned(reason: string): number {
    const { datastore, clock, logger } = this.deps;
    const now = clock.now();
    let count = 0;
    for (const record of datastore.addressRecords()) {
      if (record.state.type !== 'available') continue;
      datastore.restoreAddressState(record.address, {
        type: 'assigned',
        key: quarantineKey(record.address),
        pod: QUARANTINE_POD,
        assignedAt: now,
      });
      count++;
    }
    if (count > 0) {
      logger.warn(
        { addresses: count, reason },
        'addresses of unknown ownership quarantined until the node’s pods are known; new pods get new addresses',
      );
    }
    return count;
  }

  /** Addresses still quarantined. */
  quarantined(): string[] {
    return this.deps.datastore
      .assignments()
      .filter((a) => isQuarantineKey(a.key))
      .map((a) => a.address);
  }

  /** Resolves now, then whenever the pods change. */
  start(signal: AbortSignal): void {
    this.resolve();
    const pods = this.deps.pods;
    if (!pods) return;
    const unsubscribe = pods.onChange(() => {
      this.resolve();
    });
    signal.addEventListener('abort', unsubscribe, { once: true });
  }

  /** Applies what the pods now say about the quarantined addresses. */
  resolve(): void {
    this.releaseStaleRecovered();
    const { datastore, clock, logger, cooldownMs } = this.deps;
    const quarantined = this.quarantined();
    if (quarantined.length === 0) return;
    const known = new Set(
      datastore
        .assignments()
        .filter((a) => !isQuarantineKey(a.key))
        .map((a) => a.pod.uid),
    );
    const decision = decideOwnership({
      quarantined,
      pods: this.podsIfKnown(),
      podsWithKnownAddress: known,
    });
    const now = clock.now();
    for (const { address, pod } of decision.adopt) {
      datastore.transfer(quarantineKey(address), recoveredKey(pod.uid, address), pod, now);
    }
    for (const address of decision.release) datastore.release(quarantineKey(address), now, cooldownMs);
    if (decision.adopt.length + decision.release.length > 0) {
      logger.info(
        {
          adopted: decision.adopt.length,
          released: decision.release.length,
          stillQuarantined: decision.keep.length,
        },
        'ownership of quarantined addresses rebuilt from the node’s pods',
      );
      this.deps.changed();
    }
    if (decision.keep.length > 0 && decision.why !== this.lastWhy) {
      logger.info({ quarantined: decision.keep.length, why: decision.why }, 'addresses stay quarantined');
    }
    this.lastWhy = decision.keep.length > 0 ? decision.why : undefined;
  }

  /** Adopted addresses whose pod now reports another one: its sandbox moved on; free them. */
  private releaseStaleRecovered(): void {
    const { datastore, clock, logger, cooldownMs } = this.deps;
    const recovered = datastore.assignments().filter((a) => isRecoveredKey(a.key));
    if (recovered.length === 0) return;
    const stale = new Set(
      staleRecovered(
        recovered.map((a) => ({ address: a.address, podUid: a.pod.uid })),
        this.podsIfKnown(),
      ),
    );
    if (stale.size === 0) return;
    const now = clock.now();
    for (const a of recovered) if (stale.has(a.address)) datastore.release(a.key, now, cooldownMs);
    logger.info({ released: stale.size }, 'released adopted addresses their pods no longer report');
    this.deps.changed();
  }

  private podsIfKnown(): PodAddresses[] | undefined {
    const pods = this.deps.pods;
    if (!pods?.synced()) return undefined;
    return pods.list().map((p) => ({
      uid: p.uid,
      namespace: p.namespace,
      name: p.name,
      podIps: p.podIps ?? [],
      terminal: p.phase === 'Succeeded' || p.phase === 'Failed',
      hostNetwork: p.hostNetwork,
    }));
  }
}
