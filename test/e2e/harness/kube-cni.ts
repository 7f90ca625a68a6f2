/**
 * CNI ADD and DEL for a pod of the API server, as containerd sends them for the pod's sandbox:
 * through the plugin's own client (cni/agent-client.ts) over the agent's unix socket, with the
 * identity from the API object (namespace, name and the uid the API server assigned), so the
 * agent's pod watch and its assignments talk about the same pod.
 */
import { randomBytes } from 'node:crypto';
import { callAgent } from '../../../cni/agent-client.js';
import type { AgentResponse } from '../../../cni/protocol.js';
import { systemClock } from '../../../time/clock.js';
import type { BoundPod } from './kube-cluster.js';

/** The plugin's own ADD deadline default (docs/cni.md): the agent answers well before it. */
const ADD_TIMEOUT_MS = 30_000;
const DEL_TIMEOUT_MS = 10_000;
const NETWORK = 'eni-ipam-e2e';

export interface PodSandbox {
  readonly pod: BoundPod;
  /** A sandbox (infra container) id, as the runtime makes one per pod start. */
  readonly containerId: string;
  readonly ifname: string;
}

export function newSandbox(pod: BoundPod): PodSandbox {
  return { pod, containerId: randomBytes(32).toString('hex'), ifname: 'eth0' };
}

function identity(sandbox: PodSandbox): {
  namespace: string;
  name: string;
  uid: string;
  infraContainerId: string;
} {
  return {
    namespace: sandbox.pod.namespace,
    name: sandbox.pod.name,
    uid: sandbox.pod.uid,
    infraContainerId: sandbox.containerId,
  };
}

async function call(
  socketPath: string,
  request: Parameters<typeof callAgent>[0]['request'],
  timeoutMs: number,
): Promise<AgentResponse> {
  const outcome = await callAgent({ socketPath, request, timeoutMs, clock: systemClock });
  if (outcome.kind !== 'answered')
    throw new Error(`${request.op} did not get an answer: ${outcome.kind}: ${outcome.reason}`);
  return outcome.response;
}

/** CNI ADD; resolves to the pod's address (without the prefix length); throws on a CNI error. */
export async function addPod(socketPath: string, sandbox: PodSandbox): Promise<string> {
  const response = await call(
    socketPath,
    {
      op: 'add',
      containerId: sandbox.containerId,
      ifname: sandbox.ifname,
      netns: `/var/run/netns/cni-${sandbox.containerId.slice(0, 12)}`,
      network: NETWORK,
      pod: identity(sandbox),
    },
    ADD_TIMEOUT_MS,
  );
  if (!response.ok)
    throw new Error(
      `ADD for ${sandbox.pod.namespace}/${sandbox.pod.name} failed: code ${response.error.code}: ${response.error.msg}`,
    );
  if (response.op !== 'add') throw new Error(`ADD was answered with op ${response.op}`);
  const first = response.result.ips[0];
  if (!first) throw new Error(`ADD for ${sandbox.pod.namespace}/${sandbox.pod.name} returned no address`);
  return first.address.split('/')[0] ?? '';
}

/** CNI DEL (the sandbox is torn down); throws on a CNI error. */
export async function delPod(socketPath: string, sandbox: PodSandbox): Promise<void> {
  const response = await call(
    socketPath,
    {
      op: 'del',
      containerId: sandbox.containerId,
      ifname: sandbox.ifname,
      network: NETWORK,
      pod: identity(sandbox),
    },
    DEL_TIMEOUT_MS,
  );
  if (!response.ok)
    throw new Error(
      `DEL for ${sandbox.pod.namespace}/${sandbox.pod.name} failed: code ${response.error.code}: ${response.error.msg}`,
    );
}
