import type { PlanAction, PlanDecision, PlanInput } from './plan-types.js';
import { poolNeed } from './planner-need.js';
import { viewPool } from './planner-pool.js';
import { growActions } from './planner-grow.js';
import { deleteEmptyEnis, releaseUnits, releaseWholeEnis } from './planner-shrink.js';

/**
 * The warm-pool planner: same input, same decision. The rules (docs/warm-targets.md) are the AWS
 * VPC CNI's WARM_ENI_TARGET / WARM_IP_TARGET / MINIMUM_IP_TARGET / WARM_PREFIX_TARGET / MAX_ENI,
 * plus: waiting CNI ADDs raise the target so a burst is served in one round; several ENIs are
 * created at once when one is not enough; addresses cooling down are not free; and addresses or
 * ENIs already requested count, so a second round does not ask for them again.
 */
export function plan(input: PlanInput): PlanDecision {
  const pool = viewPool(input);
  const need = poolNeed(input, pool);
  let actions: PlanAction[] = [];
  if (need.short > 0) {
    actions = growActions(pool, need.short, need.mode === 'warm-eni');
  } else if (!pool.inFlight) {
    // Nothing is released while a request is under way: had it failed, the pool would have been
    // shrunk on the strength of addresses that never came.
    const release =
      need.mode === 'warm-eni'
        ? releaseWholeEnis(pool, need.over)
        : need.over > 0
          ? releaseUnits(pool, need.over)
          : [];
    // Release never picks an empty ENI (it has nothing to release), so the two lists are disjoint.
    actions = [...release, ...deleteEmptyEnis(pool)];
  }
  return {
    poolTooLow: need.short > 0,
    poolTooHigh: need.tooHigh,
    short: need.short,
    over: need.over,
    actions,
  };
}
