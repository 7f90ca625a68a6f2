import type { PlanDecision, PlanInput } from '../ipam/plan-types.js';
import { plan } from '../ipam/planner.js';

/**
 * The planning policy. eni-ipam plans whenever something changes; benchmarks swap in a policy that
 * plans the default pool on a fixed tick instead (the AWS VPC CNI's behaviour), to compare both on
 * one simulator.
 */
export interface PoolPolicy {
  plan(input: PlanInput): PlanDecision;
  /** Plan every tickMs as well (undefined: no tick). */
  tickMs?: number;
  /** Plan when demand, releases or EC2 results wake the driver; false: only on the tick. */
  eventDriven: boolean;
}

export const EVENT_DRIVEN_POLICY: PoolPolicy = { plan, eventDriven: true };
