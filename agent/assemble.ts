import { dirname } from 'node:path';
import { PlacementError } from '../ipam/errors.js';
import { resolvePlacement } from '../ipam/pod-placement.js';
import type { OwnerRef } from '../ipam/datastore-types.js';
import { AwsEc2Network } from '../provider/aws-ec2-network.js';
import type { Ec2Network } from '../provider/ec2-network.js';
import { ImdsV2Source } from '../provider/imds.js';
import { sleepWith, systemClock, type Clock } from '../time/clock.js';
import { introspectionSourceOf, leakEventsFor, metricsSourceOf, shortageForEvents } from './agent-views.js';
import { FileCheckpointer, type Checkpointer } from './checkpoint.js';
import { CniLiveness, WriteTrackingCheckpointer } from './cni-liveness.js';
import { CniServer } from './cni-server.js';
import { DeferredBackend } from './deferred-backend.js';
import { IntrospectionServer } from './introspection/introspection-server.js';
import type { CloudWatchPublisher } from './metrics/cloudwatch-publisher.js';
import { cloudWatchSamples, cloudWatchTarget } from './metrics/cloudwatch-samples.js';
import { loggingSharedBudget } from './metrics/ec2-call-metrics.js';
import { MetricsServer } from './metrics/metrics-server.js';
import { kernelDatapath } from './node-datapath-kernel.js';
import { guardUnhandledRejections } from './process-guards.js';
import { checkStartup } from './startup-checks.js';
import { createKubeSources } from './kube/kube-sources.js';
import type { AddRequest } from './cni-backend.js';
import type { AgentConfig } from './config.js';
import { resolveEniConfig, type EniConfigSource } from './kube/eni-config.js';
import type { ClusterNamespaces } from './kube/namespace-watch.js';
import type { NodePods, WatchedPod } from './kube/pod-watch.js';
import type { SandboxAddresses } from '../ipam/ownership-recovery.js';
import type { ClusterVirtualMachines } from './kube/vm-watch.js';
import type { VmDirectory } from './leak-reaper.js';
import type { Logger } from './logger.js';
import { AgentMetrics } from './metrics/agent-metrics.js';
import { countingCheckpointWrites } from './metrics/checkpoint-metrics.js';
import { CniRequestTimings } from './metrics/cni-request-timing.js';
import { IpamEventMetrics } from './metrics/ipam-event-metrics.js';
import { NodeAgent, type NodeAgentSettings, type PodEniNetwork } from './node-agent.js';
import type { PlacementResolution } from './node-ipam.js';
import type { PoolPolicy } from './pool-policy.js';
import type { Datapath } from '../datapath/model.js';
import { nodeDatapathOf } from './node-datapath-kernel.js';
import { ShortageAnnouncer } from './shortage-announcer.js';

/** Each CRI call's deadline: a runtime that does not answer within it is unknown for now. */
const CRI_CALL_TIMEOUT_MS = 3_000;

async function runtimeSandboxesAt(socketPath: string): Promise<SandboxAddresses[]> {
  const { readySandboxes } = await import('./runtime/runtime-sandboxes.js');
  return readySandboxes({ socketPath, clock: systemClock, timeoutMs: CRI_CALL_TIMEOUT_MS });
}

/** How long start-up waits for the count of starting nodes before it goes on without it. */
const RECENT_NODES_WAIT_MS = 5_000;

/** KubeVirt labels a VM's virt-launcher pod with the VM's name. */
export const KUBEVIRT_VM_LABEL = 'vm.kubevirt.io/name';

export interface AssembleOptions {
  config: AgentConfig;
  ec2: Ec2Network;
  clock: Clock;
  logger: Logger;
  checkpointer: Checkpointer;
  pods?: NodePods;
  /** The container runtime's READY sandboxes (agent/runtime/runtime-sandboxes.ts), for ownership recovery. */
  runtimeSandboxes?: () => Promise<SandboxAddresses[]>;
  virtualMachines?: ClusterVirtualMachines;
  eniConfigs?: EniConfigSource;
  /** Namespace annotations: placement defaults for the namespace's pods. */
  namespaces?: ClusterNamespaces;
  /** Built by the caller when the provider needs its observer (metrics.ec2) at construction; the agent's gauges are attached here. */
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
 * checkpoint). The real process (startAgent below), the demo and the simulator's runner all build
 * it here, so what they measure is what runs on a node.
 */
