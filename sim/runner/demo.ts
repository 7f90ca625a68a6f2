/**
 * `eni-ipam demo` (what `npm start` runs): one simulated node in real time. The simulated EC2 and
 * IMDS are served over HTTP on loopback; the agent is started by agent/main.ts's composition root
 * (startAgent: the same provider with its production limiter, the file checkpoint, the CNI unix
 * socket, the metrics and introspection servers), except that its pod watch is the runner's
 * in-memory Kubernetes API; a
 * steady pod churn with an occasional burst reaches it through the real socket protocol.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { startAgent } from '../../agent/assemble.js';
import { loadConfig } from '../../agent/config.js';
import { startupLogFields } from '../../agent/build-info.js';
import { createLogger } from '../../agent/logger.js';
import { isAbortError, systemClock } from '../../time/clock.js';
import { SimulatedCloud } from '../cloud.js';
import { Ec2HttpServer } from '../http-server.js';
import { ImdsHttpServer } from '../imds-http.js';
import { SeededRandom } from '../random.js';
import { ClusterPods } from './cluster-pods.js';
import { ContainerRuntime } from './container-runtime.js';
import { UnixSocketNode } from './socket-node.js';

export const DEMO_NODE = 'demo-node';

export interface DemoOptions {
  instanceType: string;
  metricsBind: string;
  introspectionBind: string;
  seed: number;
  /** Agent settings from the caller's environment (WARM_ENI_TARGET, ...), applied over the demo's. */
  env: Record<string, string>;
  churn: ChurnOptions;
  /** Keep the work directory (agent log, checkpoint) after stop. */
  keep: boolean;
}

export interface ChurnOptions {
  /** Mean seconds between two pods of the steady churn. */
  everySeconds: number;
  /** A steady pod lives between these many seconds. */
  lifetimeSeconds: readonly [number, number];
  /** Every this many seconds, a burst of `burstSize` short-lived pods. */
  burstEverySeconds: number;
  burstSize: number;
  burstLifetimeSeconds: readonly [number, number];
}

export const DEFAULT_CHURN: ChurnOptions = {
  everySeconds: 3,
  lifetimeSeconds: [20, 60],
  burstEverySeconds: 60,
  burstSize: 10,
  burstLifetimeSeconds: [15, 30],
};

export interface DemoStatus {
  enis: number;
  free: number;
  assigned: number;
  cooling: number;
  podsWaiting: number;
  podsRunning: number;
  failedAdds: number;
  ec2Calls: number;
  throttled: number;
  uptimeSeconds: number;
}

export interface RunningDemo {
  readonly metricsUrl: string;
  readonly introspectionUrl: string;
  readonly ec2Url: string;
  readonly workDir: string;
  readonly logFile: string;
  status(): DemoStatus;
  stop(): Promise<void>;
}

/**
 * Starts the demo. A start-up that fails (a bad variable, a port in use) stops what it had started
 * and removes its work directory before the error reaches the caller: nothing keeps the process
 * alive and nothing is left behind.
 */
export async function startDemo(options: DemoOptions): Promise<RunningDemo> {
  const workDir = await mkdtemp(join(tmpdir(), 'eni-ipam-demo-'));
  const undo: (() => Promise<unknown>)[] = [];
  try {
    return await bootDemo(options, workDir, undo);
  } catch (err) {
    for (const step of undo.reverse()) await step().catch(() => undefined);
    await rm(workDir, { recursive: true, force: true });
    throw err;
  }
}

