/**
 * Rebuilds who holds which address after the checkpoint lost some or all of it. The addresses EC2
 * reports whose holder is unknown are quarantined at start-up: recorded as assigned to no pod, so
 * that no ADD receives one (it might be a running pod's) and the pool driver brings new addresses
 * for new pods. The quarantine is stored in the checkpoint like any assignment, so a restart before
 * it is resolved keeps it. Two sources resolve it: the node's pods as the API server reports them
 * (once the pod watch has listed them), and the container runtime's READY pod sandboxes (asked over
 * the CRI socket while anything stays quarantined, so it works with the API server unreachable).
 * Each quarantined address is adopted by the pod that reports it, or released once the API server's
 * pods show no pod can hold it; the decision itself is ipam/ownership-recovery.ts.
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
  type SandboxAddresses,
} from '../ipam/ownership-recovery.js';
import { isAbortError, type Clock } from '../time/clock.js';
import type { NodePods } from './kube/pod-watch.js';
import type { Logger } from './logger.js';

export interface OwnershipRecoveryDeps {
  datastore: Datastore;
  clock: Clock;
  logger: Logger;
  cooldownMs: number;
  /** Undefined when the agent has no view of the pods: quarantined addresses then stay so. */
  pods: NodePods | undefined;
  /**
   * The container runtime's READY sandboxes (agent/runtime/runtime-sandboxes.ts); throws when the
   * runtime cannot say. Undefined: the runtime is not asked.
   */
  sandboxes?: () => Promise<SandboxAddresses[]>;
  /** How often the runtime is asked again while addresses stay quarantined. */
  runtimePollMs?: number;
  /** The datastore changed: persist, serve waiting ADDs, wake the pool driver. */
  changed: () => void;
}

/** The runtime is asked again this often while addresses stay quarantined. */
export const RUNTIME_POLL_MS = 10_000;

export class OwnershipRecovery {
  private lastWhy: string | undefined;
  /** The runtime's last answer; undefined when it could not be asked (or nothing is quarantined). */
  private sandboxes: SandboxAddresses[] | undefined;
  /**
   * The runtime is being asked for the first time: no decision until it answers or fails (within
   * its call deadline), so that the first decision sees both sources and can notice they disagree.
   */
  private awaitingRuntime = false;

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

  /** Resolves now, then whenever the pods change and whenever the runtime answers. */
  start(signal: AbortSignal): void {
    if (this.deps.sandboxes && this.quarantined().length > 0) {
      this.awaitingRuntime = true;
      this.askRuntime(this.deps.sandboxes, signal).catch((err: unknown) => {
        this.deps.logger.warn({ err: (err as Error).message }, 'asking the container runtime stopped');
      });
    } else this.resolve();
    const pods = this.deps.pods;
    if (!pods) return;
    const unsubscribe = pods.onChange(() => {
      this.resolve();
    });
    signal.addEventListener('abort', unsubscribe, { once: true });
  }

  /**
   * Asks the container runtime for its sandboxes until nothing is quarantined any more. A runtime
   * that cannot answer is unknown (logged once per outage), never fatal: the API server's pods
   * still resolve the quarantine.
   */
  private async askRuntime(list: () => Promise<SandboxAddresses[]>, signal: AbortSignal): Promise<void> {
    const { clock, logger } = this.deps;
    const pollMs = this.deps.runtimePollMs ?? RUNTIME_POLL_MS;
    let failing = false;
    while (!signal.aborted) {
      try {
        this.sandboxes = await list();
        if (failing) logger.info('the container runtime answers again');
        failing = false;
      } catch (err) {
        this.sandboxes = undefined;
        if (!failing) {
          logger.warn(
            { err: (err as Error).message },
            'container runtime unknown: its sandboxes cannot resolve quarantined addresses; the API server’s pods still can',
          );
        }
        failing = true;
      }
      if (signal.aborted) return;
      this.awaitingRuntime = false;
      this.resolve();
      if (this.quarantined().length === 0) break;
      try {
        await clock.sleep(pollMs, signal);
      } catch (err) {
        if (isAbortError(err)) return;
        throw err;
      }
    }
    this.sandboxes = undefined;
  }

  /** Applies what the pods now say about the quarantined addresses. */
  resolve(): void {
    this.releaseStaleRecovered();
    const { datastore, clock, logger, cooldownMs } = this.deps;
    const quarantined = this.quarantined();
    if (quarantined.length === 0 || this.awaitingRuntime) return;
    const known = new Set(
      datastore
        .assignments()
        .filter((a) => !isQuarantineKey(a.key))
        .map((a) => a.pod.uid),
    );
    const decision = decideOwnership({
      quarantined,
      pods: this.podsIfKnown(),
      sandboxes: this.sandboxes,
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
        'ownership of quarantined addresses rebuilt from the node’s pods and sandboxes',
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
