/**
 * `eni-ipam simulate`: one simulated cloud, one real agent per simulated node (built as on a real
 * node, talking to the simulated EC2 through the SDK), the kubelet and the Kubernetes API played
 * by the runner, the scenario's pods and events on the clock, and checks against EC2 at the end.
 */
import type { LogLevelName } from '../../agent/config-schema.js';
import { createLogger, silentLogger, type Logger } from '../../agent/logger.js';
import type { DestinationStream } from 'pino';
import { systemClock } from '../../time/clock.js';
import { settle } from '../../time/manual-clock.js';
import { ClusterPods } from './cluster-pods.js';
import { ContainerRuntime, type PodRecord } from './container-runtime.js';
import { endChecks } from './end-checks.js';
import { ec2Block, podsBlock, type ScenarioReport } from './report.js';
import { nodeNames, nodesMatching, type Scenario, type ScenarioEvent } from './scenario.js';
import { SimNode } from './sim-node.js';
import { launchScenarioNodes } from './node-launch.js';
import { createWorld, type SimWorld } from './sim-world.js';

/**
 * After the scenario's duration no pod work starts; the agents get this long (at most) to finish
 * EC2 work under way, so that an address between "assigned at EC2" and "in the datastore" is not
 * reported as leaked.
 */
export const QUIESCE_LIMIT_MS = 120_000;
const QUIESCE_STEP_MS = 1_000;
/** Seed streams 0-2 are the cloud's; nodes' jitter streams start here. */

export interface RunOptions {
  /** Real time, the EC2 endpoint over HTTP on loopback. Default: simulated time, in-process. */
  realtime?: boolean;
  /** The agents' logs (JSON lines stamped with the run's clock); silent by default. */
  log?: { level: LogLevelName; destination: DestinationStream };
}

export interface ScenarioRun {
  report: ScenarioReport;
  /** Every pod the runtime ran, for tests and deeper analysis. */
  pods: readonly PodRecord[];
  /** Live pods whose node no longer has the address they were given assigned to them. */
  podsThatLostTheirAddress: readonly string[];
}

export async function runScenario(scenario: Scenario, options: RunOptions = {}): Promise<ScenarioRun> {
  const wallStart = systemClock.now();
  const world = await createWorld(scenario, options.realtime ?? false);
  const { clock, cloud } = world;
  const logger = options.log ? createLogger({ ...options.log, clock }) : silentLogger();
  const statsBefore = cloud.stats();
  const start = clock.now();
  const api = new ClusterPods(clock);
  const nodes = buildNodes(scenario, world, api, logger);
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const runtime = new ContainerRuntime(clock, api, (name) => {
    const node = byName.get(name);
    if (!node) throw new Error(`no node ${name}`);
    return node;
  });
  try {
    for (const node of nodes) node.launch();
    schedulePods(scenario, world, runtime, nodes);
    for (const event of scenario.events) {
      clock.setTimer(event.atSecond * 1000, () => {
        applyEvent(event, world, nodes, runtime).catch((err: unknown) => {
          logger.error({ event, err: (err as Error).message }, 'scenario event failed');
        });
      });
    }
    await world.pass(scenario.durationSeconds * 1000);
    runtime.stop();
    await quiesce(world, nodes);
    const checks = await endChecks(cloud, nodes, runtime.pods);
    const report: ScenarioReport = {
      pods: podsBlock(runtime.pods),
      ec2: ec2Block(cloud.stats(), statsBefore),
      end: checks.end,
      nodes: checks.nodes,
      simulatedSeconds: Math.round(clock.now() - start) / 1000,
      wallSeconds: Math.round((systemClock.now() - wallStart) / 100) / 10,
    };
    return { report, pods: runtime.pods, podsThatLostTheirAddress: checks.podsThatLostTheirAddress };
  } finally {
    // The run is measured; nothing needs a graceful end (no checkpoint outlives the run).
    for (const node of nodes) node.kill();
    await world.close();
  }
}

