/**
 * The cluster's namespaces, for their placement annotations: a namespace bound to an address pool
 * or a subnet gives its pods (and KubeVirt VMs' virt-launcher pods) that default, unless the pod
 * says otherwise (ipam/pod-placement.ts). Namespaces are few and change rarely, so every agent
 * watching them all costs little.
 */
import type { V1Namespace } from '@kubernetes/client-node';
import type { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import { KubeApi } from './kube-api.js';
import type { Clock } from '../../time/clock.js';
import {
  ResilientListWatch,
  type RestartReason,
  type WatchHealth,
  type WatchLog,
} from './resilient-list-watch.js';

/** What the agent sees of the namespaces; no client-node type crosses this line. */
export interface ClusterNamespaces {
  start(signal: AbortSignal): void;
  close(): Promise<void>;
  /** The namespace's annotations, or undefined when it is not known (yet). */
  annotationsOf(namespace: string): Readonly<Record<string, string>> | undefined;
  synced(): boolean;
  health(): WatchHealth;
}

export interface NamespaceWatchOptions {
  kubeConfig: KubeConfig;
  clock: Clock;
  log: WatchLog;
  random?: () => number;
  onRestart?: (reason: RestartReason) => void;
}

export class NamespaceWatch implements ClusterNamespaces {
  private readonly watch: ResilientListWatch<V1Namespace>;

  constructor(options: NamespaceWatchOptions) {
    const api = new KubeApi(options.kubeConfig);
    this.watch = new ResilientListWatch<V1Namespace>({
      name: 'namespaces',
      kubeConfig: options.kubeConfig,
      path: '/api/v1/namespaces',
      // From the API server's watch cache, as the pod watch (see there).
      list: () => api.listNamespace({ resourceVersion: '0' }),
      clock: options.clock,
      log: options.log,
      ...(options.random ? { random: options.random } : {}),
      ...(options.onRestart ? { onRestart: options.onRestart } : {}),
    });
  }

  start(signal: AbortSignal): void {
    this.watch.start(signal);
  }

  close(): Promise<void> {
    return this.watch.close();
  }

  annotationsOf(namespace: string): Readonly<Record<string, string>> | undefined {
    for (const ns of this.watch.items()) {
      if (ns.metadata?.name === namespace) return { ...(ns.metadata.annotations ?? {}) };
    }
    return undefined;
  }

  synced(): boolean {
    return this.watch.synced();
  }

  health(): WatchHealth {
    return this.watch.health();
  }
}
