/**
 * What EC2 holds for the simulated node right now (the simulator's inspection API, not the lagging
 * Describe view), and its comparison with what the agent says it holds (/v1/enis, /v1/pods): the
 * accounting a user would do by hand with the console and `eni-ipam status` after an incident.
 */
import { INSTANCE_ID_TAG } from '../../../provider/eni-tags.js';
import type { AgentProcess } from './agent-process.js';
import type { SimulatedNode } from './simulated-node.js';

export interface NodeEc2Truth {
  /** Secondary address -> the ENI (attached to this node) that holds it in EC2. */
  readonly secondaryIps: ReadonlyMap<string, string>;
  /** ENIs attached (or attaching) to this node, including the primary one. */
  readonly attachedEnis: readonly string[];
  /** ENIs created for this node (tagged with its instance id) and attached to nothing. */
  readonly detachedEnis: readonly string[];
}

/** An instance and the simulated EC2 that runs it (a SimulatedNode, or a node of an emulated VPC). */
export type InstanceInEc2 = Pick<SimulatedNode, 'cloud' | 'instance'>;
/** What the comparison asks the agent: its introspection views (AgentProcess, NodeAgent). */
export type AgentBooks = Pick<AgentProcess, 'enis' | 'pods'>;

export function ec2TruthOf(node: InstanceInEc2): NodeEc2Truth {
  const instanceId = node.instance.instanceId;
  const secondaryIps = new Map<string, string>();
  const attachedEnis: string[] = [];
  const detachedEnis: string[] = [];
  for (const eni of node.cloud.enis()) {
    if (eni.attachment?.instanceId === instanceId) {
      attachedEnis.push(eni.eniId);
      for (const ip of eni.secondaryIps) secondaryIps.set(ip, eni.eniId);
    } else if (eni.tags[INSTANCE_ID_TAG] === instanceId) {
      detachedEnis.push(eni.eniId);
    }
  }
  return { secondaryIps, attachedEnis, detachedEnis };
}

export interface AccountingReport {
  /** Addresses the agent has given to more than one attachment. */
  readonly heldTwice: readonly string[];
  /** Pod addresses the agent reports that EC2 does not hold on this node's ENIs. */
  readonly podsWithoutEc2Address: readonly string[];
  /** Addresses EC2 holds on this node that the agent does not account for (neither free nor assigned). */
  readonly leakedAddresses: readonly string[];
  /** ENIs attached to the node in EC2 that the agent does not know. */
  readonly unknownEnis: readonly string[];
  /** ENIs the agent reports that are not attached to the node in EC2. */
  readonly phantomEnis: readonly string[];
  /** ENIs made for this node and left attached to nothing. */
  readonly leakedEnis: readonly string[];
}

export async function compareAgentWithEc2(node: InstanceInEc2, agent: AgentBooks): Promise<AccountingReport> {
  const [enis, pods] = await Promise.all([agent.enis(), agent.pods()]);
  const truth = ec2TruthOf(node);
  const agentIps = new Set(enis.flatMap((eni) => eni.secondaryIps));
  const agentEnis = new Set(enis.map((eni) => eni.eniId));
  const seen = new Set<string>();
  const heldTwice = new Set<string>();
  for (const pod of pods) {
    if (seen.has(pod.ip)) heldTwice.add(pod.ip);
    seen.add(pod.ip);
  }
  return {
    heldTwice: [...heldTwice].sort(),
    podsWithoutEc2Address: pods
      .filter((pod) => truth.secondaryIps.get(pod.ip) !== pod.eniId)
      .map((pod) => pod.ip),
    leakedAddresses: [...truth.secondaryIps.keys()].filter((ip) => !agentIps.has(ip)).sort(),
    unknownEnis: truth.attachedEnis.filter((id) => !agentEnis.has(id)),
    phantomEnis: [...agentEnis].filter((id) => !truth.attachedEnis.includes(id)),
    leakedEnis: [...truth.detachedEnis],
  };
}

/** The report of a node whose books balance, for `expect(report).toEqual(BALANCED)`. */
export const BALANCED: AccountingReport = {
  heldTwice: [],
  podsWithoutEc2Address: [],
  leakedAddresses: [],
  unknownEnis: [],
  phantomEnis: [],
  leakedEnis: [],
};

/** How long books may take to balance: EC2 work in flight, plus a visibility delay of a few seconds. */
const SETTLE_TIMEOUT_MS = 30_000;
const SETTLE_POLL_MS = 200;

export function balanced(report: AccountingReport): boolean {
  return Object.values(report).every((list: readonly string[]) => list.length === 0);
}

/**
 * Polls until the agent's books and EC2's agree (EC2 work in flight ends, Describe catches up), or
 * the timeout passes; returns the last report either way, for `expect(...).toEqual(BALANCED)`.
 */
export async function settledAccounting(
  node: InstanceInEc2,
  agent: AgentBooks,
  options: { timeoutMs?: number; settledWhen?: (report: AccountingReport) => boolean } = {},
): Promise<AccountingReport> {
  const clock = node.cloud.clock;
  const deadline = clock.now() + (options.timeoutMs ?? SETTLE_TIMEOUT_MS);
  const settled = options.settledWhen ?? balanced;
  for (;;) {
    const report = await compareAgentWithEc2(node, agent);
    if (settled(report) || clock.now() >= deadline) return report;
    await clock.sleep(SETTLE_POLL_MS);
  }
}
