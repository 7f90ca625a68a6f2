import { ADDRESSES_PER_PREFIX } from '../../ipam/address.js';
import type { EniView, IntrospectionSource, ReadinessStatus } from './introspection-source.js';

/** An ENI as /v1/enis shows it: the source's view plus its derived totals. */
export interface EniReport extends EniView {
  /** Pod addresses on the ENI: secondary /32s plus 16 per /28. */
  addresses: number;
  /** Neither assigned nor cooling. */
  free: number;
}

export function eniReport(eni: EniView): EniReport {
  const addresses = eni.secondaryIps.length + eni.prefixes.length * ADDRESSES_PER_PREFIX;
  return { ...eni, addresses, free: Math.max(0, addresses - eni.assigned - eni.cooling) };
}

/** /v1/state: exactly the input document of `eni-ipam plan`, so an operator can replay a node. */
export interface PlanStateDocument {
  limits: { maxEnis: number; ipv4PerEni: number; maxPods: number; prefixes: boolean };
  env: Record<string, string>;
  enis: { id: string; primary: boolean; ips: number; assigned: number; cooldown: number; prefixes: number }[];
  pending: number;
}

export function planState(source: IntrospectionSource): PlanStateDocument {
  const context = source.planContext();
  const { maxEnis, ipv4PerEni, maxPods, prefixes } = context.limits;
  return {
    limits: { maxEnis, ipv4PerEni, maxPods, prefixes },
    env: { ...context.env },
    enis: source.enis().map((eni) => ({
      id: eni.eniId,
      primary: eni.primary,
      ips: eni.secondaryIps.length,
      assigned: eni.assigned,
      cooldown: eni.cooling,
      prefixes: eni.prefixes.length,
    })),
    pending: context.pending,
  };
}

export interface ReadinessAnswer {
  ready: boolean;
  reason: string;
}

/**
 * Ready means the agent serves CNI requests correctly: the first reconcile is done and the CNI
 * endpoint works. A node that is simply full (ENI limit, max pods, subnet full) stays ready, as
 * aws-node does: marking it NotReady would stall DaemonSet rollouts and page for a healthy node.
 * The reason still says how the warm target stands; shortage is reported by metrics and events.
 */
export function readiness(status: ReadinessStatus): ReadinessAnswer {
  if (!status.firstReconcileDone) return { ready: false, reason: 'start-up reconcile not finished' };
  if (status.serving !== undefined && !status.serving.alive) {
    return { ready: false, reason: `cannot serve CNI calls: ${status.serving.reason}` };
  }
  if (status.warmTargetMet) return { ready: true, reason: 'warm target met' };
  if (status.warmTargetInProgress) return { ready: true, reason: 'warm target being met' };
  return {
    ready: true,
    reason: `serving; warm target not met${status.blockedReason ? `: ${status.blockedReason}` : ''}`,
  };
}

/** /healthz: alive while the agent can serve CNI calls (a source without the check: while it answers). */
export function liveness(source: Pick<IntrospectionSource, 'liveness'>): { alive: boolean; reason: string } {
  return source.liveness?.() ?? { alive: true, reason: 'serving CNI calls' };
}
