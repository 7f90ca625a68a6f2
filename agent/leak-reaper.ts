import { keyString, type Datastore } from '../ipam/datastore.js';
import type { Assignment } from '../ipam/datastore-types.js';
import { isQuarantineKey } from '../ipam/ownership-recovery.js';
import type { Ec2Network } from '../provider/ec2-network.js';
import type { Clock } from '../time/clock.js';
import type { NodePods } from './kube/pod-watch.js';
import type { Logger } from './logger.js';

/** Why an address or ENI was found leaked; the label of the leak metrics. */
export type LeakCause = 'pod_gone' | 'vm_deleted' | 'del_while_down' | 'leaked_eni';

/** The VirtualMachines of the cluster, when that API exists. */
export interface VmDirectory {
  /** False when the cluster has no KubeVirt API: owned addresses then follow their pod. */
  enabled(): boolean;
  synced(): boolean;
  exists(vm: { namespace: string; name: string; uid: string }): boolean;
}

export interface LeakEvents {
  found(cause: LeakCause): void;
  released(cause: LeakCause, count: number): void;
}

export interface LeakReaperDeps {
  datastore: Datastore;
  clock: Clock;
  logger: Logger;
  graceMs: number;
  pods: Pick<NodePods, 'list' | 'synced'> | undefined;
  vms: VmDirectory | undefined;
  /** Releases the assignments (into cooldown), persists and wakes the pool. */
  release: (assignments: readonly Assignment[], cause: LeakCause) => Promise<void>;
  events?: LeakEvents;
}

/**
 * Finds addresses whose owner is gone: a pod deleted while the agent was down, a DEL that never
 * came, a VM deleted while stopped (its pod was already gone: the address stayed with the VM).
 * A suspect is released only after it has stayed gone for the grace period, so that a watch that
 * lags behind a fresh ADD frees nothing.
 */
export class LeakReaper {
  /** Assignment key -> when it was first seen without its owner. */
  private readonly suspects = new Map<string, { since: number; cause: LeakCause }>();

  constructor(private readonly deps: LeakReaperDeps) {}

  async scan(): Promise<number> {
    const { datastore, clock, pods, vms, graceMs } = this.deps;
    if (!pods?.synced()) return 0;
    const now = clock.now();
    const podList = pods.list();
    const byUid = new Set(podList.map((p) => p.uid));
    // Only runtimes that pass no pod uid need the names: built on first use (scans run every few seconds).
    let names: Set<string> | undefined;
    const byName = (): ReadonlySet<string> =>
      (names ??= new Set(podList.map((p) => `${p.namespace}/${p.name}`)));
    const due = new Map<LeakCause, Assignment[]>();
    const current = new Set<string>();

    for (const assignment of datastore.assignments()) {
      const key = keyString(assignment.key);
      current.add(key);
      const cause = this.goneCause(assignment, byUid, byName, vms);
      if (cause === undefined) {
        this.suspects.delete(key);
        continue;
      }
      let suspect = this.suspects.get(key);
      if (!suspect) {
        suspect = { since: now, cause };
        this.suspects.set(key, suspect);
        this.deps.events?.found(cause);
      }
      if (now - suspect.since >= graceMs) due.set(cause, [...(due.get(cause) ?? []), assignment]);
    }
    for (const key of this.suspects.keys()) if (!current.has(key)) this.suspects.delete(key);

    let released = 0;
    for (const [cause, assignments] of due) {
      for (const a of assignments) {
        this.deps.logger.info(
          { address: a.address, pod: `${a.pod.namespace}/${a.pod.name}`, cause },
          'releasing an address whose owner is gone',
        );
        this.suspects.delete(keyString(a.key));
      }
      await this.deps.release(assignments, cause);
      this.deps.events?.released(cause, assignments.length);
      released += assignments.length;
    }
    return released;
  }

  private goneCause(
    a: Assignment,
    byUid: ReadonlySet<string>,
    byName: () => ReadonlySet<string>,
    vms: VmDirectory | undefined,
  ): LeakCause | undefined {
    // Held for an unknown pod: only ownership recovery may free it (agent/ownership-recovery.ts).
    if (isQuarantineKey(a.key)) return undefined;
    if (a.owner?.kind === 'VirtualMachine' && vms?.enabled()) {
      if (!vms.synced()) return undefined;
      return vms.exists(a.owner) ? undefined : 'vm_deleted';
    }
    if (a.pod.uid !== '') return byUid.has(a.pod.uid) ? undefined : 'pod_gone';
    // Runtimes that pass no pod uid: match by name; a different pod of the same name counts as present.
    if (a.pod.namespace === '' || a.pod.name === '') return undefined;
    return byName().has(`${a.pod.namespace}/${a.pod.name}`) ? undefined : 'pod_gone';
  }
}

/** ENIs this project created and left attached to nothing, older than the grace period: deleted. */
export async function reapLeakedEnis(
  ec2: Ec2Network,
  instanceId: string,
  graceMs: number,
  logger: Logger,
  events?: LeakEvents,
  /** Only ENIs created before this time (ms): e.g. before this process started. */
  createdBefore?: number,
): Promise<number> {
  const found = await ec2.findLeakedEnis(instanceId, graceMs, createdBefore);
  const leaked =
    createdBefore === undefined
      ? found
      : found.filter((eni) => eni.createdAt !== undefined && eni.createdAt < createdBefore);
  let deleted = 0;
  for (const eni of leaked) {
    events?.found('leaked_eni');
    try {
      await ec2.detachAndDeleteEni(eni.eniId);
      deleted++;
      logger.info(
        { eniId: eni.eniId, subnetId: eni.subnetId, instanceId: eni.instanceId },
        'deleted a leaked ENI',
      );
    } catch (err) {
      logger.warn({ eniId: eni.eniId, err: (err as Error).message }, 'could not delete a leaked ENI');
    }
  }
  if (deleted > 0) events?.released('leaked_eni', deleted);
  return deleted;
}
