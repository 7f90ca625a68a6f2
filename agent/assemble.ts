import { PlacementError, resolvePlacement } from '../ipam/pod-placement.js';
import type { OwnerRef } from '../ipam/datastore-types.js';
import type { Ec2Network } from '../provider/ec2-network.js';
import type { Clock } from '../time/clock.js';
import { leakEventsFor, metricsForLateAgent } from './agent-views.js';
import type { Checkpointer } from './checkpoint.js';
import type { AddRequest } from './cni-backend.js';
import type { AgentConfig } from './config.js';
import { eniConfigNameFor, type EniConfigSource } from './kube/eni-config.js';
import type { NodePods, PodRef } from './kube/pod-watch.js';
import type { ClusterVirtualMachines } from './kube/vm-watch.js';
import type { VmDirectory } from './leak-reaper.js';
import type { Logger } from './logger.js';
import type { AgentMetrics } from './metrics/agent-metrics.js';
import { IpamEventMetrics } from './metrics/ipam-event-metrics.js';
import { NodeAgent, type NodeAgentSettings, type PodEniNetwork } from './node-agent.js';
import type { PlacementResolution } from './node-ipam.js';
import type { PoolPolicy } from './pool-driver.js';
import type { Datapath } from '../datapath/model.js';
import { nodeDatapathOf } from './node-datapath-kernel.js';

/** KubeVirt labels a VM's virt-launcher pod with the VM's name. */
export const KUBEVIRT_VM_LABEL = 'vm.kubevirt.io/name';

export interface AssembleOptions {
  config: AgentConfig;
  ec2: Ec2Network;
  clock: Clock;
  logger: Logger;
  checkpointer: Checkpointer;
  pods?: NodePods;
  virtualMachines?: ClusterVirtualMachines;
  eniConfigs?: EniConfigSource;
  /** Built by the caller when the provider needs its observer (metrics.ec2) at construction. */
  metrics?: AgentMetrics;
  /** Another planning policy, for benchmarks; default: eni-ipam's event-driven planning. */
  policy?: PoolPolicy;
  /** The node's kernel datapath (the real process only); absent: the kernel is left alone. */
  datapath?: Datapath;
}

export interface AssembledAgent {
  agent: NodeAgent;
  metrics: AgentMetrics;
}

/**
 * Builds one node's agent from its configuration and its outside world (EC2, Kubernetes, the
 * checkpoint). The real process (agent/main.ts), the demo and the simulator's runner all build it
 * here, so what they measure is what runs on a node.
 */
export function assembleNodeAgent(options: AssembleOptions): AssembledAgent {
  const { config, pods, virtualMachines, eniConfigs } = options;
  let metrics = options.metrics;
  let attach: ((agent: NodeAgent) => void) | undefined;
  if (!metrics) ({ metrics, attach } = metricsForLateAgent());
  const vms = virtualMachines ? vmDirectoryOf(virtualMachines) : undefined;
  const agent = new NodeAgent({
    settings: settingsOf(config),
    ec2: options.ec2,
    clock: options.clock,
    logger: options.logger,
    checkpointer: options.checkpointer,
    ...(pods ? { pods } : {}),
    ...(vms ? { vms } : {}),
    ...(eniConfigs ? { podEniNetwork: podEniNetworkFrom(eniConfigs, config) } : {}),
    placementFor: (req) => placementFor(req, pods, virtualMachines, config),
    ipamEvents: new IpamEventMetrics(metrics),
    leakEvents: leakEventsFor(metrics),
    ...(options.policy ? { policy: options.policy } : {}),
    ...(options.datapath ? { datapath: nodeDatapathOf(options.datapath, config, options) } : {}),
  });
  attach?.(agent);
  return { agent, metrics };
}

