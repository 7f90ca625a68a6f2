/**
 * How many nodes joined the cluster lately and how many of them are done setting up, so that the
 * node's EC2 limiter can take its share of the account's buckets among those still working when a
 * scale-up starts hundreds of nodes at once (provider/contenders.ts). Each node has a Lease in
 * kube-node-lease, created when its kubelet registers and renewed while it lives: a few hundred
 * bytes per node, listed from the API server's watch cache at start-up and every few minutes, where
 * the Node objects would be tens of kilobytes each. A node whose kubelet Lease had expired when
 * listed (it died mid-warm-up) is not counted. A node that is warm says so with a Lease of its own
 * in the agent's namespace (agent/kube/warm-up-lease.ts); those are few and created once each, and
 * they are watched, so that the last nodes of a scale-up take the idle shares within a second or
 * two of their neighbours finishing, not minutes later.
 */
import type { V1Lease } from '@kubernetes/client-node';
import type { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import type { ContenderCount } from '../../provider/contenders.js';
import { CONTENDER_WINDOW_MS } from '../../provider/limiter.js';
import type { Clock, Timer } from '../../time/clock.js';
import { KubeApi } from './kube-api.js';
import { ResilientListWatch, type WatchLog } from './resilient-list-watch.js';
import { agentNamespace, WARM_UP_SELECTOR, warmUpNodeOf } from './warm-up-lease.js';

export const NODE_LEASE_NAMESPACE = 'kube-node-lease';
/** The count ages on its own (creation times are kept); a new listing only adds nodes joined since. */
export const RECENT_NODES_REFRESH_MS = 2 * 60_000;

/** What the agent sees of its cluster's recent growth; no client-node type crosses this line. */
export interface RecentNodes {
  /**
   * Lists once now (resolves when answered or failed) and then every RECENT_NODES_REFRESH_MS, and
   * watches the warm-up Leases from now on.
   */
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

/** A node's kubelet Lease as the count needs it. */
export interface NodeLeaseFacts {
  node: string;
  createdAt: number;
  /** When the Lease expires unless renewed (renewTime + leaseDurationSeconds); undefined: unknown. */
  expiresAt: number | undefined;
}

/** What the count reads of a node Lease (timestamps as Dates or as the API server's strings). */
export interface NodeLeaseObject {
  metadata?: { name?: string; creationTimestamp?: Date | string };
  spec?: { holderIdentity?: string; renewTime?: Date | string; leaseDurationSeconds?: number };
}

/** The facts of the listed node Leases that have a creation time. */
export function nodeLeaseFacts(items: readonly NodeLeaseObject[]): NodeLeaseFacts[] {
  const msOf = (at: Date | string | undefined): number => (at === undefined ? NaN : new Date(at).getTime());
  return items.flatMap((item) => {
    const createdAt = msOf(item.metadata?.creationTimestamp);
    if (Number.isNaN(createdAt)) return [];
    const renewedAt = msOf(item.spec?.renewTime);
    const duration = item.spec?.leaseDurationSeconds;
    const expiresAt =
      Number.isNaN(renewedAt) || duration === undefined ? undefined : renewedAt + duration * 1000;
    return [{ node: item.spec?.holderIdentity ?? item.metadata?.name ?? '', createdAt, expiresAt }];
  });
}

/**
 * The contenders: nodes whose Lease was created within the window before `now` and had not expired
 * when listed (`listedAt`), at least 1 (this node); and of them, those in `settled`.
 */
export function countContenders(
  nodes: readonly NodeLeaseFacts[],
  settled: ReadonlySet<string>,
  now: number,
  listedAt: number,
  windowMs = CONTENDER_WINDOW_MS,
): ContenderCount {
  let recent = 0;
  let done = 0;
  for (const lease of nodes) {
    if (now - lease.createdAt >= windowMs) continue;
    if (lease.expiresAt !== undefined && lease.expiresAt < listedAt) continue;
    recent++;
    if (settled.has(lease.node)) done++;
  }
  return { recent: Math.max(1, recent), settled: done };
}

export class LeaseRecentNodes implements RecentNodes {
  private readonly api: KubeApi;
  private readonly warmUps: ResilientListWatch<V1Lease>;
  private readonly stopWatch = new AbortController();
  private nodes: NodeLeaseFacts[] = [];
  private listedAt = 0;
  private settled = new Set<string>();
  private timer: Timer | undefined;
  private closed = false;

  constructor(private readonly options: LeaseRecentNodesOptions) {
    this.api = new KubeApi(options.kubeConfig);
    const namespace = agentNamespace(options.kubeConfig);
    this.warmUps = new ResilientListWatch<V1Lease>({
      name: 'warm-up leases',
      kubeConfig: options.kubeConfig,
      path: `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`,
      labelSelector: WARM_UP_SELECTOR,
      list: () =>
        this.api.listNamespacedLease({ namespace, labelSelector: WARM_UP_SELECTOR, resourceVersion: '0' }),
      clock: options.clock,
      log: options.log,
    });
    this.warmUps.onChange(() => {
      this.settled = new Set(this.warmUps.items().flatMap((lease) => warmUpNodeOf(lease) ?? []));
    });
  }

  async start(): Promise<void> {
    this.warmUps.start(this.stopWatch.signal);
    await this.refresh();
    this.schedule();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.timer?.cancel();
    this.timer = undefined;
    this.stopWatch.abort();
    await this.warmUps.close();
  }

  count(): ContenderCount {
    return countContenders(this.nodes, this.settled, this.options.clock.now(), this.listedAt);
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
      this.nodes = nodeLeaseFacts(list.items);
      this.listedAt = this.options.clock.now();
    } catch (err) {
      // Without the count the limiter runs as for a node alone; throttles still slow it down.
      this.options.log.warn(
        { err: err instanceof Error ? err.message : String(err) },
        'could not list node leases: the EC2 limiter assumes no other node is starting',
      );
    }
  }
}
