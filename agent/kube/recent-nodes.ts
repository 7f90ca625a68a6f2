/**
 * How many nodes joined the cluster lately, so that the node's EC2 limiter can take its share of
 * the account's buckets when a scale-up starts hundreds of nodes at once (provider/limiter.ts,
 * `contenders`). Each node has a Lease in kube-node-lease, created when its kubelet registers: a
 * few hundred bytes per node, listed from the API server's watch cache at start-up and every few
 * minutes, where the Node objects would be tens of kilobytes each.
 */
import type { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import type { ContenderCount } from '../../provider/contenders.js';
import { CONTENDER_WINDOW_MS } from '../../provider/limiter.js';
import type { Clock, Timer } from '../../time/clock.js';
import { KubeApi } from './kube-api.js';
import type { WatchLog } from './resilient-list-watch.js';

export const NODE_LEASE_NAMESPACE = 'kube-node-lease';
/** The count ages on its own (creation times are kept); a new listing only adds nodes joined since. */
export const RECENT_NODES_REFRESH_MS = 2 * 60_000;

/** What the agent sees of its cluster's recent growth; no client-node type crosses this line. */
export interface RecentNodes {
  /** Lists once now (resolves when answered or failed) and then every RECENT_NODES_REFRESH_MS. */
  start(): Promise<void>;
  close(): Promise<void>;
  /** Nodes that joined within CONTENDER_WINDOW_MS, this one included (at least 1), and how many are settled. */
  count(): ContenderCount;
}

export interface LeaseRecentNodesOptions {
  kubeConfig: KubeConfig;
  clock: Clock;
  log: WatchLog;
}

/** Creation times (ms) of the listed objects that have one. */
export function creationTimes(
  items: readonly { metadata?: { creationTimestamp?: Date | string } }[],
): number[] {
  return items.flatMap((item) => {
    const at = item.metadata?.creationTimestamp;
    const ms = at === undefined ? NaN : new Date(at).getTime();
    return Number.isNaN(ms) ? [] : [ms];
  });
}

/** Of these creation times, how many fall within the window before `now`; at least 1 (this node). */
export function countRecent(
  createdAt: readonly number[],
  now: number,
  windowMs = CONTENDER_WINDOW_MS,
): number {
  let recent = 0;
  for (const at of createdAt) if (now - at < windowMs) recent++;
  return Math.max(1, recent);
}

export class LeaseRecentNodes implements RecentNodes {
  private readonly api: KubeApi;
  private createdAt: number[] = [];
  private timer: Timer | undefined;
  private closed = false;

  constructor(private readonly options: LeaseRecentNodesOptions) {
    this.api = new KubeApi(options.kubeConfig);
  }

  async start(): Promise<void> {
    await this.refresh();
    this.schedule();
  }

  close(): Promise<void> {
    this.closed = true;
    this.timer?.cancel();
    this.timer = undefined;
    return Promise.resolve();
  }

  count(): ContenderCount {
    return { recent: countRecent(this.createdAt, this.options.clock.now()), settled: 0 };
  }

  private schedule(): void {
    if (this.closed) return;
    this.timer = this.options.clock.setTimer(RECENT_NODES_REFRESH_MS, () => {
      void this.refresh().then(() => {
        this.schedule();
      });
    });
  }

  private async refresh(): Promise<void> {
    try {
      const list = await this.api.listNamespacedLease({
        namespace: NODE_LEASE_NAMESPACE,
        // From the API server's watch cache: no etcd read for a thousand nodes asking at once.
        resourceVersion: '0',
      });
      this.createdAt = creationTimes(list.items);
    } catch (err) {
      // Without the count the limiter runs as for a node alone; throttles still slow it down.
      this.options.log.warn(
        { err: err instanceof Error ? err.message : String(err) },
        'could not list node leases: the EC2 limiter assumes no other node is starting',
      );
    }
  }
}
