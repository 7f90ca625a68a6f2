/**
 * Runs a scenario in simulated time for a benchmark: the scenario runner's world (simulated EC2
 * through the SDK's in-process transport, one ManualClock), its kubelet-like container runtime and
 * Kubernetes API, one real agent per node (bench-node.ts, with the policy under test), plus what a
 * benchmark needs beyond the runner's report: a time series (pods waiting, addresses free, EC2
 * calls), the EC2 calls from the first pod on, and when each node first met its warm target.
 */
import type { PoolPolicy } from '../agent/pool-policy.js';
import { plan } from '../ipam/planner.js';
import { silentLogger } from '../agent/logger.js';
import type { Ec2Stats } from '../sim/stats.js';
import { ClusterPods } from '../sim/runner/cluster-pods.js';
import { ContainerRuntime } from '../sim/runner/container-runtime.js';
import { ec2Block, podsBlock, type ScenarioReport } from '../sim/runner/report.js';
import { launchScenarioNodes, type LaunchedNode } from '../sim/runner/node-launch.js';
import { endChecksOf } from '../sim/runner/end-checks.js';
import type { PodRecord } from '../sim/runner/container-runtime.js';
import type { EndChecks } from '../sim/runner/report.js';
import { schedulePods } from '../sim/runner/runner.js';
import type { Scenario } from '../sim/runner/scenario.js';
import { createWorld, type SimWorld } from '../sim/runner/sim-world.js';
import { systemClock } from '../time/clock.js';
import { BenchNode } from './bench-node.js';

/** EC2 actions that change something: what "mutating calls per ENI" counts. */
export const MUTATING_ACTIONS: ReadonlySet<string> = new Set([
  'CreateNetworkInterface',
  'AttachNetworkInterface',
  'ModifyNetworkInterfaceAttribute',
  'AssignPrivateIpAddresses',
  'UnassignPrivateIpAddresses',
  'DetachNetworkInterface',
  'DeleteNetworkInterface',
  'CreateTags',
]);

export interface SimSample {
  /** Since the nodes were launched. */
  atMs: number;
  /** Pods created and not yet given an address. */
  podsWaiting: number;
  /** Free addresses in every node's datastore. */
  addressesFree: number;
  /** EC2 requests so far, every action. */
  ec2Calls: number;
  mutatingCalls: number;
  throttled: number;
}

export interface SimBenchOptions {
  policy?: PoolPolicy;
  /** Sampling period of the time series and of the warm-target check (simulated ms). */
  sampleEveryMs?: number;
  /** End the run early once every pod has an address and every node met its warm target. */
  stopWhenSettled?: boolean;
}

export interface SimBenchRun {
  pods: ScenarioReport['pods'];
  ec2: ScenarioReport['ec2'];
  /** EC2 requests from the first pod's arrival to the end: what the pods cost. */
  ec2SinceFirstPod: ScenarioReport['ec2'];
  /** ENIs in the datastores when the first pod arrived, and at the end. */
  enisAtFirstPod: number;
  enisAtEnd: number;
  samples: SimSample[];
  /**
   * Per node: since when (ms since launch) it has been warm without interruption: serving, every pod
   * of it addressed, nothing under way at EC2 and its pool not too low. undefined: not warm at the end.
   */
  warmTargetMetAtMs: (number | undefined)[];
  firstPodAtMs: number;
  simulatedMs: number;
  wallMs: number;
  /** The scenario runner's end checks (leaks, double assignments, accounting mismatches). */
  end: EndChecks;
  /** Every pod as the runtime saw it (arrival, first ADD, address). */
  podRecords: readonly PodRecord[];
  /** Secondary ENIs attached at the end (the pods' and the warm pools' alike). */
  secondaryEnisAtEnd: number;
}

export function mutatingCalls(calls: Readonly<Record<string, number>>): number {
  let total = 0;
  for (const [action, n] of Object.entries(calls)) if (MUTATING_ACTIONS.has(action)) total += n;
  return total;
}

function allCalls(calls: Readonly<Record<string, number>>): number {
  return Object.values(calls).reduce((a, b) => a + b, 0);
}

