/**
 * A real eni-ipam agent process (`node dist/cli/main.js agent`, configured by environment as the
 * DaemonSet configures it) on one simulated node, for the benchmarks that need real time and a
 * real process: CNI plugin latency and footprint. The simulated EC2 and IMDS are served over HTTP
 * on loopback by this (the benchmark's) process, with a minimal Kubernetes API, so the agent's
 * memory and CPU are its own.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SimulatedCloud } from '../sim/cloud.js';
import { Ec2HttpServer } from '../sim/http-server.js';
import { ImdsHttpServer } from '../sim/imds-http.js';
import { systemClock } from '../time/clock.js';
import { callAgent } from '../cni/agent-client.js';
import { FakeKubeApi } from './fake-kube-api.js';
import { startStopwatch } from './stopwatch.js';
import { EXAMPLE_LATENCY_MS, EXAMPLE_VISIBILITY_MS } from './scenarios.js';

/** The built CLI and plugin, next to this file once compiled (dist/bench -> dist/cli, dist/cni). */
export const AGENT_ENTRY = fileURLToPath(new URL('../cli/main.js', import.meta.url));
export const PLUGIN_ENTRY = fileURLToPath(new URL('../cni/main.js', import.meta.url));
/** The agent as the image runs it: scripts/build-agent-bundle.ts's bundle (dist/bundle). */
export const AGENT_BUNDLE_ENTRY = fileURLToPath(new URL('../bundle/eni-ipam.mjs', import.meta.url));

/** Start-up is an IMDS read, a few Describe calls and the first warm-up: seconds on the simulator. */
const READY_TIMEOUT_MS = 120_000;
const READY_POLL_MS = 100;
/** Start-up is timed to the first answered call: poll the socket finely. */
const SERVING_POLL_MS = 5;

export interface AgentUnderTestOptions {
  instanceType: string;
  /** Agent environment on top of the harness's (WARM_*, ENABLE_PREFIX_DELEGATION, ...). */
  env: Readonly<Record<string, string>>;
  seed: number;
  /** The program: node flags and the entry file (default: `dist/cli/main.js`, no flags). */
  nodeArgs?: readonly string[];
  /** A watch the fake Kubernetes API ends after this long, as an API server's timeout does. */
  watchLifetimeMs?: number;
}

export interface AgentUnderTest {
  readonly pid: number;
  readonly socketPath: string;
  readonly spoolPath: string;
  readonly introspectionUrl: string;
  readonly metricsUrl: string;
  /** GET on the agent's introspection server (/v1/enis, /v1/pods, /v1/state). */
  introspect<T>(path: string): Promise<T>;
  /** The agent's Prometheus exposition text. */
  metrics(): Promise<string>;
  /** Requests the simulated EC2 answered, by action, and the pod watches the API server opened. */
  traffic(): { ec2Calls: Readonly<Record<string, number>>; watchesOpened: number };
  /**
   * Stops the agent (SIGTERM, as the kubelet does) and starts a new process on the same node,
   * checkpoint and simulated EC2; resolves with the milliseconds from the new process's spawn to
   * its first answered CNI call.
   */
  restart(): Promise<number>;
  /**
   * Resolves once the pool holds free addresses and no ENI has a mutation under way. /readyz only
   * says the warm-up is under way; a measurement that starts before it ends times EC2, not eni-ipam.
   */
  warmPool(): Promise<void>;
  stop(): Promise<void>;
}

/** The fields of /v1/enis this harness reads. */
export interface PoolEni {
  secondaryIps: string[];
  prefixes: string[];
  assigned: number;
  cooling: number;
  busy?: boolean;
}

/**
 * Where the agent's socket, spool and checkpoint go. On a node they are under /var/run, a tmpfs:
 * the checkpoint's fsyncs cost nothing there, while on this machine's disk they would dominate
 * every ADD. /dev/shm is the tmpfs a Linux machine has; elsewhere the temp directory.
 */
export function runDirBase(): string {
  return existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
}

async function freeLoopbackPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
  return port;
}

