/**
 * The real agent process (`node dist/cli/main.js agent`) for end-to-end suites, configured by
 * environment as a DaemonSet configures it, pointed at a simulated node (simulated-node.ts) and
 * optionally at a real kube-apiserver. Its socket, checkpoint and spool live in a state directory
 * that outlives the process, so a suite can kill -9 it and start it again as kubelet would.
 *
 * Published API (other e2e suites import it; keep it stable):
 *   const node = await startSimulatedNode({ instanceType: 'm5.large' });
 *   const agent = await startAgentProcess({ node, env: { WARM_IP_TARGET: '2' } });
 *   await agent.pods(); await agent.enis();      // introspection /v1/pods, /v1/enis
 *   await agent.kill();                          // SIGKILL by PID
 *   await agent.start();                         // same state dir, ports and socket; waits for /readyz
 *
 * The introspection and metrics ports are chosen free on loopback, and another process can take one
 * before the agent binds it: start() then runs the agent again on fresh ports (introspectionUrl and
 * metricsUrl follow), a few times at most (startOnFreePorts). A restart keeps its ports unless one
 * of them was lost in the meantime.
 *   await agent.stop(); await node.close(); await agent.removeState();
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EniReport } from '../../../agent/introspection/views.js';
import type { PodView } from '../../../agent/introspection/introspection-source.js';
import { parseBool } from '../../../agent/config-schema.js';
import {
  freeLoopbackPort,
  spawnPeer,
  startOnFreePorts,
  waitUntilReady,
  type PeerProcess,
} from '../../peers/process.js';
import type { SimulatedNode } from './simulated-node.js';

export { startSimulatedNode, type SimulatedNode, type SimulatedNodeOptions } from './simulated-node.js';
export type { EniReport, PodView };

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
/** The built CLI: e2e suites test what ships, so `npm run build` comes first (npm test does it). */
export const AGENT_ENTRY = join(repoRoot, 'dist', 'cli', 'main.js');

/** Start-up is an IMDS read, a few Describe calls and the first warm-up: seconds on the simulator. */
const AGENT_READY_TIMEOUT_MS = 60_000;
const READY_POLL_MS = 100;
/** An introspection request that takes longer than this means the agent's event loop is stuck. */
const INTROSPECTION_TIMEOUT_MS = 10_000;

export interface AgentProcessOptions {
  readonly node: SimulatedNode;
  /** Extra agent environment (WARM_IP_TARGET, MAX_ENI, IP_COOLDOWN_PERIOD, ...); wins over the harness's. */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * Kubeconfig for the pod watch (a real kube-apiserver, test/peers/kube.ts). Unset: a kubeconfig
   * whose server refuses connections, so the watch never syncs and the leak reaper, which acts only
   * on a synced watch, frees nothing: the suites that do not test Kubernetes need no API server.
   */
  readonly kubeconfigPath?: string;
  /** MY_NODE_NAME; default `e2e-node`. */
  readonly nodeName?: string;
  /** Reuse a state directory (socket, checkpoint, spool); default: a fresh temporary one. */
  readonly stateDir?: string;
  /**
   * Wait in start() for /readyz and for the metrics endpoint; default true. Without the wait a port
   * lost to another process shows only as the agent's exit (no fresh ports are tried).
   */
  readonly waitReady?: boolean;
  /** Another build of the CLI to run (e.g. a release to compare with); default AGENT_ENTRY. */
  readonly agentEntry?: string;
}

export class AgentProcess {
  readonly stateDir: string;
  readonly socketPath: string;
  readonly spoolPath: string;
  readonly checkpointPath: string;
  readonly nodeName: string;
  private child: PeerProcess | undefined;
  /** Output of earlier runs (before a kill or restart), kept for failure messages. */
  private earlierOutput = '';

  private constructor(
    private readonly options: AgentProcessOptions,
    stateDir: string,
    private introspectionPort: number,
    private metricsPort: number,
    private readonly kubeconfigPath: string,
  ) {
    this.stateDir = stateDir;
    this.socketPath = join(stateDir, 'ipam.sock');
    this.spoolPath = join(stateDir, 'release-spool.jsonl');
    this.checkpointPath = join(stateDir, 'checkpoint.json');
    this.nodeName = options.nodeName ?? 'e2e-node';
  }