export function assembleNodeAgent(options: AssembleOptions): AssembledAgent {
  const { config, pods, virtualMachines, eniConfigs, namespaces } = options;
  const metrics = options.metrics ?? new AgentMetrics();
  const vms = virtualMachines ? vmDirectoryOf(virtualMachines) : undefined;
  const agent = new NodeAgent({
    settings: settingsOf(config),
    ec2: options.ec2,
    clock: options.clock,
    logger: options.logger,
    checkpointer: countingCheckpointWrites(options.checkpointer, metrics),
    ...(pods ? { pods } : {}),
    ...(options.runtimeSandboxes ? { runtimeSandboxes: options.runtimeSandboxes } : {}),
    ...(vms ? { vms } : {}),
    ...(eniConfigs ? { podEniNetwork: podEniNetworkFrom(eniConfigs, config) } : {}),
    ...(eniConfigs ? { kubeletMaxPods: async () => (await eniConfigs.node(config.nodeName)).maxPods } : {}),
    placementFor: (req) => placementFor(req, pods, virtualMachines, config, namespaces),
    ipamEvents: new IpamEventMetrics(metrics),
    leakEvents: leakEventsFor(metrics),
    onCheckpointEntriesDropped: (count) => {
      metrics.checkpointEntriesUnrecovered(count);
    },
    // awscni_ipamd_action_inprogress counts each pool action from its start to its end.
    onAction: (action) => metrics.actionStarted(action),
    upkeep: {
      resynced: (report) => {
        metrics.reconciled('ec2_resync');
        metrics.ipsForceRemoved(report.lost.length);
        metrics.enisForceRemoved(report.enisRemovedInUse);
      },
      failed: (step) => {
        metrics.error(step);
      },
    },
    ...(options.policy ? { policy: options.policy } : {}),
    ...(options.datapath ? { datapath: nodeDatapathOf(options.datapath, config, options) } : {}),
  });
  metrics.measure(metricsSourceOf(agent));
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
  namespaces?: ClusterNamespaces,
): PlacementResolution {
  const namespace = req.pod.namespace ?? '';
  const name = req.pod.name ?? '';
  const watched: WatchedPod | undefined = pods
    ?.list()
    .find((p) => p.namespace === namespace && p.name === name);
  const annotations = { ...(watched?.annotations ?? {}), ...(req.annotations ?? {}) };
  try {
    const namespaceAnnotations = namespaces?.annotationsOf(namespace);
    const placement = resolvePlacement(
      { namespace, name, annotations },
      namespaceAnnotations === undefined ? undefined : { annotations: namespaceAnnotations },
      config.pools,
    );
    const owner = vmOwnerOf(watched, vms);
    return { kind: 'ok', placement, ...(owner ? { owner } : {}) };
  } catch (err) {
    if (err instanceof PlacementError) return { kind: 'error', message: err.message };
    throw err;
  }
}

