/**
 * What an id on the wire may be. The agent keys assignments by container id and interface name
 * and stores the pod's names in its checkpoint: an id with a NUL or another control character
 * could make two different attachments collide in a key (or in a log line), and an ADD without
 * the pod's name could not be stored and matched to its pod later. The plugin checks its
 * environment; the agent checks again, since anything that can open the socket can send a request.
 */
import type { AgentRequest, PodIdentity } from './protocol.js';

/** Container ids starting with this are the agent's own (quarantined and recovered addresses). */
export const RESERVED_ID_PREFIX = 'eni-ipam:';

const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

export function hasControlCharacter(value: string): boolean {
  return CONTROL.test(value);
}

/** Why the request's ids are refused, or undefined when they are fine. */
export function idProblem(req: AgentRequest): string | undefined {
  const fields: [string, string | undefined][] = [['network', req.network]];
  if (req.op === 'gc') {
    for (const [i, a] of req.validAttachments.entries()) {
      fields.push(
        [`validAttachments[${i}].containerId`, a.containerId],
        [`validAttachments[${i}].ifname`, a.ifname],
      );
    }
  }
  if (req.op === 'add' || req.op === 'del' || req.op === 'check') {
    fields.push(['containerId', req.containerId], ['ifname', req.ifname], ...podFields(req.pod));
    if (req.containerId === '') return 'containerId is empty';
    if (req.ifname === '') return 'ifname is empty';
    if (req.containerId.startsWith(RESERVED_ID_PREFIX))
      return `containerId ${JSON.stringify(req.containerId)} uses the prefix ${RESERVED_ID_PREFIX} reserved for eni-ipam`;
  }
  for (const [name, value] of fields) {
    if (value !== undefined && hasControlCharacter(value))
      return `${name} ${JSON.stringify(value)} contains a control character`;
  }
  if (req.op === 'add') {
    const missing = [
      ...(req.pod.namespace ? [] : ['K8S_POD_NAMESPACE']),
      ...(req.pod.name ? [] : ['K8S_POD_NAME']),
    ];
    if (missing.length > 0)
      return `CNI_ARGS lacks ${missing.join(' and ')}: eni-ipam assigns addresses to Kubernetes pods and must know which pod holds each`;
  }
  return undefined;
}

function podFields(pod: PodIdentity): [string, string | undefined][] {
  return [
    ['pod.namespace', pod.namespace],
    ['pod.name', pod.name],
    ['pod.uid', pod.uid],
    ['pod.infraContainerId', pod.infraContainerId],
  ];
}