  /** Read it after start(): a port lost to another process moves the agent to a fresh one. */
  get introspectionUrl(): string {
    return `http://127.0.0.1:${this.introspectionPort}`;
  }

  /** Read it after start(), as introspectionUrl. */
  get metricsUrl(): string {
    return `http://127.0.0.1:${this.metricsPort}`;
  }

  /** Prepares the state directory and ports; does not start the process. */
  static async create(options: AgentProcessOptions): Promise<AgentProcess> {
    const entry = options.agentEntry ?? AGENT_ENTRY;
    if (!existsSync(entry)) {
      throw new Error(`${entry} is missing: run \`npm run build\` before the e2e suites`);
    }
    const stateDir = options.stateDir ?? (await mkdtemp(join(tmpdir(), 'eni-ipam-e2e-agent-')));
    let kubeconfigPath = options.kubeconfigPath;
    if (kubeconfigPath === undefined) {
      kubeconfigPath = join(stateDir, 'kubeconfig-unreachable.yaml');
      await writeFile(kubeconfigPath, unreachableKubeconfig(await freeLoopbackPort()));
    }
    return new AgentProcess(
      options,
      stateDir,
      await freeLoopbackPort(),
      await freeLoopbackPort(),
      kubeconfigPath,
    );
  }

  /** The environment the agent runs with: nothing inherited but PATH, so the host's AWS setup cannot leak in. */
  environment(): Record<string, string> {
    const { node } = this.options;
    return {
      PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin',
      HOME: this.stateDir,
      MY_NODE_NAME: this.nodeName,
      AWS_REGION: node.region,
      AWS_EC2_ENDPOINT: node.ec2Endpoint,
      // The simulator accepts any signature; the SDK only needs something to sign with.
      AWS_ACCESS_KEY_ID: 'AKIAE2ESIMULATED0000',
      AWS_SECRET_ACCESS_KEY: 'e2e-simulated-secret',
      AWS_EC2_METADATA_DISABLED: 'true',
      ENI_IPAM_IMDS_ENDPOINT: node.imdsEndpoint,
      ENI_IPAM_SOCKET: this.socketPath,
      ENI_IPAM_SPOOL: this.spoolPath,
      ENI_IPAM_CHECKPOINT: this.checkpointPath,
      INTROSPECTION_BIND_ADDRESS: this.introspectionUrl.replace('http://', ''),
      ENI_IPAM_METRICS_BIND_ADDRESS: this.metricsUrl.replace('http://', ''),
      KUBECONFIG: this.kubeconfigPath,
      AWS_VPC_K8S_CNI_LOGLEVEL: 'DEBUG',
      // An agent in the machine's own network namespace must not touch its links, rules or NAT:
      // the datapath suites run the agent inside a node namespace of the emulated VPC instead.
      ENI_IPAM_DISABLE_DATAPATH: 'true',
      // Never the machine's own container runtime: a suite that wants one serves its own socket.
      ENI_IPAM_CRI_SOCKET: join(this.stateDir, 'no-container-runtime.sock'),
      ...this.options.env,
    };
  }

  get pid(): number | undefined {
    return this.running()?.pid;
  }

  isRunning(): boolean {
    return this.running() !== undefined;
  }

  /**
   * Starts the process and (unless waitReady is false) waits until /readyz answers 200 and the
   * metrics are served; on fresh ports again when the agent exited because one was taken.
   */
  async start(): Promise<void> {
    if (this.running()) throw new Error(`the agent is already running (pid ${String(this.child?.pid)})`);
    if (this.options.waitReady === false) {
      this.spawn();
      return;
    }
    await startOnFreePorts(
      2,
      async ([introspection, metrics]) => {
        this.introspectionPort = introspection!;
        this.metricsPort = metrics!;
        const child = this.spawn();
        try {
          // The agent exits by itself when it cannot bind: waitReady fails with its output, which
          // names the address in use, and the next attempt runs on fresh ports.
          await this.waitReady();
        } catch (err) {
          // Not ready in time: stop it, so that no second agent ever runs on the same state.
          await child.stop();
          throw err;
        }
      },
      { firstPorts: [this.introspectionPort, this.metricsPort] },
    );
  }