export async function startAgentUnderTest(options: AgentUnderTestOptions): Promise<AgentUnderTest> {
  const dir = await mkdtemp(join(runDirBase(), 'eni-ipam-bench-'));
  const cloud = new SimulatedCloud(
    {
      seed: options.seed,
      subnets: [
        {
          id: 'subnet-bench',
          az: 'us-east-1a',
          cidr: '10.0.0.0/20',
          tags: { 'kubernetes.io/role/cni': '1' },
        },
      ],
      latencyMs: { ...EXAMPLE_LATENCY_MS },
      visibilityDelayMs: EXAMPLE_VISIBILITY_MS,
      throttling: 'aws',
    },
    systemClock,
  );
  const instance = cloud.launchInstance({ instanceType: options.instanceType, subnetId: 'subnet-bench' });
  const ec2 = new Ec2HttpServer(cloud.endpoint);
  const imds = new ImdsHttpServer(cloud.stateForImds());
  const kube = new FakeKubeApi(options.watchLifetimeMs);
  const ec2Url = await ec2.start();
  await imds.start();
  const kubeUrl = await kube.start();
  const kubeconfig = join(dir, 'kubeconfig.json');
  await writeFile(kubeconfig, FakeKubeApi.kubeconfigFor(kubeUrl));
  const introspectionUrl = `127.0.0.1:${await freeLoopbackPort()}`;
  const socketPath = join(dir, 'ipam.sock');
  const spoolPath = join(dir, 'release-spool.jsonl');
  const metricsUrl = `127.0.0.1:${await freeLoopbackPort()}`;
  const env = {
    // Nothing inherited but PATH: the host's AWS configuration must not leak in.
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    HOME: dir,
    MY_NODE_NAME: 'bench-node',
    AWS_REGION: cloud.config.region,
    AWS_EC2_ENDPOINT: ec2Url,
    AWS_ACCESS_KEY_ID: 'AKIDBENCHSIMULATED00',
    AWS_SECRET_ACCESS_KEY: 'bench-simulated-secret',
    AWS_EC2_METADATA_DISABLED: 'true',
    ENI_IPAM_IMDS_ENDPOINT: imds.endpointFor(instance.instanceId),
    ENI_IPAM_SOCKET: socketPath,
    ENI_IPAM_SPOOL: spoolPath,
    ENI_IPAM_CHECKPOINT: join(dir, 'checkpoint.json'),
    INTROSPECTION_BIND_ADDRESS: introspectionUrl,
    ENI_IPAM_METRICS_BIND_ADDRESS: metricsUrl,
    KUBECONFIG: kubeconfig,
    // The agent runs in the machine's own network namespace: its routes, rules and NAT are not
    // the agent's to change (the datapath is measured in the emulated VPC's suites instead).
    ENI_IPAM_DISABLE_DATAPATH: 'true',
    ...options.env,
  };
  const args = [...(options.nodeArgs ?? [AGENT_ENTRY]), 'agent'];
  let stderr = '';
  let child: ChildProcess;
  let exited: Promise<void>;
  const spawnAgent = (): void => {
    // The agent logs JSON on stdout: its tail says why a start failed.
    child = spawn(process.execPath, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env });
    const keep = (chunk: Buffer): void => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    exited = new Promise<void>((resolve) =>
      child.once('exit', () => {
        resolve();
      }),
    );
  };
  spawnAgent();
  // If the benchmark dies (an uncaught error), its agent must not outlive it as an orphan.
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  const stopAgent = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
  };
  const cleanup = async (): Promise<void> => {
    await stopAgent();
    process.off('exit', killOnExit);
    await kube.close();
    await imds.close();
    await ec2.close();
    await rm(dir, { recursive: true, force: true });
  };
  const get = async (base: string, path: string): Promise<string> => {
    const res = await fetch(`http://${base}${path}`, { signal: AbortSignal.timeout(10_000) });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`GET ${path} answered ${res.status}: ${text}`);
    return text;
  };
  const introspect = async <T>(path: string): Promise<T> =>
    JSON.parse(await get(introspectionUrl, path)) as T;
  try {
    if (child!.pid === undefined) throw new Error('the agent process did not start');
    await waitReady(introspectionUrl, child!);
  } catch (err) {
    await cleanup();
    throw new Error(`${(err as Error).message}\nagent output:\n${stderr}`);
  }
  const restart = async (): Promise<number> => {
    await stopAgent();
    const elapsed = startStopwatch();
    spawnAgent();
    try {
      await waitServing(socketPath, child);
    } catch (err) {
      throw new Error(`${(err as Error).message}\nagent output:\n${stderr}`);
    }
    return elapsed();
  };
  const warmPool = async (): Promise<void> => {
    const deadline = systemClock.now() + READY_TIMEOUT_MS;
    while (systemClock.now() < deadline) {
      const { enis } = await introspect<{ enis: PoolEni[] }>('/v1/enis');
      const free = enis.reduce(
        (n, e) => n + e.secondaryIps.length + 16 * e.prefixes.length - e.assigned - e.cooling,
        0,
      );
      if (free > 0 && !enis.some((e) => e.busy === true)) return;
      await systemClock.sleep(READY_POLL_MS);
    }
    throw new Error('the agent did not warm its pool in time');
  };
  return {
    get pid() {
      const pid = child.pid;
      if (pid === undefined) throw new Error('the agent process did not start');
      return pid;
    },
    socketPath,
    spoolPath,
    introspectionUrl,
    metricsUrl,
    introspect,
    metrics: () => get(metricsUrl, '/metrics'),
    traffic: () => ({ ec2Calls: cloud.stats().calls, watchesOpened: kube.watchesOpened }),
    restart,
    warmPool,
    stop: cleanup,
  };
}

/**
 * Resolves once the agent serves CNI calls: a DEL for a container it never saw succeeds (DEL is
 * idempotent) only then; before, the socket is closed, or open and answering "try again later".
 */
async function waitServing(socketPath: string, child: ChildProcess): Promise<void> {
  const deadline = systemClock.now() + READY_TIMEOUT_MS;
  while (systemClock.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the agent exited with code ${child.exitCode}`);
    const call = await callAgent({
      socketPath,
      request: {
        op: 'del',
        containerId: 'bench-startup-probe',
        ifname: 'eth0',
        network: 'aws-cni',
        pod: {},
      },
      timeoutMs: 2_000,
      clock: systemClock,
    });
    if (call.kind === 'answered' && call.response.ok) return;
    await systemClock.sleep(SERVING_POLL_MS);
  }
  throw new Error('the agent did not serve CNI calls in time');
}

async function waitReady(introspectionUrl: string, child: ChildProcess): Promise<void> {
  const deadline = systemClock.now() + READY_TIMEOUT_MS;
  let last = 'no answer';
  while (systemClock.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the agent exited with code ${child.exitCode}`);
    try {
      const res = await fetch(`http://${introspectionUrl}/readyz`, { signal: AbortSignal.timeout(2_000) });
      last = `${res.status} ${await res.text()}`;
      if (res.status === 200) return;
    } catch {
      // Not listening yet.
    }
    await systemClock.sleep(READY_POLL_MS);
  }
  throw new Error(`the agent was not ready in time (last /readyz: ${last})`);
}