export function settingsOf(config: AgentConfig): NodeAgentSettings {
  return {
    warmTargets: config.warmTargets,
    customNetworking: config.customNetworking,
    subnetDiscovery: config.subnetDiscovery,
    clusterName: config.clusterName,
    ipCooldownMs: config.ipCooldownMs,
    addWaitMs: config.addWaitMs,
    ec2ResyncMs: config.ec2ResyncMs,
    podGoneGraceMs: config.podGoneGraceMs,
    leakedEniGraceMs: config.leakedEniGraceMs,
    leakedEniCleanup: config.leakedEniCleanup,
    subnetFullSkipMs: config.subnetFullSkipMs,
    podEniSecurityGroups: config.podEniSecurityGroups,
    pools: config.pools.map((p) => ({
      name: p.name,
      subnetId: p.subnetId,
      ...(p.securityGroups === undefined ? {} : { securityGroupIds: p.securityGroups }),
    })),
    spoolPath: config.spoolPath,
  };
}

/**
 * Which subnet or pool a pod may draw from (its annotations, as the runtime passed them or as the
 * pod watch shows them), and the VM that owns its address when it is a KubeVirt virt-launcher pod.
 */
function placementFor(
  req: AddRequest,
  pods: NodePods | undefined,
  vms: ClusterVirtualMachines | undefined,
  config: AgentConfig,
): PlacementResolution {
  const namespace = req.pod.namespace ?? '';
  const name = req.pod.name ?? '';
  const watched: PodRef | undefined = pods?.list().find((p) => p.namespace === namespace && p.name === name);
  const annotations = { ...(watched?.annotations ?? {}), ...(req.annotations ?? {}) };
  try {
    const constraints = resolvePlacement({ namespace, name, annotations }, undefined, config.pools);
    const placement = {
      ...(constraints.subnetId === undefined ? {} : { subnetId: constraints.subnetId }),
      ...(constraints.pool === undefined ? {} : { pool: constraints.pool }),
    };
    const owner = vmOwnerOf(watched, vms);
    return { kind: 'ok', placement, ...(owner ? { owner } : {}) };
  } catch (err) {
    if (err instanceof PlacementError) return { kind: 'error', message: err.message };
    throw err;
  }
}

function vmOwnerOf(pod: PodRef | undefined, vms: ClusterVirtualMachines | undefined): OwnerRef | undefined {
  const vmName = pod?.labels[KUBEVIRT_VM_LABEL];
  if (!pod || vmName === undefined || vms?.apiState() !== 'present') return undefined;
  const vm = vms.list().find((v) => v.namespace === pod.namespace && v.name === vmName);
  return { kind: 'VirtualMachine', namespace: pod.namespace, name: vmName, uid: vm?.uid ?? '' };
}

function vmDirectoryOf(vms: ClusterVirtualMachines): VmDirectory {
  return {
    enabled: () => vms.apiState() === 'present',
    synced: () => vms.synced(),
    exists: (vm) =>
      vms
        .list()
        .some((v) => (vm.uid !== '' ? v.uid === vm.uid : v.namespace === vm.namespace && v.name === vm.name)),
  };
}

/** Custom networking: the ENIConfig named by the node's label, else the one named after its AZ. */
function podEniNetworkFrom(
  eniConfigs: EniConfigSource,
  config: AgentConfig,
): (identity: { availabilityZone: string }) => Promise<PodEniNetwork> {
  return async (identity) => {
    const node = await eniConfigs.node(config.nodeName);
    const name = eniConfigNameFor(
      { ...node, availabilityZone: node.availabilityZone ?? identity.availabilityZone },
      config.eniConfigLabel,
    );
    if (name === undefined) {
      throw new Error(
        `custom networking is on but node ${config.nodeName} has no ${config.eniConfigLabel} label and no zone`,
      );
    }
    const spec = await eniConfigs.eniConfig(name);
    if (!spec) throw new Error(`custom networking is on but ENIConfig ${name} does not exist`);
    return { subnetId: spec.subnet, securityGroupIds: [...spec.securityGroups] };
  };
}