export async function runSimBench(scenario: Scenario, options: SimBenchOptions = {}): Promise<SimBenchRun> {
  const wallStart = systemClock.now();
  const sampleEveryMs = options.sampleEveryMs ?? 250;
  const world = await createWorld(scenario, false);
  const { clock, cloud } = world;
  const statsBefore = cloud.stats();
  const start = clock.now();
  const api = new ClusterPods(clock);
  const launched = launchScenarioNodes(scenario, world);
  const instanceIds = launched.map((node) => node.instanceId);
  const nodes = buildNodes(launched, world, api, options.policy);
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const runtime = new ContainerRuntime(clock, api, (name) => {
    const node = byName.get(name);
    if (!node) throw new Error(`no node ${name}`);
    return node;
  });
  const samples: SimSample[] = [];
  const warmAt: (number | undefined)[] = nodes.map(() => undefined);
  const firstPodAtMs =
    scenario.pods.length === 0 ? 0 : Math.min(...scenario.pods.map((p) => p.startSecond * 1000));
  let atFirstPod: { stats: Ec2Stats; enis: number } | undefined;
  const enisNow = (): number =>
    nodes.reduce((n, node) => n + (node.running?.view().datastore.enis().length ?? 0), 0);
  let sampling = true;
  const sample = (): void => {
    const at = clock.now() - start;
    const stats = cloud.stats();
    let free = 0;
    const unaddressed = new Set(runtime.pods.filter((p) => p.address === undefined).map((p) => p.node));
    nodes.forEach((node, i) => {
      const agent = node.running;
      const view = agent?.view();
      if (view) free += view.datastore.totals().free;
      // Warm: its pods all have addresses, nothing is under way and the planner wants nothing more.
      // Kept as the last time it became so: a pool is briefly "warm" before its pods take addresses.
      const warm =
        view !== undefined &&
        !unaddressed.has(node.name) &&
        view.inFlight.enis + view.inFlight.units === 0 &&
        !plan(view.planInput).poolTooLow;
      if (!warm) warmAt[i] = undefined;
      else warmAt[i] ??= at;
    });
    samples.push({
      atMs: at,
      podsWaiting: runtime.pods.filter((p) => !p.deleted && p.address === undefined).length,
      addressesFree: free,
      ec2Calls: allCalls(stats.calls) - allCalls(statsBefore.calls),
      mutatingCalls: mutatingCalls(stats.calls) - mutatingCalls(statsBefore.calls),
      throttled: stats.throttled - statsBefore.throttled,
    });
    if (sampling) clock.setTimer(sampleEveryMs, sample);
  };
  try {
    for (const node of nodes) node.launch();
    // Set before the pods' timers, so it runs first at the same instant.
    clock.setTimer(firstPodAtMs, () => {
      atFirstPod = { stats: cloud.stats(), enis: enisNow() };
    });
    schedulePods(scenario, world, runtime, nodes);
    sample();
    const durationMs = scenario.durationSeconds * 1000;
    for (let passed = 0; passed < durationMs; passed += sampleEveryMs) {
      await world.pass(sampleEveryMs);
      const settled =
        clock.now() - start > firstPodAtMs &&
        runtime.pods.length === scenario.pods.reduce((n, p) => n + p.count, 0) &&
        runtime.pods.every((p) => p.address !== undefined) &&
        warmAt.every((t) => t !== undefined);
      if (options.stopWhenSettled === true && settled) break;
    }
    sampling = false;
    runtime.stop();
    const stats = cloud.stats();
    const checked = endChecksOf(
      cloud,
      nodes.map((node, i) => ({
        name: node.name,
        instanceId: instanceIds[i] ?? '',
        datastore: node.running?.view().datastore,
      })),
      runtime.pods,
    );
    return {
      end: checked.end,
      podRecords: runtime.pods,
      secondaryEnisAtEnd: cloud
        .enis()
        .filter((e) => e.attachment !== undefined && e.attachment.deviceIndex !== 0).length,
      pods: podsBlock(runtime.pods),
      ec2: ec2Block(stats, statsBefore),
      ec2SinceFirstPod: ec2Block(stats, atFirstPod?.stats ?? statsBefore),
      enisAtFirstPod: atFirstPod?.enis ?? 0,
      enisAtEnd: enisNow(),
      samples,
      warmTargetMetAtMs: warmAt,
      firstPodAtMs,
      simulatedMs: clock.now() - start,
      wallMs: systemClock.now() - wallStart,
    };
  } finally {
    sampling = false;
    for (const node of nodes) node.discard();
    await world.close();
  }
}

function buildNodes(
  launched: readonly LaunchedNode[],
  world: SimWorld,
  api: ClusterPods,
  policy: PoolPolicy | undefined,
): BenchNode[] {
  const logger = silentLogger();
  return launched.map(
    (node) =>
      new BenchNode({
        name: node.name,
        config: node.config,
        sdk: world.sdk,
        metadata: node.metadata,
        limiter: node.newLimiter(),
        clock: world.clock,
        random: () => node.random.next(),
        logger,
        pods: api.watchOf(node.name),
        policy,
        warmUp: node.warmUp,
      }),
  );
}
