import { addressesPerUnit } from '../ipam/address.js';
import { WARM_TARGET_VARIABLES } from './config-warm-targets.js';
import type { LeakEvents } from './leak-reaper.js';
import type { NodeAgent, NodeAgentView } from './node-agent.js';
import type { AgentMetrics } from './metrics/agent-metrics.js';
import type { MetricsSnapshot, MetricsSource } from './metrics/metrics-source.js';
import type { IntrospectionSource } from './introspection/introspection-source.js';
import type { CniRequestSample } from './metrics/cni-request-timing.js';
import type { Shortage } from '../ipam/pool-rules.js';

/** The agent's view, or undefined while it is still starting (introspection serves /healthz then). */
function viewIfStarted(agent: Pick<NodeAgent, 'view'>): NodeAgentView | undefined {
  try {
    return agent.view();
  } catch {
    return undefined;
  }
}

/** The gauges, read from the node agent at scrape time. */
export function metricsSourceOf(agent: Pick<NodeAgent, 'view'>): MetricsSource {
  return {
    snapshot(): MetricsSnapshot {
      const view = agent.view();
      const usage = view.datastore.usage();
      const slots = view.limits.ipv4PerEni - 1;
      return {
        maxEnis: view.limits.maxEnis,
        maxIps: view.limits.maxEnis * slots * addressesPerUnit(view.limits.prefixes),
        maxPods: view.limits.maxPods,
        enis: usage.map((u) => ({
          eniId: u.id,
          ips: u.ips,
          prefixes: u.prefixes,
          assigned: u.assigned,
          cooling: u.cooldown,
        })),
        waitingAdds: view.waiting,
        warmTarget: warmTargetOf(view),
        prefixDelegationFallback: view.prefixDelegationFallback,
        subnets: view.subnets.map((s) => ({ subnetId: s.subnetId, free: s.availableIpCount })),
      };
    },
  };
}

/**
 * How far the warm target is from met, and whether nothing is on its way to meet it: no EC2 work
 * in flight, and none the driver starts now (it plans none, or it backs off after a refusal).
 */
function warmTargetOf(view: NodeAgentView): { short: number; blocked: boolean } {
  const { plan: decided, acting } = view.decision;
  const moving = view.inFlight.units > 0 || view.inFlight.enis > 0 || (acting && decided.actions.length > 0);
  return { short: decided.defaultPool.short, blocked: decided.defaultPool.poolTooLow && !moving };
}

/**
 * The shortage the node's events report: the pool is short (below its warm target, or ADDs wait)
 * and nothing is on its way to fill it, because EC2 refused (the driver backs off or skips a full
 * subnet) or the node is at its ENI limit, its max pods or only has addresses cooling down.
 * Undefined while addresses are on their way or the planner is about to ask for them.
 */
export function shortageForEvents(view: NodeAgentView): Shortage | undefined {
  if (!view.ready) return undefined;
  const target = warmTargetOf(view);
  if (target.short === 0 && view.waiting === 0) return undefined;
  if (view.inFlight.units > 0 || view.inFlight.enis > 0) return undefined;
  return view.shortage;
}

/** What /v1/* and /readyz show, from the node agent's datastore (never by calling EC2). */
export function introspectionSourceOf(
  agent: Pick<NodeAgent, 'view'>,
  config: unknown,
  env: Readonly<Record<string, string | undefined>>,
  serving?: () => { alive: boolean; reason: string },
  cniRequests?: () => CniRequestSample[],
): IntrospectionSource {
  return {
    ...(serving === undefined ? {} : { liveness: serving }),
    ...(cniRequests === undefined ? {} : { cniRequests }),
    enis() {
      const view = viewIfStarted(agent);
      if (!view) return [];
      const usage = new Map(view.datastore.usage().map((u) => [u.id, u]));
      const busy = new Set(view.planInput.enis.filter((e) => e.busy === true).map((e) => e.id));
      return view.datastore.enis().map((eni) => {
        const sources = view.datastore.sourcesOf(eni.id) ?? { ips: [], prefixes: [] };
        const u = usage.get(eni.id);
        return {
          eniId: eni.id,
          deviceIndex: eni.deviceIndex,
          primary: eni.primary,
          subnetId: eni.subnetId,
          primaryIp: view.primaryIps.get(eni.id) ?? '',
          secondaryIps: sources.ips,
          prefixes: sources.prefixes,
          assigned: u?.assigned ?? 0,
          cooling: u?.cooldown ?? 0,
          ...(busy.has(eni.id) ? { busy: true } : {}),
        };
      });
    },
    pods() {
      const view = viewIfStarted(agent);
      if (!view) return [];
      return view.datastore.assignments().map((a) => ({
        namespace: a.pod.namespace,
        name: a.pod.name,
        uid: a.pod.uid,
        containerId: a.key.containerId,
        ifName: a.key.ifName,
        ip: a.address,
        eniId: a.eniId,
        ...(a.owner ? { owner: `${a.owner.kind} ${a.owner.namespace}/${a.owner.name}` } : {}),
        assignedAt: a.assignedAt,
      }));
    },
    subnets() {
      return (viewIfStarted(agent)?.subnets ?? []).map((s) => ({
        subnetId: s.subnetId,
        availabilityZone: s.availabilityZone,
        cidr: s.cidr,
        free: s.availableIpCount,
      }));
    },
    config: () => config,
    planContext() {
      const view = agent.view();
      const targetEnv: Record<string, string> = {};
      for (const name of WARM_TARGET_VARIABLES) {
        const value = env[name];
        if (value !== undefined && value !== '') targetEnv[name] = value;
      }
      return { limits: view.limits, env: targetEnv, pending: view.waiting };
    },
    readiness() {
      const view = viewIfStarted(agent);
      if (!view) return { firstReconcileDone: false, warmTargetMet: false, warmTargetInProgress: false };
      const target = warmTargetOf(view);
      return {
        firstReconcileDone: view.ready,
        warmTargetMet: target.short === 0,
        warmTargetInProgress: target.short > 0 && !target.blocked,
        ...(view.blocker === undefined ? {} : { blockedReason: view.blocker }),
        ...(serving === undefined ? {} : { serving: serving() }),
      };
    },
  };
}

export function leakEventsFor(metrics: AgentMetrics): LeakEvents {
  return {
    found: (cause) => {
      metrics.leakFound(cause);
    },
    released: (cause, count) => {
      metrics.leakReleased(cause, count);
    },
  };
}
