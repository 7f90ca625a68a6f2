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

/** The placement part of a wider object, with absent fields left out (exactOptionalPropertyTypes). */
export function placementOf(from: Placement | undefined): Placement {
  return {
    ...(from?.subnetId === undefined ? {} : { subnetId: from.subnetId }),
    ...(from?.pool === undefined ? {} : { pool: from.pool }),
  };
}
