/**
 * How many nodes divide the account's EC2 buckets during a scale-up (provider/limiter.ts). Without a
 * shared budget each node takes an equal share of every account bucket among the nodes still setting
 * up: those that joined the cluster lately (their kubelet's Lease in kube-node-lease) and have not
 * yet published that their warm pool is met (agent/kube/recent-nodes.ts). A node that is done leaves
 * its share to the others, so the account's buckets stay busy to the end of the cold start. Growing
 * each node's share with the time since its last throttle instead (no count of the nodes that are
 * done) throttled 8.9 % of calls at +0.5 % a second (p99 2.02 x the bound, all warm 1.32 x; bench,
 * cold-start, 1,000 m5.large) and 16 % at +2 % a second: the nodes of a scale-up grow together, and
 * the ones still working at the end do not learn that the others left.
 */

export interface ContenderCount {
  /** Nodes that joined within the contender window and are alive, this one included (at least 1). */
  recent: number;
  /** Of those, nodes whose agent published that its warm pool is met. */
  settled: number;
}

/**
 * Nodes still setting up rarely all call one API at the same moment: each waits on EC2 between its
 * steps (create, attach, visibility), and one that is done waits for its warm target to be seen met
 * before it leaves the count. Dividing the bucket among fewer nodes than counted keeps it busy. At
 * the start of a scale-up every node is still working and most calls are the pods' (demand), so the
 * division stays close to the count; as nodes settle, those left are at their last steps, spend less
 * of their share, and may divide by more. In the simulated cold start of 1,000 m5.large (bench,
 * cold-start), from 1.15 to 1.6 as the settled fraction goes from 0 to 1: all nodes warm 1.13 x the
 * bound at p99 1.41 x and 3.7 % throttled; a constant 1.15: 1.15 x, 1.41 x, 3.1 %; a constant 1.35:
 * 1.04 x but p99 1.71 x and 7.7 % throttled (the warm-up of nodes that took a larger share pushed
 * other nodes' pods back); a constant 1.0 left buckets idle (1.25 x, p99 1.66 x); from 1.35 down
 * to 1.0: 1.08 x but p99 1.59 x and 7.0 % throttled. These were measured with the share looked at
 * every 5 s (limiter.ts, SHARE_RECHECK_MS, now 2 s); 1.15 to 2.0 did as well on 1,000 nodes but
 * worse on 200 with prefix delegation (up to 1.31 x among seeds 1-6).
 */
export const OVERSUBSCRIPTION_AT_START = 1.15;
export const OVERSUBSCRIPTION_AT_END = 1.6;

/** The factor by which the nodes still setting up are divided, by the fraction already settled. */
export function oversubscription(count: ContenderCount): number {
  const recent = Math.max(1, count.recent);
  const settledFraction = Math.min(1, Math.max(0, count.settled) / recent);
  return OVERSUBSCRIPTION_AT_START + (OVERSUBSCRIPTION_AT_END - OVERSUBSCRIPTION_AT_START) * settledFraction;
}

/**
 * How many equal shares an account bucket is divided into: the nodes still setting up (at least
 * this one) over the oversubscription. At most 1 means the node runs on its own buckets.
 */
export function sharingNodes(count: ContenderCount): number {
  const working = Math.max(1, count.recent - Math.max(0, count.settled));
  return working / oversubscription(count);
}
