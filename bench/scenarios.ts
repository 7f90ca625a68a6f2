/**
 * The benchmark scenarios, built with the scenario runner's schema (so they are checked as a
 * scenario file is). Latencies are the README example's: what an EC2 ENI chain takes in practice.
 */
import { parseScenario, type Scenario } from '../sim/runner/scenario.js';

export const EXAMPLE_LATENCY_MS: Readonly<Record<string, number>> = {
  CreateNetworkInterface: 400,
  AttachNetworkInterface: 2000,
  AssignPrivateIpAddresses: 300,
  default: 100,
};
export const EXAMPLE_VISIBILITY_MS = 1000;

/**
 * The least time any IPAM needs to give a pod an address that only a new ENI can hold: create it,
 * attach it, and wait until EC2 and the instance show it. Further ENIs can go in parallel.
 */
export function physicalChainMs(latencyMs: Readonly<Record<string, number>>, visibilityMs: number): number {
  const of = (action: string): number => latencyMs[action] ?? latencyMs['default'] ?? 0;
  return of('CreateNetworkInterface') + of('AttachNetworkInterface') + visibilityMs;
}

export interface BurstScenarioOptions {
  instanceType: string;
  pods: number;
  /** When the pods arrive: after the agent's start-up and warm-up. */
  atSecond: number;
  durationSeconds: number;
  env: Readonly<Record<string, string>>;
  seed: number;
}

/** `pods` pods at once on one node, EC2 throttling on. */
export function burstScenario(options: BurstScenarioOptions): Scenario {
  return parseScenario({
    seed: options.seed,
    durationSeconds: options.durationSeconds,
    ec2: {
      subnets: [
        { id: 'subnet-a', az: 'us-east-1a', cidr: '10.0.0.0/20', tags: { 'kubernetes.io/role/cni': '1' } },
      ],
      latencyMs: EXAMPLE_LATENCY_MS,
      visibilityDelayMs: EXAMPLE_VISIBILITY_MS,
      throttling: 'aws',
    },
    nodes: [{ name: 'node', instanceType: options.instanceType, subnet: 'subnet-a', env: options.env }],
    pods: [{ node: 'node', startSecond: options.atSecond, count: options.pods }],
  });
}

export interface ClusterScenarioOptions {
  nodes: number;
  sharedBudget: boolean;
  env: Readonly<Record<string, string>>;
  durationSeconds: number;
  seed: number;
}

/**
 * `nodes` m5.large nodes launched at once, with WARM_ENI_TARGET=2 and no pods: each fills its
 * primary ENI and creates and attaches one more, so each needs two ENIs, one AttachNetworkInterface.
 * No pods, so "warm" is the pool alone (pods retrying on kubelet's back-off would blur it).
 */
export function clusterScenario(options: ClusterScenarioOptions): Scenario {
  return parseScenario({
    seed: options.seed,
    durationSeconds: options.durationSeconds,
    sharedRateLimit: options.sharedBudget,
    ec2: {
      subnets: [
        { id: 'subnet-a', az: 'us-east-1a', cidr: '10.0.0.0/18', tags: { 'kubernetes.io/role/cni': '1' } },
        { id: 'subnet-b', az: 'us-east-1a', cidr: '10.0.64.0/18', tags: { 'kubernetes.io/role/cni': '1' } },
      ],
      latencyMs: EXAMPLE_LATENCY_MS,
      visibilityDelayMs: EXAMPLE_VISIBILITY_MS,
      throttling: 'aws',
    },
    nodes: [
      {
        name: 'n',
        count: options.nodes,
        instanceType: 'm5.large',
        subnet: 'subnet-a',
        env: { WARM_ENI_TARGET: '2', ...options.env },
      },
    ],
    pods: [],
  });
}