  private spawn(): PeerProcess {
    if (this.child) this.earlierOutput += this.child.output();
    const child = spawnPeer(
      'eni-ipam agent',
      process.execPath,
      [this.options.agentEntry ?? AGENT_ENTRY, 'agent'],
      {
        env: this.environment(),
        cwd: this.stateDir,
      },
    );
    this.child = child;
    return child;
  }

  /**
   * Waits until /readyz answers 200 and, unless DISABLE_METRICS, /metrics too: the agent binds the
   * metrics port only after its first warm-up, so a port lost there ends it after /readyz passed.
   */
  async waitReady(timeoutMs = AGENT_READY_TIMEOUT_MS): Promise<void> {
    const child = this.child;
    if (!child) throw new Error('the agent was never started');
    const answers = async (url: string): Promise<boolean> => {
      const res = await fetch(url, { signal: AbortSignal.timeout(READY_POLL_MS * 20) });
      await res.body?.cancel();
      return res.status === 200;
    };
    const metricsOff = this.metricsDisabled();
    await waitUntilReady(
      child,
      async () =>
        (await answers(`${this.introspectionUrl}/readyz`)) &&
        (metricsOff || (await answers(`${this.metricsUrl}/metrics`))),
      { timeoutMs, intervalMs: READY_POLL_MS },
    );
  }

  /** DISABLE_METRICS as the agent reads it. */
  private metricsDisabled(): boolean {
    const raw = this.environment()['DISABLE_METRICS'];
    if (raw === undefined) return false;
    const parsed = parseBool(raw);
    return parsed.ok && parsed.value;
  }

  /** kill -9 by PID: no checkpoint flush, no socket clean-up, as a node's OOM killer or a crash. */
  async kill(): Promise<void> {
    const child = this.running();
    if (!child) return;
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
    await child.exited;
  }

  /** SIGTERM (graceful: in-flight work finishes, the checkpoint is flushed), SIGKILL after a grace period. */
  async stop(): Promise<void> {
    await this.running()?.stop();
  }

  /** Deletes the state directory; the process must be stopped. */
  async removeState(): Promise<void> {
    if (this.running()) throw new Error('stop the agent before removing its state');
    await rm(this.stateDir, { recursive: true, force: true });
  }

  /** Output of every run so far (the JSON logs), for failure messages. */
  output(): string {
    return this.earlierOutput + (this.child?.output() ?? '');
  }

  async introspect<T>(path: string): Promise<T> {
    const res = await fetch(`${this.introspectionUrl}${path}`, {
      signal: AbortSignal.timeout(INTROSPECTION_TIMEOUT_MS),
    });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`GET ${path} answered ${res.status}: ${text}`);
    return JSON.parse(text) as T;
  }

  async pods(): Promise<PodView[]> {
    return (await this.introspect<{ pods: PodView[] }>('/v1/pods')).pods;
  }

  async enis(): Promise<EniReport[]> {
    return (await this.introspect<{ enis: EniReport[] }>('/v1/enis')).enis;
  }

  async readiness(): Promise<{ status: number; body: string }> {
    const res = await fetch(`${this.introspectionUrl}/readyz`, {
      signal: AbortSignal.timeout(INTROSPECTION_TIMEOUT_MS),
    });
    return { status: res.status, body: await res.text() };
  }

  private running(): PeerProcess | undefined {
    return this.child && !this.child.hasExited() ? this.child : undefined;
  }
}

/** Creates the agent's state and starts it (waiting for /readyz unless told not to). */
export async function startAgentProcess(options: AgentProcessOptions): Promise<AgentProcess> {
  const agent = await AgentProcess.create(options);
  try {
    await agent.start();
  } catch (err) {
    await agent.stop();
    throw err;
  }
  return agent;
}

function unreachableKubeconfig(port: number): string {
  return `apiVersion: v1
kind: Config
clusters:
- name: unreachable
  cluster:
    server: https://127.0.0.1:${port}
    insecure-skip-tls-verify: true
users:
- name: agent
  user:
    token: none
contexts:
- name: unreachable
  context:
    cluster: unreachable
    user: agent
current-context: unreachable
`;
}
