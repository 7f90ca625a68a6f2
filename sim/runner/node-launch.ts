import type { AgentConfig } from '../../agent/config.js';
import { loadConfig } from '../../agent/config.js';
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
  // What the Kubernetes API answers a node that asks how many nodes joined in the contender window:
  // the scenario's nodes are launched in order, so their launch times are sorted.
  const launchedAt: number[] = [];
  const contenders = (): number => {
    const since = clock.now() - CONTENDER_WINDOW_MS;
    let lo = 0;
    let hi = launchedAt.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((launchedAt[mid] ?? 0) <= since) lo = mid + 1;
      else hi = mid;
    }
    return launchedAt.length - lo;
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
      });
    }
  }
  return nodes;
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
