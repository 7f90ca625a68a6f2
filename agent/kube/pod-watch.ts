/**
 * The pods of this node, as the agent needs them to find addresses whose pod is gone (deleted
 * while the agent was down, or a DEL that never came), and to learn which pod holds which address
 * when the checkpoint lost it (their `status.podIPs`). The list and the watch both carry
 * `spec.nodeName=<node>`: makeInformer lost field selectors in client-node 1.x, and without the
 * selector every agent would receive every pod of the cluster.
 */
import type { V1Pod } from '@kubernetes/client-node';
import type { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import type { Clock } from '../../time/clock.js';
import type { PodRef } from '../../ipam/datastore-types.js';
import {
  ResilientListWatch,
  type RestartReason,
  type WatchHealth,
  type WatchLog,
} from './resilient-list-watch.js';
import { KubeApi } from './kube-api.js';

export interface OwnerRef {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly uid: string;
  readonly controller: boolean;
}

/** A pod of this node as the watch shows it: its identity (the datastore's PodRef) and more. */
export interface WatchedPod extends PodRef {
  /** Pending, Running, Succeeded, Failed, Unknown; "" when the API server has not set it yet. */
  readonly phase: string;
  readonly annotations: Readonly<Record<string, string>>;
  readonly labels: Readonly<Record<string, string>>;
  readonly ownerReferences: readonly OwnerRef[];
  /** Host-network pods never hold an address of ours. */
  readonly hostNetwork: boolean;
  /**
   * `status.podIPs` as kubelet reported them (empty until it has); undefined when the source does
   * not know them. What rebuilds ownership of addresses when the checkpoint lost it.
   */
  readonly podIps?: readonly string[];
}

/** What the agent sees of the node's pods; no client-node type crosses this line. */
export interface NodePods {
  start(signal: AbortSignal): void;
  close(): Promise<void>;
  list(): WatchedPod[];
  /** Called after any change of list() or synced(); returns an unsubscribe function. */
  onChange(listener: () => void): () => void;
  /**
   * True when list() is current. False before the first list, and from a watch failure until the
   * relist after it: while false, do not conclude that a pod is gone.
   */
  synced(): boolean;
  /** Resolves once synced() is true (or the watch is closed). */
  waitUntilSynced(): Promise<void>;
  /** For introspection: last sign of life and restarts by reason. */
  health(): WatchHealth;
}

export function toPodRef(pod: V1Pod): WatchedPod | undefined {
  const meta = pod.metadata;
  // A pod always has these; an object without them cannot be matched to an address anyway.
  if (!meta?.uid || !meta.name || !meta.namespace) return undefined;
  return {
    uid: meta.uid,
    namespace: meta.namespace,
    name: meta.name,
    phase: pod.status?.phase ?? '',
    annotations: { ...(meta.annotations ?? {}) },
    labels: { ...(meta.labels ?? {}) },
    ownerReferences: (meta.ownerReferences ?? []).map((o) => ({
      apiVersion: o.apiVersion,
      kind: o.kind,
      name: o.name,
      uid: o.uid,
      controller: o.controller ?? false,
    })),
    hostNetwork: pod.spec?.hostNetwork ?? false,
    podIps: podIpsOf(pod),
  };
}

function podIpsOf(pod: V1Pod): string[] {
  const listed = (pod.status?.podIPs ?? []).map((p) => p.ip).filter((ip) => ip !== '');
  const single = pod.status?.podIP;
  // Older API servers set only podIP.
  return listed.length > 0 ? listed : single ? [single] : [];
}

export interface PodWatchOptions {
  kubeConfig: KubeConfig;
  nodeName: string;
  clock: Clock;
  log: WatchLog;
  random?: () => number;
  stallMs?: number;
  onRestart?: (reason: RestartReason) => void;
}

export class PodWatch implements NodePods {
  private readonly watch: ResilientListWatch<V1Pod>;

  constructor(options: PodWatchOptions) {
    const fieldSelector = `spec.nodeName=${options.nodeName}`;
    const api = new KubeApi(options.kubeConfig);
    this.watch = new ResilientListWatch<V1Pod>({
      name: 'pods',
      kubeConfig: options.kubeConfig,
      path: '/api/v1/pods',
      // resourceVersion "0": served from the API server's watch cache rather than a quorum read
      // from etcd, which matters when thousands of agents restart together (kubelet does the same);
      // the watch that follows starts from the list's version, so nothing is missed.
      list: () => api.listPodForAllNamespaces({ fieldSelector, resourceVersion: '0' }),
      fieldSelector,
      clock: options.clock,
      log: options.log,
      ...(options.random ? { random: options.random } : {}),
      ...(options.stallMs !== undefined ? { stallMs: options.stallMs } : {}),
      ...(options.onRestart ? { onRestart: options.onRestart } : {}),
    });
  }

  start(signal: AbortSignal): void {
    this.watch.start(signal);
  }

  close(): Promise<void> {
    return this.watch.close();
  }

  list(): WatchedPod[] {
    const pods: WatchedPod[] = [];
    for (const pod of this.watch.items()) {
      const ref = toPodRef(pod);
      if (ref) pods.push(ref);
    }
    return pods;
  }

  onChange(listener: () => void): () => void {
    return this.watch.onChange(listener);
  }

  synced(): boolean {
    return this.watch.synced();
  }

  waitUntilSynced(): Promise<void> {
    return this.watch.waitUntilSynced();
  }

  health(): WatchHealth {
    return this.watch.health();
  }
}
