/**
 * What a container runtime does with a network configuration, reduced to what the e2e suites need:
 * run `ptp` with `"ipam": {"type": "eni-ipam"}` for a pod sandbox (a network namespace), keep the
 * ADD result and hand it back as prevResult to CHECK and DEL, as libcni does; and run the eni-ipam
 * plugin on its own for the commands the reference plugins do not forward (GC) or that a runtime
 * sends to every plugin (STATUS).
 */
import { randomBytes } from 'node:crypto';
import {
  createNetns,
  runCniPlugin,
  type CniCommand,
  type CniOutcome,
  type NetNs,
} from '../../peers/netns.js';
import type { AgentProcess } from './agent-process.js';
import type { CniBinDir } from './cni-bin.js';

export const NETWORK_NAME = 'e2e-pods';
export const POD_IFNAME = 'eth0';

/** Who a CNI call is for: the attachment (container id + interface) and the pod's identity. */
export interface PodAttachment {
  readonly containerId: string;
  readonly ifname: string;
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
}

export interface PodSandbox extends PodAttachment {
  readonly netns: NetNs;
}

/**
 * A pod attachment without a namespace, for suites that drive the IPAM plugin alone (it never
 * enters the namespace; the main plugin does): cheap enough for hundreds of calls.
 */
export function podAttachment(name = `pod-${randomBytes(3).toString('hex')}`): PodAttachment {
  return {
    containerId: randomBytes(32).toString('hex'),
    ifname: POD_IFNAME,
    namespace: 'default',
    name,
    uid: `00000000-0000-4000-8000-${randomBytes(6).toString('hex')}`,
  };
}

/** CNI_NETNS for IPAM-only calls: ADD requires one; the IPAM plugin only passes it along. */
export const UNUSED_NETNS_PATH = '/var/run/netns/eni-ipam-test-ipam-only';

/** A pod sandbox as a runtime makes one: a fresh network namespace and a 64-hex container id. */
export async function createSandbox(name?: string): Promise<PodSandbox> {
  return { ...podAttachment(name), netns: await createNetns() };
}

export function cniArgsOf(sandbox: PodAttachment): string {
  return [
    'IgnoreUnknown=1',
    `K8S_POD_NAMESPACE=${sandbox.namespace}`,
    `K8S_POD_NAME=${sandbox.name}`,
    `K8S_POD_UID=${sandbox.uid}`,
    `K8S_POD_INFRA_CONTAINER_ID=${sandbox.containerId}`,
  ].join(';');
}

/** The `ipam` block, pointing the plugin at this agent's socket and spool. */
export function ipamBlock(agent: AgentProcess): Record<string, unknown> {
  return { type: 'eni-ipam', socket: agent.socketPath, spoolPath: agent.spoolPath };
}

export interface CniAnswer extends CniOutcome {
  /** The first IPv4 address of a successful ADD, without its prefix length. */
  readonly address: string | undefined;
  /** A CNI error's code, when stdout is one. */
  readonly errorCode: number | undefined;
}

function answerOf(outcome: CniOutcome): CniAnswer {
  const json = outcome.json as { ips?: { address?: unknown }[]; code?: unknown } | undefined;
  const first = json?.ips?.[0]?.address;
  return {
    ...outcome,
    address: typeof first === 'string' ? first.split('/')[0] : undefined,
    errorCode: outcome.exitCode !== 0 && typeof json?.code === 'number' ? json.code : undefined,
  };
}

/** `ptp` + eni-ipam, the way a runtime drives one network for its sandboxes. */
export class PtpNetwork {
  /** ADD results by container id: libcni caches them and sends them as prevResult. */
  private readonly results = new Map<string, unknown>();

  constructor(
    private readonly bin: CniBinDir,
    private readonly agent: AgentProcess,
    readonly cniVersion = '1.0.0',
  ) {}

