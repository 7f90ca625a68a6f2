import type { NodePods, WatchedPod } from '../../../agent/kube/pod-watch.js';
import type { WatchHealth } from '../../../agent/kube/resilient-list-watch.js';
import type { ClusterVirtualMachines, VmApiState, VmRef } from '../../../agent/kube/vm-watch.js';

type Listener = () => void;

/** Listeners and a synced flag, shared by the two fake watches. */
class FakeWatch {
  private readonly listeners = new Set<Listener>();
  private isSynced = true;
  private readonly syncWaiters: Listener[] = [];

  onChange(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  synced(): boolean {
    return this.isSynced;
  }

  waitUntilSynced(): Promise<void> {
    if (this.isSynced) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  /** A watch that failed (false) until its relist (true): the reaper must not judge meanwhile. */
  setSynced(synced: boolean): void {
    this.isSynced = synced;
    if (synced) for (const resolve of this.syncWaiters.splice(0)) resolve();
    this.changed();
  }

  protected watchHealth(): WatchHealth {
    return { synced: this.isSynced, lastActivityAt: 0, restarts: { error: 0, stall: 0 } };
  }

  protected changed(): void {
    for (const listener of this.listeners) listener();
  }
}

/**
 * The pods of the node as a test wants the pod watch to show them: the test adds and deletes pods
 * (a deletion whose DEL never reaches the agent is just `delete` without a CNI DEL).
 */
export class FakeNodePods extends FakeWatch implements NodePods {
  private readonly pods = new Map<string, WatchedPod>();
  starts = 0;

  start(): void {
    this.starts++;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  health(): WatchHealth {
    return this.watchHealth();
  }

  list(): WatchedPod[] {
    return [...this.pods.values()];
  }

  /** Adds (or replaces) a pod; `labels` carry e.g. KubeVirt's `vm.kubevirt.io/name`. */
  add(pod: {
    uid: string;
    namespace?: string;
    name: string;
    labels?: Record<string, string>;
    /** status.podIPs; omitted: the source does not report them. */
    podIps?: string[];
    phase?: string;
    hostNetwork?: boolean;
  }): WatchedPod {
    const ref: WatchedPod = {
      uid: pod.uid,
      namespace: pod.namespace ?? 'default',
      name: pod.name,
      phase: pod.phase ?? 'Running',
      annotations: {},
      labels: { ...(pod.labels ?? {}) },
      ownerReferences: [],
      hostNetwork: pod.hostNetwork ?? false,
      ...(pod.podIps ? { podIps: pod.podIps } : {}),
    };
    this.pods.set(ref.uid, ref);
    this.changed();
    return ref;
  }

  delete(uid: string): void {
    this.pods.delete(uid);
    this.changed();
  }
}

/** KubeVirt's VirtualMachines as the VM watch would show them. */
export class FakeVirtualMachines extends FakeWatch implements ClusterVirtualMachines {
  private readonly vms = new Map<string, VmRef>();
  state: VmApiState = 'present';

  start(): void {
    // Nothing to watch: the test drives the list.
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  apiState(): VmApiState {
    return this.state;
  }

  list(): VmRef[] {
    return this.state === 'present' ? [...this.vms.values()] : [];
  }

  add(vm: { uid: string; namespace?: string; name: string }): VmRef {
    const ref: VmRef = { uid: vm.uid, namespace: vm.namespace ?? 'default', name: vm.name };
    this.vms.set(ref.uid, ref);
    this.changed();
    return ref;
  }

  delete(uid: string): void {
    this.vms.delete(uid);
    this.changed();
  }

  health(): WatchHealth | undefined {
    return this.state === 'present' ? this.watchHealth() : undefined;
  }
}
