/**
 * Where a pod's address may come from: a named subnet, a named pool (which belongs to one subnet),
 * or, with neither, the node's default pool. Resolved from pod and namespace annotations
 * (ipam/pod-placement.ts); the datastore filters candidate addresses by it, the planner grows
 * each placement's ENIs, the subnet choice picks a subnet for it.
 */
export interface Placement {
  readonly subnetId?: string;
  readonly pool?: string;
}

/** One string per distinct placement, so waiting ADDs can be grouped by what they need. */
export function placementKey(placement: Placement): string {
  if (placement.pool !== undefined) return `pool:${placement.pool}`;
  if (placement.subnetId !== undefined) return `subnet:${placement.subnetId}`;
  return 'default';
}

/**
 * Waiting ADDs that named a subnet or a pool, grouped by what they named (in order of the oldest
 * ADD of each group), with how many wait; the default pool's are left out (the planner serves them).
 */
export function pinnedDemand(
  waiting: readonly Placement[],
): Map<string, { placement: Placement; count: number }> {
  const groups = new Map<string, { placement: Placement; count: number }>();
  for (const placement of waiting) {
    const key = placementKey(placement);
    if (key === DEFAULT_PLACEMENT_KEY) continue;
    const group = groups.get(key) ?? { placement, count: 0 };
    group.count++;
    groups.set(key, group);
  }
  return groups;
}

/** The key of the node's default pool (no subnet or pool named). */
export const DEFAULT_PLACEMENT_KEY = placementKey({});

/** The placement part of a wider object, with absent fields left out (exactOptionalPropertyTypes). */
export function placementOf(
  from: { readonly subnetId?: string | undefined; readonly pool?: string | undefined } | undefined,
): Placement {
  return {
    ...(from?.subnetId === undefined ? {} : { subnetId: from.subnetId }),
    ...(from?.pool === undefined ? {} : { pool: from.pool }),
  };
}
