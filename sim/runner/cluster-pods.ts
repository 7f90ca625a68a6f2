/**
 * The runner's Kubernetes API: the pods bound to each simulated node. The store outlives agent
 * processes (as the API server outlives a DaemonSet pod); each agent process gets its own
 * NodePods view of its node, as its pod watch would, started and closed with the process.
 */
import type { NodePods, WatchedPod } from '../../agent/kube/pod-watch.js';
import type { WatchHealth } from '../../agent/kube/resilient-list-watch.js';
import type { Clock } from '../../time/clock.js';

export interface SimPod {
  uid: string;
  namespace: string;
  name: string;
  annotations: Record<string, string>;
}

type Listener = () => void;

export class ClusterPods {
  private readonly byNode = new Map<string, Map<string, WatchedPod>>();
  private readonly listeners = new Map<string, Set<Listener>>();

  constructor(private readonly clock: Clock) {}

  /** The pod object is created, bound to `node` (the scheduler's decision). */
  create(node: string, pod: SimPod): void {
    this.podsOf(node).set(pod.uid, {
      uid: pod.uid,
      namespace: pod.namespace,
      name: pod.name,
      // Pending until its sandbox has an address; the agent treats Pending pods as alive.
      phase: 'Pending',
      annotations: { ...pod.annotations },
      labels: {},
      ownerReferences: [],
      hostNetwork: false,
    });
    this.notify(node);
  }

  markRunning(node: string, uid: string): void {
    const pods = this.podsOf(node);
    const pod = pods.get(uid);
    if (!pod || pod.phase === 'Running') return;
    pods.set(uid, { ...pod, phase: 'Running' });
    this.notify(node);
  }

  /** The pod object is gone from the API (the kubelet finished tearing it down, or not). */
  delete(node: string, uid: string): void {
    if (this.podsOf(node).delete(uid)) this.notify(node);
  }

  list(node: string): WatchedPod[] {
    return [...this.podsOf(node).values()];
  }

  count(node: string): number {
    return this.podsOf(node).size;
  }

  /** What one agent process's pod watch sees. */
  watchOf(node: string): NodePods {
    return new NodePodsView(this, node, this.clock);
  }

  subscribe(node: string, listener: Listener): () => void {
    let set = this.listeners.get(node);
    if (!set) {
      set = new Set();
      this.listeners.set(node, set);
    }
    set.add(listener);
    return () => set.delete(listener);
  }

  private podsOf(node: string): Map<string, WatchedPod> {
    let pods = this.byNode.get(node);
    if (!pods) {
      pods = new Map();
      this.byNode.set(node, pods);
    }
    return pods;
  }

  private notify(node: string): void {
    for (const listener of this.listeners.get(node) ?? []) listener();
  }
}

/**
 * A pod watch that never fails: synced from start() to close(). Watch failures are tested with
 * the real watch against a real API server (test/agent/kube-pod-watch.test.ts), not here.
 */
class NodePodsView implements NodePods {
  private started = false;
  private lastActivityAt = 0;
  private unsubscribe: (() => void) | undefined;
  private readonly listeners = new Set<Listener>();

  constructor(
    private readonly api: ClusterPods,
    private readonly node: string,
    private readonly clock: Clock,
  ) {}

  start(signal: AbortSignal): void {
    if (this.started) return;
    this.started = true;
    this.lastActivityAt = this.clock.now();
    this.unsubscribe = this.api.subscribe(this.node, () => {
      this.lastActivityAt = this.clock.now();
      for (const listener of this.listeners) listener();
    });
    signal.addEventListener('abort', () => void this.close(), { once: true });
  }

  close(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    return Promise.resolve();
  }

  list(): WatchedPod[] {
    return this.api.list(this.node);
  }

  onChange(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  synced(): boolean {
    return this.started && this.unsubscribe !== undefined;
  }

  waitUntilSynced(): Promise<void> {
    return Promise.resolve();
  }

  health(): WatchHealth {
    return { synced: this.synced(), lastActivityAt: this.lastActivityAt, restarts: { error: 0, stall: 0 } };
  }
}
