/**
 * The CNI_* environment variables: which command, which container and interface, and the pod
 * identity the runtime puts in CNI_ARGS. Every refusal is code 4 (invalid environment variables),
 * as the reference plugins' skel does.
 */
import { hasControlCharacter } from './ids.js';
import type { PodIdentity } from './protocol.js';
import { CniCode, CniError } from './spec.js';

export const CNI_COMMANDS = ['ADD', 'DEL', 'CHECK', 'GC', 'STATUS', 'VERSION'] as const;
export type CniCommand = (typeof CNI_COMMANDS)[number];

export type Env = Readonly<Record<string, string | undefined>>;

export interface CniEnv {
  command: CniCommand;
  /** Present for ADD, DEL and CHECK (checked there). */
  containerId?: string;
  ifname?: string;
  netns?: string;
  pod: PodIdentity;
}

/** Same rule as the reference skel: starts alphanumeric, then alphanumerics, `_`, `.` or `-`. */
const CONTAINER_ID = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
/** Linux IFNAMSIZ is 16 including the terminating NUL. */
const MAX_IFNAME = 15;

function invalid(msg: string, details?: string): CniError {
  return new CniError(CniCode.invalidEnvironment, msg, details);
}

function isCommand(v: string): v is CniCommand {
  return (CNI_COMMANDS as readonly string[]).includes(v);
}

function required(env: Env, key: string, command: CniCommand): string {
  const v = env[key];
  if (v === undefined || v === '') throw invalid(`${key} is required for ${command}`);
  return v;
}

function checkIfname(ifname: string): void {
  if (ifname.length > MAX_IFNAME) throw invalid(`CNI_IFNAME is longer than ${MAX_IFNAME} characters`, ifname);
  if (ifname === '.' || ifname === '..' || /[/:\s]/.test(ifname) || hasControlCharacter(ifname)) {
    throw invalid('CNI_IFNAME is not a valid interface name', ifname);
  }
}

/**
 * CNI_ARGS: `KEY=VALUE` pairs separated by `;` (e.g. `IgnoreUnknown=1;K8S_POD_NAMESPACE=default`).
 * Unknown keys are ignored, as `IgnoreUnknown=1` from kubelet asks; a pair without `=` is refused.
 */
export function parseCniArgs(raw: string | undefined): PodIdentity {
  const pod: PodIdentity = {};
  if (raw === undefined || raw === '') return pod;
  for (const pair of raw.split(';')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    if (eq <= 0) throw invalid('CNI_ARGS has a pair that is not KEY=VALUE', pair);
    const key = pair.slice(0, eq);
    const value = pair.slice(eq + 1);
    if (value === '') continue;
    if (hasControlCharacter(value)) throw invalid(`CNI_ARGS ${key} contains a control character`, pair);
    switch (key) {
      case 'K8S_POD_NAMESPACE':
        pod.namespace = value;
        break;
      case 'K8S_POD_NAME':
        pod.name = value;
        break;
      case 'K8S_POD_UID':
        pod.uid = value;
        break;
      case 'K8S_POD_INFRA_CONTAINER_ID':
        pod.infraContainerId = value;
        break;
      default:
        break;
    }
  }
  return pod;
}

/** Reads and checks the variables the command needs. CNI_PATH is not required: we exec nothing. */
export function readCniEnv(env: Env): CniEnv {
  const raw = env['CNI_COMMAND'];
  if (raw === undefined || raw === '') throw invalid('CNI_COMMAND is not set');
  if (!isCommand(raw))
    throw invalid(`unknown CNI_COMMAND ${JSON.stringify(raw)}`, `expected one of ${CNI_COMMANDS.join(', ')}`);
  const command = raw;
  const out: CniEnv = { command, pod: {} };
  if (command === 'ADD' || command === 'DEL' || command === 'CHECK') {
    const containerId = required(env, 'CNI_CONTAINERID', command);
    if (!CONTAINER_ID.test(containerId)) throw invalid('CNI_CONTAINERID has invalid characters', containerId);
    const ifname = required(env, 'CNI_IFNAME', command);
    checkIfname(ifname);
    out.containerId = containerId;
    out.ifname = ifname;
    // DEL may come after the namespace is gone, so the spec makes CNI_NETNS optional there.
    const netns = command === 'DEL' ? env['CNI_NETNS'] : required(env, 'CNI_NETNS', command);
    if (netns !== undefined && netns !== '') out.netns = netns;
    out.pod = parseCniArgs(env['CNI_ARGS']);
    // The agent must know which pod holds each address (its checkpoint and leak checks name it).
    if (command === 'ADD' && (out.pod.namespace === undefined || out.pod.name === undefined)) {
      throw invalid(
        'CNI_ARGS must carry K8S_POD_NAMESPACE and K8S_POD_NAME for ADD',
        'eni-ipam assigns addresses to Kubernetes pods; the runtime passes these to every CNI ADD',
      );
    }
  }
  return out;
}