  config(prevResult?: unknown): Record<string, unknown> {
    return {
      cniVersion: this.cniVersion,
      name: NETWORK_NAME,
      type: 'ptp',
      ipam: ipamBlock(this.agent),
      ...(prevResult === undefined ? {} : { prevResult }),
    };
  }

  async add(sandbox: PodSandbox): Promise<CniAnswer> {
    const answer = await this.run('ADD', sandbox);
    if (answer.exitCode === 0) this.results.set(sandbox.containerId, answer.json);
    return answer;
  }

  async check(sandbox: PodSandbox): Promise<CniAnswer> {
    return this.run('CHECK', sandbox, this.results.get(sandbox.containerId));
  }

  async del(sandbox: PodSandbox): Promise<CniAnswer> {
    const answer = await this.run('DEL', sandbox, this.results.get(sandbox.containerId));
    if (answer.exitCode === 0) this.results.delete(sandbox.containerId);
    return answer;
  }

  private async run(command: CniCommand, sandbox: PodSandbox, prevResult?: unknown): Promise<CniAnswer> {
    return answerOf(
      await runCniPlugin({
        plugin: this.bin.ptp,
        command,
        config: this.config(prevResult),
        cniPath: [this.bin.dir],
        containerId: sandbox.containerId,
        netns: sandbox.netns.path,
        ifname: sandbox.ifname,
        args: cniArgsOf(sandbox),
      }),
    );
  }
}

export interface DirectCall {
  readonly command: CniCommand;
  readonly cniVersion?: string;
  readonly containerId?: string;
  readonly ifname?: string;
  readonly netns?: string;
  readonly args?: string;
  /** Extra top-level config keys (prevResult, cni.dev/valid-attachments, ...). */
  readonly extra?: Readonly<Record<string, unknown>>;
}

/** Runs the eni-ipam plugin alone, as a runtime runs the IPAM of a network for GC or STATUS. */
export async function runEniIpam(bin: CniBinDir, agent: AgentProcess, call: DirectCall): Promise<CniAnswer> {
  return answerOf(
    await runCniPlugin({
      plugin: bin.eniIpam,
      command: call.command,
      config: {
        cniVersion: call.cniVersion ?? '1.1.0',
        name: NETWORK_NAME,
        // What a main plugin passes to its IPAM: its own config, with the ipam block inside.
        type: 'ptp',
        ipam: ipamBlock(agent),
        ...call.extra,
      },
      cniPath: [bin.dir],
      ...(call.containerId === undefined ? {} : { containerId: call.containerId }),
      ...(call.ifname === undefined ? {} : { ifname: call.ifname }),
      ...(call.netns === undefined ? {} : { netns: call.netns }),
      ...(call.args === undefined ? {} : { args: call.args }),
    }),
  );
}

/** IPAM ADD for a pod attachment, as ptp would send it (CNI 1.0.0, the Debian plugins' version). */
export function ipamAdd(bin: CniBinDir, agent: AgentProcess, pod: PodAttachment): Promise<CniAnswer> {
  return runEniIpam(bin, agent, {
    command: 'ADD',
    cniVersion: '1.0.0',
    containerId: pod.containerId,
    ifname: pod.ifname,
    netns: UNUSED_NETNS_PATH,
    args: cniArgsOf(pod),
  });
}

/** IPAM DEL for a pod attachment; `address` becomes the prevResult, as libcni sends it. */
export function ipamDel(
  bin: CniBinDir,
  agent: AgentProcess,
  pod: PodAttachment,
  address?: string,
): Promise<CniAnswer> {
  return runEniIpam(bin, agent, {
    command: 'DEL',
    cniVersion: '1.0.0',
    containerId: pod.containerId,
    ifname: pod.ifname,
    args: cniArgsOf(pod),
    ...(address === undefined
      ? {}
      : { extra: { prevResult: { cniVersion: '1.0.0', ips: [{ address: `${address}/32` }] } } }),
  });
}
