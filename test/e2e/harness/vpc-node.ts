/**
 * The agent and its pods on a node of the emulated VPC (test/peers/vpc/emulated-vpc.ts), as they
 * run on an EC2 instance: the agent process inside the node's network namespace (its host network
 * namespace), reaching EC2 and IMDS through the VPC; pods as network namespaces set up by the
 * shipped conflist (Debian's `ptp` + `portmap`, eni-ipam as IPAM) through cnitool, run in the node
 * namespace as kubelet's runtime would. The introspection endpoint, on the node's loopback, is
 * reached through a unix-socket relay. Given a kubeconfig (a kube-apiserver reached through the VPC,
 * EmulatedVpc.connectControlPlane), the agent watches the node's pods as on EKS.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { runCnitool, type CnitoolOutcome } from '../../peers/cnitool.js';
import { peerPaths, requireExecutable } from '../../peers/paths.js';
import { spawnPeer, type PeerProcess } from '../../peers/process.js';
import { waitForOutput, type EmulatedVpc, type VpcNode } from '../../peers/vpc/emulated-vpc.js';
import type { EniReport, PodView } from './agent-process.js';
import { AGENT_ENTRY } from './agent-process.js';
import { CNI_PLUGIN_ENTRY } from './cni-bin.js';

const execFileAsync = promisify(execFile);
const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
const RELAY = join(repoRoot, 'test', 'peers', 'vpc', 'relay.ts');
export const TCP_ECHO = join(repoRoot, 'test', 'peers', 'vpc', 'tcp-echo.ts');
/** Inside the node namespace: its own loopback, so fixed ports collide with nothing. */
const INTROSPECTION_PORT = 61679;
const METRICS_PORT = 61678;
const NETWORK = 'eni-ipam';

export interface NodeAgentOptions {
  /**
   * The pod watch's kubeconfig (a kube-apiserver the node reaches through the VPC). Unset: one
   * whose server refuses connections, so the watch never syncs and the leak reaper frees nothing.
   */
  readonly kubeconfigPath?: string;
  /** MY_NODE_NAME; default `node-INDEX`. */
  readonly nodeName?: string;
}

/** The agent process of one node. Its state directory outlives kill -9, as the host path does. */
export class NodeAgent {
  private child: PeerProcess | undefined;
  private relay: PeerProcess | undefined;
  private earlier = '';

  private constructor(
    readonly node: VpcNode,
    readonly stateDir: string,
    private readonly env: Readonly<Record<string, string>>,
    private readonly options: NodeAgentOptions,
  ) {}

  static async start(
    node: VpcNode,
    env: Readonly<Record<string, string>> = {},
    options: NodeAgentOptions = {},
  ): Promise<NodeAgent> {
    const agent = new NodeAgent(node, await mkdtemp(join(tmpdir(), 'eni-dp-agent-')), env, options);
    await agent.start();
    return agent;
  }

  get socketPath(): string {
    return join(this.stateDir, 'ipam.sock');
  }

  get spoolPath(): string {
    return join(this.stateDir, 'release-spool.jsonl');
  }

  get checkpointPath(): string {
    return join(this.stateDir, 'checkpoint.json');
  }

  get pid(): number | undefined {
    return this.child && !this.child.hasExited() ? this.child.pid : undefined;
  }

  environment(): Record<string, string> {
    return {
      PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin',
      HOME: this.stateDir,
      MY_NODE_NAME: this.options.nodeName ?? `node-${this.node.index}`,
      AWS_ACCESS_KEY_ID: 'AKIAE2ESIMULATED0000',
      AWS_SECRET_ACCESS_KEY: 'e2e-simulated-secret',
      AWS_EC2_METADATA_DISABLED: 'true',
      ENI_IPAM_SOCKET: this.socketPath,
      ENI_IPAM_SPOOL: this.spoolPath,
      ENI_IPAM_CHECKPOINT: this.checkpointPath,
      INTROSPECTION_BIND_ADDRESS: `127.0.0.1:${INTROSPECTION_PORT}`,
      ENI_IPAM_METRICS_BIND_ADDRESS: `127.0.0.1:${METRICS_PORT}`,
      KUBECONFIG: this.options.kubeconfigPath ?? join(this.stateDir, 'kubeconfig.yaml'),
      AWS_VPC_K8S_CNI_LOGLEVEL: 'DEBUG',
      ENI_IPAM_DISABLE_DATAPATH: 'false',
      ...this.node.agentEnv,
      ...this.env,
    };
  }

