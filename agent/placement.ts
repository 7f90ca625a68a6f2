/**
 * Where a pod's address may come from: a named subnet, a named pool (which belongs to one subnet),
 * or, with neither, the node's default pool. Resolved from pod and namespace annotations.
 */
export interface Placement {
  subnetId?: string;
  pool?: string;
}

/** One string per distinct placement, so waiting ADDs can be grouped by what they need. */
export function placementKey(placement: Placement): string {
  if (placement.pool !== undefined) return `pool:${placement.pool}`;
  if (placement.subnetId !== undefined) return `subnet:${placement.subnetId}`;
  return 'default';
}
