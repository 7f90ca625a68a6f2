import type { AddressState } from './datastore-types.js';

/** An address as the picker sees it. */
export interface PickSlot {
  readonly address: string;
  /** The address as an unsigned 32-bit number, for ordering. */
  readonly num: number;
  /** The /28 it belongs to, or undefined for a secondary /32. */
  readonly prefix: string | undefined;
  readonly state: AddressState;
}

export interface EniCandidate {
  readonly id: string;
  readonly deviceIndex: number;
  readonly slots: readonly PickSlot[];
  /** How many of `slots` are assigned, when the caller keeps that count (counted here otherwise). */
  readonly assigned?: number;
}

/**
 * Chooses the address for an ADD among ENIs that match the pod's constraints, deterministically:
 * 1. the ENI with the most addresses assigned (then lowest device index, then id), so lightly used
 *    ENIs drain and the planner can return them (it frees from the ENI with the fewest assigned);
 * 2. within it, the /28 with the most addresses assigned or cooling, so whole prefixes empty out and
 *    can be unassigned (a prefix is releasable only when all 16 are free); /32s count as groups of one;
 * 3. then the lowest address.
 * Returns undefined when no candidate has an available address.
 */
export function pickAddress(candidates: readonly EniCandidate[]): string | undefined {
  const ranked = candidates
    .map((eni) => ({
      eni,
      assigned: eni.assigned ?? eni.slots.filter((s) => s.state.type === 'assigned').length,
    }))
    .sort(
      (a, b) =>
        b.assigned - a.assigned ||
        a.eni.deviceIndex - b.eni.deviceIndex ||
        (a.eni.id < b.eni.id ? -1 : a.eni.id > b.eni.id ? 1 : 0),
    );
  for (let i = 0; i < ranked.length; i++) {
    const picked = pickOnEni(ranked[i]?.eni.slots ?? []);
    if (picked !== undefined) return picked;
  }
  return undefined;
}

function pickOnEni(slots: readonly PickSlot[]): string | undefined {
  // forEach, not for-of: this runs over every slot of an ENI on every ADD, and without an
  // optimizing compiler (the agent runs with --no-opt) each step of a for-of allocates an object.
  const inUseByPrefix = new Map<string, number>();
  slots.forEach((slot) => {
    if (slot.prefix !== undefined && slot.state.type !== 'available') {
      inUseByPrefix.set(slot.prefix, (inUseByPrefix.get(slot.prefix) ?? 0) + 1);
    }
  });
  let best: PickSlot | undefined;
  let bestInUse = 0;
  slots.forEach((slot) => {
    if (slot.state.type !== 'available') return;
    const inUse = slot.prefix === undefined ? 0 : (inUseByPrefix.get(slot.prefix) ?? 0);
    if (!best || inUse > bestInUse || (inUse === bestInUse && slot.num < best.num)) {
      best = slot;
      bestInUse = inUse;
    }
  });
  return best?.address;
}
