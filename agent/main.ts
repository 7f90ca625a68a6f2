import { AwsEc2Network } from '../provider/aws-ec2-network.js';
import { systemClock } from '../time/clock.js';
import { introspectionSourceOf, metricsForLateAgent, metricsSourceOf } from './agent-views.js';
import { assembleNodeAgent } from './assemble.js';
import { FileCheckpointer } from './checkpoint.js';
import { CniServer } from './cni-server.js';
import { DeferredBackend } from './deferred-backend.js';
import { ConfigError } from '../ipam/warm-targets.js';
import { loadConfig, type AgentConfig } from './config.js';
import { createKubeSources } from './kube/kube-sources.js';
import { createLogger, type Logger } from './logger.js';
import type { CloudWatchPublisher } from './metrics/cloudwatch-publisher.js';
import { MetricsServer } from './metrics/metrics-server.js';
import { IntrospectionServer } from './introspection/introspection-server.js';
import type { NodeAgent } from './node-agent.js';

/** A running agent process: what SIGTERM stops, in order. */
export interface RunningAgent {
  agent: NodeAgent;
  stop(): Promise<void>;
}

/**
 * `eni-ipam agent`: the DaemonSet's process. Configuration comes from the environment, parsed once
 * here; an invalid value stops start-up with every bad variable named. SIGTERM stops accepting CNI
 * calls, lets in-flight work finish and flushes the checkpoint; addresses are never released on
 * shutdown (pods keep running while the agent restarts).
 */
export async function run(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(
      'usage: eni-ipam agent\n\nRuns the node agent. Configured by environment variables (see README "Configuration").\n',
    );
    return 0;
  }
  let config: AgentConfig;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`eni-ipam agent: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const logger = createLogger({ level: config.logLevel, base: { node: config.nodeName } });
  let running: RunningAgent;
  try {
    running = await startAgent(config, process.env, logger);
  } catch (err) {
    logger.fatal({ err: err instanceof Error ? err.message : String(err) }, 'eni-ipam could not start');
    exitSoon(1);
    return 1;
  }
  await new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      logger.info({ signal }, 'stopping');
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      resolve();
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  await running.stop();
  logger.info('stopped');
  exitSoon(0);
  return 0;
}

/**
 * Everything is closed by now; should a library still hold a socket open (an SDK keep-alive, a
 * half-dead watch), the process must end anyway, or the DaemonSet's pod would hang in Terminating.
 */
function exitSoon(code: number): void {
  setTimeout(() => process.exit(code), EXIT_GRACE_MS).unref();
}

/** How long a stopped agent waits for stray handles before exiting regardless. */
const EXIT_GRACE_MS = 2_000;

/** Builds and starts everything a node runs; the returned stop() undoes it in reverse order. */
export async function startAgent(
  config: AgentConfig,
  env: Readonly<Record<string, string | undefined>>,
  logger: Logger,
): Promise<RunningAgent> {
  const clock = systemClock;
  const { metrics, attach } = metricsForLateAgent();
  const ec2 = new AwsEc2Network({
    region: config.aws.region ?? (await regionFromImds(config)),
    imdsEndpoint: config.aws.imdsEndpoint,
    ...(config.aws.ec2Endpoint === undefined ? {} : { endpoint: config.aws.ec2Endpoint }),
    ...(config.clusterName === undefined ? {} : { clusterName: config.clusterName }),
    extraTags: config.additionalEniTags,
    rateLimits: { familyShares: { ...config.aws.rateFractions } },
    ...(config.aws.rateLimitRedisUrl === undefined ? {} : { redisUrl: config.aws.rateLimitRedisUrl }),
    clock,
    observer: metrics.ec2,
  });
  const kube = createKubeSources({
    config,
    clock,
    log: logger,
    onWatchRestart: (watch, reason) => {
      metrics.watchRestart(watch, reason);
    },
  });
  const assembled = assembleNodeAgent({
    config,
    ec2,
    clock,
    logger,
    checkpointer: new FileCheckpointer({ path: config.checkpointPath, clock }),
    pods: kube.pods,
    virtualMachines: kube.virtualMachines,
    eniConfigs: kube.eniConfigs,
    metrics,
  });
  const agent = assembled.agent;
  attach(agent);
  const vmSignal = new AbortController();
  kube.virtualMachines.start(vmSignal.signal);
  const servers: { close(): Promise<void> }[] = [];
  // Liveness must answer while the first EC2 reconcile runs (it can take minutes under throttling).
  if (config.introspection.enabled) {
    const server = new IntrospectionServer(
      introspectionSourceOf(assembled.agent, config, env),
      config.introspection.bind,
      (err) => {
        logger.warn({ err }, 'introspection server error');
      },
    );
    await server.start();
    servers.push(server);
  }
  const backend = new DeferredBackend();
  const cni = new CniServer({ socketPath: config.socketPath, backend, logger, clock });
  await cni.start();
  try {
    await agent.start();
  } catch (err) {
    // Nothing may keep a failed start-up alive: the DaemonSet restarts the container.
    await cni.close();
    for (const server of servers) await server.close();
    vmSignal.abort();
    await kube.virtualMachines.close();
    throw err;
  }
  backend.serve(agent.backend);
  // The VPC CNI's start-up figure, from the process start (not from startAgent) to serving ADDs.
  metrics.startedUp(process.uptime());
  // Releases a plugin spooled while the socket was not yet open.
  await agent.applySpool();
  if (config.metrics.enabled) {
    const server = new MetricsServer(metrics, config.metrics.bind, (err) => {
      logger.warn({ err }, 'metrics server error');
    });
    await server.start();
    servers.push(server);
  }
  let publisher: CloudWatchPublisher | undefined;
  if (config.cloudWatch.enabled) {
    // Loaded only when enabled (it is opt-in): the CloudWatch client is a second AWS SDK client.
    const [{ CloudWatchClient }, { CloudWatchPublisher }, { keyGaugeSamples }] = await Promise.all([
      import('@aws-sdk/client-cloudwatch'),
      import('./metrics/cloudwatch-publisher.js'),
      import('./metrics/cloudwatch-samples.js'),
    ]);
    const source = metricsSourceOf(agent);
    publisher = new CloudWatchPublisher({
      client: new CloudWatchClient({ region: agent.view().identity.region }),
      clock,
      namespace: config.cloudWatch.namespace,
      sample: () => keyGaugeSamples(source.snapshot()),
      dimensions: [
        ...(config.clusterName === undefined ? [] : [{ name: 'ClusterName', value: config.clusterName }]),
        { name: 'InstanceId', value: agent.view().identity.instanceId },
      ],
      stats: metrics,
      log: logger,
    });
    publisher.start();
  }
  const started = agent;
  return {
    agent: started,
    async stop() {
      await cni.close();
      await publisher?.close();
      await started.close();
      vmSignal.abort();
      await kube.virtualMachines.close();
      for (const server of servers) await server.close();
      await ec2.close();
    },
  };
}

/** The Region is part of the instance's identity; read it before the EC2 client needs it. */
async function regionFromImds(config: AgentConfig): Promise<string> {
  const { ImdsV2Source } = await import('../provider/imds.js');
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
