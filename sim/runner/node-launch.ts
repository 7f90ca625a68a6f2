import type { AgentConfig } from '../../agent/config.js';
import { loadConfig } from '../../agent/config.js';
import type { WarmUpSink } from '../../agent/warm-up-report.js';
import type { ContenderCount } from '../../provider/contenders.js';
import type { MetadataSource } from '../../provider/metadata.js';
import { ClockTokenBucketLimiter, CONTENDER_WINDOW_MS, type Ec2Limiter } from '../../provider/limiter.js';
import { effectiveBuckets } from '../../provider/rate-limits.js';
import { SeededRandom } from '../random.js';
import { nodeNames, type Scenario } from './scenario.js';
import type { SimWorld } from './sim-world.js';

/** Each node's random numbers come from their own stream of the scenario's seed. */
const NODE_RANDOM_STREAM = 1_000;
/** The jitter of each node's limiter: a stream of its own, so it does not shift the node's other draws. */
const LIMITER_RANDOM_STREAM = 100_000;
/**
 * From a node's report that its warm-up is over to the other nodes counting it: the Lease's create
 * and its watch event (agent/kube/recent-nodes.ts), about a second on a busy API server.
 */
export const WARM_UP_PROPAGATION_MS = 1_000;

/** A simulated node of a scenario: its instance in the simulated EC2, configuration and EC2 budget. */
export interface LaunchedNode {
  name: string;
  instanceId: string;
  config: AgentConfig;
  metadata: MetadataSource;
  random: SeededRandom;
  /** The node's EC2 limiter: its own per process, or the one budget all nodes share. */
  newLimiter: () => Ec2Limiter;
  sharedLimiter: boolean;
  /** Where the node's agent reports that its warm-up is over (as the agent's Lease does on a cluster). */
  warmUp: WarmUpSink;
}

/**
 * Launches every node of the scenario in the simulated EC2, in scenario order. The runner and the
 * benchmarks build their nodes from this, so both measure the same cluster for the same seed.
 */
export function launchScenarioNodes(scenario: Scenario, world: SimWorld): LaunchedNode[] {
  const { clock, cloud } = world;
  // Every node runs the same DaemonSet: the first node's rate fractions size the cluster's budget.
  const firstEnv = scenario.nodes[0]?.env ?? {};
  const sharedFractions = simulatedNodeConfig({ ...firstEnv, MY_NODE_NAME: 'budget' }).aws.rateFractions;
  const shared = scenario.sharedRateLimit
    ? new ClockTokenBucketLimiter(effectiveBuckets({ familyShares: { ...sharedFractions } }, true), clock)
    : undefined;
  const nodes: LaunchedNode[] = [];
  // What the Kubernetes API shows a node that counts the nodes joined in the contender window, and
  // those of them whose agent reported its warm-up over: the scenario's nodes are launched in order
  // and reports come in time order, so both lists are sorted. A report reaches the other nodes
  // WARM_UP_PROPAGATION_MS after it is made (no node sees the others' state the moment it changes).
  const launchedAt: number[] = [];
  const warmUpDoneAt: number[] = [];
  const contenders = (): ContenderCount => {
    const now = clock.now();
    const recent = launchedAt.length - countAtOrBefore(launchedAt, now - CONTENDER_WINDOW_MS);
    const settled = countAtOrBefore(warmUpDoneAt, now - WARM_UP_PROPAGATION_MS);
    return { recent: Math.max(1, recent), settled: Math.min(settled, recent) };
  };
  for (const spec of scenario.nodes) {
    for (const name of nodeNames(spec)) {
      const instance = cloud.launchInstance({ instanceType: spec.instanceType, subnetId: spec.subnet });
      launchedAt.push(clock.now());
      const config = simulatedNodeConfig({
        ...spec.env,
        MY_NODE_NAME: name,
        AWS_REGION: cloud.config.region,
      });
      const limiterRandom = new SeededRandom(scenario.seed, LIMITER_RANDOM_STREAM + nodes.length);
      let reported = false;
      nodes.push({
        name,
        instanceId: instance.instanceId,
        config,
        metadata: cloud.metadata(instance.instanceId),
        random: new SeededRandom(scenario.seed, NODE_RANDOM_STREAM + nodes.length),
        newLimiter: () =>
          shared ??
          new ClockTokenBucketLimiter(
            effectiveBuckets({ familyShares: { ...config.aws.rateFractions } }, false),
            clock,
            {
              adaptive: true,
              random: () => limiterRandom.next(),
              contenders,
            },
          ),
        sharedLimiter: shared !== undefined,
        // Once per node, as the node's Lease is created once (a restarted agent finds it there).
        warmUp: {
          done: () => {
            if (reported) return;
            reported = true;
            warmUpDoneAt.push(clock.now());
          },
        },
      });
    }
  }
  return nodes;
}

/** How many of the sorted times are at or before `at`. */
function countAtOrBefore(sorted: readonly number[], at: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((sorted[mid] ?? 0) <= at) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The agent's configuration from the node's environment, as on a real node, except the release
 * spool: the simulated plugin never spools (a DEL that cannot reach the agent is lost, which is
 * what the scenario events exercise) and reading a file would put real I/O into simulated time.
 * AgentConfig has no "no spool" value, NodeAgentSettings has (undefined), hence the cast.
 */
export function simulatedNodeConfig(env: Record<string, string>): AgentConfig {
  const config = loadConfig(env);
  return { ...config, spoolPath: undefined } as unknown as AgentConfig;
}
