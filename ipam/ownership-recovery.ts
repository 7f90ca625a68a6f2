/**
 * Who holds an address when the agent's own record of it is gone (a lost, corrupt or newer
 * checkpoint, or an entry of it that could not be read). The node's pods still hold their
 * addresses: handing one of them to a new pod would give two pods one address. Until the node or
 * the cluster says who holds what, such addresses are quarantined (kept as assigned to no pod, so
 * the planner brings new addresses for new pods); once one does, each is adopted by the pod that
 * reports it (in its `status.podIPs`, or in its sandbox as the container runtime reports it), or
 * released once the API server's pods show that no pod can hold it.
 */
import type { AssignmentKey, PodRef } from './datastore-types.js';

/** A pod bound to this node as the API server reports it. */
export interface PodAddresses {
  readonly uid: string;
  readonly namespace: string;
  readonly name: string;
  /** `status.podIPs`; empty while kubelet has not reported them (or the pod has no sandbox yet). */
  readonly podIps: readonly string[];
  /** Succeeded or Failed: the pod's sandbox is gone, and so is any address it held. */
  readonly terminal: boolean;
  /** Host-network pods report the node's address, never one of ours. */
  readonly hostNetwork: boolean;
}

/**
 * A pod sandbox the container runtime reports READY (CRI ListPodSandbox + PodSandboxStatus): the
 * node itself saying which pod's network namespace holds which address, with or without the API
 * server.
 */
export interface SandboxAddresses {
  readonly uid: string;
  readonly namespace: string;
  readonly name: string;
  /** network.ip and additional_ips; empty while the sandbox's network is being set up. */
  readonly ips: readonly string[];
}

export interface OwnershipInput {
  /** Addresses whose holder is unknown. */
  readonly quarantined: readonly string[];
  /**
   * The node's pods, or undefined while they are not known (no pod source, the API server is
   * unreachable, the first list has not completed): nothing can be released then.
   */
  readonly pods: readonly PodAddresses[] | undefined;
  /**
   * The runtime's READY sandboxes, or undefined when the runtime could not be asked (no socket,
   * no permission, timeout, not a CRI runtime). Absent: the API server's pods alone decide.
   */
  readonly sandboxes?: readonly SandboxAddresses[] | undefined;
  /** Uids of pods that hold an address the agent knows of (assigned since, or from the checkpoint). */
  readonly podsWithKnownAddress: ReadonlySet<string>;
}

export interface OwnershipDecision {
  /** Addresses a running pod reports: they become that pod's assignment. */
  readonly adopt: readonly { readonly address: string; readonly pod: PodRef }[];
  /** Addresses no pod can hold: assignable again (after the usual cooldown). */
  readonly release: readonly string[];
  /** Addresses still of unknown ownership, and why. */
  readonly keep: readonly string[];
  readonly why: 'resolved' | 'pods-unknown' | 'pods-without-addresses' | 'ambiguous';
}

/**
 * The decision, pure. Two sources say who holds an address: the API server's pods
 * (`status.podIPs`) and the container runtime's READY sandboxes. An address one source gives to
 * exactly one pod, and the other source gives to no other pod, is adopted by that pod, so the
 * runtime alone resolves what it reports while the API server is unreachable. An address two pods
 * claim (within a source, or the sources disagree) stays quarantined: the node's view is
 * inconsistent. An address nobody reports is released only when the API server's pod list is
 * known and no live pod might hold it without saying so (a pod with neither `status.podIPs`, nor
 * a sandbox reporting an address, nor an address the agent knows of): kubelet posts
 * `status.podIPs` a moment after the sandbox got its address, and a sandbox being set up reports
 * no address yet, so the runtime's silence never frees an address.
 */
