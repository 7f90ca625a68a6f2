/**
 * The container runtime and kubelet of the simulated nodes, as the CNI plugin's callers: a pod's
 * sandbox gets an ADD; a failed ADD tears that sandbox down (a DEL) and is retried with kubelet's
 * back-off (1 s, doubling, capped at 30 s) until the pod has an address or the run ends; a pod's
 * deletion sends a DEL for its sandbox, then its API object goes away.
 */
import type { AddOutcome, AddRequest, DelOutcome, DelRequest } from '../../agent/cni-backend.js';
import type { Clock, Timer } from '../../time/clock.js';
import type { ClusterPods } from './cluster-pods.js';

/** kubelet's sandbox-creation back-off (its default for pod sync errors). */
export const ADD_BACKOFF_INITIAL_MS = 1_000;
export const ADD_BACKOFF_MAX_MS = 30_000;
/** The network name of the simulated nodes' CNI configuration. */
export const NETWORK_NAME = 'eni-ipam';

/** What the runtime can reach on a node: the CNI plugin's calls to the agent's socket. */
export interface NodeSocket {
  add(req: AddRequest): Promise<AddOutcome>;
  del(req: DelRequest): Promise<DelOutcome>;
}

export interface PodRecord {
  readonly uid: string;
  readonly namespace: string;
  readonly name: string;
  readonly node: string;
  readonly annotations: Record<string, string>;
  /** Deleted this long after it got its address; undefined: it stays. */
  readonly lifetimeMs: number | undefined;
  createdAt: number;
  firstAddAt: number | undefined;
  addressedAt: number | undefined;
  /** The address the runtime was given for its sandbox. */
  address: string | undefined;
  containerId: string | undefined;
  failedAdds: number;
  deleted: boolean;
}

export interface PodSpec {
  uid: string;
  namespace: string;
  name: string;
  node: string;
  annotations: Record<string, string>;
  lifetimeMs: number | undefined;
}

/** A pod's wait (a back-off, a lifetime) that the end of the run cuts short. */
interface PodWait {
  readonly timer: Timer;
  readonly end: (elapsed: boolean) => void;
}

export class ContainerRuntime {
  readonly pods: PodRecord[] = [];
  private stopped = false;
  /**
   * The waits under way, ended by stop(). Kept here rather than as one abort listener per wait:
   * thousands of pods back off at once in a cluster cold start, and an AbortSignal's listener
   * list is scanned on every add and remove.
   */
  private readonly waits = new Set<PodWait>();

  constructor(
    private readonly clock: Clock,
    private readonly api: ClusterPods,
    private readonly socketOf: (node: string) => NodeSocket,
  ) {}

  /** The pod is scheduled to its node: create its API object and run its sandbox. */
  schedule(spec: PodSpec): PodRecord {
    const record: PodRecord = {
      ...spec,
      createdAt: this.clock.now(),
      firstAddAt: undefined,
      addressedAt: undefined,
      address: undefined,
      containerId: undefined,
      failedAdds: 0,
      deleted: false,
    };
    this.pods.push(record);
    this.api.create(spec.node, spec);
    void this.runSandbox(record);
    return record;
  }

  /** Deletes the pod: DEL for its sandbox (lost when the agent is down), then the API object. */
  async deletePod(record: PodRecord): Promise<void> {
    if (record.deleted) return;
    record.deleted = true;
    if (record.containerId !== undefined && record.address !== undefined) {
      await this.socketOf(record.node).del(this.delRequest(record, record.containerId));
    }
    this.api.delete(record.node, record.uid);
  }

  /** The run is over: no new ADD, DEL or retry starts (calls under way finish). */
  stop(): void {
    this.stopped = true;
    for (const wait of this.waits) {
      wait.timer.cancel();
      wait.end(false);
    }
    this.waits.clear();
  }

  /** Resolves to true after `ms`, or to false as soon as the run stops. */
  private wait(ms: number): Promise<boolean> {
    if (this.stopped) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const wait: PodWait = {
        timer: this.clock.setTimer(ms, () => {
          this.waits.delete(wait);
          resolve(true);
        }),
        end: resolve,
      };
      this.waits.add(wait);
    });
  }

  private async runSandbox(record: PodRecord): Promise<void> {
    const socket = this.socketOf(record.node);
    let backoff = ADD_BACKOFF_INITIAL_MS;
    for (let attempt = 0; !record.deleted && !this.stopped; attempt++) {
      // Each attempt is a new sandbox, hence a new container id, as with containerd.
      const containerId = `${record.uid}-sandbox-${attempt}`;
      const now = this.clock.now();
      record.firstAddAt ??= now;
      const outcome = await socket.add(this.addRequest(record, containerId));
      if (outcome.kind === 'ok') {
        const ip = outcome.result.ips[0]?.address.split('/')[0];
        record.containerId = containerId;
        record.address = ip;
        record.addressedAt = this.clock.now();
        this.api.markRunning(record.node, record.uid);
        // Deleted while the ADD was under way: the sandbox goes at once.
        if (record.deleted) await socket.del(this.delRequest(record, containerId));
        else if (record.lifetimeMs !== undefined) this.deleteAfter(record, record.lifetimeMs);
        return;
      }
      record.failedAdds++;
      // kubelet tears a failed sandbox down, which calls DEL for it.
      await socket.del(this.delRequest(record, containerId));
      if (!(await this.wait(backoff))) return;
      backoff = Math.min(backoff * 2, ADD_BACKOFF_MAX_MS);
    }
  }

  private deleteAfter(record: PodRecord, ms: number): void {
    void this.wait(ms).then((elapsed) => (elapsed ? this.deletePod(record) : undefined));
  }

  private addRequest(record: PodRecord, containerId: string): AddRequest {
    return {
      op: 'add',
      containerId,
      ifname: 'eth0',
      netns: `/var/run/netns/cni-${containerId}`,
      network: NETWORK_NAME,
      pod: { namespace: record.namespace, name: record.name, uid: record.uid, infraContainerId: containerId },
      ...(Object.keys(record.annotations).length > 0 ? { annotations: { ...record.annotations } } : {}),
    };
  }

  private delRequest(record: PodRecord, containerId: string): DelRequest {
    return {
      op: 'del',
      containerId,
      ifname: 'eth0',
      network: NETWORK_NAME,
      pod: { namespace: record.namespace, name: record.name, uid: record.uid, infraContainerId: containerId },
    };
  }
}
