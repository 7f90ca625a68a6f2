/**
 * Builds the agent's Kubernetes-facing parts from its configuration, so that the one place that
 * wires the agent does not need to know client-node.
 */
import type { Clock } from '../../time/clock.js';
import type { AgentConfig } from '../config.js';
import { KubeEniConfigSource, type EniConfigSource } from './eni-config.js';
import { loadKubeConfig } from './kubeconfig.js';
import { KubeNodeEvents } from './node-events.js';
import { NamespaceWatch, type ClusterNamespaces } from './namespace-watch.js';
import { PodWatch, type NodePods } from './pod-watch.js';
import { LeaseRecentNodes, type RecentNodes } from './recent-nodes.js';
import type { RestartReason, WatchLog } from './resilient-list-watch.js';
import { VirtualMachineWatch, type ClusterVirtualMachines } from './vm-watch.js';
import { KubeWarmUpLease } from './warm-up-lease.js';

export interface KubeSources {
  readonly pods: NodePods;
  readonly virtualMachines: ClusterVirtualMachines;
  readonly eniConfigs: EniConfigSource;
  readonly namespaces: ClusterNamespaces;
  /** Events on the node's Node object (the pool's shortage). */
  readonly nodeEvents: KubeNodeEvents;
  /** How many nodes joined recently (node Leases) and are still warming up, to share the account's EC2 buckets. */
  readonly recentNodes: RecentNodes;
  /** Where this node says its warm-up is over (a Lease in the agent's namespace). */
  readonly warmUp: KubeWarmUpLease;
}

export interface KubeSourcesOptions {
  config: Pick<AgentConfig, 'kubeconfig' | 'nodeName'>;
  clock: Clock;
  log: WatchLog;
  /** For the metric of watch restarts by watch and reason. */
  onWatchRestart?: (watch: 'pods' | 'virtualmachines' | 'namespaces', reason: RestartReason) => void;
}

/** Constructs only: no request is made until start(signal) on the watches. */
export function createKubeSources(options: KubeSourcesOptions): KubeSources {
  const kubeConfig = loadKubeConfig(options.config.kubeconfig);
  const { clock, log, onWatchRestart } = options;
  return {
    pods: new PodWatch({
      kubeConfig,
      nodeName: options.config.nodeName,
      clock,
      log,
      ...(onWatchRestart
        ? {
            onRestart: (reason: RestartReason) => {
              onWatchRestart('pods', reason);
            },
          }
        : {}),
    }),
    virtualMachines: new VirtualMachineWatch({
      kubeConfig,
      clock,
      log,
      ...(onWatchRestart
        ? {
            onRestart: (reason: RestartReason) => {
              onWatchRestart('virtualmachines', reason);
            },
          }
        : {}),
    }),
    eniConfigs: new KubeEniConfigSource(kubeConfig),
    nodeEvents: KubeNodeEvents.forKubeConfig(kubeConfig, {
      nodeName: options.config.nodeName,
      clock,
      logger: log,
    }),
    recentNodes: new LeaseRecentNodes({ kubeConfig, clock, log }),
    warmUp: new KubeWarmUpLease({ kubeConfig, nodeName: options.config.nodeName, clock, log }),
    namespaces: new NamespaceWatch({
      kubeConfig,
      clock,
      log,
      ...(onWatchRestart
        ? {
            onRestart: (reason: RestartReason) => {
              onWatchRestart('namespaces', reason);
            },
          }
        : {}),
    }),
  };
}