  async start(): Promise<void> {
    if (this.pid !== undefined) throw new Error('the agent is already running');
    if (this.child) this.earlier += this.child.output();
    if (this.options.kubeconfigPath === undefined) {
      await writeFile(join(this.stateDir, 'kubeconfig.yaml'), UNREACHABLE_KUBECONFIG);
    }
    if (!this.relay || this.relay.hasExited()) {
      this.relay = spawnPeer('introspection relay', 'ip', [
        'netns',
        'exec',
        this.node.netns,
        process.execPath,
        RELAY,
        `unix:${join(this.stateDir, 'introspection.sock')}=tcp:127.0.0.1:${INTROSPECTION_PORT}`,
      ]);
      await waitForOutput(this.relay, 'relay ready');
    }
    // `ip netns exec` execs the command: the PID is the agent's own, for kill -9.
    this.child = spawnPeer(
      `agent of ${this.node.netns}`,
      'ip',
      ['netns', 'exec', this.node.netns, process.execPath, AGENT_ENTRY, 'agent'],
      { env: this.environment(), cwd: this.stateDir },
    );
    await this.waitReady();
  }

  async waitReady(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!this.child || this.child.hasExited())
        throw new Error(`the agent exited:\n${this.output().slice(-4000)}`);
      const ready = await this.get('/readyz').then(
        (r) => r.status === 200,
        () => false,
      );
      if (ready) return;
      if (Date.now() > deadline)
        throw new Error(`the agent was not ready in time:\n${this.output().slice(-4000)}`);
      await sleep(100);
    }
  }

  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.hasExited()) return;
    process.kill(child.pid, 'SIGKILL');
    await child.exited;
  }

  async stop(): Promise<void> {
    await this.child?.stop();
    await this.relay?.stop();
  }

  async remove(): Promise<void> {
    await this.stop();
    await rm(this.stateDir, { recursive: true, force: true });
  }

  output(): string {
    return this.earlier + (this.child?.output() ?? '');
  }

  async pods(): Promise<PodView[]> {
    return (JSON.parse((await this.get('/v1/pods')).body) as { pods: PodView[] }).pods;
  }

  async enis(): Promise<EniReport[]> {
    return (JSON.parse((await this.get('/v1/enis')).body) as { enis: EniReport[] }).enis;
  }

  /** The device index of the ENI that holds `address`, as the agent reports it. */
  async deviceIndexOf(address: string): Promise<number | undefined> {
    const pod = (await this.pods()).find((p) => p.ip === address);
    const eni = (await this.enis()).find((e) => e.eniId === pod?.eniId);
    return eni?.deviceIndex;
  }

  private get(path: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = request(
        { socketPath: join(this.stateDir, 'introspection.sock'), path, timeout: 10_000 },
        (res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
          res.on('end', () => {
            resolve({ status: res.statusCode ?? 0, body });
          });
        },
      );
      req.on('error', reject);
      req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
      req.end();
    });
  }
}

export type PortMapping = { hostPort: number; containerPort: number; protocol: string; hostIP?: string };

export interface Pod {
  readonly name: string;
  readonly netns: string;
  readonly address: string;
  /** The runtime sends the same capability arguments at DEL (portmap removes its rules by them). */
  readonly portMappings?: readonly PortMapping[];
}

/** The shipped conflist (deploy/conflist) with this agent's socket and spool, run by cnitool. */
export class NodePods {
  readonly pods: Pod[] = [];

  private constructor(
    readonly vpc: EmulatedVpc,
    readonly node: VpcNode,
    private readonly agent: NodeAgent,
    private readonly dir: string,
  ) {}

  static async create(vpc: EmulatedVpc, agent: NodeAgent): Promise<NodePods> {
    const dir = await mkdtemp(join(tmpdir(), 'eni-dp-cni-'));
    const bin = join(dir, 'bin');
    const conf = join(dir, 'net.d');
    await execFileAsync('mkdir', ['-p', bin, conf]);
    for (const plugin of ['ptp', 'portmap']) {
      await symlink(requireExecutable('cni', join(peerPaths.debianCniDir, plugin)), join(bin, plugin));
    }
    await writeFile(
      join(bin, 'eni-ipam'),
      `#!/bin/sh\nexec '${process.execPath}' '${CNI_PLUGIN_ENTRY}' "$@"\n`,
    );
    await chmod(join(bin, 'eni-ipam'), 0o755);
    const shipped = JSON.parse(
      readFileSync(join(repoRoot, 'deploy', 'conflist', '10-eni-ipam.conflist'), 'utf8'),
    ) as { name: string; plugins: { ipam?: Record<string, unknown> }[] };
    for (const plugin of shipped.plugins) {
      if (plugin.ipam) Object.assign(plugin.ipam, { socket: agent.socketPath, spoolPath: agent.spoolPath });
    }
    shipped.name = NETWORK;
    await writeFile(join(conf, '10-eni-ipam.conflist'), JSON.stringify(shipped, null, 2));
    return new NodePods(vpc, agent.node, agent, dir);
  }

