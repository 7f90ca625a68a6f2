import type { PlanAction } from './plan-types.js';
import type { EniView, PoolView } from './planner-pool.js';

/**
 * Emptying order: ENIs that can be returned (not the primary) before the primary, then the fewest
 * assigned addresses first (the one closest to empty), then by id.
 */
function byEmptyingOrder(a: EniView, b: EniView): number {
  if (a.primary !== b.primary) return a.primary ? 1 : -1;
  if (a.assigned !== b.assigned) return a.assigned - b.assigned;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** An ENI the planner may delete: attached for pods, never the primary, nothing assigned or cooling. */
function deletable(eni: EniView): boolean {
  return eni.actionable && !eni.primary && eni.idle;
}

/**
 * Free `over` single units (WARM_IP_TARGET / MINIMUM_IP_TARGET / WARM_PREFIX_TARGET). An ENI whose
 * every unit goes is deleted instead, which returns its attachment and its own address too.
 */
export function releaseUnits(pool: PoolView, over: number): PlanAction[] {
  const actions: PlanAction[] = [];
  let remaining = over;
  const unassignType = pool.prefixes ? 'unassignPrefixes' : 'unassignIps';
  for (const eni of pool.enis.filter((e) => e.actionable).sort(byEmptyingOrder)) {
    if (remaining <= 0) break;
    const count = Math.min(eni.releasableUnits, remaining);
    if (count === 0) continue;
    remaining -= count;
    if (deletable(eni) && count === eni.units && eni.addresses === count * pool.unitSize) {
      actions.push({ type: 'deleteEni', eni: eni.id });
    } else {
      actions.push({ type: unassignType, eni: eni.id, count });
    }
  }
  return actions;
}

/**
 * WARM_ENI_TARGET never frees single addresses: it only deletes wholly free ENIs while the free
 * units left still meet the target (`over` is the excess beyond it). Smallest ENIs go first so
 * that as many as possible can be returned.
 */
export function releaseWholeEnis(pool: PoolView, over: number): PlanAction[] {
  const actions: PlanAction[] = [];
  let remaining = over;
  const candidates = pool.enis
    .filter((eni) => deletable(eni) && !eni.empty)
    .sort((a, b) => a.freeUnits - b.freeUnits || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const eni of candidates) {
    if (eni.freeUnits > remaining) break;
    remaining -= eni.freeUnits;
    actions.push({ type: 'deleteEni', eni: eni.id });
  }
  return actions;
}

/** ENIs that hold nothing serve no pod: return them (their attachment and subnet address). */
export function deleteEmptyEnis(pool: PoolView): PlanAction[] {
  return pool.enis
    .filter((eni) => deletable(eni) && eni.empty)
    .map((eni): PlanAction => ({ type: 'deleteEni', eni: eni.id }));
}