export function decideOwnership(input: OwnershipInput): OwnershipDecision {
  const { quarantined, pods, sandboxes } = input;
  if (quarantined.length === 0) return { adopt: [], release: [], keep: [], why: 'resolved' };
  if (pods === undefined && sandboxes === undefined) {
    return { adopt: [], release: [], keep: [...quarantined], why: 'pods-unknown' };
  }

  const holders = new Map<string, Map<string, PodRef>>();
  const claim = (ip: string, pod: PodRef): void => {
    const byUid = holders.get(ip) ?? new Map<string, PodRef>();
    // The first report of a uid names it; a second source with the same uid agrees with it.
    if (!byUid.has(pod.uid)) byUid.set(pod.uid, { uid: pod.uid, namespace: pod.namespace, name: pod.name });
    holders.set(ip, byUid);
  };
  const live = (pods ?? []).filter((p) => !p.terminal && !p.hostNetwork);
  for (const pod of live) for (const ip of pod.podIps) claim(ip, pod);
  const sandboxUidsWithAddress = new Set<string>();
  for (const sandbox of sandboxes ?? []) {
    for (const ip of sandbox.ips) claim(ip, sandbox);
    if (sandbox.ips.length > 0) sandboxUidsWithAddress.add(sandbox.uid);
  }
  const silent =
    pods === undefined ||
    live.some(
      (p) =>
        p.podIps.length === 0 && !input.podsWithKnownAddress.has(p.uid) && !sandboxUidsWithAddress.has(p.uid),
    );

  const adopt: { address: string; pod: PodRef }[] = [];
  const release: string[] = [];
  const keep: string[] = [];
  let ambiguous = false;
  for (const address of quarantined) {
    const reported = [...(holders.get(address)?.values() ?? [])];
    const [only] = reported;
    if (reported.length === 1 && only) {
      adopt.push({ address, pod: only });
    } else if (reported.length > 1) {
      ambiguous = true;
      keep.push(address);
    } else if (silent) keep.push(address);
    else release.push(address);
  }
  const why =
    keep.length === 0
      ? 'resolved'
      : ambiguous
        ? 'ambiguous'
        : pods === undefined
          ? 'pods-unknown'
          : 'pods-without-addresses';
  return { adopt, release, keep, why };
}

/**
 * Adopted addresses their pod no longer reports: its sandbox was recreated with another address
 * (after a reboot kubelet starts new sandboxes; status.podIPs then moves on). Only a live pod that
 * reports some address, and not this one, gives it up; a pod that is gone is the leak reaper's.
 */
export function staleRecovered(
  recovered: readonly { readonly address: string; readonly podUid: string }[],
  pods: readonly PodAddresses[] | undefined,
): string[] {
  if (pods === undefined) return [];
  const byUid = new Map(pods.map((p) => [p.uid, p]));
  return recovered
    .filter(({ address, podUid }) => {
      const pod = byUid.get(podUid);
      return pod !== undefined && !pod.terminal && pod.podIps.length > 0 && !pod.podIps.includes(address);
    })
    .map((r) => r.address);
}

/**
 * The attachment key a quarantined address is held under. The CNI endpoint refuses container ids
 * that start with "eni-ipam:", so no real attachment can collide with it.
 */
export function quarantineKey(address: string): AssignmentKey {
  return { containerId: `${QUARANTINE_PREFIX}${address}`, ifName: QUARANTINE_IFNAME };
}

/** The key of an address adopted from a pod's status: its real container id is unknown. */
export function recoveredKey(podUid: string, address: string): AssignmentKey {
  return { containerId: `${RECOVERED_PREFIX}${podUid}:${address}`, ifName: QUARANTINE_IFNAME };
}

export function isQuarantineKey(key: AssignmentKey): boolean {
  return key.containerId.startsWith(QUARANTINE_PREFIX) && key.ifName === QUARANTINE_IFNAME;
}

export function isRecoveredKey(key: AssignmentKey): boolean {
  return key.containerId.startsWith(RECOVERED_PREFIX) && key.ifName === QUARANTINE_IFNAME;
}

/** The holder recorded for a quarantined address (the checkpoint stores it like any other). */
export const QUARANTINE_POD: PodRef = Object.freeze({
  uid: 'eni-ipam-quarantine',
  namespace: 'eni-ipam',
  name: 'unknown-holder',
});

const QUARANTINE_PREFIX = 'eni-ipam:quarantine:';
const RECOVERED_PREFIX = 'eni-ipam:recovered:';
/** Longer than any Linux interface name (15 characters): no real attachment can use it. */
const QUARANTINE_IFNAME = 'eni-ipam:recovery';