  /** A pod sandbox: a namespace, then the whole chain's ADD. */
  async add(
    name = `pod-${randomBytes(3).toString('hex')}`,
    options: {
      portMappings?: { hostPort: number; containerPort: number; protocol: string; hostIP?: string }[];
    } = {},
  ): Promise<Pod> {
    const netns = `${this.vpc.prefix}${this.node.index}-${name}`.slice(0, 60);
    await execFileAsync('ip', ['netns', 'add', netns]);
    await execFileAsync('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
    const outcome = await this.cnitool('add', netns, name, options.portMappings);
    if (outcome.exitCode !== 0) {
      await execFileAsync('ip', ['netns', 'delete', netns]).catch(() => undefined);
      throw new Error(
        `cnitool add ${name} failed (${outcome.exitCode}): ${outcome.stdout}${outcome.stderr}\nagent:\n${this.agent.output().slice(-3000)}`,
      );
    }
    const result = JSON.parse(outcome.stdout) as { ips?: { address: string }[] };
    const address = result.ips?.[0]?.address.split('/')[0];
    if (address === undefined) throw new Error(`cnitool add ${name} returned no address: ${outcome.stdout}`);
    const pod = {
      name,
      netns,
      address,
      ...(options.portMappings ? { portMappings: options.portMappings } : {}),
    };
    this.pods.push(pod);
    return pod;
  }

  async del(pod: Pod, options: { keepNetns?: boolean } = {}): Promise<CnitoolOutcome> {
    const outcome = await this.cnitool('del', pod.netns, pod.name, pod.portMappings);
    if (options.keepNetns !== true) {
      await execFileAsync('ip', ['netns', 'delete', pod.netns]).catch(() => undefined);
      this.pods.splice(this.pods.indexOf(pod), 1);
    }
    return outcome;
  }

  async removeAll(): Promise<void> {
    for (const pod of [...this.pods])
      await execFileAsync('ip', ['netns', 'delete', pod.netns]).catch(() => undefined);
    this.pods.length = 0;
    await rm(this.dir, { recursive: true, force: true });
  }

  private cnitool(
    command: 'add' | 'del',
    netns: string,
    name: string,
    portMappings?: readonly unknown[],
  ): Promise<CnitoolOutcome> {
    return runCnitool({
      command,
      networkName: NETWORK,
      confDir: join(this.dir, 'net.d'),
      netns: `/var/run/netns/${netns}`,
      cniPath: [join(this.dir, 'bin')],
      args: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${name};K8S_POD_UID=uid-${name}`,
      hostNetns: this.node.netns,
      ...(portMappings === undefined ? {} : { capArgs: { portMappings } }),
    });
  }
}

/** A TCP echo server in a namespace (a pod's or a node's); stop() ends it. */
export async function startEchoServer(netns: string, port: number): Promise<PeerProcess> {
  const server = spawnPeer(`echo in ${netns}`, 'ip', [
    'netns',
    'exec',
    netns,
    process.execPath,
    TCP_ECHO,
    'serve',
    String(port),
  ]);
  await waitForOutput(server, 'listening');
  return server;
}

/**
 * One TCP exchange from a namespace: connects, sends `message`, returns the server's answer
 * ("<message> from <the source address the server saw>"), or throws with what went wrong.
 */
export async function tcpExchange(
  netns: string,
  host: string,
  port: number,
  message = 'hello',
): Promise<string> {
  const script = `exec 3<>/dev/tcp/${host}/${port} && echo ${message} >&3 && read -r line <&3 && echo "$line"`;
  try {
    const { stdout } = await execFileAsync('ip', [
      'netns',
      'exec',
      netns,
      'timeout',
      '5',
      'bash',
      '-c',
      script,
    ]);
    return stdout.trim();
  } catch (err) {
    const e = err as { stderr?: string; code?: number };
    throw new Error(`TCP from ${netns} to ${host}:${port} failed (exit ${e.code}): ${e.stderr ?? ''}`);
  }
}

/** The source address a server at host:port sees for a connection from `netns`. */
export async function seenSource(netns: string, host: string, port: number): Promise<string> {
  const answer = await tcpExchange(netns, host, port);
  const match = /^hello from (\S+)$/.exec(answer);
  if (!match?.[1]) throw new Error(`unexpected answer from ${host}:${port}: ${answer}`);
  return match[1];
}

/** `ip rule` / `ip route show table N` inside a namespace, for assertions a user would make. */
export async function ipIn(netns: string, args: readonly string[]): Promise<string> {
  return (await execFileAsync('ip', ['-n', netns, ...args])).stdout;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

const UNREACHABLE_KUBECONFIG = `apiVersion: v1
kind: Config
clusters:
- name: unreachable
  cluster:
    server: https://127.0.0.1:1
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