function vmOwnerOf(
  pod: WatchedPod | undefined,
  vms: ClusterVirtualMachines | undefined,
): OwnerRef | undefined {
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

/**
 * Custom networking: the ENIConfig the node names (annotation, then label), else the one named
 * after its zone, else `default`. Called at start and at every EC2 resync, so a changed ENIConfig
 * (or a node that now names another) applies to the ENIs created from then on.
 */
function podEniNetworkFrom(
  eniConfigs: EniConfigSource,
  config: AgentConfig,
): (identity: { availabilityZone: string }) => Promise<PodEniNetwork> {
  return async (identity) => {
    const node = await eniConfigs.node(config.nodeName);
    const spec = await resolveEniConfig(
      eniConfigs,
      { ...node, availabilityZone: node.availabilityZone ?? identity.availabilityZone },
      { annotation: config.eniConfigAnnotation, label: config.eniConfigLabel },
    );
    return { subnetId: spec.subnet, securityGroupIds: [...spec.securityGroups] };
  };
}

/** A running agent process: what SIGTERM stops, in order. */
export interface RunningAgent {
  agent: NodeAgent;
  stop(): Promise<void>;
}

/** What startAgent reaches outside the process; each defaults to a real node's. */
export interface AgentWorld {
  /**
   * This node's pods (the demo's in-memory Kubernetes API); default: the pod watch of the cluster
   * the configuration names, with the VirtualMachine, ENIConfig and namespace sources beside it.
   */
  pods?: NodePods;
  /** Static EC2 credentials (a simulator's); default: the SDK's credential chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

/**
 * The composition root of the agent process: builds and starts everything a node runs from its
 * configuration (EC2 and CloudWatch clients, Kubernetes watches, checkpoint, the agent, the CNI,
 * metrics and introspection servers); the returned stop() undoes it in reverse order. A start-up
 * that fails half-way undoes what it had started before the error reaches the caller.
 */
export async function startAgent(
  config: AgentConfig,
  env: Readonly<Record<string, string | undefined>>,
  logger: Logger,
  world: AgentWorld = {},
): Promise<RunningAgent> {
  await checkStartup(config);
  const clock = systemClock;
  // The provider reports every EC2 call to the metrics from its construction on.
  const metrics = new AgentMetrics();
  const unguard = guardUnhandledRejections(logger, () => {
    metrics.error('unhandled_rejection');
  });
  // Built before the EC2 client: the count of starting nodes paces its calls.
  const kube =
    world.pods === undefined
      ? createKubeSources({
          config,
          clock,
          log: logger,
          onWatchRestart: (watch, reason) => {
            metrics.watchRestart(watch, reason);
          },
        })
      : undefined;
  const ec2 = new AwsEc2Network({
    region: config.aws.region ?? (await regionFromImds(config)),
    imdsEndpoint: config.aws.imdsEndpoint,
    ...(config.aws.ec2Endpoint === undefined ? {} : { endpoint: config.aws.ec2Endpoint }),
    ...(config.clusterName === undefined ? {} : { clusterName: config.clusterName }),
    ...(world.credentials === undefined ? {} : { credentials: world.credentials }),
    extraTags: config.additionalEniTags,
    rateLimits: { familyShares: { ...config.aws.rateFractions } },
    ...(config.aws.rateLimitRedisUrl === undefined ? {} : { redisUrl: config.aws.rateLimitRedisUrl }),
    clock,
    observer: loggingSharedBudget(metrics.ec2, logger),
    ...(kube ? { contenders: () => kube.recentNodes.count() } : {}),
  });
  const pods = world.pods ?? kube?.pods;
  const checkpointer = new WriteTrackingCheckpointer(
    new FileCheckpointer({ path: config.checkpointPath, clock }),
  );
  const backend = new DeferredBackend();
  const timings = new CniRequestTimings(metrics, clock);
  let cni = new CniServer({ socketPath: config.socketPath, backend, logger, clock, observer: timings });
  const liveness = new CniLiveness({
    socketPath: config.socketPath,
    stateDir: dirname(config.checkpointPath),
    clock,
    writeFailure: () => checkpointer.failure(),
    rewrite: () => checkpointer.rewrite(),
    // The old server answers what it already received, then a new one binds the path again.
    relisten: async () => {
      await cni.close();
      cni = new CniServer({ socketPath: config.socketPath, backend, logger, clock, observer: timings });
      await cni.start();
    },
    intervalMs: LIVENESS_CHECK_MS,
    logger,
  });
  const agent = assembleNodeAgent({
    config,
    ec2,
    clock,
    logger,
    checkpointer,
    ...(pods === undefined ? {} : { pods }),
    // A real node's runtime (not the demo's in-memory world): gRPC loads only if recovery asks it.
    ...(kube ? { runtimeSandboxes: () => runtimeSandboxesAt(config.criSocketPath) } : {}),
    ...(kube
      ? {
          virtualMachines: kube.virtualMachines,
          eniConfigs: kube.eniConfigs,
          namespaces: kube.namespaces,
        }
      : {}),
    metrics,
    ...(config.datapath.enabled ? { datapath: kernelDatapath() } : {}),
  }).agent;
  const vmSignal = new AbortController();
  const servers: { close(): Promise<void> }[] = [];
  let publisher: CloudWatchPublisher | undefined;
  const stop = async (): Promise<void> => {
    await liveness.close();
    await cni.close();
    await publisher?.close();
    await agent.close();
    vmSignal.abort();
    await kube?.nodeEvents.idle();
    await kube?.virtualMachines.close();
    await kube?.namespaces.close();
    await kube?.recentNodes.close();
    for (const server of servers) await server.close();
    await ec2.close();
    unguard();
  };
  try {
    kube?.virtualMachines.start(vmSignal.signal);
    kube?.namespaces.start(vmSignal.signal);
    // The count of starting nodes paces the first EC2 calls: wait for it briefly, never for long.
    if (kube) await Promise.race([kube.recentNodes.start(), sleepWith(clock, RECENT_NODES_WAIT_MS)]);
    // Liveness must answer while the first EC2 reconcile runs (it can take minutes under throttling).
    if (config.introspection.enabled) {
      const server = new IntrospectionServer(
        introspectionSourceOf(
          agent,
          config,
          env,
          () => liveness.status(),
          () => timings.recent.list(),
        ),
        config.introspection.bind,
        (err) => {
          logger.warn({ err }, 'introspection server error');
        },
      );
      await server.start();
      servers.push(server);
    }
    await cni.start();
    liveness.start();
    // Nothing may keep a failed start-up alive: the DaemonSet restarts the container.
    await agent.start();
    backend.serve(agent.backend);
    metrics.startedUp(process.uptime());
    // A node that cannot grow stays Ready; it is reported by Warning events on its Node object.
    if (kube) {
      const shortageEvents = new ShortageAnnouncer({
        clock,
        logger,
        observe: () => shortageForEvents(agent.view()),
        sink: kube.nodeEvents,
      });
      void shortageEvents.run(vmSignal.signal);
    }
    // Releases a plugin spooled while the socket was not yet open.
    await agent.applySpool();
    if (config.metrics.enabled) {
      const server = new MetricsServer(metrics, config.metrics.bind, (err) => {
        logger.warn({ err }, 'metrics server error');
      });
      await server.start();
      servers.push(server);
    }
    if (config.cloudWatch.enabled) publisher = await startCloudWatch(config, agent, metrics, logger);
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
  return { agent, stop };
}

/** CloudWatch publishing, loaded only when enabled (it is opt-in): its client is a second AWS SDK client. */
async function startCloudWatch(
  config: AgentConfig,
  agent: NodeAgent,
  metrics: AgentMetrics,
  logger: Logger,
): Promise<CloudWatchPublisher> {
  const [{ AwsCloudWatchMetrics }, { CloudWatchPublisher }] = await Promise.all([
    import('../provider/cloudwatch.js'),
    import('./metrics/cloudwatch-publisher.js'),
  ]);
  const source = metricsSourceOf(agent);
  const { format, aggregation, namespace } = config.cloudWatch;
  const target = cloudWatchTarget({
    format,
    aggregation,
    namespace,
    clusterName: config.clusterName,
    instanceId: agent.view().identity.instanceId,
  });
  const publisher = new CloudWatchPublisher({
    sink: new AwsCloudWatchMetrics({ region: agent.view().identity.region }),
    clock: systemClock,
    namespace: target.namespace,
    sample: () => cloudWatchSamples(source.snapshot(), format),
    dimensions: target.dimensions,
    stats: metrics,
    log: logger,
  });
  publisher.start();
  return publisher;
}

/** How often the CNI socket, the state directory and checkpoint writes are checked for /healthz. */
const LIVENESS_CHECK_MS = 5_000;

/** The Region is part of the instance's identity; read it before the EC2 client needs it. */
async function regionFromImds(config: AgentConfig): Promise<string> {
  const source = new ImdsV2Source({
    clock: systemClock,
    random: Math.random,
    endpoint: config.aws.imdsEndpoint,
  });
  const region = await source.get('placement/region');
  if (region === undefined || region === '')
    throw new Error('AWS_REGION is unset and the instance metadata has no region');
  return region.trim();
}