function buildNodes(scenario: Scenario, world: SimWorld, api: ClusterPods, logger: Logger): SimNode[] {
  return launchScenarioNodes(scenario, world).map(
    (node) =>
      new SimNode({
        name: node.name,
        instanceId: node.instanceId,
        config: node.config,
        sdk: world.sdk,
        metadata: node.metadata,
        limiter: node.newLimiter,
        sharedLimiter: node.sharedLimiter,
        warmUp: node.warmUp,
        clock: world.clock,
        random: () => node.random.next(),
        logger: logger.child({ node: node.name }),
        api,
      }),
  );
}

/** Pods of one entry arrive evenly over `overSeconds`, dealt round-robin to the entry's nodes. */
export function schedulePods(
  scenario: Scenario,
  world: SimWorld,
  runtime: ContainerRuntime,
  nodes: readonly { readonly name: string }[],
): void {
  const names = nodes.map((n) => n.name);
  scenario.pods.forEach((entry, e) => {
    const group = scenario.nodes.find((n) => n.name === entry.node);
    const targets = group ? nodeNames(group) : nodesMatching(names, entry.node);
    for (let i = 0; i < entry.count; i++) {
      const atMs = entry.startSecond * 1000 + Math.floor((i * entry.overSeconds * 1000) / entry.count);
      const node = targets[i % targets.length] ?? entry.node;
      world.clock.setTimer(atMs, () => {
        runtime.schedule({
          uid: `uid-${e}-${i}`,
          namespace: entry.namespace,
          name: `pod-${e}-${i}`,
          node,
          annotations: entry.annotations,
          lifetimeMs: entry.lifetimeSeconds === null ? undefined : entry.lifetimeSeconds * 1000,
        });
      });
    }
  });
}

async function applyEvent(
  event: ScenarioEvent,
  world: SimWorld,
  nodes: readonly SimNode[],
  runtime: ContainerRuntime,
): Promise<void> {
  if (event.action === 'exhaustSubnet') {
    world.cloud.exhaustSubnet(event.subnet);
    return;
  }
  const names = new Set(
    nodesMatching(
      nodes.map((n) => n.name),
      event.node,
    ),
  );
  const targets = nodes.filter((n) => names.has(n.name));
  const later = (seconds: number, fn: () => void): void => {
    world.clock.setTimer(seconds * 1000, fn);
  };
  await Promise.all(
    targets.map(async (node) => {
      switch (event.action) {
        case 'restartAgent':
          await node.stop();
          node.launch();
          return;
        case 'killAgent':
          node.kill();
          if (event.downSeconds !== undefined)
            later(event.downSeconds, () => {
              node.launch();
            });
          return;
        case 'deletePodsWhileAgentDown': {
          await node.stop();
          const victims = runtime.pods
            .filter((p) => p.node === node.name && !p.deleted && p.address !== undefined)
            .slice(0, event.count);
          // Their DELs find no agent on the socket: only the pod watch can tell it they are gone.
          await Promise.all(victims.map((p) => runtime.deletePod(p)));
          later(event.downSeconds, () => {
            node.launch();
          });
          return;
        }
      }
    }),
  );
}

/** Lets the agents finish EC2 work under way (bounded), so the end checks see a resting cluster. */
async function quiesce(world: SimWorld, nodes: readonly SimNode[]): Promise<void> {
  for (let waited = 0; waited < QUIESCE_LIMIT_MS; waited += QUIESCE_STEP_MS) {
    if ((await Promise.all(nodes.map(isQuiet))).every(Boolean)) return;
    await world.pass(QUIESCE_STEP_MS);
  }
}

async function isQuiet(node: SimNode): Promise<boolean> {
  const process = node.process;
  if (!process) return true;
  if (!process.serving) return false;
  const view = process.agent.view();
  if (view.waiting > 0 || view.inFlight.units > 0 || view.inFlight.enis > 0) return false;
  let idle = false;
  void process.agent.settled().then(() => {
    idle = true;
  });
  await settle(2);
  return idle;
}
