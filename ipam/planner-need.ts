import { ADDRESSES_PER_PREFIX } from './address.js';
import type { PlanInput } from './plan-types.js';
import type { PoolView } from './planner-pool.js';

/**
 * Which setting governs, with the VPC CNI's precedence: WARM_IP_TARGET / MINIMUM_IP_TARGET win
 * over everything; with prefix delegation WARM_PREFIX_TARGET governs (0 when unset) and
 * WARM_ENI_TARGET is ignored, as in the VPC CNI's isDatastorePoolTooLow.
 */
export type WarmMode = 'ip-targets' | 'warm-prefix' | 'warm-eni';

export interface PoolNeed {
  mode: WarmMode;
  /** Units to add (addresses, or prefixes with prefix delegation). */
  short: number;
  /** Units beyond the target. */
  over: number;
  /** Whether the excess is worth acting on (see poolTooHigh in docs/warm-targets.md). */
  tooHigh: boolean;
}

export function warmMode(input: PlanInput): WarmMode {
  const { targets, limits } = input;
  if ((targets.warmIpTarget ?? 0) > 0 || (targets.minimumIpTarget ?? 0) > 0) return 'ip-targets';
  if (limits.prefixes) return 'warm-prefix';
  return 'warm-eni';
}

/**
 * WARM_IP_TARGET / MINIMUM_IP_TARGET, in addresses, with the demand waiting now added to the warm
 * target. short and over can never both be positive, so a round that allocates never also frees
 * (and release never dips below MINIMUM_IP_TARGET).
 */
function ipTargetNeed(input: PlanInput, pool: PoolView): { short: number; over: number } {
  const warm = (input.targets.warmIpTarget ?? 0) + Math.max(input.pending, 0);
  const minimum = input.targets.minimumIpTarget ?? 0;
  const short = Math.max(warm - pool.free, minimum - pool.total, 0);
  const over = Math.max(Math.min(pool.free - warm, pool.total - minimum), 0);
  if (!pool.prefixes) return { short, over };
  // With prefixes the need rounds up to whole /28s and the excess down, so what one round adds the
  // next never frees: MINIMUM_IP_TARGET=20 holds 32 addresses.
  return { short: Math.ceil(short / ADDRESSES_PER_PREFIX), over: Math.floor(over / ADDRESSES_PER_PREFIX) };
}

/**
 * Keep `warmPrefixes` wholly free /28s, plus enough for the demand that the partly used prefixes
 * cannot serve. With a target of 0 one /28 is kept while no other address is free (the VPC CNI's
 * `warmTarget == 0 && available == 0`), so the next pod does not wait for EC2.
 */
function prefixNeed(input: PlanInput, pool: PoolView, warmPrefixes: number): { short: number; over: number } {
  const partlyFree = Math.max(pool.free - pool.freeUnits * ADDRESSES_PER_PREFIX, 0);
  const demand = Math.ceil(Math.max(input.pending - partlyFree, 0) / ADDRESSES_PER_PREFIX);
  const keepOne = warmPrefixes === 0 && partlyFree === 0 ? 1 : 0;
  const want = Math.max(warmPrefixes + demand, keepOne);
  return { short: Math.max(want - pool.freeUnits, 0), over: Math.max(pool.freeUnits - want, 0) };
}

/**
 * How far the pool is from its target. Once the node holds max pods' worth of addresses it is not
 * short, whatever the target says (the VPC CNI's `TotalIPs >= maxPods`): nothing could be added.
 */
export function poolNeed(input: PlanInput, pool: PoolView): PoolNeed {
  const need = targetNeed(input, pool);
  return { ...need, short: Math.min(need.short, pool.capacityUnits) };
}

function targetNeed(input: PlanInput, pool: PoolView): PoolNeed {
  const mode = warmMode(input);
  switch (mode) {
    case 'ip-targets': {
      const need = ipTargetNeed(input, pool);
      return { mode, ...need, tooHigh: need.over > 0 };
    }
    case 'warm-prefix': {
      const need = prefixNeed(input, pool, input.targets.warmPrefixTarget ?? 0);
      return { mode, ...need, tooHigh: need.over > 0 };
    }
    case 'warm-eni': {
      // An ENI's worth of free addresses per WARM_ENI_TARGET. With WARM_ENI_TARGET=0 one address is
      // kept free (the VPC CNI's `warmTarget == 0 && available == 0` grows the pool), so the first
      // pod does not wait for EC2; the excess is measured from there, so that ENI is not returned.
      const warm = Math.max(input.targets.warmEniTarget * pool.slotsPerEni, 1);
      const pending = Math.max(input.pending, 0);
      const need = {
        short: Math.max(warm + pending - pool.free, 0),
        over: Math.max(pool.free - warm - pending, 0),
      };
      // This mode returns whole ENIs only, so the pool is too high once a whole ENI is spare.
      return { mode, ...need, tooHigh: pool.slotsPerEni > 0 && need.over >= pool.slotsPerEni };
    }
  }
}
