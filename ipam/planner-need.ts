import { ADDRESSES_PER_PREFIX } from './address.js';
import type { PlanInput } from './plan-types.js';
import type { PoolView } from './planner-pool.js';

/**
 * Which setting governs, with the VPC CNI's precedence: WARM_IP_TARGET / MINIMUM_IP_TARGET win
 * over everything; WARM_PREFIX_TARGET (prefix delegation only) wins over WARM_ENI_TARGET.
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
  if (limits.prefixes && (targets.warmPrefixTarget ?? 0) > 0) return 'warm-prefix';
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
 * cannot serve.
 */
function prefixNeed(input: PlanInput, pool: PoolView, warmPrefixes: number): { short: number; over: number } {
  const partlyFree = Math.max(pool.free - pool.freeUnits * ADDRESSES_PER_PREFIX, 0);
  const demand = Math.ceil(Math.max(input.pending - partlyFree, 0) / ADDRESSES_PER_PREFIX);
  const want = warmPrefixes + demand;
  return { short: Math.max(want - pool.freeUnits, 0), over: Math.max(pool.freeUnits - want, 0) };
}

export function poolNeed(input: PlanInput, pool: PoolView): PoolNeed {
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
      // An ENI's worth of free units per WARM_ENI_TARGET; with prefixes, an ENI's worth of /28s.
      const warmUnits = input.targets.warmEniTarget * pool.slotsPerEni;
      const need = pool.prefixes
        ? prefixNeed(input, pool, warmUnits)
        : {
            short: Math.max(warmUnits + Math.max(input.pending, 0) - pool.free, 0),
            over: Math.max(pool.free - warmUnits - Math.max(input.pending, 0), 0),
          };
      // This mode returns whole ENIs only, so the pool is too high once a whole ENI is spare.
      return { mode, ...need, tooHigh: pool.slotsPerEni > 0 && need.over >= pool.slotsPerEni };
    }
  }
}
