import type { PlanAction } from './plan-types.js';
import type { PoolView } from './planner-pool.js';

/**
 * Actions that add `short` units: existing ENIs are filled before a new one is created (an ENI
 * costs an attachment and a subnet address; a slot on an attached ENI costs nothing), and several
 * ENIs are created in one round when the shortfall is larger than one ENI holds. Nothing beyond
 * the ENI limit or max pods. Room on ENIs with a mutation in flight, or being created, is counted
 * before a new ENI is: it is filled in a later round, once that work lands.
 *
 * `wholeEnis` (WARM_ENI_TARGET) fills every ENI it touches, as the VPC CNI does in that mode.
 */
export function growActions(pool: PoolView, short: number, wholeEnis: boolean): PlanAction[] {
  const actions: PlanAction[] = [];
  let needed = short;
  let capacity = pool.capacityUnits;
  const assignType = pool.prefixes ? 'assignPrefixes' : 'assignIps';

  for (const eni of pool.enis) {
    if (needed <= 0 || capacity <= 0) break;
    if (!eni.actionable || eni.room === 0) continue;
    const count = Math.min(eni.room, capacity, wholeEnis ? eni.room : needed);
    actions.push({ type: assignType, eni: eni.id, count });
    needed -= count;
    capacity -= count;
  }

  // ENIs with work under way take what is still short once that work lands (the round it lands in
  // assigns there), as the VPC CNI fills ENIs with room before attaching another: a new ENI is
  // created only for what their room cannot hold.
  needed -= pool.roomAfterInFlight;
  let creatable = pool.creatableEnis;
  while (needed > 0 && capacity > 0 && creatable > 0 && pool.slotsPerEni > 0) {
    const count = Math.min(pool.slotsPerEni, capacity, wholeEnis ? pool.slotsPerEni : needed);
    actions.push({ type: 'createEni', count });
    needed -= count;
    capacity -= count;
    creatable -= 1;
  }
  return actions;
}
