/**
 * The comparison baseline of `npm run bench` (issue 8): a planning policy modelled on the AWS VPC
 * CNI's documented ipamd behaviour, run inside the same agent and simulator as eni-ipam so that
 * only the policy differs. Not shipped in the agent.
 *
 * What it models, from the VPC CNI's docs and ipamd's reconcile loop:
 * - the pool is checked on a fixed tick (ipamd's 5 s pool monitor), never on demand;
 * - one action per tick, done synchronously: while the last one is still under way (an ENI being
 *   created, attached and seen, an assignment not yet visible) nothing else is planned;
 * - addresses are added to an existing ENI while one has room; a new ENI is created only when none
 *   can take addresses;
 * - the CNI ADDs waiting are invisible to it (an ADD that finds the pool empty fails at once and the
 *   runtime retries it; the agent is run with ENI_IPAM_ADD_WAIT_SECONDS=0);
 * - addresses cooling down after a release are counted as free.
 * The warm-target arithmetic itself (WARM_ENI_TARGET, WARM_IP_TARGET, ...) is eni-ipam's, which
 * follows the VPC CNI's documented meaning: the comparison is about when and how the pool grows.
 */
import { plan } from '../ipam/planner.js';
import type { PlanDecision, PlanInput } from '../ipam/plan-types.js';
import type { PoolPolicy } from '../agent/pool-policy.js';

/** ipamd's pool reconcile period. */
export const BASELINE_TICK_MS = 5_000;

/** What the baseline sees of the node: no waiting demand, cooling addresses as free. */
export function baselineView(input: PlanInput): PlanInput {
  return { ...input, pending: 0, enis: input.enis.map((eni) => ({ ...eni, cooldown: 0 })) };
}

/** Anything requested from EC2 and not yet visible: the synchronous loop would still be in it. */
export function actionUnderWay(input: PlanInput): boolean {
  return (
    (input.inFlight ?? 0) > 0 || (input.enisInFlight ?? 0) > 0 || input.enis.some((e) => e.busy === true)
  );
}

/**
 * One tick of the baseline: at most one action, none while the previous one is under way. The
 * planner lists assignments to existing ENIs before ENI creations, so its first action is an
 * assignment whenever an ENI has room, and a creation only when none has.
 */
export function planBaseline(input: PlanInput): PlanDecision {
  const decision = plan(baselineView(input));
  const first = decision.actions[0];
  if (actionUnderWay(input) || first === undefined) return { ...decision, actions: [] };
  return { ...decision, actions: [first] };
}

export const BASELINE_POLICY: PoolPolicy = {
  plan: planBaseline,
  tickMs: BASELINE_TICK_MS,
  eventDriven: false,
};

/** The agent environment the baseline runs with: an ADD never waits for an address. */
export const BASELINE_ENV: Readonly<Record<string, string>> = { ENI_IPAM_ADD_WAIT_SECONDS: '0' };