async function bootDemo(
  options: DemoOptions,
  workDir: string,
  undo: (() => Promise<unknown>)[],
): Promise<RunningDemo> {
  const clock = systemClock;
  const startedAt = clock.now();
  const logFile = join(workDir, 'agent.log');
  const cloud = new SimulatedCloud(
    {
      seed: options.seed,
      subnets: [
        { id: 'subnet-demo', az: 'us-east-1a', cidr: '10.0.0.0/24', tags: { 'kubernetes.io/role/cni': '1' } },
      ],
      latencyMs: {
        CreateNetworkInterface: 400,
        AttachNetworkInterface: 2000,
        AssignPrivateIpAddresses: 300,
        default: 100,
      },
      visibilityDelayMs: 1000,
      throttling: 'aws',
    },
    clock,
  );
  const instance = cloud.launchInstance({ instanceType: options.instanceType, subnetId: 'subnet-demo' });
  const ec2Server = new Ec2HttpServer(cloud.endpoint);
  const imdsServer = new ImdsHttpServer(cloud.stateForImds());
  const ec2Url = await ec2Server.start();
  undo.push(() => ec2Server.close());
  await imdsServer.start();
  undo.push(() => imdsServer.close());
  const config = loadConfig({
    ...options.env,
    MY_NODE_NAME: DEMO_NODE,
    AWS_REGION: cloud.config.region,
    AWS_EC2_ENDPOINT: ec2Url,
    ENI_IPAM_IMDS_ENDPOINT: imdsServer.endpointFor(instance.instanceId),
    ENI_IPAM_SOCKET: join(workDir, 'ipam.sock'),
    ENI_IPAM_CHECKPOINT: join(workDir, 'checkpoint.json'),
    ENI_IPAM_SPOOL: join(workDir, 'release-spool.jsonl'),
    ENI_IPAM_METRICS_BIND_ADDRESS: options.metricsBind,
    INTROSPECTION_BIND_ADDRESS: options.introspectionBind,
  });
  const logger = createLogger({
    level: config.logLevel,
    destination: pino.destination({ dest: logFile, sync: true }),
  });
  logger.info(startupLogFields(), 'eni-ipam starting');

  // The real process's composition root, with the in-memory Kubernetes API for the pod watch and
  // the simulator's credentials.
  const api = new ClusterPods(clock);
  const running = await startAgent(config, options.env, logger, {
    pods: api.watchOf(DEMO_NODE),
    credentials: { accessKeyId: 'AKIDSIMULATOR', secretAccessKey: 'simulated-secret-key' },
  });
  undo.push(() => running.stop());
  const agent = running.agent;

  const runtime = new ContainerRuntime(clock, api, () => new UnixSocketNode(config.socketPath, clock));
  const churn = new AbortController();
  const random = new SeededRandom(options.seed, 7);
  const between = ([low, high]: readonly [number, number]): number =>
    (low + random.next() * (high - low)) * 1000;
  let serial = 0;
  const schedulePod = (lifetimeMs: number): void => {
    const n = serial++;
    runtime.schedule({
      uid: `demo-uid-${n}`,
      namespace: 'default',
      name: `demo-${n}`,
      node: DEMO_NODE,
      annotations: {},
      lifetimeMs,
    });
  };
  const steady = async (): Promise<void> => {
    for (;;) {
      // Exponential gaps: arrivals of a Poisson process, as independent pods arrive.
      await clock.sleep(-Math.log(1 - random.next()) * options.churn.everySeconds * 1000, churn.signal);
      schedulePod(between(options.churn.lifetimeSeconds));
    }
  };
  const bursts = async (): Promise<void> => {
    for (;;) {
      await clock.sleep(options.churn.burstEverySeconds * 1000, churn.signal);
      for (let i = 0; i < options.churn.burstSize; i++)
        schedulePod(between(options.churn.burstLifetimeSeconds));
    }
  };
  const loops = [steady(), bursts()].map((p) =>
    p.catch((err: unknown) => {
      if (!isAbortError(err)) throw err;
    }),
  );
  const started = agent;
  const host = (bind: string): string => bind.replace(/^:/, '127.0.0.1:');

  return {
    metricsUrl: `http://${host(options.metricsBind)}/metrics`,
    introspectionUrl: `http://${host(options.introspectionBind)}`,
    ec2Url,
    workDir,
    logFile,
    status(): DemoStatus {
      const view = started.view();
      const totals = view.datastore.totals();
      const stats = cloud.stats();
      const live = runtime.pods.filter((p) => !p.deleted);
      return {
        enis: view.datastore.enis().length,
        free: totals.free,
        assigned: totals.assigned,
        cooling: totals.cooling,
        podsWaiting: live.filter((p) => p.address === undefined).length,
        podsRunning: live.filter((p) => p.address !== undefined).length,
        failedAdds: runtime.pods.reduce((n, p) => n + p.failedAdds, 0),
        ec2Calls: Object.values(stats.calls).reduce((a, b) => a + b, 0),
        throttled: stats.throttled,
        uptimeSeconds: Math.round((clock.now() - startedAt) / 1000),
      };
    },
    async stop(): Promise<void> {
      churn.abort();
      runtime.stop();
      await Promise.all(loops);
      // agent/main.ts's stop order: socket first, then the agent, then the servers.
      await running.stop();
      await imdsServer.close();
      await ec2Server.close();
      if (!options.keep) await rm(workDir, { recursive: true, force: true });
    },
  };
}
